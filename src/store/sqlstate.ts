/**
 * Postgres error codes (SQLSTATE) we branch on, by name; add one here when code
 * first reads it. Source: https://www.postgresql.org/docs/current/errcodes-appendix.html
 */
/** A unique index refused a second row (the engine's once-only inserts). */
export const UNIQUE_VIOLATION = '23505';
/** Password authentication failed: the embedded server's password file does not match its data dir. */
export const INVALID_PASSWORD = '28P01';

/** True when `err` is a Postgres error with the given SQLSTATE. */
export function hasSqlState(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}
