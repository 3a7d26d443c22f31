/**
 * The weekly digest on Discord: one bot message with the chart as an attached
 * PNG (multipart/form-data: `payload_json` and `files[0]`, the `attachments`
 * entry 0 naming it, nobody pinged), through the real adapter and discord.js
 * against the fake Discord, which checks the upload as Discord does and decodes
 * the PNG it kept. Once per key, also when the ledger row is lost after Discord
 * created the message (the nonce returns the first). `/signoff digest` in a
 * Discord channel posts it there, on the real engine and Postgres. And the
 * fake's upload rules, so the adapter is held to what Discord refuses.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import weeklyDigest from '../../../flows/weekly-digest.flow.ts';
import { createDiscordAdapter, type DiscordAdapter } from '../../../adapters/discord/discord-adapter.ts';
import { readConfig } from '../../../src/config.ts';
import { silentLogger } from '../../../src/ops/log.ts';
import { readDigest } from '../../../src/store/digest.ts';
import { discordStore } from '../../../src/store/discord.ts';
import { chartPng } from '../../../src/steps/digest/chart.ts';
import { buildDigest } from '../../../src/steps/digest/figures.ts';
import { digestNotice } from '../../../src/steps/reports.ts';
import { createStepRuntime, type StepRuntime } from '../../../src/steps/runtime.ts';
import { deploy, until, type Deployment } from '../../contract/chat-port.contract.ts';
import { makeDiscordDriver, shown, type DiscordDriver } from '../../contract/discord-driver.ts';
import { startFakeDiscord, type FakeDiscord } from '../../fakes/discord/rest.ts';
import { DEFAULT_UPLOAD_LIMIT_BYTES } from '../../fakes/discord/uploads.ts';
import { useTestDb, type TestDb } from '../../helpers/db.ts';
import { SEED, seedDigest } from '../../helpers/digest-seed.ts';

const CHANNEL = '300000000000000077';

async function notice(db: TestDb) {
  const scope = { tenant: SEED.tenant, channel: SEED.channel, endAt: new Date(SEED.endAt), timezone: SEED.timezone };
  const digest = buildDigest(await readDigest(db.sql, scope), { ...scope, platform: 'discord' });
  return digestNotice(digest, { summary: [], reasonLabels: [], isOffline: true, model: 'offline' });
}

describe('the digest through the Discord adapter', () => {
  const db = useTestDb();
  let fake: FakeDiscord;
  let adapter: DiscordAdapter;
  beforeAll(async () => {
    await seedDigest(db.sql);
    fake = await startFakeDiscord();
    adapter = createDiscordAdapter({
      settings: {
        token: fake.botToken,
        apiUrl: fake.apiUrl,
        applicationId: null,
        guildId: null,
        publicKey: 'ab'.repeat(32),
      },
      store: discordStore(db.sql),
      log: silentLogger,
    });
  });
  afterAll(async () => {
    await fake?.close();
  });

  it('posts one message: the text, and the chart attached as a PNG of 800×400 with its alt text; nobody pinged', async () => {
    const message = await notice(db);
    const ref = await adapter.port.postMessage(CHANNEL, message, { idempotencyKey: 'digest-d1' });
    await adapter.port.postMessage(CHANNEL, message, { idempotencyKey: 'digest-d1' });
    const [posted, ...more] = fake.inChannel(CHANNEL);
    expect(more).toEqual([]);
    expect(ref).toBe(`discord:${CHANNEL}:${posted!.id}`);
    expect(shown(posted!.content)).toContain('Weekly digest · general');
    expect(posted!.allowedMentions).toEqual({ parse: [], users: [] });
    expect(posted!.pinged).toEqual([]);
    expect(posted!.nonce).toHaveLength(25);
    const [file, ...others] = posted!.attachments;
    expect(others).toEqual([]);
    const bytes = Buffer.from(message.image!.pngBase64, 'base64');
    expect(file).toMatchObject({
      placeholder: '0',
      filename: 'weekly-digest.png',
      contentType: 'image/png',
      description: message.image!.alt,
      size: bytes.length,
      png: { width: 800, height: 400 },
    });
    expect(file!.bytes.equals(bytes)).toBe(true);
    // Sent as multipart (payload_json + files[0]): the fake saw no JSON body with the file in it.
    const sent = fake.requests.filter((r) => r.path === `/channels/${CHANNEL}/messages`);
    expect(sent.map((r) => r.status)).toEqual([200]);
    expect(sent[0]!.body).toMatchObject({
      attachments: [{ id: 0, filename: 'weekly-digest.png' }],
      enforce_nonce: true,
    });
  });

  it('the ledger row lost after Discord created the message: the retry carries the same nonce and Discord returns the first', async () => {
    const message = await notice(db);
    await adapter.port.postMessage(CHANNEL, message, { idempotencyKey: 'digest-d2' });
    // What a process killed between Discord's answer and finishPost leaves behind.
    await db.sql`UPDATE discord_posts SET message_id = NULL WHERE key = 'digest-d2'`;
    const again = await adapter.port.postMessage(CHANNEL, message, { idempotencyKey: 'digest-d2' });
    const withChart = fake.inChannel(CHANNEL).filter((m) => m.attachments.length > 0);
    expect(withChart).toHaveLength(2); // the first test's and this one's
    expect(again).toBe(`discord:${CHANNEL}:${withChart[1]!.id}`);
    expect(fake.requests.filter((r) => r.path === `/channels/${CHANNEL}/messages`)).toHaveLength(3);
    const [row] = await db.sql`SELECT message_id, attempts FROM discord_posts WHERE key = 'digest-d2'`;
    expect(row).toEqual({ message_id: withChart[1]!.id, attempts: 2 });
  });

  it('a picture over the 10 MiB upload limit is not sent: its Unicode bars go in the message instead', async () => {
    const message = await notice(db);
    const huge = { ...message.image!, pngBase64: Buffer.alloc(DEFAULT_UPLOAD_LIMIT_BYTES + 1).toString('base64') };
    await adapter.port.postMessage('300000000000000078', { ...message, image: huge }, { idempotencyKey: 'digest-d3' });
    const [posted] = fake.inChannel('300000000000000078');
    expect(posted!.attachments).toEqual([]);
    expect(posted!.content).toContain(message.image!.fallbackText.split('\n')[0]!.replaceAll('`', "'"));
    expect(posted!.content.length).toBeLessThanOrEqual(2_000);
  });
});

describe('/signoff digest in a Discord channel', () => {
  const db = useTestDb({ max: 20 });
  let driver: DiscordDriver;
  let steps: StepRuntime;
  let app: Deployment;
  beforeAll(async () => {
    driver = await makeDiscordDriver(db, 'gateway');
    // The seed's week ends now, in this guild's channel.
    await seedDigest(db.sql, Date.now() - Date.parse(SEED.endAt));
    await db.sql`UPDATE reviews SET tenant = ${driver.tenant}, platform = 'discord', channel = ${driver.channel}
      WHERE tenant = 'local' AND channel = 'general'`;
    await db.sql`UPDATE runs SET trigger = trigger || ${db.sql.json({ tenant: driver.tenant, channel: driver.channel })}
      WHERE trigger->>'tenant' = 'local' AND trigger->>'channel' = 'general'`;
    steps = createStepRuntime({
      config: readConfig({}),
      sql: db.sql,
      log: silentLogger,
      ports: new Map([[driver.port.platform, driver.port]]),
    });
    app = await deploy(db, driver, { flows: [weeklyDigest], services: steps.services });
  });
  afterAll(async () => {
    await app?.stop();
    await steps?.stop();
    await driver?.close();
  });

  it("posts this channel's digest there, with its chart attached, once", async () => {
    const reply = await driver.command('alice', driver.channel, 'digest');
    expect(reply.visibility).toBe('channel');
    const runId = /run `?([0-9a-f-]{36})/.exec(reply.notice.text)![1]!;
    expect((await app.engine.waitFor(runId, ['done', 'failed'], { timeoutMs: 60_000 })).status).toBe('done');
    const digests = await until('the digest', async () => {
      const found = driver.fake.inChannel(driver.channel).filter((m) => m.attachments.length > 0);
      return found.length > 0 && found;
    });
    expect(digests).toHaveLength(1);
    expect(digests[0]!.viaInteraction).toBe(false);
    expect(shown(digests[0]!.content)).toContain('Runs started: 8 (+4)');
    expect(digests[0]!.attachments.map((a) => [a.filename, a.png])).toEqual([
      ['weekly-digest.png', { width: 800, height: 400 }],
    ]);
    expect(digests[0]!.pinged).toEqual([]);
  });
});

describe("the fake refuses what Discord refuses for uploads (reference.mdx 'Uploading Files')", () => {
  let fake: FakeDiscord;
  let png: Buffer;
  beforeAll(async () => {
    fake = await startFakeDiscord();
    png = chartPng([{ day: '2026-11-23', approved: 2, rejected: 1, expired: 0, medianS: 600 }], 'test');
  });
  afterAll(async () => {
    await fake?.close();
  });
  const channel = '300000000000000099';
  async function send(body: string | FormData, headers: Record<string, string> = {}) {
    const res = await fetch(`${fake.apiUrl}/v10/channels/${channel}/messages`, {
      method: 'POST',
      headers: { authorization: `Bot ${fake.botToken}`, ...headers },
      body,
    });
    return { status: res.status, json: (await res.json()) as Record<string, any> };
  }
  function form(payload: unknown, files: [string, Buffer, string?][]): FormData {
    const f = new FormData();
    f.append('payload_json', JSON.stringify(payload));
    for (const [name, bytes, filename] of files) {
      if (filename === undefined) f.append(name, bytes.toString('latin1'));
      else f.append(name, new Blob([bytes], { type: 'image/png' }), filename);
    }
    return f;
  }

  it('takes payload_json + files[0] named by attachments[0], keeps the PNG decoded, and answers the attachment', async () => {
    const payload = { content: 'chart', attachments: [{ id: 0, description: 'the chart' }] };
    const { status, json } = await send(form(payload, [['files[0]', png, 'c.png']]));
    expect(status).toBe(200);
    expect(json.attachments).toMatchObject([{ filename: 'c.png', size: png.length, width: 800, height: 400 }]);
    const kept = fake.messages.find((m) => m.id === json.id)!.attachments[0]!;
    expect([kept.description, kept.png]).toEqual(['the chart', { width: 800, height: 400 }]);
  });

  it('refuses a file part without a filename, a part not named files[n], and ids that match no file (50035)', async () => {
    for (const body of [
      form({ content: 'x' }, [['files[0]', png]]),
      form({ content: 'x' }, [['file', png, 'c.png']]),
      form({ content: 'x', attachments: [{ id: 1 }] }, [['files[0]', png, 'c.png']]),
      JSON.stringify({ content: 'x', attachments: [{ id: 0, filename: 'c.png' }] }),
    ]) {
      const headers: Record<string, string> = typeof body === 'string' ? { 'content-type': 'application/json' } : {};
      expect(await send(body, headers)).toMatchObject({ status: 400, json: { code: 50035 } });
    }
  });

  it('refuses more than 10 files (400), a file over 10 MiB (413, 40005), and a body that is not a multipart form', async () => {
    const eleven = Array.from({ length: 11 }, (_, i): [string, Buffer, string] => [`files[${i}]`, png, `${i}.png`]);
    expect(await send(form({}, eleven))).toMatchObject({ status: 400, json: { code: 50035 } });
    const big = Buffer.alloc(DEFAULT_UPLOAD_LIMIT_BYTES + 1);
    expect(await send(form({}, [['files[0]', big, 'big.png']]))).toMatchObject({ status: 413, json: { code: 40005 } });
    expect(await send('--x\r\nnonsense', { 'content-type': 'multipart/form-data' })).toMatchObject({
      status: 400,
      json: { code: 50035 },
    });
    const ten = eleven.slice(0, 10);
    expect((await send(form({}, ten))).status).toBe(200);
    expect(fake.inChannel(channel).map((m) => m.attachments.length)).toEqual([1, 10]);
  });

  it('a multipart message with a nonce seen before (enforce_nonce) returns the first; a broken PNG is kept but decodes to nothing', async () => {
    const payload = { content: 'once', nonce: 'n-upload-1', enforce_nonce: true };
    const first = await send(form(payload, [['files[0]', png.subarray(0, png.length - 20), 'cut.png']]));
    const second = await send(form(payload, [['files[0]', png, 'cut.png']]));
    expect(second.json.id).toBe(first.json.id);
    const kept = fake.inChannel(channel).filter((m) => m.nonce === 'n-upload-1');
    expect(kept).toHaveLength(1);
    expect(kept[0]!.attachments[0]!.png).toBeNull();
  });
});
