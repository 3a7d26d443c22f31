/**
 * RELIABILITY 15, 16, 17, 18 and 68 over the gateway: a slow command is deferred
 * (type 5) and finished by editing the original; past the 15-minute token it
 * lands as one channel message (nonce + enforce_nonce); the same interaction
 * delivered to two processes starts one run and the loser's 40060 is quiet; a
 * gateway resume that replays events starts nothing twice; the IDENTIFY guard
 * holds a crash-looping bot back. Real discord.js against the fake Discord.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { APIInteraction } from 'discord-api-types/v10';
import { startHttpServer } from '../../../src/ops/http.ts';
import { createDiscordAdapter, identifyDelayMs } from '../../../adapters/discord/discord-adapter.ts';
import { buttonId } from '../../../adapters/discord/discord-inbound.ts';
import type { ChatHandlers, CommandReply } from '../../../src/chat/port.ts';
import type { Logger } from '../../../src/ops/log.ts';
import { discordStore } from '../../../src/store/discord.ts';
import { handleCommand, makeCommandDeps } from '../../../src/triggers/commands.ts';
import { deploy, until, type Deployment } from '../../contract/chat-port.contract.ts';
import { makeDiscordDriver, type DiscordDriver } from '../../contract/discord-driver.ts';
import { buttonInteraction, commandInteraction, postInteraction } from '../../fakes/discord/interactions.ts';
import { TOKEN_LIFETIME_MS } from '../../fakes/discord/rest.ts';
import { useTestDb } from '../../helpers/db.ts';

/** A logger that keeps what it was told, for markers. */
function recordingLog(): Logger & { lines: { level: string; msg: string; data?: unknown }[] } {
  const lines: { level: string; msg: string; data?: unknown }[] = [];
  const at = (level: string) => (msg: string, data?: unknown) => void lines.push({ level, msg, data });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } as never;
}

