/**
 * The health probes (docs/operations.md, "Health probes"):
 * - GET /healthz, alive: the process answers. It touches nothing else, so a
 *   database outage never gets a healthy process restarted by its orchestrator.
 * - GET /readyz, ready to take traffic: every ReadinessCheck passes within
 *   CHECK_TIMEOUT_MS: the database answers, every migration file is applied, the
 *   chat adapter is connected, the engine's workers run. 503 otherwise, with a body naming what is not
 *   ready, in a few words and no internals (no error text, host or SQL).
 * Adapters report their state through `ChatPort.isReady` (src/chat/port.ts), so
 * this module needs nothing from them.
 */
import type { ServerResponse } from 'node:http';
import type { Sql } from '../store/client.ts';
import { pendingMigrations } from '../store/migrate.ts';

/** One thing /readyz waits for. */
export interface ReadinessCheck {
  /** Its key in /readyz's body, e.g. `database`, `chat`. */
  name: string;
  /** Its state: `ready`, and a word or two for the body (`up`, `missing 0040_schedules.sql`). */
  check(): Promise<{ isReady: boolean; state: string }>;
}

/**
 * How long /readyz waits for each check. A stalled database or network never
 * answers and never errors, so without this a probe (and the web chat's live dot)
 * would hang.
 */
export const CHECK_TIMEOUT_MS = 1_500;

/** `work`'s value, or `late` when it has not settled within `timeoutMs` (or failed). */
async function within<T>(work: Promise<T>, timeoutMs: number, late: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((resolve) => (timer = setTimeout(() => resolve(late), timeoutMs)));
  try {
    return await Promise.race([work.catch(() => late), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Whether the database answers `SELECT 1` within `timeoutMs`. */
export async function isDatabaseUp(sql: Sql, timeoutMs = CHECK_TIMEOUT_MS): Promise<boolean> {
  return within(
    sql`SELECT 1`.then(() => true),
    timeoutMs,
    false,
  );
}

export function databaseCheck(sql: Sql): ReadinessCheck {
  return {
    name: 'database',
    check: async () => ((await isDatabaseUp(sql)) ? { isReady: true, state: 'up' } : { isReady: false, state: 'down' }),
  };
}

/** Every file in src/store/migrations is recorded as applied in `schema`. */
export function migrationsCheck(sql: Sql, schema: string): ReadinessCheck {
  return {
    name: 'migrations',
    check: async () => {
      const pending = await pendingMigrations(sql, schema);
      return pending.length === 0
        ? { isReady: true, state: 'current' }
        : { isReady: false, state: `missing ${pending.join(', ')}` };
    },
  };
}

/** The chat adapter: `isReady` is the port's own answer (Socket Mode or gateway connected, routes serving). */
export function chatCheck(platform: string, isReady: () => boolean): ReadinessCheck {
  return {
    name: 'chat',
    check: async () =>
      isReady()
        ? { isReady: true, state: `${platform} connected` }
        : { isReady: false, state: `${platform} not connected` },
  };
}

/** The engine's workers: `running` from the end of startup until shutdown begins (main.ts says when). */
export function engineCheck(isRunning: () => boolean): ReadinessCheck {
  return {
    name: 'engine',
    check: async () => (isRunning() ? { isReady: true, state: 'running' } : { isReady: false, state: 'not running' }),
  };
}

/** Runs every check at once, each within CHECK_TIMEOUT_MS (a check that fails or hangs is `unknown`). */
export async function readiness(
  checks: readonly ReadinessCheck[],
  timeoutMs = CHECK_TIMEOUT_MS,
): Promise<{ ok: boolean; checks: Record<string, string>; notReady: string[] }> {
  const unknown = { isReady: false, state: 'unknown' };
  const results = await Promise.all(checks.map((c) => within(c.check(), timeoutMs, unknown)));
  const notReady = checks.filter((_, i) => !results[i]!.isReady).map((c) => c.name);
  return {
    ok: notReady.length === 0,
    checks: Object.fromEntries(checks.map((c, i) => [c.name, results[i]!.state])),
    notReady,
  };
}

/** The probes' answers; the caller routes GET /healthz and GET /readyz here. */
export async function answerProbe(
  path: '/healthz' | '/readyz',
  checks: readonly ReadinessCheck[],
  send: (res: ServerResponse, status: number, body: unknown) => void,
  res: ServerResponse,
): Promise<void> {
  if (path === '/healthz') return send(res, 200, { ok: true });
  const ready = await readiness(checks);
  send(res, ready.ok ? 200 : 503, ready.ok ? { ok: true, checks: ready.checks } : ready);
}
