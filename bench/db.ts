/**
 * The Postgres server the benchmark runs on: DATABASE_URL when set, otherwise
 * a durable embedded Postgres (fsync on, server defaults) in a temp dir. Owns
 * fresh databases per trial (`DROP DATABASE ... WITH (FORCE)`, `CREATE
 * DATABASE`), the server version, and the optional pgbench INSERT probe.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { startEmbeddedPostgres } from '../src/store/embedded.ts';
import { makeTicket } from './workload.ts';

export interface Server {
  /** URL of the server's `postgres` database (may hold a password: never print it). */
  url: string;
  /** What to print: the URL without password, or "embedded". */
  label: string;
  version: string;
  stop(): Promise<void>;
}

export async function openServer(): Promise<Server> {
  const external = process.env.DATABASE_URL;
  if (external) {
    return { url: external, label: redact(external), version: await serverVersion(external), stop: async () => {} };
  }
  const root = await mkdtemp(path.join(tmpdir(), 'signoff-bench-pg-'));
  await chmod(root, 0o755); // as root, Postgres runs as uid 65534 and must traverse it
  try {
    const pg = await startEmbeddedPostgres({ dataDir: path.join(root, 'pg'), durable: true });
    return {
      url: pg.url,
      label: `embedded Postgres (durable, ${root})`,
      version: await serverVersion(pg.url),
      stop: async () => {
        await pg.stop();
        await rm(root, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await rm(root, { recursive: true, force: true });
    throw err;
  }
}

export function databaseUrl(serverUrl: string, database: string): string {
  const u = new URL(serverUrl);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Drops and recreates `database`; returns its URL. */
export async function freshDatabase(serverUrl: string, database: string): Promise<string> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(database)) throw new Error(`bad database name ${database}`);
  const admin = postgres(databaseUrl(serverUrl, 'postgres'), { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    await admin.unsafe(`CREATE DATABASE "${database}"`);
  } finally {
    await admin.end({ timeout: 5 });
  }
  return databaseUrl(serverUrl, database);
}

export async function dropDatabase(serverUrl: string, database: string): Promise<void> {
  const admin = postgres(databaseUrl(serverUrl, 'postgres'), { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  } finally {
    await admin.end({ timeout: 5 });
  }
}

async function serverVersion(url: string): Promise<string> {
  const sql = postgres(databaseUrl(url, 'postgres'), { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql<{ v: string; fsync: string; sc: string }[]>`
      SELECT current_setting('server_version') AS v, current_setting('fsync') AS fsync,
             current_setting('synchronous_commit') AS sc`;
    return `${row!.v} (fsync=${row!.fsync}, synchronous_commit=${row!.sc})`;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

export function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

export function hasPgbench(): boolean {
  return spawnSync('pgbench', ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * WORKLOAD.md "Physical limit" (a): INSERT of one 1024-byte jsonb row into a
 * bigserial table, one transaction per statement, `clients` clients, -T seconds,
 * simple protocol. Returns TPS, or null when pgbench failed.
 */
export async function pgbenchInsertProbe(serverUrl: string, clients: number, seconds: number): Promise<number | null> {
  const url = await freshDatabase(serverUrl, 'peer_pgbench');
  const dir = await mkdtemp(path.join(tmpdir(), 'signoff-pgbench-'));
  try {
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    await sql`CREATE TABLE probe_insert (id bigserial PRIMARY KEY, doc jsonb NOT NULL)`;
    await sql.end({ timeout: 5 });
    const literal = JSON.stringify(makeTicket(0)).replace(/'/g, "''");
    const script = path.join(dir, 'insert.sql');
    await writeFile(script, `INSERT INTO probe_insert (doc) VALUES ('${literal}'::jsonb);\n`);
    const u = new URL(url);
    const env = { ...process.env, PGPASSWORD: decodeURIComponent(u.password) };
    u.password = '';
    const args = [
      '-n',
      '-M',
      'simple',
      '-c',
      String(clients),
      '-j',
      String(clients > 1 ? 2 : 1),
      '-T',
      String(seconds),
      '-f',
      script,
      u.toString(),
    ];
    const out = await runCapture('pgbench', args, env);
    const m = /tps = ([\d.]+)/.exec(out);
    return m ? Number(m[1]) : null;
  } finally {
    await rm(dir, { recursive: true, force: true });
    await dropDatabase(serverUrl, 'peer_pgbench');
  }
}

function runCapture(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    child.on('error', () => resolve(''));
    child.on('close', () => resolve(out));
  });
}
