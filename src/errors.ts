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
  | 'step_blocked'
  | 'model_invalid'
  | 'tool_refused'
  | 'person_needed'
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

/**
 * An error that asks for the step to run again no sooner than `retryAfterMs`
 * (a 429 with Retry-After). The job is rescheduled in Postgres, no worker
 * waits in memory, and the wait does not use up one of the step's attempts
 * (up to a bound, so a provider that never recovers still ends the step).
 */
export function retryLater(message: string, retryAfterMs: number, cause?: unknown): SignoffError {
  return new SignoffError('step_failed', message, { cause, details: { retryable: true, retryAfterMs, defer: true } });
}

/** Why a run is paused for a person instead of retried. */
export type BlockReason = 'quota' | 'needs_human' | 'budget';

/**
 * An error that pauses the run for a person: the provider's quota is gone, or a
 * tool whose repeats are unsafe ended with an unknown outcome. Nothing retries;
 * the run is parked with `blocked:<reason>` and the people who started it are
 * told. `/signoff retry` resumes it once someone has looked.
 */
export function blockedError(reason: BlockReason, message: string, cause?: unknown): SignoffError {
  return new SignoffError('step_blocked', message, { cause, details: { retryable: false, block: reason } });
}

/**
 * An error that pauses the step until a person answers `question` (a run over
 * its budget asks whether it may spend more). The step's job waits in Postgres,
 * the engine hands the question to whoever asks people (the review desk), and
 * their answer re-queues the job, which reads it and goes on or stops.
 */
export function personNeeded(message: string, question: { kind: string } & Record<string, unknown>): SignoffError {
  return new SignoffError('person_needed', message, { details: { retryable: false, question } });
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
