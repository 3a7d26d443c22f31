/**
 * The embedded Postgres against the real binaries: persistence across restarts, the
 * private password file, and the two crash cases: a SIGKILLed owner must take its
 * server down (pdeathsig), and a server that outlived its owner anyway must be stopped
 * by the next start while a server with a live owner is left alone.
 * These start their own servers, whatever DATABASE_URL says.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readFile, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { embeddedPasswordPath, startEmbeddedPostgres, type SupervisionEvent } from '../../../src/store/embedded.ts';

const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const CHILD_SCRIPT = path.join(REPO_ROOT, 'test/helpers/embedded-child.ts');
const EXIT_DEADLINE_MS = 15_000;

/** A fresh temp dir that uid 65534 can traverse (the server runs as it when we are root). */
async function makeTempRoot(): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), 'signoff-embedded-test-'));
  await chmod(root, 0o755);
  return root;
}

async function query<T>(url: string, run: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(url, { max: 1, onnotice: () => undefined });
  try {
    return await run(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** Running and not a zombie: this sandbox's PID 1 never reaps orphans, so kill(pid, 0) lies. */
async function isRunning(pid: number): Promise<boolean> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return text !== undefined && text.slice(text.lastIndexOf(')') + 2)[0] !== 'Z';
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = EXIT_DEADLINE_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function readPostmasterPid(dataDir: string): Promise<number> {
  const text = await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8');
  return Number.parseInt(text.split('\n')[0] ?? '', 10);
}

/** Runs test/helpers/embedded-child.ts and resolves once its server is ready. */
async function startChildServer(dataDir: string): Promise<{ child: ChildProcess; pid: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD_SCRIPT, dataDir], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const ready = new Promise<void>((resolve, reject) => {
    lines.once('line', () => resolve());
    child.once('exit', (code) => reject(new Error(`embedded-child exited early (code ${code})`)));
  });
  const timeout = setTimeout(() => child.kill('SIGKILL'), EXIT_DEADLINE_MS * 2);
  try {
    await ready;
  } finally {
    clearTimeout(timeout);
  }
  return { child, pid: await readPostmasterPid(dataDir) };
}

/** Stops a server a failed test left running; checks the command line since pids get reused. */
async function killLeftovers(dataDir: string, pids: number[]): Promise<void> {
  for (const pid of pids) {
    const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (argv.includes(dataDir) && (await isRunning(pid))) process.kill(pid, 'SIGKILL');
  }
}

/**
 * Re-runs a dead owner's server with its exact command line but without pdeathsig: the
 * state a crash leaves when pdeathsig did not fire (an older build, another launcher).
 */
async function launchOrphan(dataDir: string, argv: string[]): Promise<ChildProcess> {
  const dropRoot = process.getuid?.() === 0 ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] : [];
  const [command = '', ...args] = [...dropRoot, ...argv];
  const orphan = spawn(command, args, { cwd: dataDir, stdio: 'ignore', detached: true, env: { LC_ALL: 'C' } });
  try {
    await waitUntil('the orphan is ready', async () => {
      const lines = (await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n');
      return Number(lines[0]) === orphan.pid && lines[7]?.trim() === 'ready';
    });
  } catch (err) {
    orphan.kill('SIGKILL');
    throw err;
  }
  return orphan;
}

describe('embedded Postgres', () => {
  it('keeps rows across a restart on the same data dir, with a 0600 password file', async () => {
    const root = await makeTempRoot();
    const dataDir = path.join(root, 'pg');
    const first = await startEmbeddedPostgres({ dataDir });
    try {
      await query(first.url, async (sql) => {
        await sql`create table notes (body text not null)`;
        await sql`insert into notes (body) values ('kept')`;
      });
    } finally {
      await first.stop();
    }
    const second = await startEmbeddedPostgres({ dataDir });
    try {
      const rows = await query(second.url, (sql) => sql`select body from notes`);
      expect(rows.map((row) => row.body)).toEqual(['kept']);
      const settings = await query(
        second.url,
        (sql) =>
          sql`select current_setting('listen_addresses') as listen, current_setting('unix_socket_directories') as sockets`,
      );
      expect(settings[0]).toEqual({ listen: '127.0.0.1', sockets: '' });
    } finally {
      await second.stop();
    }
    expect((await stat(embeddedPasswordPath(dataDir))).mode & 0o777).toBe(0o600);
    await rm(root, { recursive: true, force: true });
  });

  it('supervised: a server that dies is restarted on its port; one that cannot come back is given up on, with the reason', async () => {
    const root = await makeTempRoot();
    const dataDir = path.join(root, 'pg');
    const events: SupervisionEvent[] = [];
    const db = await startEmbeddedPostgres({ dataDir, onSupervision: (e) => events.push(e) });
    try {
      await query(db.url, (sql) => sql`create table notes (body text)`);
      process.kill(await readPostmasterPid(dataDir), 'SIGKILL');
      await waitUntil('it is back', async () => events.some((e) => e.kind === 'restarted'));
      expect(events[0]).toEqual({ kind: 'exited', outcome: 'signal SIGKILL' });
      expect(await query(db.url, (sql) => sql`select count(*)::int as n from notes`)).toEqual([{ n: 0 }]);
      // Now take the cluster away: every restart fails, and the supervisor says so instead of looping.
      process.kill(await readPostmasterPid(dataDir), 'SIGKILL');
      await rename(dataDir, `${dataDir}-gone`);
      await waitUntil('it gives up', async () => events.some((e) => e.kind === 'gave_up'), 30_000);
      expect(events.at(-1)).toMatchObject({
        kind: 'gave_up',
        message: expect.stringMatching(/could not be restarted after 5 attempts/),
      });
    } finally {
      await db.stop();
    }
    await rm(root, { recursive: true, force: true });
  }, 60_000);

  it('takes the server down when its owner is SIGKILLed, and starts again on that dir', async () => {
    const root = await makeTempRoot();
    const dataDir = path.join(root, 'pg');
    const { child, pid } = await startChildServer(dataDir);
    try {
      expect(await isRunning(pid)).toBe(true);
      child.kill('SIGKILL');
      await waitUntil(`postmaster ${pid} exits`, async () => !(await isRunning(pid)));
      const again = await startEmbeddedPostgres({ dataDir, durable: false });
      try {
        expect(await query(again.url, (sql) => sql`select 1 as one`)).toEqual([{ one: 1 }]);
      } finally {
        await again.stop();
      }
    } finally {
      child.kill('SIGKILL');
      await killLeftovers(dataDir, [pid]);
    }
    await rm(root, { recursive: true, force: true });
  });

  it('stops a server that outlived its owner before starting on its dir', async () => {
    const root = await makeTempRoot();
    const dataDir = path.join(root, 'pg');
    const { child, pid } = await startChildServer(dataDir);
    let orphan: ChildProcess | undefined;
    try {
      const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
      child.kill('SIGKILL');
      await waitUntil(`postmaster ${pid} exits`, async () => !(await isRunning(pid)));
      orphan = await launchOrphan(dataDir, argv);
      const orphanPid = orphan.pid!;
      const server = await startEmbeddedPostgres({ dataDir, durable: false });
      try {
        expect(await isRunning(orphanPid)).toBe(false);
        expect(await readPostmasterPid(dataDir)).not.toBe(orphanPid);
        expect(await query(server.url, (sql) => sql`select 1 as one`)).toEqual([{ one: 1 }]);
      } finally {
        await server.stop();
      }
    } finally {
      child.kill('SIGKILL');
      await killLeftovers(dataDir, [pid, ...(orphan?.pid ? [orphan.pid] : [])]);
    }
    await rm(root, { recursive: true, force: true });
  });

  it('refuses a data dir whose server has a live owner, and leaves that server running', async () => {
    const root = await makeTempRoot();
    const dataDir = path.join(root, 'pg');
    const owner = await startEmbeddedPostgres({ dataDir, durable: false });
    try {
      await expect(startEmbeddedPostgres({ dataDir, durable: false })).rejects.toThrow(/in use by a running Postgres/);
      expect(await query(owner.url, (sql) => sql`select 1 as one`)).toEqual([{ one: 1 }]);
    } finally {
      await owner.stop();
    }
    await rm(root, { recursive: true, force: true });
  });
});
