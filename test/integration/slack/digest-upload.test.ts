/**
 * The weekly digest on Slack: the message, then its chart shared in the
 * channel through Slack's three upload calls against the fake (which checks the
 * bytes decode as a PNG of the promised length, and shares the file as a
 * message). Once per key, also when the ledger row was lost after Slack
 * completed the upload (the share is found in history, nothing is uploaded
 * again); where the workspace takes no uploads, the Unicode-bar fallback goes
 * in the message's thread.
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
  const [digest, share, ...others] = fake.inChannel(CHANNEL);
  expect(others).toEqual([]);
  expect(digest!.text).toContain('Weekly digest · general');
  const [file, ...more] = fake.files.sharedIn(CHANNEL);
  expect(more).toEqual([]);
  expect(share!.fileIds).toEqual([file!.id]);
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
    const [top, reply] = fake.inChannel(CHANNEL).slice(-2);
    expect(reply!.threadTs).toBe(top!.ts);
    expect(reply!.text).toBe(message.image!.fallbackText);
    expect(reply!.text).toContain('█');
    expect(fake.files.sharedIn(CHANNEL)).toHaveLength(1); // only the first test's
  } finally {
    fake.files.isDisabled = false;
  }
});

it('the ledger row lost after Slack completed the upload: the retry finds the share in history and uploads nothing', async () => {
  const message = await notice();
  await adapter.port.postMessage(CHANNEL, message, { idempotencyKey: 'digest-3' });
  // What a process killed between files.completeUploadExternal and the ledger row leaves behind.
  await db.sql`UPDATE slack_posts SET ts = NULL WHERE key = 'digest-3:image'`;
  const uploadsBefore = fake.countCalls('files.getUploadURLExternal');
  await adapter.port.postMessage(CHANNEL, message, { idempotencyKey: 'digest-3' });
  expect(fake.countCalls('files.getUploadURLExternal')).toBe(uploadsBefore);
  expect(fake.files.sharedIn(CHANNEL)).toHaveLength(2); // the first test's and this one's
  const [row] = await db.sql`SELECT ts FROM slack_posts WHERE key = 'digest-3:image'`;
  expect(row!.ts).toBe(fake.files.sharedIn(CHANNEL)[1]!.id);
});

it('a file id recorded but never completed (the process died before completing): the retry uploads it afresh, once', async () => {
  const message = await notice();
  // The message posted and a file id taken, then the process died: that file was never shared.
  await adapter.port.postMessage(CHANNEL, { ...message, image: undefined }, { idempotencyKey: 'digest-4' });
  await db.sql`INSERT INTO slack_posts (key, channel, ts) VALUES ('digest-4:image-file', ${CHANNEL}, 'F99999999')`;
  await adapter.port.postMessage(CHANNEL, message, { idempotencyKey: 'digest-4' });
  const shared = fake.files.sharedIn(CHANNEL);
  expect(shared).toHaveLength(3);
  expect(shared[2]!.id).not.toBe('F99999999');
  expect(fake.countCalls('conversations.history')).toBeGreaterThan(0);
});
