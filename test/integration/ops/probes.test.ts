/**
 * The health probes on the real HTTP server (src/ops/http.ts, src/ops/readiness.ts):
 * /healthz is alive whatever the database does; /readyz is 503 while the database
 * is down, while a migration file is not applied, and while the chat adapter is not
 * connected, and its body names what is not ready without internals. The database
 * goes down for real (a TCP proxy cuts every connection), a migration goes missing
 * from the real ledger, and Slack's Socket Mode connects to and loses the fake.
 */
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConsoleAdapter } from '../../../adapters/console/console-adapter.ts';
import { createSlackAdapter } from '../../../adapters/slack/slack-adapter.ts';
import type { ChatHandlers, ChatPort } from '../../../src/chat/port.ts';
import { startHttpServer, type HttpServer } from '../../../src/ops/http.ts';
import { chatCheck } from '../../../src/ops/readiness.ts';
import { connect, type Sql } from '../../../src/store/client.ts';
import { consoleStore } from '../../../src/store/console.ts';
import { slackStore } from '../../../src/store/slack.ts';
import { until } from '../../contract/chat-port.contract.ts';
import { startFakeSlack, type FakeSlack } from '../../fakes/slack/web-api.ts';
import { useTestDb } from '../../helpers/db.ts';
import { startPgProxy, type PgProxy } from '../slack/pg-proxy.ts';

const db = useTestDb();
const MIGRATIONS = readdirSync(new URL('../../../src/store/migrations/', import.meta.url))
  .filter((f) => f.endsWith('.sql'))
  .sort();
const NO_HANDLERS: ChatHandlers = {
  command: async () => ({ visibility: 'ephemeral', notice: { text: 'unused' } }),
  action: async () => ({ kind: 'ok' }),
  submission: async () => ({ kind: 'ok' }),
};

const servers: HttpServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

/** The bot's server as main.ts starts it: the database, the migrations of its schema, and its chat port. */
async function serve(sql: Sql, port: ChatPort, routes = [] as Parameters<typeof startHttpServer>[0]['routes']) {
  const http = await startHttpServer({
    port: 0,
    host: '127.0.0.1',
    sql,
    routes: routes ?? [],
    schema: db.schema,
    ready: [chatCheck(port.platform, () => port.isReady?.() ?? true)],
  });
  servers.push(http);
  return async (path: '/healthz' | '/readyz') => {
    // The deadline only bounds the test; the assertion is on the answer.
    const res = await fetch(`http://127.0.0.1:${http.port}${path}`, { signal: AbortSignal.timeout(10_000) });
    return [res.status, await res.json()] as [number, Record<string, unknown>];
  };
}

