/**
 * RELIABILITY 77 (I5): no secret in logs, rows or audit. The bot runs as a
 * process at LOG_LEVEL=debug with a fake secret in every credential variable
 * (src/config.ts, .env.example: the Slack bot token, app token and signing
 * secret, the OpenAI key, the Zendesk API token, the Linear and HubSpot tokens,
 * the database password), every one pointing at a fake that checks it. It runs
 * ticket-triage end to end over Slack (Socket Mode, since an app token is set)
 * through error paths that tempt a leak: a model 429 and a 401 whose messages
 * quote the key, a failing Slack group lookup, and 401s from Zendesk, Linear
 * and HubSpot whose bodies echo the Authorization header the bot sent. Then it
 * scans everything the bot wrote to stderr, every row of every table of its
 * schema (audit trail included) for each secret, its `Bearer`/Basic header
 * forms, every secret pattern case 77 names (`xoxb-`, `xapp-`, `sk-`, `whsec_`
 * shapes) and `Authorization:`: zero hits. The logger is pino (src/ops/log.ts):
 * the first bot writes JSON, the second pretty lines (LOG_FORMAT=pretty); webhook
 * sources with secrets (Stripe's `whsec_…`, GitHub's) get a genuine and a forged
 * delivery each. An unexpected failure (a table gone) shows only a ref (case 78),
 * which is the correlation id of the log lines that hold the cause. Chat and
 * webhook text with CR/LF/ANSI goes in, and no raw control character comes out
 * in either format (case 80). The Discord bot token is checked the same way by
 * test/e2e/discord.e2e.test.ts (one chat platform per bot).
 */
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { until, type SeenCard } from '../contract/chat-port.contract.ts';
import { toSeenCard } from '../contract/slack-driver.ts';
import { startFakeOpenAI, type FakeOpenAI } from '../fakes/openai-server.ts';
import { blockActionsPayload } from '../fakes/slack/requests.ts';
import { startFakeSlack, type FakeSlack } from '../fakes/slack/web-api.ts';
import { startFakeTools, type FakeTools, type RecordedCall } from '../fakes/tool-servers.ts';
import { startBot, stopBot, type BotProcess } from '../helpers/browser.ts';
import { useTestDb } from '../helpers/db.ts';

const CHANNEL = 'C0SUPPORT';
const [ALICE, BOB] = ['U0ALICE', 'U0BOB'];
const EMAIL = 'agent@example.com';
/** One distinct fake secret per credential variable, shaped like the real ones. */
const SECRETS = {
  SLACK_BOT_TOKEN: 'xoxb-1111-2222-s3cretBotZq9f',
  SLACK_APP_TOKEN: 'xapp-1-A0FAKE-3333-s3cretAppYw8e',
  SLACK_SIGNING_SECRET: 's3cretSigningXv7d6d1f',
  OPENAI_API_KEY: 'sk-proj-s3cretOpenAIWu6c99a2',
  ZENDESK_TOKEN: 'zdS3cretApiTokenVt5b7c3e',
  /** The other Zendesk scheme (not allowed together with ZENDESK_TOKEN): the second test's bot uses it. */
  ZENDESK_OAUTH_TOKEN: 'zdS3cretOAuthTokenRp1x4a6b',
  LINEAR_TOKEN: 'lin_api_s3cretLinearUs4a1b2c',
  HUBSPOT_TOKEN: 'pat-na1-s3cretHubSpotTr3z0f9e',
  DATABASE_PASSWORD: 'pgS3cretPasswordSq2y8e7d',
  WEBHOOK_STRIPE_SECRET: 'whsec_s3cretStripeQp8x7w6v5u',
  WEBHOOK_GITHUB_SECRET: 'ghS3cretWebhookNo5p4q3r2s',
} as const;

