import { describe, expect, it } from 'vitest';
import { readConfig, redactUrl } from '../../src/config.ts';
import { isSignoffError } from '../../src/errors.ts';

describe('readConfig', () => {
  it('defaults to the embedded database, port 3000 and the signoff schema', () => {
    const c = readConfig({});
    expect(c.databaseUrl).toBeNull();
    expect([c.port, c.schema, c.poolSize, c.logLevel]).toEqual([3000, 'signoff', 10, 'info']);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('reports every problem in one message', () => {
    let error: unknown;
    try {
      readConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x', SIGNOFF_SCHEMA: 'Bad-Name', LOG_LEVEL: 'loud', DB_POOL_SIZE: '0' });
    } catch (err) {
      error = err;
    }
    expect(isSignoffError(error, 'config_invalid')).toBe(true);
    const message = (error as Error).message;
    for (const name of ['PORT', 'DATABASE_URL', 'SIGNOFF_SCHEMA', 'LOG_LEVEL', 'DB_POOL_SIZE']) expect(message).toContain(name);
  });

  it('reads crash points as a set', () => {
    expect([...readConfig({ SIGNOFF_CRASHPOINTS: 'a, b,,' }).crashpoints]).toEqual(['a', 'b']);
  });

  it('redacts passwords from URLs it logs', () => {
    expect(redactUrl('postgres://postgres:s3cret@127.0.0.1:5432/db')).toBe('postgres://postgres:***@127.0.0.1:5432/db');
  });
});
