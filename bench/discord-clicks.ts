/**
 * Issue 12's click-ack phase: how long Discord waits for the running bot to
 * acknowledge a review click when 200 signed button clicks arrive at once over
 * HTTP interactions, and whether each was committed before its acknowledgement.
 * Discord is the fake (test/fakes/discord), the bot is `src/main.ts` with
 * DISCORD_TOKEN + DISCORD_PUBLIC_KEY on a fresh database. An Approve click is
 * recorded in `inbox`, answered with a deferred update through the REST
 * callback, then the HTTP request gets its 202: the ack measured is the 202,
 * and the row must be visible to a snapshot taken right after it.
 * As in bench/slack-clicks.ts: one card per run, one distinct clicker per
 * card (all with the support-leads role), one unmeasured warm-up click.
 */
import { performance } from 'node:perf_hooks';
import type { APIInteraction } from 'discord-api-types/v10';
import { connect, type Sql } from '../src/store/client.ts';
import { buttonInteraction, commandInteraction, makeSigner } from '../test/fakes/discord/interactions.ts';
import { startFakeDiscord, type FakeDiscord } from '../test/fakes/discord/rest.ts';
import { startBot, stopBot, type Bot } from './bot.ts';
import { dropDatabase, freshDatabase } from './db.ts';
import { latency, pool } from './phases.ts';
import type { SlackClickResult } from './slack-clicks.ts';

const DATABASE = 'peer_signoff_discord';
const SCHEMA = 'signoff';
const CHANNELS = Array.from({ length: 40 }, (_, i) => `5000000000000${String(i).padStart(5, '0')}`);
const REQUESTER = '600000000000000001';
const TARGET_P99_MS = 100;

/** The same figures as the Slack phase. */
export type DiscordClickResult = SlackClickResult;

