/**
 * The `signoff` command line as a process (the package's bin), on the schema of
 * a bot that runs beside it (the web chat, the offline model): what it prints
 * about a reviewed run, what it changes (a cancel moves the run and the bot then
 * updates the card), the audit chain it verifies and the tampering it names, the
 * doctor's words against a Slack that refuses the token and a model server that
 * is not there, and the exit codes scripts rely on (0 ok, 1 failed or not
 * found, 2 usage).
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../contract/chat-port.contract.ts';
import { startFakeOpenAI } from '../fakes/openai-server.ts';
import { startFakeDiscord } from '../fakes/discord/rest.ts';
import { startFakeSlack } from '../fakes/slack/web-api.ts';
import { findFreePort, startBot, stopBot, type BotProcess } from '../helpers/browser.ts';
import { runCli } from '../helpers/cli.ts';
import { useTestDb } from '../helpers/db.ts';
import { insertDeadLetter } from '../../src/store/webhooks.ts';

const db = useTestDb();
const env = () => ({ DATABASE_URL: db.url, SIGNOFF_SCHEMA: db.schema });
const ACTOR = `cli:${userInfo().username}`;
const ZENDESK_EXAMPLE = join(import.meta.dirname, '../../docs/webhooks/examples/zendesk.ticket-created.json');
let bot: BotProcess | undefined;

type Card = {
  kind: string;
  ref: string;
  card: { status: { kind: string }; reviewRef: string; version: number; runId: string };
};

beforeAll(async () => {
  bot = await startBot({
    databaseUrl: db.url,
    schema: db.schema,
    env: { OPENAI_API_KEY: '', OPENAI_BASE_URL: '', ZENDESK_URL: '', SIGNOFF_DEFAULT_CHANNEL: 'support' },
  });
}, 60_000);
afterAll(async () => stopBot(bot));

async function post(path: string, body: Record<string, unknown>): Promise<any> {
  const res = await fetch(`${bot!.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ channel: 'support', deliveryId: randomUUID(), ...body }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { reply: unknown }).reply;
}

async function cardOf(runId: string): Promise<Card | undefined> {
  const state = (await (await fetch(`${bot!.url}/api/state`)).json()) as { messages: Card[] };
  return state.messages.find((m) => m.kind === 'card' && m.card.runId === runId);
}

/** Starts ticket-triage from the web chat as alice and waits for its review card. */
async function startTriage(subject: string): Promise<{ runId: string; card: Card }> {
  await post('/api/command', {
    user: 'alice',
    text: `run ticket-triage subject="${subject}" body="My card was billed twice" customer="ACME" ticketId=4242`,
  });
  const [run] = await until(
    'the run',
    async () => {
      const rows = await db.sql<{ id: string }[]>`SELECT id FROM runs WHERE input->>'subject' = ${subject}`;
      return rows.length > 0 ? rows : null;
    },
    30_000,
  );
  const card = await until('its review card', () => cardOf(run!.id), 45_000);
  return { runId: run!.id, card };
}

async function runStatus(runId: string): Promise<string> {
  const [row] = await db.sql<{ status: string }[]>`SELECT status FROM runs WHERE id = ${runId}`;
  return row!.status;
}

let approvedRun = '';
let cancelledRun = '';

