/**
 * Postgres error codes (SQLSTATE) we branch on, by name. Source:
 * https://www.postgresql.org/docs/current/errcodes-appendix.html
 */
export const UNIQUE_VIOLATION = '23505';
export const SERIALIZATION_FAILURE = '40001';
export const DEADLOCK_DETECTED = '40P01';
export const ADMIN_SHUTDOWN = '57P01';
export const CANNOT_CONNECT_NOW = '57P03';
export const UNDEFINED_TABLE = '42P01';
export const INVALID_PASSWORD = '28P01';

/** True when `err` is a Postgres error with the given SQLSTATE. */
export function hasSqlState(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}
