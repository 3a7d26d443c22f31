/**
 * Issue 10 acceptance: a decision, its audit row and the run's transition
 * commit together. The bot is SIGKILLed right after the click's transaction
 * commits (crash point `after-deliver-commit`), before anything else runs: the
 * database already shows the review approved, its audit row, and the run past
 * the review, with no review job left to run. A second bot finishes the run
 * from there (RELIABILITY 29: after the approval row commits, before the
 * transition; here there is no such gap to crash in).
 */
import { randomUUID } from 'node:crypto';
import { afterEach, expect, it } from 'vitest';
import { until } from '../contract/chat-port.contract.ts';
import { startBot, stopBot, type BotProcess } from '../helpers/browser.ts';
import { expireLeases, useTestDb } from '../helpers/db.ts';

const db = useTestDb();
const bots: BotProcess[] = [];

afterEach(async () => {
  for (const bot of bots.splice(0)) await stopBot(bot);
});

type Card = { kind: string; ref: string; card: { status: { kind: string }; reviewRef: string; version: number } };

async function post(bot: BotProcess, path: string, body: Record<string, unknown>): Promise<Response | null> {
  return fetch(`${bot.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...body, deliveryId: randomUUID() }),
  }).catch(() => null);
}

async function pendingCard(bot: BotProcess): Promise<Card | undefined> {
  const state = (await (await fetch(`${bot.url}/api/state`)).json()) as { messages: Card[] };
  return state.messages.find((m) => m.kind === 'card' && m.card.status.kind === 'pending');
}

it('kill -9 right after the click commits: the run is already past the review, no review job left', async () => {
  const env = { OPENAI_API_KEY: '', OPENAI_BASE_URL: '', ZENDESK_URL: '' };
  const first = await startBot({
    databaseUrl: db.url,
    schema: db.schema,
    env: { ...env, SIGNOFF_CRASHPOINTS: 'after-deliver-commit' },
  });
  bots.push(first);
  const started = await post(first, '/api/command', {
    user: 'alice',
    channel: 'support',
    text: 'run ticket-triage subject="Refund" body="Please refund order 7"',
  });
  expect(started?.status).toBe(200);
  const card = await until('the review card', () => pendingCard(first), 30_000);

  const died = new Promise<NodeJS.Signals | null>((resolve) =>
    first.child.once('exit', (_code, signal) => resolve(signal)),
  );
  await post(first, '/api/action', {
    user: 'bob',
    channel: 'support',
    messageRef: card.ref,
    reviewRef: card.card.reviewRef,
    action: 'approve',
    version: card.card.version,
  });
  expect(await died).toBe('SIGKILL');

  // What the crash left: all of the decision, none of what follows it.
  const [review] = await db.sql<
    { id: string; run_id: string; status: string; job_key: string }[]
  >`SELECT id, run_id, status, job_key FROM reviews`;
  expect(review!.status).toBe('approved');
  const audit =
    await db.sql`SELECT action, actor, outcome FROM review_audit WHERE review_id = ${review!.id} ORDER BY seq`;
  expect(audit.map((a) => `${a.action}:${a.actor}:${a.outcome}`)).toEqual([
    'request:alice:accepted',
    'approve:bob:accepted',
  ]);
  const [run] = await db.sql<
    { snapshot: { value: unknown }; status: string }[]
  >`SELECT snapshot, status FROM runs WHERE id = ${review!.run_id}`;
  expect(run!.snapshot.value).toBe('sending');
  const events =
    await db.sql`SELECT type, actor FROM run_events WHERE run_id = ${review!.run_id} AND type = 'review.approved'`;
  expect(events.map((e) => e.actor)).toEqual(['bob']);
  const reviewJobs = await db.sql`SELECT status FROM jobs WHERE run_id = ${review!.run_id} AND kind = 'review'`;
  expect(reviewJobs.map((j) => j.status)).toEqual(['done']);
  const sendJobs = await db.sql`SELECT status FROM jobs WHERE run_id = ${review!.run_id} AND name = 'send'`;
  expect(sendJobs.map((j) => j.status)).toEqual(['running']); // leased to the dead process, not yet run

  // A second bot takes it from there: once the send step's lease is up, it runs once.
  await expireLeases(db.sql);
  const second = await startBot({ databaseUrl: db.url, schema: db.schema, env });
  bots.push(second);
  await until(
    'the run to finish',
    async () => {
      const [r] = await db.sql<{ status: string }[]>`SELECT status FROM runs WHERE id = ${review!.run_id}`;
      return r!.status === 'done' || undefined;
    },
    90_000,
  );
  const [done] = await db.sql<
    { output: { sent: { contentSha256: string } } }[]
  >`SELECT output FROM runs WHERE id = ${review!.run_id}`;
  const [approved] = await db.sql<
    { content_sha256: string }[]
  >`SELECT content_sha256 FROM reviews WHERE id = ${review!.id}`;
  expect(done!.output.sent.contentSha256).toBe(approved!.content_sha256);
  expect(
    await db.sql`SELECT 1 FROM run_events WHERE run_id = ${review!.run_id} AND type = 'review.approved'`,
  ).toHaveLength(1);
  // The card update the dead bot never ran is done by the second: the one card shows the approval.
  const shown = await until(
    'the card to show the approval',
    async () => {
      const state = (await (await fetch(`${second.url}/api/state`)).json()) as { messages: Card[] };
      const cards = state.messages.filter((m) => m.kind === 'card' && m.card.reviewRef === card.card.reviewRef);
      return cards.length === 1 && cards[0]!.card.status.kind === 'approved' ? cards : undefined;
    },
    30_000,
  );
  expect(shown[0]!.ref).toBe(card.ref);
}, 150_000);