/** The shapes case 77 names, whatever their value: a leak of a secret we did not plant shows too. */
const SECRET_PATTERNS: [string, RegExp][] = [
  ['a Slack bot token', /xox[abposr]-[A-Za-z0-9-]{10,}/],
  ['a Slack app token', /xapp-[A-Za-z0-9-]{10,}/],
  ['an OpenAI key', /sk-[A-Za-z0-9_-]{16,}/],
  ['a webhook signing secret', /whsec_[A-Za-z0-9+/=_-]{10,}/],
  ['"Authorization:"', /authorization:/i],
];
/** CR/LF/ANSI and friends, as a person or a sender may type them. */
const HOSTILE = 'refund\r\n{"level":"error","msg":"forged"}\u001b[2J\u001b[31mred\u009b\u202e';
/** What no log output may carry raw: C0 controls but tab and LF (the line break itself), DEL, C1. */
// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e]/;

const db = useTestDb();
let slack: FakeSlack;
let openai: FakeOpenAI;
let tools: FakeTools;
let bot: BotProcess;
let flowsDir: string;

/** A flows folder with ticket-triage and the tool fixtures (re-exported: the loader takes `<id>.flow.ts`). */
function flowsFolder(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'signoff-secrets-flows-'));
  const repo = fileURLToPath(new URL('../..', import.meta.url));
  const files = {
    'ticket-triage': 'flows/ticket-triage.flow.ts',
    'tool-comment': 'test/fixtures/flows/tool-comment.flow.ts',
    'tool-contact': 'test/fixtures/flows/tool-contact.flow.ts',
  };
  for (const [id, file] of Object.entries(files)) {
    writeFileSync(
      path.join(dir, `${id}.flow.ts`),
      `export { default } from ${JSON.stringify(path.join(repo, file))};\n`,
    );
  }
  return dir;
}

beforeAll(async () => {
  [slack, openai, tools] = await Promise.all([
    startFakeSlack({ channels: [CHANNEL], botToken: SECRETS.SLACK_BOT_TOKEN, appToken: SECRETS.SLACK_APP_TOKEN }),
    startFakeOpenAI({ apiKey: SECRETS.OPENAI_API_KEY }),
    startFakeTools({
      zendesk: { id: 9001, email: EMAIL, apiToken: SECRETS.ZENDESK_TOKEN, oauthToken: SECRETS.ZENDESK_OAUTH_TOKEN },
      linear: { apiKey: SECRETS.LINEAR_TOKEN, oauthToken: 'unused-linear-oauth' },
      hubspotToken: SECRETS.HUBSPOT_TOKEN,
    }),
  ]);
  slack.setGroups(BOB, ['support-leads']);
  flowsDir = flowsFolder();
  bot = await startSecretBot({ ZENDESK_EMAIL: EMAIL, ZENDESK_TOKEN: SECRETS.ZENDESK_TOKEN });
}, 60_000);

/** The bot with every credential set (Zendesk's as given), at debug level, connected over Socket Mode. */
async function startSecretBot(zendesk: Record<string, string>, format = 'json'): Promise<BotProcess> {
  const url = new URL(db.url);
  url.password = SECRETS.DATABASE_PASSWORD; // trust auth ignores it; the bot must still never show it
  const connected = slack.socket.connections().length;
  const started = await startBot({
    databaseUrl: url.toString(),
    schema: db.schema,
    env: {
      LOG_LEVEL: 'debug',
      LOG_FORMAT: format,
      SIGNOFF_FLOWS_DIR: flowsDir,
      WEBHOOK_STRIPE_SECRET: SECRETS.WEBHOOK_STRIPE_SECRET,
      WEBHOOK_GITHUB_SECRET: SECRETS.WEBHOOK_GITHUB_SECRET,
      WORKER_POLL_MS: '200',
      SLACK_BOT_TOKEN: SECRETS.SLACK_BOT_TOKEN,
      SLACK_APP_TOKEN: SECRETS.SLACK_APP_TOKEN,
      SLACK_SIGNING_SECRET: SECRETS.SLACK_SIGNING_SECRET,
      SLACK_API_URL: slack.apiUrl,
      OPENAI_API_KEY: SECRETS.OPENAI_API_KEY,
      OPENAI_BASE_URL: openai.url,
      ZENDESK_URL: tools.baseUrl,
      ...zendesk,
      LINEAR_URL: tools.baseUrl,
      LINEAR_TOKEN: SECRETS.LINEAR_TOKEN,
      HUBSPOT_URL: tools.baseUrl,
      HUBSPOT_TOKEN: SECRETS.HUBSPOT_TOKEN,
    },
  });
  await slack.socket.waitForConnections(connected + 1, 20_000);
  return started;
}
afterAll(async () => {
  await stopBot(bot);
  await Promise.all([slack?.close(), openai?.close(), tools?.close()]);
  if (flowsDir) rmSync(flowsDir, { recursive: true, force: true });
});

