/**
 * The one error type signoff raises on purpose. A code says what went wrong
 * (callers branch on it), the message says it in words a user or operator can
 * act on, and `cause` keeps the underlying error for logs. Messages never carry
 * SQL, stacks or secrets: they may be shown in chat.
 */

/** Every code signoff raises. Extend the union; never reuse a code for a new meaning. */
export type ErrorCode =
  | 'config_invalid'
  | 'flow_not_found'
  | 'flow_invalid'
  | 'input_invalid'
  | 'run_not_found'
  | 'run_not_active'
  | 'run_not_failed'
  | 'event_not_accepted'
  | 'event_invalid'
  | 'step_not_found'
  | 'step_failed'
  | 'wait_timeout'
  | 'db_unavailable'
  | 'embedded_pg_failed'
  | 'migration_failed'
  | 'shutting_down';

export class SignoffError extends Error {
  override readonly name = 'SignoffError';
  readonly code: ErrorCode;
  /** Extra machine-readable facts (never secrets), e.g. the issues of a failed schema. */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options?.details;
  }
}

export function isSignoffError(err: unknown, code?: ErrorCode): err is SignoffError {
  return err instanceof SignoffError && (code === undefined || err.code === code);
}

/** A short, internals-free description of any thrown value, for run records and users. */
export function describeError(err: unknown): { message: string; code?: string } {
  if (err instanceof SignoffError) return { message: err.message, code: err.code };
  if (err instanceof Error) return { message: err.message.slice(0, 500) };
  // A step error recorded as JSON comes back as { message, code? }: keep its words.
  const described = err as { message?: unknown; code?: unknown } | null;
  if (typeof described?.message === 'string') {
    return typeof described.code === 'string'
      ? { message: described.message.slice(0, 500), code: described.code }
      : { message: described.message.slice(0, 500) };
  }
  return { message: String(err).slice(0, 500) };
}
