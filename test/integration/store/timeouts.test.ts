/**
 * Bounded waits on the database (issue 16): every connection carries a statement
 * timeout, and /healthz answers 503 when the database stops answering rather than
 * hanging with it. The database is stalled for real: a TCP proxy between the
 * client and Postgres holds every answer (connections stay open, nothing errors).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpServer, type HttpServer } from '../../../src/ops/http.ts';
import { connect, type Sql } from '../../../src/store/client.ts';
import { useTestDb } from '../../helpers/db.ts';
import { startPgProxy, type PgProxy } from '../slack/pg-proxy.ts';

const db = useTestDb();
let proxy: PgProxy;
let proxied: Sql;
let http: HttpServer;

beforeAll(async () => {
  proxy = await startPgProxy(db.url);
  proxied = connect({ url: proxy.url, schema: db.schema, max: 2, connectTimeoutMs: 1_000 });
  http = await startHttpServer({ port: 0, host: '127.0.0.1', sql: proxied });
});
afterAll(async () => {
  proxy?.setStalled(false);
  await http?.close();
  await proxied?.end({ timeout: 1 });
  await proxy?.close();
});

const health = async () => {
  // The deadline only bounds the test; the assertion is on the answer.
  const res = await fetch(`http://127.0.0.1:${http.port}/healthz`, { signal: AbortSignal.timeout(10_000) });
  return [res.status, await res.json()];
};

describe('database timeouts', () => {
  it('sets a statement timeout on every connection, which the server enforces', async () => {
    expect((await proxied`SHOW statement_timeout`)[0]!.statement_timeout).toBe('30s');
    const short = connect({ url: db.url, schema: db.schema, max: 1, statementTimeoutMs: 100 });
    try {
      await expect(short`SELECT pg_sleep(5)`).rejects.toMatchObject({ code: '57014' });
    } finally {
      await short.end({ timeout: 1 });
    }
  });

  it('/healthz says 503 while the database is stalled, and 200 once it answers again', async () => {
    expect(await health()).toEqual([200, { ok: true, db: 'up' }]);
    proxy.setStalled(true);
    expect(await health()).toEqual([503, { ok: false, db: 'down' }]);
    proxy.setStalled(false);
    expect(await health()).toEqual([200, { ok: true, db: 'up' }]);
  });
});
