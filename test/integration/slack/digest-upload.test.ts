/**
 * The weekly digest on Slack: the message, then its chart shared in the
 * channel through files.uploadV2 against the fake (which checks the bytes
 * decode as a PNG of the promised length). Once per key; where the workspace
 * takes no uploads, the Unicode-bar fallback goes in the message's thread.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createSlackAdapter, type SlackAdapter } from '../../../adapters/slack/slack-adapter.ts';
import { silentLogger } from '../../../src/ops/log.ts';
import { readDigest } from '../../../src/store/digest.ts';
import { slackStore } from '../../../src/store/slack.ts';
import { buildDigest } from '../../../src/steps/digest/figures.ts';
import { digestNotice } from '../../../src/steps/reports.ts';
import { startFakeSlack, type FakeSlack } from '../../fakes/slack/web-api.ts';
import { useTestDb } from '../../helpers/db.ts';
import { SEED, seedDigest } from '../../helpers/digest-seed.ts';

const CHANNEL = 'C0DIGEST';
const db = useTestDb();
let fake: FakeSlack;
let adapter: SlackAdapter;

beforeAll(async () => {
  await seedDigest(db.sql);
  fake = await startFakeSlack({ channels: [CHANNEL] });
  adapter = createSlackAdapter({
    settings: { botToken: fake.botToken, apiUrl: fake.apiUrl, signingSecret: 'secret', appToken: null },
    store: slackStore(db.sql),
    log: silentLogger,
    channelIntervalMs: 0,
    isTierPaced: false,
  });
});
afterAll(async () => {
  await fake?.close();
});

async function notice() {
  const scope = { tenant: SEED.tenant, channel: SEED.channel, endAt: new Date(SEED.endAt), timezone: SEED.timezone };
  const digest = buildDigest(await readDigest(db.sql, scope), { ...scope, platform: 'slack' });
  return digestNotice(digest, { summary: [], reasonLabels: [], isOffline: true, model: 'offline' });
}

it('posts the digest, then shares its chart as a PNG in the channel; the same key again does neither twice', async () => {
  const message = await notice();
  const ref = await adapter.port.postMessage(CHANNEL, message, { idempotencyKey: 'digest-1' });
  await adapter.port.postMessage(CHANNEL, message, { idempotencyKey: 'digest-1' });
  expect(fake.inChannel(CHANNEL)).toHaveLength(1);
  expect(fake.inChannel(CHANNEL)[0]!.text).toContain('Weekly digest · general');
  const [file, ...more] = fake.files.sharedIn(CHANNEL);
  expect(more).toEqual([]);
  expect(file!.png).toEqual({ width: 800, height: 400 });
  expect(file!.length).toBe(Buffer.from(message.image!.pngBase64, 'base64').length);
  expect([file!.filename, file!.altText]).toEqual(['weekly-digest.png', message.image!.alt]);
  expect(ref.startsWith(`slack:${CHANNEL}:`)).toBe(true);
  expect(fake.countCalls('files.getUploadURLExternal')).toBe(1);
});

it("where uploads are disabled, the chart's Unicode bars go in the message's thread instead", async () => {
  fake.files.isDisabled = true;
  try {
    const message = await notice();
    await adapter.port.postMessage(CHANNEL, message, { idempotencyKey: 'digest-2' });
    const [top, reply] = fake.inChannel(CHANNEL).slice(1);
    expect(reply!.threadTs).toBe(top!.ts);
    expect(reply!.text).toBe(message.image!.fallbackText);
    expect(reply!.text).toContain('█');
    expect(fake.files.sharedIn(CHANNEL)).toHaveLength(1); // only the first test's
  } finally {
    fake.files.isDisabled = false;
  }
});
