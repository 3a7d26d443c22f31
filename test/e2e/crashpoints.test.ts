/**
 * RELIABILITY 29: SIGKILL at each named crash point (src/ops/crashpoint.ts),
 * restart, and check I1 (nothing lost: the command has its run, the click its
 * decision) and I2 (no duplicate effect, counted at the fakes: one card message
 * per review, one reply on the ticket, one decision per click). The bot runs as
 * a process (`npm start`) in Slack HTTP mode against the fake Slack and the
 * fake Zendesk, with the crash-review fixture flow (every step's time limit
 * short, so a lease the dead process held expires within seconds).
 *
 * Each test walks one run to its end after the crash (`finish`): the card is
 * approved by a support lead and the reply lands on the ticket once.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { until, type SeenCard } from '../contract/chat-port.contract.ts';
import { toSeenCard } from '../contract/slack-driver.ts';
import {
  appMention,
  blockActionsPayload,
  eventCallback,
  FORM,
  interactionBody,
  JSON_TYPE,
  postToBot,
  signed,
  slashCommandBody,
} from '../fakes/slack/requests.ts';
import { startFakeSlack, type FakeSlack } from '../fakes/slack/web-api.ts';
import { startFakeTools, ZENDESK_AGENT, type FakeTools } from '../fakes/tool-servers.ts';
import { startBot, stopBot, type BotProcess } from '../helpers/browser.ts';
import { expireLeases, useTestDb } from '../helpers/db.ts';

const SECRET = 'crash-signing-secret';
const CHANNEL = 'C0SUPPORT';
const [ALICE, BOB] = ['U0ALICE', 'U0BOB'];

const db = useTestDb();
let slack: FakeSlack;
let tools: FakeTools;
const bots: BotProcess[] = [];

beforeAll(async () => {
  [slack, tools] = await Promise.all([startFakeSlack({ channels: [CHANNEL] }), startFakeTools()]);
  slack.setGroups(BOB, ['support-leads']);
});
// The tests share a schema: a bot left running would take the next test's work.
afterEach(async () => {
  for (const bot of bots.splice(0)) await stopBot(bot);
});
afterAll(async () => {
  await Promise.all([slack?.close(), tools?.close()]);
});

/** The bot with `crashpoint` armed (or none); the worker polls often so an expired lease is seen soon. */
async function bot(crashpoint?: string): Promise<BotProcess> {
  const started = await startBot({
    databaseUrl: db.url,
    schema: db.schema,
    env: {
      SIGNOFF_FLOWS_DIR: 'test/fixtures/flows',
      SLACK_BOT_TOKEN: slack.botToken,
      SLACK_API_URL: slack.apiUrl,
      SLACK_SIGNING_SECRET: SECRET,
      ZENDESK_URL: tools.baseUrl,
      ZENDESK_EMAIL: ZENDESK_AGENT.email,
      ZENDESK_TOKEN: ZENDESK_AGENT.apiToken,
      WORKER_POLL_MS: '200',
      ...(crashpoint ? { SIGNOFF_CRASHPOINTS: crashpoint } : {}),
    },
  });
  bots.push(started);
  return started;
}

/** Resolves with the signal the bot died of. */
function death(b: BotProcess): Promise<NodeJS.Signals | null> {
  return new Promise((resolve) => b.child.once('exit', (_code, signal) => resolve(signal)));
}

/** `/signoff run crash-review ticketId=<id> …`; null when the bot died before answering. */
async function slash(b: BotProcess, ticketId: string): Promise<Response | null> {
  const body = slashCommandBody({
    team: slack.teamId,
    channel: CHANNEL,
    user: ALICE,
    triggerId: slack.newTrigger(),
    responseUrl: slack.newResponseUrl(),
    text: `run crash-review ticketId=${ticketId} body="charged twice"`,
  });
  return postToBot(b.url, signed(SECRET, body, FORM)).catch(() => null);
}

async function approve(b: BotProcess, card: SeenCard): Promise<Response | null> {
  const payload = blockActionsPayload({
    team: slack.teamId,
    channel: CHANNEL,
    user: BOB,
    messageTs: card.messageRef.split(':')[2]!,
    actionId: 'signoff_approve',
    blockId: `signoff_card:v${card.version}`,
    value: card.reviewRef,
    triggerId: slack.newTrigger(),
    responseUrl: slack.newResponseUrl(),
  });
  return postToBot(b.url, signed(SECRET, interactionBody(payload), FORM)).catch(() => null);
}

