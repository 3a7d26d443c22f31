/**
 * Which Postgres the command line uses with no DATABASE_URL: the embedded one in
 * SIGNOFF_DATA_DIR/pg. With no bot running it starts that server for the command
 * and stops it after; with the bot running it connects to the bot's own server
 * (one data folder, one postmaster) and leaves it as it was.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { until } from '../contract/chat-port.contract.ts';
import { runCli } from '../helpers/cli.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const dirs: string[] = [];
const children: ChildProcess[] = [];

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function dataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'signoff-cli-'));
  await chmod(dir, 0o755); // embedded Postgres runs as uid 65534 under root: it must enter the folder
  dirs.push(dir);
  return dir;
}

/** The pid in the folder's lock file, or null when no server holds it. */
async function postmasterPid(dir: string): Promise<number | null> {
  const lock = await readFile(join(dir, 'pg', 'postmaster.pid'), 'utf8').catch(() => null);
  return lock ? Number(lock.split('\n')[0]) : null;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** `npm start` on `dir` with the web chat; resolves once it logs that it runs. */
function startBot(dir: string): Promise<ChildProcess> {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(DATABASE_URL|SIGNOFF_|SLACK_|DISCORD_|OPENAI_)/.test(k)),
  );
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: { ...env, SIGNOFF_DATA_DIR: dir, PORT: '0', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(child);
  const lines: string[] = [];
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stderr! }).on('line', (line) => {
      lines.push(line);
      if (line.includes('"signoff is running"')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`bot exited with ${code}:\n${lines.join('\n')}`)));
    setTimeout(() => reject(new Error(`bot did not start in 60 s:\n${lines.join('\n')}`)), 60_000);
  });
}

describe('signoff on the embedded database', () => {
  it('with no bot running, starts the embedded server for the command and stops it after', async () => {
    const dir = await dataDir();
    const migrated = await runCli(['migrate', '--json'], { SIGNOFF_DATA_DIR: dir });
    expect(migrated.code).toBe(0);
    expect(JSON.parse(migrated.stdout).applied).toContain('0001_init.sql');
    expect(existsSync(join(dir, 'pg', 'PG_VERSION'))).toBe(true); // the cluster it created and served
    expect(await postmasterPid(dir)).toBeNull();
    const listed = await runCli(['runs', 'list', '--json'], { SIGNOFF_DATA_DIR: dir });
    expect([listed.code, JSON.parse(listed.stdout)]).toEqual([0, []]);
    expect(await postmasterPid(dir)).toBeNull();
  }, 120_000);

  it("with the bot running, uses the bot's own server and leaves it running", async () => {
    const dir = await dataDir();
    const bot = await startBot(dir);
    const pid = await postmasterPid(dir);
    expect(pid).not.toBeNull();
    const doctor = await runCli(['doctor', '--json'], { SIGNOFF_DATA_DIR: dir });
    expect(JSON.parse(doctor.stdout).checks[0]).toEqual({
      name: 'database',
      ok: true,
      detail: expect.stringContaining(`the running embedded Postgres in ${join(dir, 'pg')}`),
    });
    const listed = await runCli(['runs', 'list', '--json'], { SIGNOFF_DATA_DIR: dir });
    expect([listed.code, JSON.parse(listed.stdout)]).toEqual([0, []]);
    expect(await postmasterPid(dir)).toBe(pid);
    expect(isAlive(pid!)).toBe(true);
    bot.kill('SIGTERM');
    await until('the bot gone', async () => bot.exitCode !== null, 30_000);
    expect(bot.exitCode).toBe(0);
    expect(existsSync(join(dir, 'pg', 'postmaster.pid'))).toBe(false);
  }, 150_000);
});