export async function discordClickTrial(
  serverUrl: string,
  clicks: number,
  progress: (m: string) => void,
): Promise<DiscordClickResult> {
  const fake = await startFakeDiscord();
  const signer = makeSigner();
  const clickers = Array.from({ length: clicks + 1 }, (_, i) => `7000000000000${String(i).padStart(5, '0')}`);
  for (const user of clickers) fake.setRoles(user, ['support-leads']);
  const dbUrl = await freshDatabase(serverUrl, DATABASE);
  const sql = connect({ url: dbUrl, schema: SCHEMA, max: 2 });
  let bot: Bot | null = null;
  try {
    bot = await startBot(dbUrl, SCHEMA, {
      DISCORD_TOKEN: fake.botToken,
      DISCORD_PUBLIC_KEY: signer.publicKeyHex,
      DISCORD_API_URL: fake.apiUrl,
    });
    const endpoint = `${bot.url}/discord/interactions`;
    const send = async (payload: APIInteraction) => {
      const body = JSON.stringify(payload);
      const res = await fetch(endpoint, { method: 'POST', headers: signer.headers(body), body });
      return { status: res.status, text: await res.text() };
    };
    const t0 = performance.now();
    progress(`discord: starting ${clicks + 1} ticket-triage runs over signed /signoff commands`);
    await pool(clicks + 1, 8, async (i) => {
      const cmd = commandInteraction(
        fake,
        { user: REQUESTER, channel: CHANNELS[i % CHANNELS.length]! },
        'run',
        `ticket-triage subject="Bench ticket ${i}" body="Order ${i} arrived damaged; please advise." customer="c${i}@example.com"`,
      );
      fake.track(cmd);
      const res = await send(cmd);
      if (res.status !== 202) throw new Error(`/signoff run answered ${res.status}: ${res.text}`);
    });
    const cards = await waitForCards(sql, fake, clicks + 1, bot);
    const cardsReadyMs = performance.now() - t0;
    progress(
      `discord: ${cards.length} cards posted in ${(cardsReadyMs / 1000).toFixed(1)} s; warm-up click, then ${clicks} clicks at once`,
    );
    const build = (card: Card, user: string) => {
      const message = fake.toApi(fake.messages.find((m) => m.id === card.messageId)!);
      const approve = (message.components[0]?.components ?? []).find((b: { custom_id: string }) =>
        b.custom_id.startsWith('so:approve:'),
      );
      const payload = buttonInteraction(fake, { user, channel: card.channel }, message, approve.custom_id);
      return { card, user, payload, body: JSON.stringify(payload) };
    };
    const warm = build(cards[clicks]!, clickers[clicks]!);
    fake.track(warm.payload);
    if ((await send(warm.payload)).status !== 202) throw new Error('the warm-up click was not acknowledged');
    await new Promise((r) => setTimeout(r, 1_000));
    await Promise.all(Array.from({ length: clicks }, async () => (await fetch(`${bot!.url}/healthz`)).text()));
    // Signed before the clock starts: signing is Discord's work, not the bot's.
    const burst = cards
      .slice(0, clicks)
      .map((card, i) => ({ ...build(card, clickers[i]!), headers: {} as Record<string, string> }));
    for (const c of burst) c.headers = signer.headers(c.body);
    for (const c of burst) fake.track(c.payload);
    const probe = connect({ url: dbUrl, schema: SCHEMA, max: 1 });
    const probes: Promise<boolean>[] = [];
    const results = await Promise.all(
      burst.map(async (c) => {
        const start = performance.now();
        const res = await fetch(endpoint, { method: 'POST', headers: c.headers, body: c.body });
        const text = await res.text();
        const ms = performance.now() - start;
        probes.push(
          probe<
            { n: number }[]
          >`SELECT count(*)::int AS n FROM inbox WHERE source = 'discord:click' AND key = ${c.payload.id}`.then(
            (r) => r[0]!.n === 1,
          ),
        );
        return { ...c, status: res.status, text, ms };
      }),
    );
    const seenAtAck = (await Promise.all(probes)).filter(Boolean).length;
    await probe.end({ timeout: 5 });
    const decidedBy = performance.now() + 60_000;
    while (performance.now() < decidedBy) {
      const [open] = await sql<
        { n: number }[]
      >`SELECT count(*)::int AS n FROM inbox WHERE source = 'discord:click' AND done_at IS NULL`;
      if (open!.n === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const rows = await sql<{ review_id: string; actor: string; delivery_id: string; status: string }[]>`
      SELECT a.review_id, a.actor, a.delivery_id, r.status FROM review_audit a JOIN reviews r ON r.id = a.review_id
      WHERE a.review_id = ANY(${burst.map((c) => c.card.reviewId)}) AND a.action = 'approve' AND a.outcome = 'accepted'`;
    const byReview = new Map(rows.map((r) => [r.review_id, r]));
    const acked = results.filter(
      (r) => r.status === 202 && fake.interactions.get(r.payload.id)?.callbacks[0]?.status === 204,
    );
    const committed = acked.filter((r) => {
      const row = byReview.get(r.card.reviewId);
      return row?.actor === r.user && row.delivery_id === r.payload.id && row.status === 'approved';
    }).length;
    const problems: string[] = [];
    if (acked.length < clicks)
      problems.push(`discord: ${clicks - acked.length} clicks not acknowledged in time (202 and a deferred update)`);
    if (committed < clicks) problems.push(`discord: ${clicks - committed} acked clicks have no committed decision`);
    if (seenAtAck < clicks)
      problems.push(`discord: ${clicks - seenAtAck} clicks were not recorded when they were acked`);
    const told = burst.filter((c) => (fake.interactions.get(c.payload.id)?.followUps.length ?? 0) > 0);
    if (told.length > 0) problems.push(`discord: ${told.length} clicks got a follow-up (refused or slow)`);
    const ack = latency(results.map((r) => r.ms));
    return {
      clicks,
      acked: acked.length,
      committed,
      seenAtAck,
      ack,
      targetP99Ms: TARGET_P99_MS,
      isP99Met: ack.p99 <= TARGET_P99_MS,
      channels: CHANNELS.length,
      cardsReadyMs,
      botPoolSize: bot.poolSize,
      ok: problems.length === 0,
      problems,
    };
  } finally {
    await stopBot(bot);
    await sql.end({ timeout: 5 });
    await fake.close();
    await dropDatabase(serverUrl, DATABASE);
  }
}

interface Card {
  reviewId: string;
  channel: string;
  messageId: string;
}

async function waitForCards(sql: Sql, fake: FakeDiscord, n: number, bot: Bot): Promise<Card[]> {
  const deadline = Date.now() + 180_000;
  for (;;) {
    const reviews = await sql<{ id: string; card_ref: string }[]>`
      SELECT id, card_ref FROM reviews WHERE card_ref IS NOT NULL AND status = 'pending' ORDER BY created_at, id`;
    const ids = new Set(fake.messages.map((m) => m.id));
    const cards = reviews.flatMap((r) => {
      const [, channel = '', messageId = ''] = r.card_ref.split(':');
      return ids.has(messageId) ? [{ reviewId: r.id, channel, messageId }] : [];
    });
    if (cards.length >= n) return cards.slice(0, n);
    if (bot.child.exitCode !== null) throw new Error(`the bot exited:\n${bot.log()}`);
    if (Date.now() > deadline)
      throw new Error(`only ${cards.length} of ${n} cards were posted in 180 s:\n${bot.log().slice(-2_000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