type Run = { id: string; status: string; snapshot: { value: unknown } };
async function runsOf(ticketId: string): Promise<Run[]> {
  return db.sql<
    Run[]
  >`SELECT id, status, snapshot FROM runs WHERE flow = 'crash-review' AND input->>'ticketId' = ${ticketId}`;
}

/** The review card messages of a run in the channel (a card, once, if all is well). */
function cardsOf(runId: string): SeenCard[] {
  return slack
    .inChannel(CHANNEL)
    .map(toSeenCard)
    .filter((c): c is SeenCard => c?.runId === runId);
}

const pendingCard = (runId: string) =>
  until(`the card of ${runId}`, async () => cardsOf(runId).find((c) => c.status === 'pending'), 40_000);

/**
 * Approves the run's card (unless `isDecided`), waits for the run to finish, and
 * checks I1 and I2: one run, one card message showing the approval, one
 * accepted approval, one reply on the ticket.
 */
async function finish(b: BotProcess, ticketId: string, isDecided = false): Promise<void> {
  const [run] = await until(
    `the run of ticket ${ticketId}`,
    async () => (await runsOf(ticketId)).length > 0 && runsOf(ticketId),
    20_000,
  );
  if (!isDecided) expect((await approve(b, await pendingCard(run!.id)))?.status).toBe(200);
  await until(`run ${run!.id} to finish`, async () => (await runsOf(ticketId))[0]!.status === 'done', 40_000);
  await until('the card to show the approval', async () => cardsOf(run!.id)[0]?.status === 'approved', 20_000);
  expect(await runsOf(ticketId)).toHaveLength(1);
  expect(cardsOf(run!.id)).toHaveLength(1);
  const approvals = await db.sql`
    SELECT a.actor FROM review_audit a JOIN reviews r ON r.id = a.review_id
    WHERE r.run_id = ${run!.id} AND a.action = 'approve' AND a.outcome = 'accepted'`;
  expect(approvals.map((a) => a.actor)).toEqual([BOB]);
  expect(tools.state.tickets.get(ticketId)!.comments).toHaveLength(1);
  expect(tools.calls.filter((c) => c.method === 'PUT' && c.path === `/api/v2/tickets/${ticketId}.json`)).toHaveLength(
    1,
  );
}

it("slack-event-recorded: a mention whose inbox row was written, not committed, is started once from Slack's retry", async () => {
  const first = await bot('slack-event-recorded');
  const died = death(first);
  const eventId = `Ev${randomUUID().slice(0, 8)}`;
  const delivery = JSON.stringify(
    eventCallback({
      team: slack.teamId,
      eventId,
      event: appMention({ channel: CHANNEL, user: ALICE, text: 'run crash-review ticketId=101 body="charged twice"' }),
    }),
  );
  expect(await postToBot(first.url, signed(SECRET, delivery, JSON_TYPE)).catch(() => null)).toBeNull(); // no 200: Slack retries
  expect(await died).toBe('SIGKILL');
  expect(await db.sql`SELECT 1 FROM inbox WHERE key = ${eventId}`).toHaveLength(0);
  expect(await runsOf('101')).toHaveLength(0);

  const second = await bot();
  const retried = await postToBot(second.url, signed(SECRET, delivery, JSON_TYPE), {
    'x-slack-retry-num': '1',
    'x-slack-retry-reason': 'http_error',
  });
  expect(retried.status).toBe(200);
  await finish(second, '101');
  expect(slack.messages.filter((m) => m.threadTs !== null && /started crash-review/.test(m.text))).toHaveLength(1);
}, 90_000);

it('slack-command-started: a slash command whose run committed before the answer has that one run, which goes on', async () => {
  const first = await bot('slack-command-started');
  const died = death(first);
  expect(await slash(first, '102')).toBeNull(); // Slack shows the person a timeout; it never retries a command
  expect(await died).toBe('SIGKILL');
  const [run] = await runsOf('102');
  expect(run!.snapshot.value).toBe('drafting'); // created with its first transition, its step leased to the dead bot

  const second = await bot();
  await finish(second, '102');
}, 90_000);