describe('signoff runs', () => {
  it('runs show of a reviewed run prints what the approver saw (version, content hash, proposed call) and did', async () => {
    const { runId, card } = await startTriage('Charged twice');
    approvedRun = runId;
    const reply = await post('/api/action', {
      user: 'bob',
      messageRef: card.ref,
      reviewRef: card.card.reviewRef,
      action: 'approve',
      version: card.card.version,
    });
    expect(reply.kind).toBe('ok');
    await until('the run done', async () => (await runStatus(runId)) === 'done', 45_000);
    const [review] = await db.sql<{ id: string; content_sha256: string; content: { reply: string } }[]>`
      SELECT id, content_sha256, content FROM reviews WHERE run_id = ${runId}`;

    const text = await runCli(['runs', 'show', runId], env());
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`run ${runId} · ticket-triage · done`);
    expect(text.stdout).toMatch(/\d+ · [\d-]+ [\d:]+ · review\.approved · bob · sending/);
    expect(text.stdout).toContain(`review ${review!.id} · replyReview · approved · version 1`);
    expect(text.stdout).toContain('proposed call: zendesk.reply · PUT');
    expect(text.stdout).toContain(`version 1 · sha256 ${review!.content_sha256} (verified):`);
    expect(text.stdout).toContain(`reply: ${review!.content.reply.split('\n')[0]}`);
    expect(text.stdout).toMatch(
      new RegExp(`· bob · approve · accepted · saw version 1, sha256 ${review!.content_sha256.slice(0, 16)}…\\n`),
    );

    const json = await runCli(['runs', 'show', runId, '--json'], env());
    expect(json.code).toBe(0);
    const shown = JSON.parse(json.stdout);
    const [r] = shown.reviews;
    expect(r.proposedAction).toMatchObject({
      tool: 'zendesk.reply',
      method: 'PUT',
      input: { ticketId: '4242', public: true },
    });
    expect(r.versions).toEqual([
      { version: 1, contentSha256: review!.content_sha256, content: review!.content, isHashVerified: true },
    ]);
    const approval = r.audit.find((a: any) => a.action === 'approve');
    expect(approval).toMatchObject({
      actor: 'bob',
      outcome: 'accepted',
      version: 1,
      contentSha256: review!.content_sha256,
      isContentStored: true,
    });
    expect(r.decisions).toEqual([expect.objectContaining({ reviewer: 'bob', decision: 'approve', version: 1 })]);
  }, 120_000);

  it('runs cancel moves a waiting run as /signoff cancel does, and the bot updates its card', async () => {
    const { runId } = await startTriage('Cancel me');
    cancelledRun = runId;
    const cancelled = await runCli(['runs', 'cancel', runId, '--json'], env());
    expect(cancelled.code).toBe(0);
    expect(JSON.parse(cancelled.stdout)).toEqual({ id: runId, status: 'cancelled', actor: ACTOR });
    expect(await runStatus(runId)).toBe('cancelled');
    const [note] = await db.sql<{ type: string; actor: string }[]>`
      SELECT type, actor FROM run_events WHERE run_id = ${runId} ORDER BY seq DESC LIMIT 1`;
    expect(note).toEqual({ type: 'run.cancelled', actor: ACTOR });
    const audit = await db.sql<{ action: string; actor: string }[]>`
      SELECT a.action, a.actor FROM review_audit a WHERE a.run_id = ${runId} AND a.action = 'cancel'`;
    expect(audit).toEqual([{ action: 'cancel', actor: ACTOR }]);
    // The card update the cancel queued is done by the bot's workers, not by the CLI.
    const card = await until(
      'the cancelled card',
      async () => ((await cardOf(runId))?.card.status.kind === 'cancelled' ? cardOf(runId) : undefined),
      30_000,
    );
    expect(card.card.status.kind).toBe('cancelled');
    // The thread names the operator as such: a `cli:` actor is no chat user to mention.
    type Shown = { notice?: { parts: { kind: string; text?: string }[] } };
    const texts = await until('the cancel notice', async () => {
      const state = (await (await fetch(`${bot!.url}/api/state`)).json()) as { messages: Shown[] };
      const found = state.messages
        .map((m) => (m.notice?.parts ?? []).map((p) => (p.kind === 'text' ? p.text : `<${p.kind}>`)).join(''))
        .filter((t) => t.startsWith('Cancelled by'));
      return found.length > 0 ? found : undefined;
    });
    expect(texts).toEqual([`Cancelled by ${userInfo().username} (signoff CLI).`]);

    const again = await runCli(['runs', 'cancel', runId], env());
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`signoff runs cancel: run ${runId} is already cancelled`);
    const notFailed = await runCli(['runs', 'retry', approvedRun], env());
    expect([notFailed.code, notFailed.stderr.trim()]).toEqual([
      1,
      `signoff runs retry: run ${approvedRun} is done; only failed or parked runs can be retried`,
    ]);
    const missing = await runCli(['runs', 'retry', 'no-such-run'], env());
    expect([missing.code, missing.stderr.trim()]).toEqual([1, 'signoff runs retry: no run no-such-run']);
  }, 120_000);

  it('runs list --json parses, newest first, and its filters narrow it', async () => {
    const all = await runCli(['runs', 'list', '--json'], env());
    expect(all.code).toBe(0);
    const runs = JSON.parse(all.stdout) as { id: string; flow: string; status: string; createdAt: string }[];
    expect(runs.map((r) => r.id)).toEqual([cancelledRun, approvedRun]);
    expect(runs.map((r) => r.status)).toEqual(['cancelled', 'done']);
    const done = JSON.parse((await runCli(['runs', 'list', '--status', 'done', '--json'], env())).stdout);
    expect(done.map((r: { id: string }) => r.id)).toEqual([approvedRun]);
    const otherFlow = JSON.parse((await runCli(['runs', 'list', '--flow', 'refund-approval', '--json'], env())).stdout);
    expect(otherFlow).toEqual([]);
    const future = JSON.parse((await runCli(['runs', 'list', '--since', '2999-01-01', '--json'], env())).stdout);
    expect(future).toEqual([]);
    const lastHour = JSON.parse((await runCli(['runs', 'list', '--since', '1h', '--json'], env())).stdout);
    expect(lastHour).toHaveLength(2);
    const bad = await runCli(['runs', 'list', '--status', 'sleeping'], env());
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('usage: signoff runs list [options]');
  }, 60_000);
});

