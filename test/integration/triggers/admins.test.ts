/**
 * SIGNOFF_ADMINS reaches the commands: the bot as a child process (src/main.ts,
 * the web chat, the offline model) on this file's schema, with dave as admin.
 * alice starts ticket-triage; carol may not touch her run and changes nothing;
 * dave may re-post its card, gets past the permission check on retry (the
 * engine then refuses: the run has not failed), and cancels it. Who may act is
 * unit-tested in commands.test.ts; this shows the setting is wired end to end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../../contract/chat-port.contract.ts';
import { useTestDb } from '../../helpers/db.ts';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const db = useTestDb();
let bot: ChildProcess | undefined;
let url = '';

/** The bot on the test schema; resolves with its URL once it logged that it runs. */
function startBot(env: Record<string, string>): Promise<string> {
  // Nothing from the developer's shell may switch on Slack, a real model or a real helpdesk.
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(SLACK_|OPENAI_|ZENDESK_|SIGNOFF_)/.test(k)),
  );
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: { ...base, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  bot = child;
  return new Promise<string>((resolve, reject) => {
    const lines: string[] = [];
    createInterface({ input: child.stderr! }).on('line', (line) => {
      lines.push(line);
      const msg = JSON.parse(line.startsWith('{') ? line : '{}') as { msg?: string; url?: string };
      if (msg.msg === 'signoff is running') resolve(msg.url!);
    });
    child.once('exit', (code) => reject(new Error(`bot exited with ${code}:\n${lines.join('\n')}`)));
    setTimeout(() => reject(new Error(`bot did not start in 45 s:\n${lines.join('\n')}`)), 45_000);
  });
}

/** `/signoff <text>` typed by `user` in #support; the reply's text. */
async function command(user: string, text: string): Promise<string> {
  const res = await fetch(`${url}/api/command`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user, channel: 'support', text, deliveryId: randomUUID() }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { reply: { notice: { text: string } } }).reply.notice.text;
}

const runRow = async (runId: string) => (await db.sql`SELECT status, version FROM runs WHERE id = ${runId}`)[0];
const cardPostJobs = async (runId: string) =>
  Number(
    (await db.sql`SELECT count(*)::int AS n FROM jobs WHERE run_id = ${runId} AND name = 'review.post-card'`)[0]!.n,
  );
const hasPendingReview = async (runId: string) =>
  (await db.sql`SELECT 1 FROM reviews WHERE run_id = ${runId} AND status = 'pending'`).length > 0;

beforeAll(async () => {
  url = await startBot({ DATABASE_URL: db.url, SIGNOFF_SCHEMA: db.schema, SIGNOFF_ADMINS: 'dave' });
}, 60_000);

afterAll(async () => {
  if (!bot || bot.exitCode !== null) return;
  const exited = new Promise((r) => bot!.once('exit', r));
  bot.kill('SIGTERM');
  await exited;
});

describe('SIGNOFF_ADMINS', () => {
  it("lets an admin re-post, retry and cancel someone else's run; anyone else is refused and changes nothing", async () => {
    const started = await command(
      'alice',
      'run ticket-triage subject="Charged twice" body="Billed twice" customer=ACME ticketId=4242',
    );
    const runId = /run `([^`]+)`$/.exec(started)?.[1];
    expect(runId, started).toBeTruthy();
    await until(
      'the run to wait for its review',
      async () => (await runRow(runId!))?.status === 'waiting' && hasPendingReview(runId!),
      30_000,
    );
    const before = await runRow(runId!);

    for (const verb of ['cancel', 'retry', 'repost']) {
      expect(await command('carol', `${verb} ${runId}`)).toBe(
        `you can't ${verb} run \`${runId}\`: only its requester or an admin can`,
      );
    }
    expect(await runRow(runId!)).toEqual(before);

    const reposts = await cardPostJobs(runId!);
    expect(await command('dave', `repost ${runId}`)).toBe(
      `<@dave> re-posted the review card of ticket-triage · run \`${runId}\``,
    );
    expect(await cardPostJobs(runId!)).toBe(reposts + 1);
    expect(await command('dave', `retry ${runId}`)).toMatch(/only failed or parked runs can be retried/);
    expect(await command('dave', `cancel ${runId}`)).toBe(`<@dave> cancelled ticket-triage · run \`${runId}\``);
    expect(await runRow(runId!)).toMatchObject({ status: 'cancelled' });
  }, 60_000);
});