it('slack-click-acked: an Approve click acknowledged and not yet decided is decided once after the restart', async () => {
  const first = await bot('slack-click-acked');
  const died = death(first);
  expect((await slash(first, '103'))?.status).toBe(200);
  const [run] = await until('the run', async () => (await runsOf('103')).length > 0 && runsOf('103'), 20_000);
  const card = await pendingCard(run!.id);
  await approve(first, card); // the 200 may or may not get out before the kill
  expect(await died).toBe('SIGKILL');
  // Recorded before the ack, and undecided (the earlier tests' clicks are all done).
  expect(await db.sql`SELECT 1 FROM inbox WHERE source = 'slack:click' AND done_at IS NULL`).toHaveLength(1);
  expect((await db.sql`SELECT status FROM reviews WHERE run_id = ${run!.id}`)[0]!.status).toBe('pending');

  const second = await bot(); // its click replay decides what the dead bot acknowledged
  await finish(second, '103', true);
}, 90_000);

it('after-deliver-commit: the decision committed, the card not yet updated; the restarted bot updates it, decides nothing twice', async () => {
  const first = await bot('after-deliver-commit');
  const died = death(first);
  expect((await slash(first, '104'))?.status).toBe(200);
  const [run] = await until('the run', async () => (await runsOf('104')).length > 0 && runsOf('104'), 20_000);
  await approve(first, await pendingCard(run!.id));
  expect(await died).toBe('SIGKILL');
  expect((await db.sql`SELECT status FROM reviews WHERE run_id = ${run!.id}`)[0]!.status).toBe('approved');
  expect(cardsOf(run!.id).map((c) => c.status)).toEqual(['pending']); // the update never left the dead bot

  const second = await bot();
  await finish(second, '104', true);
  // The click row was left undecided: its replay finds the decision made (by delivery id) and adds none.
  await until(
    'the click replay',
    async () => (await db.sql`SELECT 1 FROM inbox WHERE source = 'slack:click' AND done_at IS NULL`).length === 0,
    30_000,
  );
  const approvals =
    await db.sql`SELECT outcome FROM review_audit a JOIN reviews r ON r.id = a.review_id WHERE r.run_id = ${run!.id} AND a.action = 'approve'`;
  expect(approvals.map((a) => a.outcome)).toEqual(['accepted']);
}, 120_000);

it("before-deliver-commit: killed inside the decision's transaction, none of it is visible; the replay decides it once", async () => {
  const first = await bot('before-deliver-commit');
  const died = death(first);
  expect((await slash(first, '105'))?.status).toBe(200);
  const [run] = await until('the run', async () => (await runsOf('105')).length > 0 && runsOf('105'), 20_000);
  await approve(first, await pendingCard(run!.id));
  expect(await died).toBe('SIGKILL');
  // Nothing of the transaction: no decision, no audit row, no event, no transition, no new job.
  const [review] = await db.sql<
    { id: string; status: string }[]
  >`SELECT id, status FROM reviews WHERE run_id = ${run!.id}`;
  expect(review!.status).toBe('pending');
  expect((await db.sql`SELECT action FROM review_audit WHERE review_id = ${review!.id}`).map((a) => a.action)).toEqual([
    'request',
  ]);
  expect(await db.sql`SELECT 1 FROM run_events WHERE run_id = ${run!.id} AND type = 'review.approved'`).toHaveLength(0);
  expect((await runsOf('105'))[0]!.snapshot.value).toBe('awaitingReview');
  expect(await db.sql`SELECT 1 FROM jobs WHERE run_id = ${run!.id} AND name = 'send'`).toHaveLength(0);

  const second = await bot();
  await finish(second, '105', true);
}, 90_000);

it('before-card-post: killed before the card went out, the card is posted once by the restarted bot', async () => {
  const first = await bot('before-card-post');
  const died = death(first);
  expect((await slash(first, '106'))?.status).toBe(200);
  expect(await died).toBe('SIGKILL');
  const [run] = await runsOf('106');
  const [review] = await db.sql<{ card_ref: string | null }[]>`SELECT card_ref FROM reviews WHERE run_id = ${run!.id}`;
  expect(review!.card_ref).toBeNull();
  expect(cardsOf(run!.id)).toHaveLength(0);

  await expireLeases(db.sql); // the card job's lease (20 s) is up
  const second = await bot(); // so it posts
  await finish(second, '106');
}, 90_000);
