/**
 * RELIABILITY 29 and I2 for the digest's chart: the bot (`npm start`) is
 * SIGKILLed right after the upload finished at the platform and before the post
 * ledger recorded it, then started again; the run's post step runs a second
 * time, and the fake still holds exactly one upload.
 * - Slack (crash point `slack-upload-completed`): files.completeUploadExternal
 *   shared the file; the restarted bot finds that share in the channel's history
 *   by the file id it recorded first, and uploads nothing more. Slack itself
 *   would take a second upload (the fake dedupes nothing for files).
 * - Discord (crash point `discord-upload-sent`): Discord created the message with
 *   its PNG; the restarted bot sends it again with the same nonce and
 *   `enforce_nonce`, and Discord (the fake, as documented) returns the first.
 * The post step's lease (its 60 s limit plus a margin) would lapse before the
 * restarted bot took it over; the test jumps the clock past it (expireLeases).
 */
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { until } from '../contract/chat-port.contract.ts';
import { commandInteraction, makeSigner, postInteraction } from '../fakes/discord/interactions.ts';
import { startFakeDiscord, type FakeDiscord } from '../fakes/discord/rest.ts';
import { FORM, postToBot, signed, slashCommandBody } from '../fakes/slack/requests.ts';
import { startFakeSlack, type FakeSlack } from '../fakes/slack/web-api.ts';
import { startBot, stopBot, type BotProcess } from '../helpers/browser.ts';
import { expireLeases, useTestDb } from '../helpers/db.ts';

const SECRET = 'upload-crash-signing-secret';
const SLACK_CHANNEL = 'C0DIGEST';
const DISCORD_CHANNEL = '300000000000000042';
const db = useTestDb();
let slack: FakeSlack;
let discord: FakeDiscord;
const bots: BotProcess[] = [];

beforeAll(async () => {
  [slack, discord] = await Promise.all([startFakeSlack({ channels: [SLACK_CHANNEL] }), startFakeDiscord()]);
});
afterEach(async () => {
  for (const bot of bots.splice(0)) await stopBot(bot);
});
afterAll(async () => {
  await Promise.all([slack?.close(), discord?.close()]);
});

async function bot(env: Record<string, string>): Promise<BotProcess> {
  const started = await startBot({
    databaseUrl: db.url,
    schema: db.schema,
    env: { WORKER_POLL_MS: '500', ...env },
  });
  bots.push(started);
  return started;
}

function death(b: BotProcess): Promise<NodeJS.Signals | null> {
  return new Promise((resolve) => b.child.once('exit', (_code, signal) => resolve(signal)));
}

async function digestRun(): Promise<{ id: string; status: string }> {
  return until('the digest run', async () => {
    const [run] = await db.sql<{ id: string; status: string }[]>`
      SELECT id, status FROM runs WHERE flow = 'weekly-digest' ORDER BY created_at DESC LIMIT 1`;
    return run;
  });
}

async function finished(): Promise<void> {
  await until('the digest run to finish', async () => (await digestRun()).status === 'done', 60_000);
}

it('Slack: killed after files.completeUploadExternal, before the ledger row; after a restart the chart is shared once', async () => {
  const env = { SLACK_BOT_TOKEN: slack.botToken, SLACK_API_URL: slack.apiUrl, SLACK_SIGNING_SECRET: SECRET };
  const first = await bot({ ...env, SIGNOFF_CRASHPOINTS: 'slack-upload-completed' });
  const died = death(first);
  const body = slashCommandBody({
    team: slack.teamId,
    channel: SLACK_CHANNEL,
    user: 'U0ALICE',
    triggerId: slack.newTrigger(),
    responseUrl: slack.newResponseUrl(),
    text: 'digest',
  });
  expect((await postToBot(first.url, signed(SECRET, body, FORM)))?.status).toBe(200);
  expect(await died).toBe('SIGKILL');
  // Killed at the point: Slack shared the file, the ledger does not know it.
  expect(slack.files.sharedIn(SLACK_CHANNEL)).toHaveLength(1);
  const [lost] = await db.sql`SELECT ts FROM slack_posts WHERE key LIKE '%:image'`;
  expect(lost).toEqual({ ts: null });

  await expireLeases(db.sql);
  await bot(env);
  await finished();
  expect(slack.files.sharedIn(SLACK_CHANNEL)).toHaveLength(1);
  expect(slack.countCalls('files.getUploadURLExternal')).toBe(1);
  expect(slack.countCalls('files.completeUploadExternal')).toBe(1);
  expect(slack.countCalls('conversations.history')).toBeGreaterThan(0); // the restarted bot looked before uploading
  expect(slack.inChannel(SLACK_CHANNEL).filter((m) => m.text.includes('Weekly digest'))).toHaveLength(1);
  const [row] = await db.sql`SELECT ts FROM slack_posts WHERE key LIKE '%:image'`;
  expect(row).toEqual({ ts: slack.files.sharedIn(SLACK_CHANNEL)[0]!.id });
}, 120_000);

it('Discord: killed after the message with its PNG was created, before the ledger row; after a restart it is there once', async () => {
  const signer = makeSigner();
  const env = {
    DISCORD_TOKEN: discord.botToken,
    DISCORD_API_URL: discord.apiUrl,
    DISCORD_PUBLIC_KEY: signer.publicKeyHex,
  };
  const first = await bot({ ...env, SIGNOFF_CRASHPOINTS: 'discord-upload-sent' });
  const died = death(first);
  const command = commandInteraction(discord, { user: '111111111111111111', channel: DISCORD_CHANNEL }, 'digest', '');
  discord.track(command);
  expect((await postInteraction(`${first.url}/discord/interactions`, signer, command)).status).toBe(202);
  expect(await died).toBe('SIGKILL');
  const withChart = () => discord.inChannel(DISCORD_CHANNEL).filter((m) => m.attachments.length > 0);
  expect(withChart()).toHaveLength(1);
  const [lost] = await db.sql`SELECT message_id FROM discord_posts WHERE channel = ${DISCORD_CHANNEL}`;
  expect(lost).toEqual({ message_id: null });

  await expireLeases(db.sql);
  await bot(env);
  await finished();
  const [message, ...more] = withChart();
  expect(more).toEqual([]);
  expect(message!.attachments.map((a) => a.png)).toEqual([{ width: 800, height: 400 }]);
  // Sent twice with the same nonce; Discord answered the second with the first message.
  const sends = discord.requests.filter(
    (r) => r.method === 'POST' && r.path === `/channels/${DISCORD_CHANNEL}/messages`,
  );
  expect(sends.map((r) => [r.status, r.body?.nonce])).toEqual([
    [200, message!.nonce],
    [200, message!.nonce],
  ]);
  const [row] = await db.sql`SELECT message_id FROM discord_posts WHERE channel = ${DISCORD_CHANNEL}`;
  expect(row).toEqual({ message_id: message!.id });
}, 120_000);
