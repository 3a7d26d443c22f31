/**
 * All configuration, read once. `readConfig(env)` checks every variable,
 * reports every problem in one message that says how to fix it, and returns a
 * frozen object; nothing else in signoff reads process.env. Each variable is
 * listed with a one-line comment in .env.example.
 */
import { resolve } from 'node:path';
import { SignoffError } from './errors.ts';
import { SCHEMA_NAME } from './store/client.ts';
import type { LogLevel } from './ops/log.ts';

export interface Config {
  /** Postgres to use; when absent signoff runs an embedded server in `dataDir/pg`. */
  databaseUrl: string | null;
  /** Where the embedded server (and other local state) lives. Default `.data`. */
  dataDir: string;
  /** Schema holding signoff's tables. Default `signoff`. */
  schema: string;
  /** Connection pool size. Default 10. */
  poolSize: number;
  /** HTTP port for the web chat, webhooks and /healthz. Default 3000. */
  port: number;
  /** Interface to listen on. Default 127.0.0.1 (set 0.0.0.0 behind a proxy). */
  host: string;
  logLevel: LogLevel;
  /** Folder of `<id>.flow.ts` files. Default `flows`. */
  flowsDir: string;
  /** Steps and effects one process runs at once. Default 100. */
  workerConcurrency: number;
  /** Fallback poll for due work when no NOTIFY arrives. Default 5 000 ms. */
  workerPollMs: number;
  /** How long SIGTERM waits for in-flight steps before handing them back. Default 10 000 ms. */
  shutdownGraceMs: number;
  /** Named engine crash points (tests only). */
  crashpoints: ReadonlySet<string>;
}

type Env = Record<string, string | undefined>;

const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

export function readConfig(env: Env = process.env): Readonly<Config> {
  const problems: string[] = [];
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${name} must be a whole number from ${min} to ${max} (got "${raw}")`);
      return fallback;
    }
    return n;
  };
  const config: Config = {
    databaseUrl: readDatabaseUrl(env, problems),
    dataDir: resolve(env.SIGNOFF_DATA_DIR || '.data'),
    schema: readSchema(env, problems),
    poolSize: int('DB_POOL_SIZE', 10, 1, 200),
    port: int('PORT', 3000, 0, 65535),
    host: env.HOST || '127.0.0.1',
    logLevel: readLogLevel(env, problems),
    flowsDir: resolve(env.SIGNOFF_FLOWS_DIR || 'flows'),
    workerConcurrency: int('WORKER_CONCURRENCY', 100, 1, 10_000),
    workerPollMs: int('WORKER_POLL_MS', 5_000, 50, 600_000),
    shutdownGraceMs: int('SHUTDOWN_GRACE_MS', 10_000, 0, 600_000),
    crashpoints: new Set((env.SIGNOFF_CRASHPOINTS ?? '').split(',').map((s) => s.trim()).filter(Boolean)),
  };
  if (problems.length > 0) {
    throw new SignoffError('config_invalid', `signoff cannot start; fix these settings (see .env.example):\n- ${problems.join('\n- ')}`);
  }
  return Object.freeze(config);
}

function readDatabaseUrl(env: Env, problems: string[]): string | null {
  const url = env.DATABASE_URL;
  if (!url) return null;
  if (!/^postgres(ql)?:\/\//.test(url)) {
    problems.push('DATABASE_URL must start with postgres:// or postgresql:// (unset it to use the embedded database)');
  }
  return url;
}

function readSchema(env: Env, problems: string[]): string {
  const schema = env.SIGNOFF_SCHEMA || 'signoff';
  if (!SCHEMA_NAME.test(schema)) {
    problems.push(`SIGNOFF_SCHEMA must be lower-case letters, digits and _ (got "${schema}")`);
  }
  return schema;
}

function readLogLevel(env: Env, problems: string[]): LogLevel {
  const level = (env.LOG_LEVEL || 'info') as LogLevel;
  if (!LOG_LEVELS.includes(level)) problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got "${env.LOG_LEVEL}")`);
  return LOG_LEVELS.includes(level) ? level : 'info';
}

/** The URL with its password replaced, for logs. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}