describe('signoff deadletters', () => {
  it('replays a dead letter through the flow once: the CLI records the run, the bot works it', async () => {
    const payload = JSON.parse(await readFile(ZENDESK_EXAMPLE, 'utf8'));
    payload.detail.subject = 'Replayed from the CLI';
    await insertDeadLetter(db.sql, {
      source: 'zendesk',
      deliveryKey: 'delivery-cli-1',
      event: 'ticket.created',
      flow: 'ticket-triage',
      bodySha256: 'ab'.repeat(32),
      payload,
      reason: 'input: subject: required (the flow was fixed since)',
    });
    const webhookEnv = { ...env(), WEBHOOK_ZENDESK_SECRET: 'dev-secret', SIGNOFF_DEFAULT_CHANNEL: 'support' };
    const listed = await runCli(['deadletters', 'list', '--json'], webhookEnv);
    expect(listed.code).toBe(0);
    const [letter, ...others] = JSON.parse(listed.stdout);
    expect(others).toEqual([]);
    expect(letter).toMatchObject({
      source: 'zendesk',
      event: 'ticket.created',
      flow: 'ticket-triage',
      replayRunId: null,
    });
    expect(letter).not.toHaveProperty('payload');

    const replayed = await runCli(['deadletters', 'replay', letter.id, '--json'], webhookEnv);
    expect(replayed.code).toBe(0);
    const [outcome] = JSON.parse(replayed.stdout).replayed;
    expect(outcome).toEqual({ id: letter.id, ok: true, runId: expect.any(String), flow: 'ticket-triage' });
    const [run] = await db.sql<{ trigger: { actor: string; source: string } }[]>`
      SELECT trigger FROM runs WHERE id = ${outcome.runId}`;
    expect(run!.trigger).toMatchObject({ actor: ACTOR, source: 'webhook:zendesk' });
    // The first step's job, leased to the CLI by the start, was handed back: the bot ran it up to the review.
    const card = await until("the replayed run's card", () => cardOf(outcome.runId), 45_000);
    expect(card.card.status.kind).toBe('pending');

    const again = await runCli(['deadletters', 'replay', letter.id], webhookEnv);
    expect(again.code).toBe(1);
    expect(again.stdout).toContain(`${letter.id}: not replayed: dead letter ${letter.id} was already replayed as run`);
    const none = await runCli(['deadletters', 'replay', '--all'], webhookEnv);
    expect([none.code, none.stdout]).toEqual([0, 'no webhook dead letters waiting\n']);
    const both = await runCli(['deadletters', 'replay', letter.id, '--all'], webhookEnv);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('usage: signoff deadletters replay [options] [id]');
  }, 120_000);
});

