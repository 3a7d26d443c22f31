/**
 * What the process does with a promise rejection nobody awaited. Node ends the process on
 * one (since v15). postgres.js 3.4.9 can leave a rejection behind when its connections are
 * cut again and again: test/e2e/pg-restart.test.ts "35: … cut again and again" saw the bot
 * die about once in ten runs of `read ECONNRESET`, with no frame of ours in it (see also
 * ../store/patch-postgres.mjs for the defect we could locate). The query that socket
 * carried has already failed to whoever awaited it, and the engine retries, so a stray
 * *connection* error is logged and survived. Any other stray rejection is a bug of ours:
 * it is logged and still ends the process, as Node would.
 */
import type { Logger } from './log.ts';

/** Socket and postgres.js codes of a connection that broke (postgres.js names its own in `code`). */
const CONNECTION_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
]);

/** Whether a stray rejection is a broken connection, which the caller already saw fail. */
export function isConnectionError(reason: unknown): boolean {
  const code = (reason as { code?: unknown } | null)?.code;
  return typeof code === 'string' && CONNECTION_CODES.has(code);
}

/** Installs the rule above for this process; `exit` is for tests. */
export function handleStrayRejections(log: Logger, exit: (code: number) => void = (c) => process.exit(c)): void {
  process.on('unhandledRejection', (reason) => {
    const error = reason instanceof Error ? reason.message : String(reason);
    if (isConnectionError(reason)) {
      log.warn('a broken connection rejected a promise nobody awaited; carrying on', { error });
      return;
    }
    log.error('unhandled promise rejection; stopping', { error });
    exit(1);
  });
}
