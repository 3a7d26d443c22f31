/**
 * `npm start` on a fresh machine: the bot as a child process, with no
 * DATABASE_URL, starts its own embedded Postgres in the data dir, answers
 * /healthz and /readyz, and on SIGTERM shuts down cleanly (exit 0, database stopped).
 * It restarts that Postgres when it dies, binds its port before it claims any
 * work, and refuses settings that would expose the web chat (issue 16).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import postgres from 'postgres';
import ticketTriage from '../../flows/ticket-triage.flow.ts';
import { Engine } from '../../src/engine/engine.ts';
import { useTestDb } from '../helpers/db.ts';
import { afterAll, describe, expect, it } from 'vitest';
import { until } from '../contract/chat-port.contract.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const db = useTestDb();
const children: ChildProcess[] = [];
const dirs: string[] = [];

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

function startBot(env: Record<string, string>): { child: ChildProcess; running: Promise<string>; lines: string[] } {
  const { DATABASE_URL: _ignored, ...base } = process.env;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: { ...base, PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(child);
  const lines: string[] = [];
  const running = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stderr! }).on('line', (line) => {
      lines.push(line);
      const msg = JSON.parse(line.startsWith('{') ? line : '{}') as { msg?: string; url?: string };
      if (msg.msg === 'signoff is running') resolve(msg.url!);
    });
    child.once('exit', (code) => reject(new Error(`bot exited with ${code}:\n${lines.join('\n')}`)));
    setTimeout(() => reject(new Error(`bot did not start in 45 s:\n${lines.join('\n')}`)), 45_000);
  });
  return { child, running, lines };
}

describe('npm start', () => {
  it('runs on an embedded Postgres, answers /healthz and /readyz, and stops cleanly on SIGTERM', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'signoff-e2e-'));
    dirs.push(dataDir);
    await chmod(dataDir, 0o755);
    const { child, running } = startBot({ SIGNOFF_DATA_DIR: dataDir });
    const url = await running;
    const health = await fetch(`${url}/healthz`);
    expect([health.status, await health.json()]).toEqual([200, { ok: true }]);
    const ready = await fetch(`${url}/readyz`);
    expect([ready.status, await ready.json()]).toEqual([
      200,
      { ok: true, checks: { database: 'up', migrations: 'current', chat: 'console connected', engine: 'running' } },
    ]);
    const missing = await fetch(`${url}/nope`);
    expect([missing.status, await missing.text()]).toEqual([404, '{"error":"not found"}']);

    const pid = Number((await readFile(join(dataDir, 'pg', 'postmaster.pid'), 'utf8')).split('\n')[0]);
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    expect(code).toBe(0);
    expect(isAlive(pid)).toBe(false);
  }, 60_000);

  it('runs ticket-triage end to end with no model key: the offline model drafts, the card says so', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'signoff-e2e-'));
    dirs.push(dataDir);
    await chmod(dataDir, 0o755);
    const { child, running } = startBot({
      SIGNOFF_DATA_DIR: dataDir,
      OPENAI_API_KEY: '',
      OPENAI_BASE_URL: '',
      ZENDESK_URL: '',
    });
    const url = await running;
    const post = async (path: string, body: Record<string, unknown>) => {
      const res = await fetch(`${url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...body, deliveryId: randomUUID() }),
      });
      expect(res.status).toBe(200);
      return ((await res.json()) as { reply: { kind: string; text?: string } }).reply;
    };
    const started = await post('/api/command', {
      user: 'alice',
      channel: 'support',
      text: 'run ticket-triage subject="Charged twice" body="My card was billed twice this month" customer="ACME" ticketId=4242',
    });
    expect(JSON.stringify(started)).toMatch(/started/i);
    type Card = {
      kind: string;
      ref: string;
      card: {
        status: { kind: string };
        reviewRef: string;
        version: number;
        costLabel: string | null;
        fields: { label: string; value: string }[];
        body: { text: string };
      };
    };
    const cardNow = async () => {
      const state = (await (await fetch(`${url}/api/state`)).json()) as { messages: Card[] };
      return state.messages.find((m) => m.kind === 'card');
    };
    let card = await until('the review card', cardNow, 30_000);
    expect(card.card.fields.find((f) => f.label === 'Drafted by')?.value).toMatch(/offline model/);
    expect(card.card.costLabel).toMatch(/tokens · offline model/);
    expect(card.card.body.text).toContain('Charged twice');
    const approved = await post('/api/action', {
      user: 'bob',
      channel: 'support',
      messageRef: card.ref,
      reviewRef: card.card.reviewRef,
      action: 'approve',
      version: card.card.version,
    });
    expect(approved.kind).toBe('ok');
    card = await until(
      'the approved card',
      async () => ((await cardNow())?.card.status.kind === 'approved' ? cardNow() : undefined),
      30_000,
    );
    expect(card.card.status.kind).toBe('approved');
    child.kill('SIGTERM');
    expect(await new Promise<number | null>((r) => child.once('exit', (c) => r(c)))).toBe(0);
  }, 90_000);

  it('restarts its embedded Postgres after a SIGKILL, and a pending review still decides once', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'signoff-e2e-'));
    dirs.push(dataDir);
    await chmod(dataDir, 0o755);
    const { child, running, lines } = startBot({
      SIGNOFF_DATA_DIR: dataDir,
      OPENAI_API_KEY: '',
      OPENAI_BASE_URL: '',
      ZENDESK_URL: '',
    });
    const url = await running;
    const post = (path: string, body: Record<string, unknown>) =>
      fetch(`${url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...body, deliveryId: randomUUID() }),
      });
    type Card = {
      kind: string;
      ref: string;
      card: { status: { kind: string }; reviewRef: string; version: number; runId: string };
    };
    const cardNow = async () =>
      ((await (await fetch(`${url}/api/state`)).json()) as { messages: Card[] }).messages.find(
        (m) => m.kind === 'card',
      );
    expect(
      (
        await post('/api/command', {
          user: 'alice',
          channel: 'support',
          text: 'run ticket-triage subject="Kill" body="b" customer="ACME" ticketId=7',
        })
      ).status,
    ).toBe(200);
    const card = await until('the review card', cardNow, 30_000);

    const pgDir = join(dataDir, 'pg');
    const pid = Number((await readFile(join(pgDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
    process.kill(pid, 'SIGKILL');
    await until(
      'the log line saying the database exited',
      async () => lines.some((l) => l.includes('embedded Postgres exited')),
      10_000,
    );
    await until('the database back', async () => lines.some((l) => l.includes('embedded Postgres is back')), 30_000);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const clicked = await until(
      'an approval accepted',
      async () => {
        const res = await post('/api/action', {
          user: 'bob',
          channel: 'support',
          messageRef: card.ref,
          reviewRef: card.card.reviewRef,
          action: 'approve',
          version: card.card.version,
        });
        return res.status === 200 ? ((await res.json()) as { reply: { kind: string } }).reply : undefined;
      },
      15_000,
    );
    expect(clicked.kind).toBe('ok');
    await until('the approved card', async () => (await cardNow())?.card.status.kind === 'approved', 30_000);

    const password = (await readFile(`${pgDir}.password`, 'utf8')).trim();
    const port = Number((await readFile(join(pgDir, 'postmaster.pid'), 'utf8')).split('\n')[3]);
    const sql = postgres(`postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`, {
      max: 1,
      onnotice: () => {},
    });
    try {
      const decided =
        await sql`SELECT status, count(*)::int AS n FROM signoff.reviews WHERE run_id = ${card.card.runId} GROUP BY status`;
      expect(decided.map((r) => [r.status, r.n])).toEqual([['approved', 1]]);
      const audit = await sql`SELECT count(*)::int AS n FROM signoff.review_audit
        WHERE run_id = ${card.card.runId} AND action = 'approve' AND outcome = 'accepted'`;
      expect(audit[0]!.n).toBe(1);
    } finally {
      await sql.end({ timeout: 1 });
    }
    child.kill('SIGTERM');
    expect(await new Promise<number | null>((r) => child.once('exit', (c) => r(c)))).toBe(0);
  }, 120_000);

  it('a second instance on a busy port claims no work and exits non-zero', async () => {
    // Work waiting in the database. startRun leases a run's first job to the process that starts it (and this
    // engine, never started, lets it fail for want of a model); once settled, each job is put back as claimable.
    const engine = new Engine({ sql: db.sql, schema: db.schema, flows: [ticketTriage] });
    const input = { subject: 'Queued', body: 'b', customer: 'ACME', ticketId: '1' };
    const trigger = { source: 'console', actor: 'alice', channel: 'support', tenant: 'local' };
    for (let i = 0; i < 5; i++) await engine.startRun('ticket-triage', input, { trigger });
    await until(
      'the starter to let go',
      async () => (await db.sql`SELECT 1 FROM jobs WHERE status = 'running'`).length === 0,
    );
    await db.sql`UPDATE jobs SET status = 'queued', attempts = 0, lease_owner = NULL, last_error = NULL, due_at = now()`;
    const jobsNow = () => db.sql`SELECT key, status, attempts, lease_owner FROM jobs ORDER BY key`;
    const before = await jobsNow();
    expect(before.map((j) => [j.status, j.attempts, j.lease_owner])).toEqual(Array(5).fill(['queued', 0, null]));
    const busy = createServer().listen(0, '127.0.0.1');
    await once(busy, 'listening');
    try {
      const port = (busy.address() as AddressInfo).port;
      const { child, running } = startBot({
        DATABASE_URL: db.url,
        SIGNOFF_SCHEMA: db.schema,
        PORT: String(port),
        WORKER_POLL_MS: '50',
      });
      await expect(running).rejects.toThrow(new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use`));
      expect(child.exitCode).toBe(1);
      expect(await jobsNow()).toEqual(before);
    } finally {
      busy.close();
    }
  });

  it('refuses to put the web chat beyond loopback without sign-in, and says why', async () => {
    const { child, running } = startBot({ HOST: '0.0.0.0' });
    await expect(running).rejects.toThrow(
      /HOST=0\.0\.0\.0 would put the web chat on the network with no sign-in.*WEB_CHAT_AUTH=invite/s,
    );
    expect(child.exitCode).toBe(1);
  });

  it('refuses bad settings with one message naming each', async () => {
    const { running } = startBot({ PORT: 'x', LOG_LEVEL: 'loud' });
    await expect(running).rejects.toThrow(/PORT must be.*\n.*LOG_LEVEL must be/s);
  });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
