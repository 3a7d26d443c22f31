/**
 * Issue 4 acceptance: the bot is SIGKILLed after the helpdesk answered 2xx to
 * `zendesk.reply` and before the step's result was committed. A second bot
 * reclaims the step; Zendesk honours no Idempotency-Key on a ticket update, so
 * the retry first finds the comment the first attempt made and sends nothing,
 * and the ticket has exactly one reply (RELIABILITY I2, case 29 for tools).
 * An `unsafe` tool (linear.comment) cut off the same way is not called again
 * blindly: the run waits for a person (contract 5), whose retry calls it again.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { LINEAR_KEYS, startFakeTools, ZENDESK_AGENT, type FakeTools } from '../fakes/tool-servers.ts';
import { startBot, stopBot, type BotProcess } from '../helpers/browser.ts';
import { useTestDb } from '../helpers/db.ts';

const db = useTestDb();
let fake: FakeTools;
const bots: BotProcess[] = [];

beforeAll(async () => {
  fake = await startFakeTools();
});
// The tests share a schema: a bot left running would take the next test's work.
afterEach(async () => {
  for (const bot of bots.splice(0)) await stopBot(bot);
});
afterAll(async () => {
  await fake?.close();
});

/** Starts a run; null when the bot died before answering (the crash point can beat the reply). */
async function command(bot: BotProcess, text: string): Promise<unknown> {
  const res = await fetch(`${bot.url}/api/command`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user: 'alice', channel: 'general', text, deliveryId: randomUUID() }),
  }).catch(() => null);
  return res ? res.json() : null;
}

/** Calls that made a Linear comment with this text. */
const comments = (text: string) =>
  fake.calls.filter(
    (c) =>
      c.path === '/graphql' &&
      JSON.stringify(c.body).includes('commentCreate') &&
      JSON.stringify(c.body).includes(text),
  );

/** The run of `flow` whose input mentions `text`, once its status is `until` (or after 30 s). */
async function runStatus(
  flow: string,
  until: string,
  text: string,
): Promise<{ id: string; status: string; status_reason: string | null }> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const [run] = await db.sql<{ id: string; status: string; status_reason: string | null }[]>`
      SELECT id, status, status_reason FROM runs WHERE flow = ${flow} AND input::text LIKE ${'%' + text + '%'}`;
    if (run?.status === until || Date.now() > deadline) return run!;
    await new Promise((r) => setTimeout(r, 200));
  }
}

it("kill -9 between the tool's 2xx and the commit: one reply on the ticket", async () => {
  const env = {
    SIGNOFF_FLOWS_DIR: 'test/fixtures/flows',
    ZENDESK_URL: fake.baseUrl,
    ZENDESK_EMAIL: ZENDESK_AGENT.email,
    ZENDESK_TOKEN: ZENDESK_AGENT.apiToken,
    WORKER_POLL_MS: '200',
  };
  const first = await startBot({
    databaseUrl: db.url,
    schema: db.schema,
    env: { ...env, SIGNOFF_CRASHPOINTS: 'after-step:send' },
  });
  bots.push(first);
  const died = new Promise<NodeJS.Signals | null>((resolve) =>
    first.child.once('exit', (_code, signal) => resolve(signal)),
  );
  const reply = await command(first, 'run tool-send ticketId=42 body="We refunded the second charge."');
  if (reply !== null) expect(JSON.stringify(reply)).toMatch(/started/i);
  expect(await died).toBe('SIGKILL');
  const runs = await db.sql`SELECT id FROM runs WHERE flow = 'tool-send'`;
  expect(runs).toHaveLength(1); // recorded before the reply, whether or not the reply got out

  const [job] = await db.sql<{ key: string; status: string }[]>`SELECT key, status FROM jobs WHERE name = 'send'`;
  expect(job!.status).toBe('running'); // the result was never committed
  expect(fake.state.tickets.get('42')!.comments).toHaveLength(1);

  const second = await startBot({ databaseUrl: db.url, schema: db.schema, env });
  bots.push(second);
  const deadline = Date.now() + 30_000;
  let status = '';
  while (Date.now() < deadline && status !== 'done') {
    [{ status }] = (await db.sql<{ status: string }[]>`SELECT status FROM runs WHERE flow = 'tool-send'`) as any;
    await new Promise((r) => setTimeout(r, 200));
  }
  expect(status).toBe('done');
  const puts = fake.calls.filter((c) => c.method === 'PUT' && c.path === '/api/v2/tickets/42.json');
  expect(puts).toHaveLength(1); // the retry found the comment and did not send again
  expect(fake.calls.some((c) => c.path.startsWith('/api/v2/tickets/42/comments.json'))).toBe(true);
  expect(fake.state.tickets.get('42')!.comments.map((c) => c.body)).toEqual(['We refunded the second charge.']);
  expect(fake.calls.every((c) => String(c.headers.authorization).startsWith('Basic '))).toBe(true);
}, 60_000);

it("kill -9 after an unsafe tool's 2xx: the next attempt takes the recorded answer, no second call", async () => {
  const env = {
    SIGNOFF_FLOWS_DIR: 'test/fixtures/flows',
    LINEAR_URL: fake.baseUrl,
    LINEAR_TOKEN: LINEAR_KEYS.apiKey,
    WORKER_POLL_MS: '200',
  };
  const first = await startBot({
    databaseUrl: db.url,
    schema: db.schema,
    env: { ...env, SIGNOFF_CRASHPOINTS: 'after-step:comment' },
  });
  bots.push(first);
  const died = new Promise<NodeJS.Signals | null>((resolve) =>
    first.child.once('exit', (_code, signal) => resolve(signal)),
  );
  await command(first, 'run tool-comment issueId=ENG-7 body="Fixed in 1.4.2"');
  expect(await died).toBe('SIGKILL');
  expect(comments('Fixed in 1.4.2')).toHaveLength(1);

  const second = await startBot({ databaseUrl: db.url, schema: db.schema, env });
  bots.push(second);
  const run = await runStatus('tool-comment', 'done', 'Fixed in 1.4.2');
  expect(run.status).toBe('done');
  expect(comments('Fixed in 1.4.2')).toHaveLength(1);
}, 60_000);

it("kill -9 during an unsafe tool's call: the next attempt asks a person instead of calling again", async () => {
  const env = {
    SIGNOFF_FLOWS_DIR: 'test/fixtures/flows',
    LINEAR_URL: fake.baseUrl,
    LINEAR_TOKEN: LINEAR_KEYS.apiKey,
    WORKER_POLL_MS: '200',
  };
  const first = await startBot({ databaseUrl: db.url, schema: db.schema, env });
  bots.push(first);
  fake.next({ kind: 'hang' });
  await command(first, 'run tool-comment issueId=ENG-8 body="Shipped"');
  const deadline = Date.now() + 10_000;
  while (comments('Shipped').length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  first.child.kill('SIGKILL'); // mid-call: nobody knows whether the comment was made
  await new Promise((r) => first.child.once('exit', r));

  const second = await startBot({ databaseUrl: db.url, schema: db.schema, env });
  bots.push(second);
  const parked = await runStatus('tool-comment', 'parked', 'Shipped');
  expect(parked.status_reason).toMatch(/^blocked:needs_human: tool "linear.comment" may already have run/);
  expect(comments('Shipped')).toHaveLength(1); // not repeated blindly

  const retried = await command(second, `retry ${parked.id}`);
  expect(JSON.stringify(retried)).toMatch(/retried/);
  expect((await runStatus('tool-comment', 'done', 'Shipped')).status).toBe('done');
  expect(comments('Shipped')).toHaveLength(2); // a person chose to call again
}, 60_000);