/** A slash command over the socket; the ack's text. */
async function slash(text: string): Promise<string> {
  const envelope = slack.socket.send('slash_commands', {
    token: 'deprecated',
    team_id: slack.teamId,
    channel_id: CHANNEL,
    channel_name: 'support',
    user_id: ALICE,
    user_name: ALICE,
    command: '/signoff',
    text,
    api_app_id: 'A0FAKE',
    response_url: slack.newResponseUrl(),
    trigger_id: slack.newTrigger(),
  });
  const ack = await slack.socket.ack(envelope, 10_000);
  return String(ack?.text ?? '');
}

async function approve(card: SeenCard): Promise<void> {
  const envelope = slack.socket.send(
    'interactive',
    blockActionsPayload({
      team: slack.teamId,
      channel: CHANNEL,
      user: BOB,
      messageTs: card.messageRef.split(':')[2]!,
      actionId: 'signoff_approve',
      blockId: `signoff_card:v${card.version}`,
      value: card.reviewRef,
      triggerId: slack.newTrigger(),
      responseUrl: slack.newResponseUrl(),
    }),
  );
  expect(await slack.socket.ack(envelope, 10_000)).not.toBeNull();
}

async function runOf(flow: string, text: string, status: string[]): Promise<{ id: string; status: string }> {
  return until(
    `the ${flow} run with ${text} to be ${status.join(' or ')}`,
    async () => {
      const [run] = await db.sql<{ id: string; status: string }[]>`
      SELECT id, status FROM runs WHERE flow = ${flow} AND input::text LIKE ${'%' + text + '%'}`;
      return run && status.includes(run.status) ? run : undefined;
    },
    60_000,
  );
}

/** Every secret, its header forms and "Authorization:" in the bot's log and in every row of every table: none. */
async function expectNoSecrets(b: BotProcess): Promise<void> {
  const forms = Object.entries(SECRETS).flatMap(([name, value]) => [
    [name, value],
    [`${name} as Bearer`, `Bearer ${value}`],
  ]);
  forms.push(['Zendesk Basic', Buffer.from(`${EMAIL}/token:${SECRETS.ZENDESK_TOKEN}`).toString('base64')]);
  const hits = (where: string, text: string) => [
    ...forms.filter(([, value]) => text.includes(value!)).map(([name]) => `${where}: ${name}`),
    ...SECRET_PATTERNS.filter(([, pattern]) => pattern.test(text)).map(([name]) => `${where}: ${name}`),
  ];

  const log = b.log();
  expect(log).toMatch(/"level":"debug"|\] DEBUG: /); // it really ran at debug level, JSON or pretty
  const found = hits('log', log);
  const tables = await db.sql<{ name: string }[]>`
    SELECT table_name AS name FROM information_schema.tables WHERE table_schema = ${db.schema} AND table_type = 'BASE TABLE'`;
  expect(tables.map((t) => t.name)).toEqual(
    expect.arrayContaining(['runs', 'jobs', 'review_audit', 'tool_calls', 'model_calls', 'inbox']),
  );
  const stored: string[] = [];
  for (const { name } of tables) {
    const rows = await db.sql<
      { row: string }[]
    >`SELECT to_jsonb(t)::text AS row FROM ${db.sql(`${db.schema}.${name}`)} t`;
    stored.push(...rows.map((r) => r.row));
    found.push(...hits(`table ${name}`, rows.map((r) => r.row).join('\n')));
  }
  expect(found).toEqual([]);
  // The scan would see a leak: the echoing tool errors were stored, with the secret taken out.
  const all = stored.join('\n');
  expect(all).toContain('bad credentials: [redacted]');
  expect(all).toContain('refused the API key (401)'); // the model's 401 was recorded, in our words
}