describe('discord delivery over the gateway', () => {
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
  const deskHandlers = () => app.desk.handlers((cmd) => handleCommand(cmd, makeCommandDeps(app.engine, {})));

  /** A second adapter on the same fake and database: another bot process, with handlers the test controls. */
  async function secondProcess(handlers: ChatHandlers, log = recordingLog(), mode: 'gateway' | 'http' = 'gateway') {
    const adapter = createDiscordAdapter({
      settings: {
        token: driver.fake.botToken,
        apiUrl: driver.fake.apiUrl,
        publicKey: mode === 'http' ? driver.signer.publicKeyHex : null,
        applicationId: null,
        guildId: null,
      },
      store: discordStore(db.sql),
      roleCacheMs: 0,
      waitGuildTimeoutMs: 200,
      log,
      freeIdentifiesPerMinute: 1_000,
    });
    const http = await startHttpServer({ port: 0, host: '127.0.0.1', sql: db.sql, routes: adapter.routes });
    await adapter.port.start(handlers);
    const deliver = async (payload: APIInteraction) => {
      const entry = driver.fake.track(payload);
      expect(
        (await postInteraction(`http://127.0.0.1:${http.port}/discord/interactions`, driver.signer, payload)).status,
      ).toBe(202);
      return entry;
    };
    return {
      adapter,
      log,
      deliver,
      stop: async () => {
        await adapter.port.stop();
        await http.close();
      },
    };
  }

  it('15 + 68: a slow command is deferred, then the original edited; past the token, one channel message with nonce + enforce_nonce', async () => {
    let release!: (reply: CommandReply) => void;
    const gate = new Promise<CommandReply>((resolve) => (release = resolve));
    const handlers: ChatHandlers = {
      command: () => gate,
      action: async () => ({ kind: 'ok' }),
      submission: async () => ({ kind: 'ok' }),
    };
    // Over HTTP, which only this process serves: the answer comes before the work ends (a 202, then the edit).
    const other = await secondProcess(handlers, recordingLog(), 'http');
    try {
      const slow = commandInteraction(driver.fake, { user: 'alice', channel: driver.channel }, 'status', 'slow-one');
      const entry = await other.deliver(slow);
      expect(entry.callbacks.map((c) => c.type)).toEqual([5]);
      release({ visibility: 'ephemeral', notice: { text: 'done at last' } });
      await until('the original edited', async () => entry.original?.content === 'done at last');

      let releaseLate!: (reply: CommandReply) => void;
      const lateGate = new Promise<CommandReply>((resolve) => (releaseLate = resolve));
      handlers.command = () => lateGate;
      const expired = await other.deliver(
        commandInteraction(driver.fake, { user: 'alice', channel: driver.channel }, 'status', 'very-slow'),
      );
      driver.fake.age(expired.payload.id, TOKEN_LIFETIME_MS + 60_000);
      releaseLate({ visibility: 'channel', notice: { text: 'finished after the token' } });
      const posted = await until('the fallback message', async () =>
        driver.fake.messages.find((m) => m.content === 'finished after the token'),
      );
      expect(posted).toMatchObject({ viaInteraction: false, isEphemeral: false });
      expect(posted.nonce).toHaveLength(25);
      const sent = driver.fake.requests.filter(
        (r) =>
          r.method === 'POST' &&
          r.path === `/channels/${driver.channel}/messages` &&
          r.body?.content === 'finished after the token',
      );
      expect(sent.every((r) => r.body?.enforce_nonce === true && r.body?.allowed_mentions?.parse?.length === 0)).toBe(
        true,
      );
      expect(driver.fake.requests.some((r) => r.status === 401 && r.path.startsWith('/webhooks/'))).toBe(true);
      // Sent again (a retry of the same job), it is still one message: the ledger, then Discord's nonce.
      await other.adapter.port.rest.followUp(
        expired.payload,
        { content: 'finished after the token', allowed_mentions: { parse: [] } },
        { edit: true, key: `discord:command:${expired.payload.id}` },
      );
      expect(driver.fake.messages.filter((m) => m.content === 'finished after the token')).toHaveLength(1);
    } finally {
      await other.stop();
    }
  });

  it('16: one interaction delivered to two processes: one run, one acknowledgement, the 40060 handled quietly', async () => {
    const other = await secondProcess(deskHandlers());
    try {
      await until('both sessions live', async () => driver.fake.gateway.live >= 2);
      const cmd = commandInteraction(
        driver.fake,
        { user: 'alice', channel: driver.channel },
        'run',
        'rv-leads text="twice delivered"',
      );
      const entry = await driver.deliver(cmd);
      const runs = await until('the run', async () => {
        const rows = await db.sql`SELECT id FROM runs WHERE input->>'text' = 'twice delivered'`;
        return rows.length > 0 && rows;
      });
      const card = await until('its card', async () =>
        (await driver.cards(driver.channel)).find((c) => c.runId === runs[0]!.id),
      );
      expect(entry.callbacks.filter((c) => c.status < 300)).toHaveLength(1);
      // An Edit click both processes answer: one modal, one 40060, and no error anywhere.
      const message = driver.fake.messages.find((m) => card.messageRef.endsWith(m.id))!;
      const edit = await driver.deliver(
        buttonInteraction(
          driver.fake,
          { user: 'bob', channel: driver.channel },
          driver.fake.toApi(message),
          buttonId('edit', card.version, card.reviewRef),
        ),
      );
      await until('both answers', async () => edit.callbacks.length === 2);
      expect(edit.callbacks.map((c) => c.status).sort()).toEqual([204, 400]);
      expect(other.log.lines.filter((l) => l.level === 'error')).toEqual([]);
      expect(await db.sql`SELECT id FROM runs WHERE input->>'text' = 'twice delivered'`).toHaveLength(1);
    } finally {
      await other.stop();
    }
  });

  it('17: a gateway resume that replays events starts no duplicate run', async () => {
    const cmd = commandInteraction(
      driver.fake,
      { user: 'alice', channel: driver.channel },
      'run',
      'rv-leads text="replayed"',
    );
    await driver.deliver(cmd);
    const resumes = driver.fake.gateway.resumes;
    driver.fake.gateway.replayOnResume = 50;
    driver.fake.gateway.drop();
    await until(
      'the resume',
      async () => driver.fake.gateway.resumes > resumes && driver.fake.gateway.live > 0,
      20_000,
    );
    driver.fake.gateway.replayOnResume = 0;
    // A marker after the replay: a fresh command answered means the replayed one was handled before it.
    const marker = await driver.deliver(
      commandInteraction(driver.fake, { user: 'alice', channel: driver.channel }, 'help', ''),
    );
    expect(marker.callbacks).toHaveLength(1);
    expect(await db.sql`SELECT id FROM runs WHERE input->>'text' = 'replayed'`).toHaveLength(1);
    expect(await db.sql`SELECT 1 FROM inbox WHERE source = 'discord:interaction' AND key = ${cmd.id}`).toHaveLength(1);
  });

  // Last: its 20 logins hold back every later login on this database.
  it('18: after 20 restarts in a minute the IDENTIFY guard delays the next login and alerts, far under 1000 a day', async () => {
    const store = discordStore(db.sql);
    for (let i = 0; i < 20; i++) await store.recordIdentify();
    const identifies = driver.fake.gateway.identifies;
    const log = recordingLog();
    const adapter = createDiscordAdapter({
      settings: {
        token: driver.fake.botToken,
        apiUrl: driver.fake.apiUrl,
        publicKey: null,
        applicationId: null,
        guildId: null,
      },
      store,
      roleCacheMs: 0,
      waitGuildTimeoutMs: 200,
      log,
    });
    const starting = adapter.port.start(deskHandlers()).catch(() => undefined);
    const alert = await until('the crash-loop alert', async () =>
      log.lines.find((l) => l.level === 'error' && /crash-looping/.test(l.msg)),
    );
    expect((alert.data as { delayMs: number }).delayMs).toBeGreaterThanOrEqual(60_000);
    expect(driver.fake.gateway.identifies).toBe(identifies);
    await adapter.port.stop();
    await starting;
    // Restarting every 3 s all day under the guard: far below Discord's 1000 (which resets the token).
    let logins = 0;
    for (let t = 0; t < 86_400_000; logins++) t += Math.max(3_000, identifyDelayMs(Math.min(logins, 60), logins));
    expect(logins).toBeLessThan(400);
  });
});
