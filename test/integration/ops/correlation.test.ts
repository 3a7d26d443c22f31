/**
 * RELIABILITY 78 through the real ingress: a request that fails tells the person
 * only a generic sentence and a reference, the reference is the correlation id
 * on the log lines of that request, and the log line (not the answer) has the
 * cause. The failure is real: the command handlers run against a schema with no
 * tables, so Postgres answers `relation "runs" does not exist`. Paths: the web
 * chat (HTTP server id, sent back as x-correlation-id), Slack over HTTP (Slack's
 * trigger id), and a route that throws (500). Also: which id a request takes, and
 * that a job's lines carry its key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConsoleAdapter, type ConsoleAdapter } from '../../../adapters/console/console-adapter.ts';
import { createSlackAdapter, type SlackAdapter } from '../../../adapters/slack/slack-adapter.ts';
import type { ChatHandlers } from '../../../src/chat/port.ts';
import { Engine } from '../../../src/engine/engine.ts';
import { startHttpServer, type HttpServer, type Route } from '../../../src/ops/http.ts';
import { createLogger } from '../../../src/ops/log.ts';
import { connect, type Sql } from '../../../src/store/client.ts';
import { consoleStore } from '../../../src/store/console.ts';
import { slackStore } from '../../../src/store/slack.ts';
import { handleCommand, makeCommandDeps } from '../../../src/triggers/commands.ts';
import { FORM, signed, slashCommandBody } from '../../fakes/slack/requests.ts';
import { startFakeSlack, type FakeSlack } from '../../fakes/slack/web-api.ts';
import { useTestDb } from '../../helpers/db.ts';
import { startTestEngine } from '../../helpers/engines.ts';
import { createStepLog } from '../../helpers/flows/test-flows.ts';

const db = useTestDb();
const lines: string[] = [];
const log = createLogger('debug', (line) => lines.push(line));
/** Log entries of one correlation id. */
const entriesOf = (id: string) =>
  lines.map((l) => JSON.parse(l) as Record<string, any>).filter((entry) => entry.correlationId === id);
/** What no answer to a person may show: SQL, Postgres' words, a stack frame, our schema. */
const INTERNALS = /relation|SELECT|runs"|does not exist|\bat .*\.ts|Error:|postgres/i;

let tableless: Sql;
let engine: Engine;
const servers: HttpServer[] = [];

/** The real command handlers (src/triggers/commands.ts) on an engine whose schema has no tables. */
function failingHandlers(): ChatHandlers {
  const deps = makeCommandDeps(engine, { log });
  return {
    command: (cmd) => handleCommand(cmd, deps),
    action: async () => ({ kind: 'ok' }),
    submission: async () => ({ kind: 'ok' }),
  };
}

async function serve(routes: Route[]): Promise<string> {
  const http = await startHttpServer({ port: 0, host: '127.0.0.1', sql: db.sql, routes, log });
  servers.push(http);
  return `http://127.0.0.1:${http.port}`;
}

beforeAll(() => {
  tableless = connect({ url: db.url, schema: `${db.schema}_tableless`, max: 2 });
  engine = new Engine({ sql: tableless, schema: `${db.schema}_tableless`, flows: [], log });
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await tableless?.end({ timeout: 1 });
});

