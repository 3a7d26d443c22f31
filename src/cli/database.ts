/**
 * Which Postgres the command line uses: the bot's own. `DATABASE_URL` when it is
 * set; otherwise the embedded server in SIGNOFF_DATA_DIR/pg. A data folder can be
 * served by one postmaster only, so when the bot (or another `signoff` command) is
 * running its server, we connect to that one over 127.0.0.1 with the password the
 * folder keeps; when nobody is, we start the server for the command and stop it
 * after. While a command holds it, `npm start` refuses that folder until the
 * command ends (src/store/embedded.ts will not share a folder whose owner lives).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config.ts';
import { embeddedPasswordPath, startEmbeddedPostgres, type EmbeddedPostgres } from '../store/embedded.ts';

export interface OpenedDatabase {
  /** Contains the password: never print it (redactUrl). */
  url: string;
  /** In words, for `doctor` and `--verbose` lines: which server this is. */
  where: string;
  /** The server we started for this command; null when it was already running or is external. */
  embedded: EmbeddedPostgres | null;
}

export async function openDatabase(config: Config): Promise<OpenedDatabase> {
  if (config.databaseUrl) return { url: config.databaseUrl, where: 'DATABASE_URL', embedded: null };
  const dataDir = join(config.dataDir, 'pg');
  const running = await runningEmbeddedUrl(dataDir);
  if (running) return { url: running, where: `the running embedded Postgres in ${dataDir}`, embedded: null };
  const embedded = await startEmbeddedPostgres({ dataDir });
  return { url: embedded.url, where: `the embedded Postgres in ${dataDir} (started for this command)`, embedded };
}

/** The embedded server someone runs on this folder, read from its lock file (line 4 is the port), or null. */
async function runningEmbeddedUrl(dataDir: string): Promise<string | null> {
  const lock = await readFile(join(dataDir, 'postmaster.pid'), 'utf8').catch(() => null);
  const [pid, , , port] = lock?.split('\n') ?? [];
  if (!pid || !port || !isAlive(Number(pid))) return null;
  const password = (await readFile(embeddedPasswordPath(dataDir), 'utf8')).trim();
  return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${Number(port)}/postgres`;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to another user (Postgres runs as uid 65534 under root).
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