describe('signoff audit verify', () => {
  it('passes on an intact trail, then names the first broken link of a row altered behind the trigger', async () => {
    const intact = await runCli(['audit', 'verify'], env());
    expect([intact.code, intact.stdout]).toEqual([
      0,
      expect.stringMatching(/^review audit: ok \(\d+ rows checked\)\nrun audit: ok \(\d+ rows checked\)\n$/),
    ]);
    const [row] = await db.sql<{ review_id: string; seq: number }[]>`
      SELECT review_id, seq FROM review_audit WHERE run_id = ${approvedRun} AND action = 'approve'`;
    // As a superuser, with the append-only trigger off: what RELIABILITY 60's hash chain exists to catch.
    const table = db.sql(`${db.schema}.review_audit`);
    await db.sql`ALTER TABLE ${table} DISABLE TRIGGER review_audit_append_only`;
    await db.sql`UPDATE ${table} SET actor = 'mallory' WHERE review_id = ${row!.review_id} AND seq = ${row!.seq}`;
    await db.sql`ALTER TABLE ${table} ENABLE TRIGGER review_audit_append_only`;

    const broken = await runCli(['audit', 'verify'], env());
    expect(broken.code).toBe(1);
    const [brokenLine, runLine] = broken.stdout.split('\n');
    expect(brokenLine).toBe(
      `review audit: BROKEN at review_audit seq ${row!.seq}, review ${row!.review_id}, run ${approvedRun}: ` +
        'its stored fields no longer hash to its hash: the row was changed after it was written',
    );
    expect(runLine).toMatch(/^run audit: ok \(\d+ rows checked\)$/); // the run chain is untouched
    const json = await runCli(['audit', 'verify', '--json'], env());
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual({
      ok: false,
      checks: [
        {
          name: 'review audit',
          ok: false,
          checked: expect.any(Number),
          broken: {
            table: 'review_audit',
            reviewId: row!.review_id,
            runId: approvedRun,
            seq: String(row!.seq),
            reason: expect.any(String),
          },
        },
        { name: 'run audit', ok: true, checked: expect.any(Number) },
      ],
    });
    // Scoped to the other run, the chain it walks is intact.
    const other = await runCli(['audit', 'verify', '--run', cancelledRun], env());
    expect(other.code).toBe(0);
    const nothing = await runCli(['audit', 'verify', '--review', 'no-such-review'], env());
    expect([nothing.code, nothing.stderr.trim()]).toEqual([
      1,
      'signoff audit verify: nothing to verify: no audit rows for review no-such-review',
    ]);
  }, 60_000);
});

describe('signoff doctor', () => {
  it('reports a Slack that rejects the token and an unreachable model server in plain words, and exits 1', async () => {
    const slack = await startFakeSlack();
    const deadPort = await findFreePort();
    try {
      const { code, stdout, stderr } = await runCli(['doctor'], {
        ...env(),
        SLACK_BOT_TOKEN: 'xoxb-not-the-right-token',
        SLACK_SIGNING_SECRET: 'signing-secret-for-the-test',
        SLACK_API_URL: slack.apiUrl,
        OPENAI_BASE_URL: `http://127.0.0.1:${deadPort}/v1`,
        OPENAI_API_KEY: 'sk-test-key-that-must-not-show-0123456789',
      });
      expect(code).toBe(1);
      expect(stdout).toContain(`ok    database: Postgres`);
      expect(stdout).toContain(
        'FAIL  slack: Slack rejected SLACK_BOT_TOKEN (invalid_auth): copy the Bot User OAuth Token (xoxb-…) from api.slack.com/apps',
      );
      expect(stdout).toContain(
        `FAIL  model: the model server at http://127.0.0.1:${deadPort}/v1 did not answer (connection refused): start it or unset OPENAI_BASE_URL`,
      );
      expect(stdout).toContain('2 check(s) failed');
      expect(slack.calls.map((c) => [c.method, c.error])).toEqual([['auth.test', 'invalid_auth']]);
      for (const secret of ['xoxb-not-the-right-token', 'signing-secret-for-the-test', 'sk-test-key'])
        expect(stdout + stderr).not.toContain(secret);
    } finally {
      await slack.close();
    }
  }, 60_000);

  it('passes with the right Slack token and a model server that lists models, without echoing a rejected key', async () => {
    const slack = await startFakeSlack();
    const model = await startFakeOpenAI({ apiKey: 'sk-the-right-key-0123456789abcdef' });
    try {
      const base = {
        ...env(),
        SLACK_SIGNING_SECRET: 'signing-secret',
        SLACK_API_URL: slack.apiUrl,
        OPENAI_BASE_URL: model.url,
      };
      const ok = await runCli(['doctor', '--json'], {
        ...base,
        SLACK_BOT_TOKEN: slack.botToken,
        OPENAI_API_KEY: 'sk-the-right-key-0123456789abcdef',
      });
      expect(ok.code).toBe(0);
      expect(JSON.parse(ok.stdout)).toMatchObject({
        ok: true,
        checks: [
          { name: 'database', ok: true },
          { name: 'slack', ok: true, detail: expect.stringContaining('connected as') },
          { name: 'model', ok: true, detail: expect.stringMatching(/answered with \d+ model\(s\)/) },
        ],
      });
      // OpenAI's 401 body quotes the key (masked); doctor reports the status and what to do, not the body.
      const wrongKey = 'sk-a-wrong-key-9876543210fedcba';
      const refused = await runCli(['doctor'], { ...base, SLACK_BOT_TOKEN: slack.botToken, OPENAI_API_KEY: wrongKey });
      expect(refused.code).toBe(1);
      expect(refused.stdout).toContain(`FAIL  model: the model server at ${model.url} rejected OPENAI_API_KEY (401)`);
      expect(refused.stdout + refused.stderr).not.toMatch(/sk-a-wrong|fedcba|Incorrect API key/);
      expect(model.requests.filter((r) => r.path === '/v1/models')).toHaveLength(2);
    } finally {
      await model.close();
      await slack.close();
    }
  }, 60_000);
});