describe('78: user-facing errors are generic and carry the correlation id of their log lines', () => {
  let web: ConsoleAdapter;
  afterAll(async () => {
    await web?.port.stop();
  });

  it('web chat: the reply names only a ref, which is the x-correlation-id and the id on the log line with the cause', async () => {
    web = createConsoleAdapter({ store: consoleStore(db.sql), log });
    await web.port.start(failingHandlers());
    const base = await serve(web.routes);
    const res = await fetch(`${base}/api/command`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'alice', channel: 'general', text: 'list', deliveryId: 'corr-1' }),
    });
    const body = (await res.json()) as { reply: { notice: { text: string } } };
    const ref = /^something went wrong; try again \(ref ([0-9a-f]{12})\)$/.exec(body.reply.notice.text)?.[1];
    expect(ref, body.reply.notice.text).toBeDefined();
    expect(res.headers.get('x-correlation-id')).toBe(ref);
    expect(JSON.stringify(body)).not.toMatch(INTERNALS);
    const logged = entriesOf(ref!);
    expect(logged).toContainEqual(
      expect.objectContaining({
        level: 'error',
        msg: 'command failed',
        ref,
        error: expect.objectContaining({ message: expect.stringContaining('relation "runs" does not exist') }),
      }),
    );
  });

  describe('Slack', () => {
    let fake: FakeSlack;
    let slack: SlackAdapter;
    const SECRET = 'correlation-signing-secret';
    beforeAll(async () => {
      fake = await startFakeSlack({ channels: ['C0SUPPORT'] });
      slack = createSlackAdapter({
        settings: { botToken: fake.botToken, apiUrl: fake.apiUrl, signingSecret: SECRET, appToken: null },
        store: slackStore(db.sql),
        log,
        isTierPaced: false,
      });
      await slack.port.start(failingHandlers());
    });
    afterAll(async () => {
      await slack?.port.stop();
      await fake?.close();
    });

    it("a slash command: the answer's ref is Slack's trigger id, on every log line of that delivery", async () => {
      const triggerId = fake.newTrigger();
      const body = slashCommandBody({
        team: fake.teamId,
        channel: 'C0SUPPORT',
        user: 'U0ALICE',
        text: 'list',
        triggerId,
        responseUrl: fake.newResponseUrl(),
      });
      const request = signed(SECRET, body, FORM);
      const base = await serve(slack.routes);
      const res = await fetch(`${base}/slack/events`, { method: 'POST', headers: request.headers, body: request.body });
      expect(res.status).toBe(200);
      const answer = await res.text();
      expect(answer).toContain(`something went wrong; try again (ref ${triggerId})`);
      expect(answer).not.toMatch(INTERNALS);
      const logged = entriesOf(triggerId);
      expect(logged.map((e) => e.msg)).toContain('command failed');
      expect(logged.find((e) => e.msg === 'command failed')!.error.message).toMatch(/relation "runs" does not exist/);
    });
  });

  it('a route that throws: 500 with only the correlation id; the log line with that id has the cause', async () => {
    const base = await serve([
      () => {
        throw new Error('syntax error at or near "FROM" in SELECT secret FROM runs');
      },
    ]);
    const res = await fetch(`${base}/anything`);
    const body = (await res.json()) as { error: string; correlationId: string };
    expect([res.status, body]).toEqual([500, { error: 'internal error', correlationId: expect.any(String) }]);
    expect(res.headers.get('x-correlation-id')).toBe(body.correlationId);
    expect(entriesOf(body.correlationId)).toEqual([
      expect.objectContaining({
        level: 'error',
        msg: 'http request failed',
        path: '/anything',
        error: expect.objectContaining({ message: expect.stringContaining('SELECT secret FROM runs') }),
      }),
    ]);
  });
});

describe('which correlation id a request takes', () => {
  it("a webhook's delivery id header when it has a safe shape, else a fresh id", async () => {
    const base = await serve([]);
    const idOf = async (headers: Record<string, string>) =>
      (await fetch(`${base}/webhooks/none`, { method: 'POST', headers })).headers.get('x-correlation-id');
    expect(await idOf({ 'x-github-delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958' })).toBe(
      '72d3162e-cc78-11e3-81ab-4c9367dc0958',
    );
    expect(await idOf({ 'webhook-id': 'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W' })).toBe('msg_2KWPBgLlAfxdpx2AI54pPJ85f4W');
    expect(await idOf({ 'linear-delivery': 'bad value <script>' })).toMatch(/^[0-9a-f]{12}$/);
    const [a, b] = [await idOf({}), await idOf({})];
    expect(a).toMatch(/^[0-9a-f]{12}$/);
    expect(b).not.toBe(a);
  });
});

describe("a job's log lines", () => {
  it('carry the job key as correlation id (the key holds the run id)', async () => {
    await createStepLog(db.sql);
    const worker = await startTestEngine(db, { workerId: 'correlation', log });
    try {
      const { runId } = await worker.startRun('flaky', { failTimes: 1 });
      await worker.waitFor(runId, ['done'], { timeoutMs: 10_000 });
      const [job] = await db.sql<{ key: string }[]>`SELECT key FROM jobs WHERE run_id = ${runId}`;
      const retried = lines
        .map((l) => JSON.parse(l) as Record<string, any>)
        .filter((e) => e.msg === 'step failed; will retry' && e.job === job!.key);
      expect(retried).toHaveLength(1);
      expect(retried[0]!.correlationId).toBe(job!.key);
      expect(job!.key).toContain(runId); // so grepping the run id finds them too
    } finally {
      await worker.stop(500);
    }
  });
});
