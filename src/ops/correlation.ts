/**
 * The correlation id: one id per inbound request or job, carried through every
 * await by AsyncLocalStorage, stamped on every log line (src/ops/log.ts mixes it
 * in) and shown to users in error messages ("… (ref 7f3a…)"), so an operator can
 * grep the log for what a person reports (RELIABILITY 78).
 *
 * Where a context is entered, and which id it takes (docs/operations.md, "Logs"):
 * - the HTTP server's request handler (src/ops/http.ts): a webhook's delivery id
 *   header when it has one, else a generated id;
 * - Slack deliveries (adapters/slack): the Events API `event_id`, else the
 *   `trigger_id` of a command, click or dialog;
 * - Discord interactions (adapters/discord): the interaction id;
 * - each job a worker runs (src/engine/worker.ts): the job's idempotency key.
 * A context entered inside another replaces it for the inner work.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';

const context = new AsyncLocalStorage<string>();

/**
 * What an id taken from outside may look like: platform ids and delivery ids are
 * letters, digits and `._:#/@+-`. Anything else (or longer) is replaced by a generated
 * id, so a header can never put control characters or markup into logs or chat.
 */
const SAFE_ID = /^[A-Za-z0-9._:#/@+-]{1,200}$/;

/** A fresh id: 12 hex characters (48 bits), short enough to read out, unique enough to grep. */
export function newCorrelationId(): string {
  return randomBytes(6).toString('hex');
}

/** `candidate` when it is a safe id, else a fresh one. */
export function toCorrelationId(candidate: unknown): string {
  return typeof candidate === 'string' && SAFE_ID.test(candidate) ? candidate : newCorrelationId();
}

/** Runs `fn` with `id` as the correlation id of everything it does, awaits included. */
export function withCorrelation<T>(id: string, fn: () => T): T {
  return context.run(toCorrelationId(id), fn);
}

/** The correlation id of the work in progress, if it has one. */
export function correlationId(): string | undefined {
  return context.getStore();
}
