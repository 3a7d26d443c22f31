/**
 * RELIABILITY F (Slack egress), cases 62–66: a 429 is a durable reschedule,
 * a post whose response was lost is found by its metadata instead of posted
 * twice, several processes share one channel's pace, a spent response_url
 * falls back to the Web API, and an expired trigger asks for another click.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSlackAdapter } from '../../../adapters/slack/slack-adapter.ts';
import type { ChatPort } from '../../../src/chat/port.ts';
import { slackStore } from '../../../src/store/slack.ts';
import { until } from '../../contract/chat-port.contract.ts';
import { startFakeSlack, type FakeSlack } from '../../fakes/slack/web-api.ts';
import { useTestDb } from '../../helpers/db.ts';
import { CHANNEL, cardOf, sendClick, startSlackBot, type SlackBot } from './harness.ts';

const OTHER = 'C0OTHER';

describe('slack egress', () => {
  const db = useTestDb({ max: 20 });
  let fake: FakeSlack;
  let bot: SlackBot;

  beforeAll(async () => {
    fake = await startFakeSlack({ channels: [CHANNEL, OTHER] });
    fake.setGroups('bob', ['support-leads']);
    bot = await startSlackBot(db, fake);
  });
  afterAll(async () => {
    await bot?.stop();
    await fake?.close();
  });

  function start(flow: string, text: string, channel = CHANNEL) {
    return bot.app.engine.startRun(
      flow,
      { text },
      { trigger: { source: 'slack', actor: 'alice', channel, tenant: fake.teamId } },
    );
  }

  it('62: a 429 with Retry-After: 30 reschedules the post in Postgres 30 s out, holds no worker, and other channels go on', async () => {
    fake.faults.rateLimit.set('chat.postMessage', { count: 1, retryAfterSec: 30 });
    const limited = await start('rv-leads', 'rate limited');
    const job = await until(
      'the deferred post',
      async () =>
        (
          await db.sql`
      SELECT status, attempts, lease_owner, extract(epoch FROM due_at - now()) AS wait_s FROM jobs
      WHERE run_id = ${limited.runId} AND name = 'review.post-card' AND deferrals = 1 AND status = 'queued'`
        )[0],
    );
    expect(Number(job.wait_s)).toBeGreaterThan(28);
    expect(job).toMatchObject({ attempts: 0, lease_owner: null });
    const other = await start('rv-leads', 'other channel', OTHER);
    await cardOf(db.sql, fake, other.runId, OTHER);
    expect(fake.countCalls('chat.postMessage', 429)).toBe(1);
    expect(fake.inChannel(CHANNEL).filter((m) => m.text.includes('rate limited'))).toHaveLength(0);
  });

  it('63: a post Slack accepted whose response was lost is found by its metadata key, not posted twice', async () => {
    fake.faults.dropAfterAccept.set('chat.postMessage', 1);
    const { runId } = await start('rv-leads', 'lost response');
    const card = await cardOf(db.sql, fake, runId);
    expect(fake.inChannel(CHANNEL).filter((m) => toRunId(m.blocks) === runId)).toHaveLength(1);
    // One send, its answer cut; no SDK retry; then a lookup instead of a second send.
    const sends = fake.calls.filter(
      (c) => c.method === 'chat.postMessage' && c.args.metadata?.event_payload?.key === `review:${card.reviewRef}:card`,
    );
    expect(sends.map((c) => c.status)).toEqual([0]);
    expect(fake.countCalls('conversations.history')).toBeGreaterThanOrEqual(1);
  });

  it('64: 20 messages to one channel in 1 s from 3 processes go out about 1/s, with no 429', async () => {
    // Slack's ~1/s per channel, allowing a short burst of 2 (timer jitter on a busy machine); our slots are 1 s apart.
    fake.faults.channelBurst = 2;
    const ports = [0, 1, 2].map(
      () =>
        createSlackAdapter({
          settings: { botToken: fake.botToken, signingSecret: 'unused', appToken: null, apiUrl: fake.apiUrl },
          store: slackStore(db.sql),
        }).port,
    );
    const startedMs = Date.now();
    await Promise.all(
      Array.from({ length: 20 }, (_unused, i) => postAsTheEngineWould(ports[i % 3]!, `pace ${i}`, `k64-${i}`)),
    );
    const sent = fake.calls.filter((c) => c.method === 'chat.postMessage' && String(c.args.text).startsWith('pace '));
    expect(sent.filter((c) => c.status === 429)).toHaveLength(0);
    expect(new Set(sent.map((c) => c.args.text)).size).toBe(20);
    // Paced, not bursted: 20 posts at ~1/s span at least 19 slots (the fake refused none).
    const times = sent.map((c) => c.atMs).sort((a, b) => a - b);
    expect(times.at(-1)! - times[0]!).toBeGreaterThan(18_000);
    expect(Date.now() - startedMs).toBeGreaterThan(18_000);
    fake.faults.channelBurst = null;
    await Promise.all(ports.map((p) => p.stop()));
  }, 60_000);

  it('65: a response_url used up or expired falls back to chat.postEphemeral; the person still hears back', async () => {
    const { runId } = await start('rv-leads', 'spent response url');
    const card = await cardOf(db.sql, fake, runId);
    const spent = fake.newResponseUrl();
    for (let i = 0; i < 5; i++) await fetch(spent, { method: 'POST', body: JSON.stringify({ text: `use ${i}` }) });
    const expired = fake.newResponseUrl();
    fake.expireResponseUrl(expired);
    for (const responseUrl of [spent, expired])
      expect((await sendClick(bot, fake, 'dave', card, 'approve', { responseUrl })).status).toBe(200);
    // Approve is acknowledged once recorded; the refusal follows the decision.
    const shown = () => fake.ephemerals.filter((e) => e.via === 'api' && e.user === 'dave' && e.channel === CHANNEL);
    for (const deadline = Date.now() + 5_000; shown().length < 2 && Date.now() < deadline;)
      await new Promise((r) => setTimeout(r, 20));
    const fallbacks = shown();
    expect(fallbacks).toHaveLength(2);
    for (const e of fallbacks) expect(e.text).toMatch(/not in support-leads/);
  });

  it('66: views.open with an expired or exchanged trigger_id: "please click again", and nothing changes', async () => {
    const { runId } = await start('rv-leads', 'slow edit');
    const card = await cardOf(db.sql, fake, runId);
    const exchanged = fake.newTrigger();
    await fetch(`${fake.apiUrl}views.open`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fake.botToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        trigger_id: exchanged,
        view: { type: 'modal', title: { type: 'plain_text', text: 'Other' }, blocks: [] },
      }),
    });
    for (const triggerId of [fake.newTrigger(4_000), exchanged]) {
      const responseUrl = fake.newResponseUrl();
      expect((await sendClick(bot, fake, 'bob', card, 'edit', { triggerId, responseUrl })).status).toBe(200);
      expect(fake.ephemerals.find((e) => e.url === responseUrl)?.text).toMatch(/click the button again/);
    }
    expect(fake.calls.filter((c) => c.method === 'views.open').map((c) => c.error)).toEqual(
      expect.arrayContaining(['expired_trigger_id', 'exchanged_trigger_id']),
    );
    const [review] = await db.sql`SELECT version, status, content FROM reviews WHERE run_id = ${runId}`;
    expect(review).toMatchObject({ version: 1, status: 'pending', content: { text: 'slow edit' } });
  });
});

function toRunId(blocks: any[]): string | undefined {
  const meta = blocks.find((b) => b.block_id === 'meta')?.elements?.[0]?.text as string | undefined;
  return meta ? /run `([^`]+)`/.exec(meta)?.[1] : undefined;
}

/** Retries a `retryLater` after its delay, as the engine's durable reschedule would. */
async function postAsTheEngineWould(port: ChatPort, text: string, key: string): Promise<void> {
  for (;;) {
    try {
      await port.postMessage(CHANNEL, { text }, { idempotencyKey: key });
      return;
    } catch (err) {
      const waitMs = (err as { details?: { retryAfterMs?: number } }).details?.retryAfterMs;
      if (!waitMs) throw err;
      await new Promise((r) => setTimeout(r, waitMs));
    }
  }
}