/** Case 80: after hostile text went in, the log holds no raw control character; in JSON each entry is one line. */
function expectEncoded(log: string, format: 'json' | 'pretty'): void {
  expect(log).not.toMatch(RAW_CONTROL);
  if (format === 'json') for (const line of log.split('\n').filter((l) => l.startsWith('{'))) JSON.parse(line);
  expect(log).not.toMatch(/^\{"level":"error","msg":"forged"\}/m);
}

/** A genuine GitHub delivery (X-Hub-Signature-256 with the secret) and a forged one (another secret); each answered. */
async function githubDeliveries(text: string): Promise<{ genuine: Response; forged: Response; deliveryId: string }> {
  const body = JSON.stringify({ action: text, issue: { title: text } });
  const deliveryId = `72d3162e-cc78-11e3-81ab-${Date.now().toString(16).padStart(12, '0').slice(-12)}`;
  const send = (secret: string, id: string) =>
    fetch(`${bot.url}/webhooks/github`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'issues',
        'x-github-delivery': id,
        'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`,
      },
      body,
    });
  return {
    genuine: await send(SECRETS.WEBHOOK_GITHUB_SECRET, deliveryId),
    forged: await send(`${SECRETS.WEBHOOK_GITHUB_SECRET}-wrong`, `${deliveryId}-forged`),
    deliveryId,
  };
}

/** A Stripe delivery signed with the wrong secret: refused, and the secret it was checked against never shows. */
async function forgedStripe(): Promise<Response> {
  const body = JSON.stringify({
    id: 'evt_forged',
    type: 'charge.refunded',
    data: { object: { description: HOSTILE } },
  });
  const t = Math.floor(Date.now() / 1000);
  const v1 = createHmac('sha256', 'whsec_notTheRealOneAtAll00').update(`${t}.${body}`).digest('hex');
  return fetch(`${bot.url}/webhooks/stripe`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'stripe-signature': `t=${t},v1=${v1}` },
    body,
  });
}

/** A 401 whose body echoes the credentials the bot sent, as some providers' errors do. */
const echo401 = {
  status: 401,
  body: (call: RecordedCall) => ({
    error: 'unauthorized',
    message: `bad credentials: ${String(call.headers.authorization)}`,
  }),
};

it('77, 78, 80: ticket-triage, the tools and webhooks through their error paths at debug level (JSON logs): no secret in any log line, row or audit entry; a ref that finds the cause; nothing raw', async () => {
  // A model 429 and a model 401, each quoting the key (hostile; OpenAI itself masks it).
  openai.next({
    kind: 'status',
    status: 429,
    code: 'rate_limit_exceeded',
    retryAfter: 1,
    message: `Rate limit reached for key ${SECRETS.OPENAI_API_KEY}`,
  });
  expect(await slash('run ticket-triage subject="Charged twice" body="Refund please" ticketId=77')).toMatch(/started/);
  const card = await until(
    'the card',
    async () =>
      slack
        .inChannel(CHANNEL)
        .map(toSeenCard)
        .find((c) => c?.status === 'pending'),
    60_000,
  );

  slack.faults.failGroups = true; // Slack answers the approver-group lookup with an error: refused, "try again"
  await approve(card!);
  await until('the refusal', async () => slack.ephemerals.some((e) => /try again/i.test(e.text)), 10_000);
  slack.faults.failGroups = false;
  tools.next(echo401); // Zendesk refuses the reply, echoing the Authorization header
  await approve(card!);
  const failed = await runOf('ticket-triage', 'ticketId', ['failed', 'parked', 'done']);
  if (failed.status !== 'done') expect(await slash(`retry ${failed.id}`)).toMatch(/retried/);
  await runOf('ticket-triage', 'ticketId', ['done']);
  expect(tools.state.tickets.get('77')!.comments).toHaveLength(1);

  openai.next({
    kind: 'status',
    status: 401,
    code: 'invalid_api_key',
    message: `Incorrect API key provided: ${SECRETS.OPENAI_API_KEY}.`,
  });
  expect(await slash('run ticket-triage subject="Key refused" body="This one fails"')).toMatch(/started/);
  await runOf('ticket-triage', 'Key refused', ['failed']);

  tools.next(echo401);
  expect(await slash('run tool-comment issueId=ENG-9 body="Fixed"')).toMatch(/started/);
  await runOf('tool-comment', 'ENG-9', ['failed', 'parked']);
  tools.next(echo401);
  expect(await slash('run tool-contact contactId=501 lifecycle=customer')).toMatch(/started/);
  await runOf('tool-contact', '501', ['failed', 'parked']);
  // Each provider did get its credential (so each secret was really in use).
  const auth = (p: (c: RecordedCall) => boolean) => tools.calls.filter(p).map((c) => String(c.headers.authorization));
  expect(auth((c) => c.path === '/graphql')).toContain(SECRETS.LINEAR_TOKEN);
  expect(auth((c) => c.path.startsWith('/crm/'))).toContain(`Bearer ${SECRETS.HUBSPOT_TOKEN}`);

  await hostileTraffic();
  await unexpectedFailure();
  expectEncoded(bot.log(), 'json');
  await expectNoSecrets(bot);
}, 180_000);

