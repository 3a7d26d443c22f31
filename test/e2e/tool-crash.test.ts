/**
 * Issue 4 acceptance: the bot is SIGKILLed after the helpdesk answered 2xx to
 * `zendesk.reply` and before the step's result was committed. A second bot
 * reclaims the step and calls again with the same Idempotency-Key, so the fake
 * helpdesk applies exactly one effect for that key (RELIABILITY I2, case 29 for tools).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, expect, it } from 'vitest';
import { startFakeTools, type FakeTools } from '../fakes/tool-servers.ts';
import { startBot, stopBot, type BotProcess } from '../helpers/browser.ts';
import { useTestDb } from '../helpers/db.ts';

const db = useTestDb();
let fake: FakeTools;
const bots: BotProcess[] = [];

afterAll(async () => {
  for (const bot of bots) await stopBot(bot);
  await fake?.close();
});

/** Starts a run; null when the bot died before answering (the crash point can beat the reply). */
async function command(bot: BotProcess, text: string): Promise<unknown> {
  const res = await fetch(`${bot.url}/api/command`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user: 'alice', channel: 'general', text, deliveryId: randomUUID() }),
  }).catch(() => null);
  return res ? res.json() : null;
}

it('kill -9 between the tool\'s 2xx and the commit: one effect per idempotency key', async () => {
  fake = await startFakeTools();
  const env = { SIGNOFF_FLOWS_DIR: 'test/fixtures/flows', ZENDESK_URL: fake.baseUrl, ZENDESK_TOKEN: 'zd-test-token', WORKER_POLL_MS: '200' };
  const first = await startBot({ databaseUrl: db.url, schema: db.schema, env: { ...env, SIGNOFF_CRASHPOINTS: 'after-step:send' } });
  bots.push(first);
  const died = new Promise<NodeJS.Signals | null>((resolve) => first.child.once('exit', (_code, signal) => resolve(signal)));
  const reply = await command(first, 'run tool-send ticketId=42 body="We refunded the second charge."');
  if (reply !== null) expect(JSON.stringify(reply)).toMatch(/started/i);
  expect(await died).toBe('SIGKILL');
  const runs = await db.sql`SELECT id FROM runs WHERE flow = 'tool-send'`;
  expect(runs).toHaveLength(1); // recorded before the reply, whether or not the reply got out

  const [job] = await db.sql<{ key: string; status: string }[]>`SELECT key, status FROM jobs WHERE name = 'send'`;
  expect(job!.status).toBe('running'); // the result was never committed
  expect(fake.effectsByKey(job!.key)).toHaveLength(1);

  const second = await startBot({ databaseUrl: db.url, schema: db.schema, env });
  bots.push(second);
  const deadline = Date.now() + 30_000;
  let status = '';
  while (Date.now() < deadline && status !== 'done') {
    [{ status }] = await db.sql<{ status: string }[]>`SELECT status FROM runs WHERE flow = 'tool-send'` as any;
    await new Promise((r) => setTimeout(r, 200));
  }
  expect(status).toBe('done');
  const calls = fake.calls.filter((c) => c.path === '/api/v2/tickets/42.json');
  expect(calls.map((c) => c.key)).toEqual([job!.key, job!.key]); // called again, with the same key
  expect(fake.effectsByKey(job!.key)).toHaveLength(1);
  expect(fake.effects).toHaveLength(1);
  expect(calls.every((c) => c.headers.authorization === 'Bearer zd-test-token')).toBe(true);
}, 60_000);