describe('signoff doctor on Discord', () => {
  it('names the bot a good DISCORD_TOKEN logs in as, and says where to get one when Discord refuses it', async () => {
    const discord = await startFakeDiscord();
    try {
      const base = { ...env(), DISCORD_API_URL: discord.apiUrl };
      const ok = await runCli(['doctor', '--json'], { ...base, DISCORD_TOKEN: discord.botToken });
      expect(ok.code).toBe(0);
      expect(JSON.parse(ok.stdout).checks[1]).toEqual({
        name: 'discord',
        ok: true,
        detail: `connected as signoff (id ${discord.botUserId})`,
      });
      const refused = await runCli(['doctor'], { ...base, DISCORD_TOKEN: 'not-the-bot-token.discord' });
      expect(refused.code).toBe(1);
      expect(refused.stdout).toContain(
        'FAIL  discord: Discord rejected DISCORD_TOKEN (401 Unauthorized): copy the bot token from discord.com/developers/applications',
      );
      expect(refused.stdout + refused.stderr).not.toContain('not-the-bot-token');
      const asked = discord.requests.filter((r) => r.path.endsWith('/users/@me')).map((r) => r.status);
      expect(asked).toEqual([200, 401]);
    } finally {
      await discord.close();
    }
  }, 60_000);
});

describe('signoff flows and usage errors', () => {
  it('flows list --json lists the flows main loads, with their versions', async () => {
    const { code, stdout } = await runCli(['flows', 'list', '--json'], env());
    expect(code).toBe(0);
    const flows = JSON.parse(stdout) as { id: string; version: string }[];
    expect(flows.map((f) => f.id)).toEqual(['lead-qualification', 'refund-approval', 'ticket-triage', 'weekly-digest']);
    expect(flows.every((f) => /^[0-9a-f]{12,}$/.test(f.version))).toBe(true);
  });

  it('an unknown command exits 2 with a usage line', async () => {
    const { code, stdout, stderr } = await runCli(['frobnicate'], env());
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain("unknown command 'frobnicate'");
    expect(stderr).toContain('usage: signoff [options] [command]');
  });

  it('a missing argument exits 2 with the usage line of that command', async () => {
    const { code, stderr } = await runCli(['runs', 'show'], env());
    expect(code).toBe(2);
    expect(stderr).toContain("missing required argument 'id'");
    expect(stderr).toContain('usage: signoff runs show [options] <id>');
  });

  it('a flow that does not exist exits 1 and names the known ones', async () => {
    const { code, stderr } = await runCli(['flows', 'show', 'nope'], env());
    expect(code).toBe(1);
    expect(stderr).toContain('no flow "nope"; known flows: lead-qualification, refund-approval, ticket-triage');
  });
});