/** Case 80's input: chat text and webhook bodies with CR/LF/ANSI; forged and genuine webhooks (case 77's error paths). */
async function hostileTraffic(): Promise<void> {
  expect(await slash(`status ${HOSTILE}`)).not.toBe('');
  const hooks = await githubDeliveries(HOSTILE);
  expect(hooks.forged.status).toBe(401);
  expect(hooks.genuine.status).not.toBe(401); // the secret was in use: accepted (or kept as a dead letter)
  expect(hooks.genuine.status).toBeLessThan(500);
  expect((await forgedStripe()).status).toBe(401);
}

/** Case 78: with a table gone, a command answers only "try again (ref …)"; the lines under that ref hold the cause. */
async function unexpectedFailure(): Promise<void> {
  await db.sql`ALTER TABLE ${db.sql(`${db.schema}.runs`)} RENAME TO runs_gone`;
  let reply: string;
  try {
    reply = await slash('list');
  } finally {
    await db.sql`ALTER TABLE ${db.sql(`${db.schema}.runs_gone`)} RENAME TO runs`;
  }
  const ref = /^something went wrong; try again \(ref ([^)\s]+)\)$/.exec(reply)?.[1];
  expect(ref, reply).toBeDefined();
  expect(reply).not.toMatch(/relation|SELECT|runs_gone|does not exist|\bat .*\.ts/);
  const entries = bot
    .log()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, any>)
    .filter((e) => e.correlationId === ref);
  expect(entries.find((e) => e.msg === 'command failed')?.error.message).toMatch(/relation .*runs.* does not exist/);
}

it('77, 80: the same with a Zendesk OAuth token (sent as Bearer) and pretty logs (LOG_FORMAT=pretty): no secret, no raw control character', async () => {
  await stopBot(bot);
  bot = await startSecretBot({ ZENDESK_OAUTH_TOKEN: SECRETS.ZENDESK_OAUTH_TOKEN }, 'pretty');
  expect(await slash('run ticket-triage subject="OAuth" body="Second desk" ticketId=78')).toMatch(/started/);
  const card = await until(
    'the card',
    async () =>
      slack
        .inChannel(CHANNEL)
        .map(toSeenCard)
        .find((c) => c?.status === 'pending'),
    60_000,
  );
  tools.next(echo401);
  await approve(card!);
  const failed = await runOf('ticket-triage', 'Second desk', ['failed', 'parked', 'done']);
  if (failed.status !== 'done') expect(await slash(`retry ${failed.id}`)).toMatch(/retried/);
  await runOf('ticket-triage', 'Second desk', ['done']);
  expect(tools.calls.filter((c) => c.path.includes('/tickets/78')).map((c) => c.headers.authorization)).toContain(
    `Bearer ${SECRETS.ZENDESK_OAUTH_TOKEN}`,
  );
  await hostileTraffic();
  expectEncoded(bot.log(), 'pretty');
  await expectNoSecrets(bot);
}, 120_000);
