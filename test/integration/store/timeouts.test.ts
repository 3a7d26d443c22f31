/**
 * Bounded waits on the database (issue 16): every connection carries a statement
 * timeout, and /readyz and web chat writes answer (503, "try again") when the
 * database stops answering rather than hanging with it. The database is stalled for real: a TCP proxy between the
 * client and Postgres holds every answer (connections stay open, nothing errors).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConsoleAdapter } from '../../../adapters/console/console-adapter.ts';
import { startHttpServer, type HttpServer } from '../../../src/ops/http.ts';
import { consoleStore } from '../../../src/store/console.ts';
import { until } from '../../contract/chat-port.contract.ts';
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

const probe = async (path: '/healthz' | '/readyz') => {
  // The deadline only bounds the test; the assertion is on the answer.
  const res = await fetch(`http://127.0.0.1:${http.port}${path}`, { signal: AbortSignal.timeout(10_000) });
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

  it('a web chat write is answered "try again" within its budget while the database stalls, and done once it answers', async () => {
    const adapter = createConsoleAdapter({ store: consoleStore(proxied) });
    const chat = await startHttpServer({ port: 0, host: '127.0.0.1', sql: proxied, routes: adapter.routes });
    const seen: string[] = [];
    await adapter.port.start({
      command: async (c) => (seen.push(c.deliveryId), { visibility: 'ephemeral', notice: { text: 'ok' } }),
      action: async () => ({ kind: 'ok' }),
      submission: async () => ({ kind: 'ok' }),
    });
    const send = async (deliveryId: string) => {
      const res = await fetch(`http://127.0.0.1:${chat.port}/api/command`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        signal: AbortSignal.timeout(10_000),
        body: JSON.stringify({ user: 'alice', channel: 'general', text: 'help', deliveryId }),
      });
      return [res.status, await res.json()];
    };
    try {
      expect((await send('before'))[0]).toBe(200);
      proxy.setStalled(true);
      expect(await send('stalled')).toEqual([
        503,
        { error: 'signoff is slow to record that right now; if nothing shows up in a moment, please try again' },
      ]);
      expect(seen).toEqual(['before']);
      proxy.setStalled(false);
      await until('the stalled command to go through', async () => seen.includes('stalled'));
      expect((await send('after'))[0]).toBe(200);
    } finally {
      proxy.setStalled(false);
      await adapter.port.stop();
      await chat.close();
    }
  });

  it('/readyz says 503 while the database is stalled, and 200 once it answers again; /healthz stays 200', async () => {
    const up = [200, { ok: true, checks: { database: 'up' } }];
    expect(await probe('/readyz')).toEqual(up);
    proxy.setStalled(true);
    expect(await probe('/readyz')).toEqual([503, { ok: false, checks: { database: 'down' }, notReady: ['database'] }]);
    expect(await probe('/healthz')).toEqual([200, { ok: true }]);
    proxy.setStalled(false);
    expect(await probe('/readyz')).toEqual(up);
  });
});
