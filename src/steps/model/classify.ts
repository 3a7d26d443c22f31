/**
 * What a failed model call means for the step (RELIABILITY 69): try the next
 * model of the route now (5xx, 404, timeout, connection), wait as the
 * provider asks (429), pause the run for a person (insufficient_quota), or
 * give up (400/401/403/422: the same request will be refused again).
 *
 * Messages name the model and the status and never carry the API key, the
 * prompt or a stack: they end up in run records and in chat.
 */
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import { blockedError, retryLater, SignoffError } from '../../errors.ts';
import { permanentError } from '../../engine/flow.ts';
import { redact } from './prompt.ts';

/** A failure that another model of the route may not have: the gateway moves on. */
export interface Unavailable {
  reason: string;
}

export interface FailureContext {
  model: string;
  callTimeoutMs: number;
  /** The step's signal: aborted means the step itself is over, not the model. */
  signal: AbortSignal;
  /** Applied to provider messages we quote; the API key is added to them. */
  redactPatterns: readonly string[];
  apiKey: string | null;
}

/** Wait after a 429 that names no time: long enough for a per-minute window to move on. */
export const DEFAULT_RETRY_AFTER_MS = 5_000;

/** Longest provider message quoted in a permanent error. */
const PROVIDER_MESSAGE_CHARS = 200;

/** Returns an Unavailable to fall back on, or the SignoffError the step should throw. */
export function classifyFailure(err: unknown, ctx: FailureContext): Unavailable | SignoffError {
  if (err instanceof SignoffError) return err;
  if (err instanceof APIUserAbortError || ctx.signal.aborted) {
    return new SignoffError(
      'step_failed',
      `the call to model "${ctx.model}" was cancelled: the step timed out or the worker is stopping`,
      { details: { retryable: true } },
    );
  }
  if (err instanceof APIConnectionTimeoutError) return { reason: `timed out after ${ctx.callTimeoutMs} ms` };
  if (err instanceof APIConnectionError) return { reason: 'could not be reached (connection error)' };
  if (err instanceof APIError && typeof err.status === 'number') return classifyStatus(err, err.status, ctx);
  return { reason: `failed (${err instanceof Error ? err.name : 'unknown error'})` };
}

function classifyStatus(err: APIError, status: number, ctx: FailureContext): Unavailable | SignoffError {
  const model = `model "${ctx.model}"`;
  const code = err.code ?? err.type;
  if (status === 429) {
    if (err.code === 'insufficient_quota' || err.type === 'insufficient_quota') {
      return blockedError(
        'quota',
        'the model provider says the account has no quota left (insufficient_quota); add credit or change OPENAI_API_KEY, then retry the run',
      );
    }
    const waitMs = retryAfterMs(err.headers) ?? DEFAULT_RETRY_AFTER_MS;
    return retryLater(
      `${model} is rate limited (429${code ? ` ${code}` : ''}); trying again in ${Math.ceil(waitMs / 1000)} s`,
      waitMs,
    );
  }
  // 408 and 409 are what the SDK itself would have retried: transient, like a 5xx.
  if (status >= 500 || status === 408 || status === 409)
    return { reason: `returned ${status}${code ? ` (${code})` : ''}` };
  if (status === 404) return { reason: 'was not found (404)' };
  if (status === 401) return permanentError('the model provider refused the API key (401); check OPENAI_API_KEY');
  if (status === 403)
    return permanentError(`the model provider denied access to ${model} (403); check the key's permissions`);
  return permanentError(
    `the model provider rejected the request to ${model} (${status}): ${providerMessage(err, ctx)}`,
  );
}

/** The provider's own words (they say which parameter is wrong), redacted and short. */
function providerMessage(err: APIError, ctx: FailureContext): string {
  const body = err.error as { message?: unknown } | undefined;
  let text = typeof body?.message === 'string' ? body.message : 'no reason given';
  if (ctx.apiKey) text = text.split(ctx.apiKey).join('[redacted]');
  text = redact(text, ctx.redactPatterns).replace(/\s+/g, ' ').trim();
  return text.length > PROVIDER_MESSAGE_CHARS ? `${text.slice(0, PROVIDER_MESSAGE_CHARS)}…` : text;
}

/**
 * How long the provider asks us to wait: `retry-after-ms` (OpenAI's own,
 * milliseconds) and `retry-after` (seconds or an HTTP date); the longer when
 * both are sent. Undefined when neither says.
 */
export function retryAfterMs(headers: Headers | undefined, now = Date.now()): number | undefined {
  const waits = [
    parseWait(headers?.get('retry-after-ms'), 1, now),
    parseWait(headers?.get('retry-after'), 1000, now),
  ].filter((ms): ms is number => ms !== undefined);
  return waits.length ? Math.max(...waits) : undefined;
}

function parseWait(value: string | null | undefined, unitMs: number, now: number): number | undefined {
  if (!value?.trim()) return undefined;
  const amount = Number(value);
  if (Number.isFinite(amount)) return amount >= 0 ? Math.ceil(amount * unitMs) : undefined;
  // Only retry-after may be a date; a date in retry-after-ms is as good as absent.
  const date = unitMs === 1000 ? Date.parse(value) : NaN;
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