describe('health probes', () => {
  let proxy: PgProxy;
  let proxied: Sql;
  beforeAll(async () => {
    proxy = await startPgProxy(db.url);
    proxied = connect({ url: proxy.url, schema: db.schema, max: 2, connectTimeoutMs: 1_000 });
  });
  afterAll(async () => {
    await proxied?.end({ timeout: 1 });
    await proxy?.close();
  });

  it('database down → /readyz 503 naming the database, /healthz 200; both 200 once it is back', async () => {
    const web = createConsoleAdapter({ store: consoleStore(db.sql) });
    await web.port.start(NO_HANDLERS);
    const probe = await serve(proxied, web.port, web.routes);
    const ready = { database: 'up', migrations: 'current', chat: 'console connected' };
    expect(await probe('/readyz')).toEqual([200, { ok: true, checks: ready }]);

    proxy.setDown(true);
    expect(await probe('/healthz')).toEqual([200, { ok: true }]);
    const [status, body] = await probe('/readyz');
    expect(status).toBe(503);
    // The migrations cannot be read either: unknown, not "current".
    expect(body).toEqual({
      ok: false,
      checks: { database: 'down', migrations: 'unknown', chat: 'console connected' },
      notReady: ['database', 'migrations'],
    });
    expect(JSON.stringify(body)).not.toMatch(/ECONN|127\.0\.0\.1|postgres|SELECT|at /i);

    proxy.setDown(false);
    await until('the database to be back', async () => (await probe('/readyz'))[0] === 200, 15_000);
    expect(await probe('/healthz')).toEqual([200, { ok: true }]);
    await web.port.stop();
  });

  it('a migration missing → /readyz 503 naming it; 200 once it is recorded again', async () => {
    const web = createConsoleAdapter({ store: consoleStore(db.sql) });
    await web.port.start(NO_HANDLERS);
    const probe = await serve(db.sql, web.port);
    const last = MIGRATIONS.at(-1)!;
    const version = Number(last.slice(0, 4));
    const [row] = await db.sql<{ name: string }[]>`
      DELETE FROM schema_migrations WHERE version = ${version} RETURNING name`;
    expect(row!.name).toBe(last);
    try {
      expect(await probe('/readyz')).toEqual([
        503,
        {
          ok: false,
          checks: { database: 'up', migrations: `missing ${last}`, chat: 'console connected' },
          notReady: ['migrations'],
        },
      ]);
      expect(await probe('/healthz')).toEqual([200, { ok: true }]);
    } finally {
      await db.sql`INSERT INTO schema_migrations (version, name) VALUES (${version}, ${last})`;
    }
    expect((await probe('/readyz'))[0]).toBe(200);
    await web.port.stop();
  });

  it('a schema never migrated → /readyz names every migration', async () => {
    const empty = connect({ url: db.url, schema: `${db.schema}_none`, max: 1 });
    const web = createConsoleAdapter({ store: consoleStore(db.sql) });
    await web.port.start(NO_HANDLERS);
    const http = await startHttpServer({ port: 0, host: '127.0.0.1', sql: empty, schema: `${db.schema}_none` });
    servers.push(http);
    const res = await fetch(`http://127.0.0.1:${http.port}/readyz`);
    expect([res.status, await res.json()]).toEqual([
      503,
      {
        ok: false,
        checks: { database: 'up', migrations: `missing ${MIGRATIONS.join(', ')}` },
        notReady: ['migrations'],
      },
    ]);
    await empty.end();
    await web.port.stop();
  });

  it('the web chat → /readyz 503 until it serves, and again once stopped', async () => {
    const web = createConsoleAdapter({ store: consoleStore(db.sql) });
    const probe = await serve(db.sql, web.port, web.routes);
    const notReady = {
      ok: false,
      checks: { database: 'up', migrations: 'current', chat: 'console not connected' },
      notReady: ['chat'],
    };
    expect(await probe('/readyz')).toEqual([503, notReady]);
    await web.port.start(NO_HANDLERS);
    expect((await probe('/readyz'))[0]).toBe(200);
    await web.port.stop();
    expect(await probe('/readyz')).toEqual([503, notReady]);
  });
});

describe('Slack Socket Mode readiness', () => {
  let fake: FakeSlack;
  beforeAll(async () => {
    fake = await startFakeSlack({ channels: ['C0SUPPORT'] });
  });
  afterAll(async () => {
    await fake?.close();
  });

  it('/readyz 503 before the socket is open, 200 once Slack said hello, 503 while the socket is lost, 200 once back', async () => {
    const slack = createSlackAdapter({
      settings: { botToken: fake.botToken, apiUrl: fake.apiUrl, signingSecret: null, appToken: fake.appToken },
      store: slackStore(db.sql),
      isTierPaced: false,
    });
    const probe = await serve(db.sql, slack.port, slack.routes);
    expect((await probe('/readyz'))[1]).toMatchObject({ checks: { chat: 'slack not connected' }, notReady: ['chat'] });
    await slack.port.start(NO_HANDLERS);
    await fake.socket.waitForConnections(1, 10_000);
    expect(await probe('/readyz')).toEqual([
      200,
      { ok: true, checks: { database: 'up', migrations: 'current', chat: 'slack connected' } },
    ]);
    // The socket drops (Slack refreshes connections now and then); the client reconnects after a pause.
    fake.socket.connections()[0]!.terminate();
    await until('the adapter to notice', async () => (await probe('/readyz'))[0] === 503, 15_000);
    expect((await probe('/readyz'))[1]).toMatchObject({ checks: { chat: 'slack not connected' }, notReady: ['chat'] });
    expect(await probe('/healthz')).toEqual([200, { ok: true }]);
    await until('the socket to be back', async () => (await probe('/readyz'))[0] === 200, 30_000);
    await slack.port.stop();
  });
});
