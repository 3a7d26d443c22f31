/**
 * RELIABILITY 19, 67, 81 and 82 (their Discord parts), with the real desk and
 * discord.js against the fake Discord: the Edit modal opens while the database
 * is stuck; 429s become durable retries by scope and the invalid-request
 * counter warns; long drafts and notices fit Discord's limits with a pointer;
 * nothing a model or a ticket wrote pings anyone; a DM click has no roles.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDiscordAdapter } from '../../../adapters/discord/discord-adapter.ts';
import { buttonId, toInboundAction } from '../../../adapters/discord/discord-inbound.ts';
import { renderModal } from '../../../adapters/discord/discord-render.ts';
import type { ReviewCard } from '../../../src/chat/messages.ts';
import { messageProblems, modalProblems } from '../../fakes/discord/limits.ts';
import { isSignoffError } from '../../../src/errors.ts';
import type { Logger } from '../../../src/ops/log.ts';
import { discordStore } from '../../../src/store/discord.ts';
import { deploy, until, type Deployment } from '../../contract/chat-port.contract.ts';
import { makeDiscordDriver, type DiscordDriver } from '../../contract/discord-driver.ts';
import { buttonInteraction } from '../../fakes/discord/interactions.ts';
import { useTestDb } from '../../helpers/db.ts';

describe('discord egress and display', () => {
  const db = useTestDb({ max: 20 });
  let driver: DiscordDriver;
  let app: Deployment;
  beforeAll(async () => {
    driver = await makeDiscordDriver(db, 'gateway');
    app = await deploy(db, driver);
  });
  afterAll(async () => {
    await app?.stop();
    await driver?.close();
  });
  async function request(text: string, where = { channel: driver.channel, tenant: driver.tenant }) {
    const { runId } = await app.engine.startRun(
      'rv-leads',
      { text },
      { trigger: { source: 'discord', actor: 'alice', ...where } },
    );
    const card = await until('the card', async () =>
      (await driver.cards(where.channel)).find((c) => c.runId === runId),
    );
    return { runId, card, message: driver.fake.messages.find((m) => card.messageRef.endsWith(`:${m.id}`))! };
  }

  it('19: Edit while the database is stuck still opens the modal (from the message); the approval state is unchanged', async () => {
    const { runId, card, message } = await request('draft while the db is stuck');
    const reserved = await db.sql.reserve();
    try {
      await reserved`BEGIN`;
      await reserved`LOCK TABLE reviews IN ACCESS EXCLUSIVE MODE`;
      const entry = await driver.deliver(
        buttonInteraction(
          driver.fake,
          { user: 'bob', channel: driver.channel },
          driver.fake.toApi(message),
          buttonId('edit', card.version, card.reviewRef),
        ),
      );
      expect(entry.callbacks).toEqual([expect.objectContaining({ type: 9, status: 204 })]);
      expect(entry.callbacks[0]!.data!.components[0].component.value).toBe('draft while the db is stuck');
    } finally {
      await reserved`ROLLBACK`;
      reserved.release();
    }
    const [row] = await db.sql`SELECT status, version FROM reviews WHERE run_id = ${runId}`;
    expect(row).toMatchObject({ status: 'pending', version: 1 });
  });

  it('67: a 429 becomes a durable retry after retry_after, by scope; shared ones are not counted, the counter warns', async () => {
    const warnings: string[] = [];
    const log = {
      debug() {},
      info() {},
      error() {},
      warn: (msg: string) => void warnings.push(msg),
    } as unknown as Logger;
    const adapter = createDiscordAdapter({
      settings: {
        token: driver.fake.botToken,
        apiUrl: driver.fake.apiUrl,
        publicKey: 'ab'.repeat(32),
        applicationId: null,
        guildId: null,
      },
      store: discordStore(db.sql),
      log,
      invalidWarnAt: 2,
    });
    // One channel each: a 429 pauses its bucket (the channel's), which discord.js then refuses locally.
    const post = (key: string) =>
      adapter.port
        .postMessage(`4000000000000000${key.length}${key.charCodeAt(3)}`, { text: 'paced' }, { idempotencyKey: key })
        .then(
          () => null,
          (err: unknown) => err,
        );
    driver.fake.faults.rateLimits.push({ scope: 'shared', retryAfterSeconds: 30, pathIncludes: '/messages' });
    const shared = await post('rl-shared');
    expect(isSignoffError(shared) && shared.details).toMatchObject({ defer: true, retryAfterMs: expect.any(Number) });
    expect((shared as { details: { retryAfterMs: number } }).details.retryAfterMs).toBeGreaterThanOrEqual(30_000);
    expect(adapter.port.rest.invalidRequests).toBe(0);
    driver.fake.faults.rateLimits.push({ scope: 'user', retryAfterSeconds: 7, pathIncludes: '/messages' });
    const user = await post('rl-user');
    expect(String((user as Error).message)).toMatch(/\(user\)/);
    expect((user as { details: { retryAfterMs: number } }).details.retryAfterMs).toBeGreaterThanOrEqual(7_000);
    expect(adapter.port.rest.invalidRequests).toBe(1);
    driver.fake.faults.rateLimits.push({ scope: 'global', retryAfterSeconds: 1, pathIncludes: '/messages' });
    const global = await post('rl-global');
    expect(String((global as Error).message)).toMatch(/global/);
    expect(adapter.port.rest.invalidRequests).toBe(2);
    expect(warnings.some((w) => /invalid requests/.test(w))).toBe(true);
    // Nothing landed; after the waits the same keys post once each.
    expect(driver.fake.faults.rateLimits).toEqual([]);
    expect(driver.fake.messages.filter((m) => m.content === 'paced')).toHaveLength(0);
  });

  it("81: a 10 000-character draft and a 5 000-character notice fit Discord's limits, cut with a pointer; a long draft spans several modal inputs", async () => {
    const long = 'word '.repeat(2_000);
    // A card as the desk builds it, with a draft far past an embed's 4096 and a message's 6000.
    const card: ReviewCard = {
      title: 'T'.repeat(300),
      fields: Array.from({ length: 30 }, (_, i) => ({ label: `field ${i}`, value: 'v'.repeat(1_500) })),
      body: long,
      costLabel: '$0.01',
      status: { kind: 'pending', text: 'Waiting for support-leads' },
      actions: ['approve', 'reject', 'edit', 'delegate'],
      reviewRef: '00000000-0000-0000-0000-000000000081',
      version: 1,
      runId: '00000000-0000-0000-0000-0000000000aa',
    };
    const ref = await driver.port.postCard(driver.channel, card, { idempotencyKey: 'card-81' });
    const message = driver.fake.messages.find((m) => ref.endsWith(`:${m.id}`))!;
    expect(driver.fake.requests.filter((r) => r.status === 400)).toEqual([]);
    expect(message.embeds[0]!.description).toMatch(
      /… \[truncated\] The full draft is stored with run 00000000-0000-0000-0000-0000000000aa; Edit shows all of it\.$/,
    );
    expect(messageProblems({ embeds: message.embeds, components: message.components })).toEqual([]);
    await driver.port.postMessage(driver.channel, { text: 'x'.repeat(5_000) }, { idempotencyKey: 'long-notice' });
    const notice = driver.fake.messages.at(-1)!;
    expect(notice.content.length).toBeLessThanOrEqual(2_000);
    expect(notice.content.endsWith('… [truncated]')).toBe(true);
    // The edit modal of a long draft: three inputs of at most 4000, accepted by the fake as Discord would.
    const modal = renderModal({
      purpose: 'edit',
      title: 'Edit the draft',
      reviewRef: card.reviewRef,
      version: 1,
      fields: [{ name: 'text', label: 'Draft', value: long, isMultiline: true, maxChars: 20_000 }],
    });
    expect(modal.components).toHaveLength(3);
    expect(modalProblems(modal)).toEqual([]);
    expect(modal.components.map((c: any) => c.component.value).join('')).toBe(long);
  });

  it('82: ticket or model text with @everyone, user and role mentions pings nobody and shows literally', async () => {
    const hostile = '@everyone @here <@123456789012345678> <@&234567890123456789> <https://evil.example|Approve>';
    const { card } = await request(hostile);
    expect(card.allText).toContain(hostile);
    await driver.port.postMessage(
      driver.channel,
      { text: 'said by <@bob>', quote: hostile },
      { idempotencyKey: 'hostile-notice' },
    );
    expect(driver.fake.messages.length).toBeGreaterThan(2);
    for (const m of driver.fake.messages) {
      expect(m.pinged).toEqual([]);
      expect(m.allowedMentions).toMatchObject({ parse: [] });
    }
    // The fake would have counted the pings: the same text sent without allowed_mentions pings everyone.
    const res = await fetch(`${driver.fake.apiUrl}/v10/channels/${driver.channel}/messages`, {
      method: 'POST',
      headers: { authorization: `Bot ${driver.fake.botToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ content: hostile }),
    });
    expect(res.status).toBe(200);
    expect(driver.fake.messages.at(-1)!.pinged).toEqual(
      expect.arrayContaining(['everyone', 'user:123456789012345678', 'role:234567890123456789']),
    );
  });

  it('a click recorded and acknowledged by a process that died before deciding it is decided by the replayer, once', async () => {
    const { runId, card, message } = await request('decide me after a crash');
    const click = buttonInteraction(
      driver.fake,
      { user: 'bob', channel: driver.channel },
      driver.fake.toApi(message),
      buttonId('approve', card.version, card.reviewRef),
    );
    const action = toInboundAction(click)!;
    // What onDecision records before its ack; received 20 s ago, never finished.
    await db.sql`INSERT INTO inbox (source, key, payload, received_at)
      VALUES ('discord:click', ${click.id}, ${db.sql.json({ action, roleIds: driver.fake.memberRoles.get('bob')!, interaction: click } as never)}, now() - interval '20 seconds')`;
    await until(
      'the replayed decision',
      async () => (await db.sql`SELECT 1 FROM inbox WHERE key = ${click.id} AND done_at IS NOT NULL`).length === 1,
      15_000,
    );
    await app.engine.waitFor(runId, ['done']);
    const audit =
      await db.sql`SELECT a.actor, a.outcome FROM review_audit a JOIN reviews r ON r.id = a.review_id WHERE r.run_id = ${runId} AND a.action = 'approve'`;
    expect(audit).toEqual([{ actor: 'bob', outcome: 'accepted' }]);
  }, 30_000);

  it('a DM click reads user.id and has no roles: a group approval is refused, not lost', async () => {
    // A run started in alice's DM with the bot: its card is there, and bob (a support lead in the guild) clicks it in a DM.
    const { runId, card, message } = await request('approve me from a DM', { channel: 'Dalice', tenant: '@me' });
    const dm = buttonInteraction(
      driver.fake,
      { user: 'bob', channel: 'Dalice', isDm: true },
      driver.fake.toApi(message),
      buttonId('approve', card.version, card.reviewRef),
    );
    await driver.deliver(dm);
    const audit = await until('the audited refusal', async () => {
      const rows =
        await db.sql`SELECT a.actor, a.outcome FROM review_audit a JOIN reviews r ON r.id = a.review_id WHERE r.run_id = ${runId} AND a.action = 'approve'`;
      return rows.length > 0 && rows;
    });
    expect(audit[0]).toMatchObject({ actor: 'bob', outcome: 'denied:not_allowed' });
  });
});
