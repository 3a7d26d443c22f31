/**
 * SQL for jobs (invoked steps and declared effects) and timers. Claims use
 * FOR UPDATE SKIP LOCKED and leases on the database clock; every write by a
 * worker is fenced on its claim (lease owner + attempt), so a worker whose
 * lease expired and was re-claimed changes nothing.
 */
import type { Db } from './client.ts';

/**
 * `step`: an invoked step, its result fed to the machine. `effect`: a named action,
 * at least once, result ignored. `review`: opens a wait the run invoked (asks people
 * for a review); it feeds nothing back, the decision is delivered to the run in its
 * own transaction. `system`: chat side effects of reviews (cards, reminders, expiry).
 * A `step` whose code needs a person's answer sleeps as status `waiting`.
 */
export type JobKind = 'step' | 'effect' | 'review' | 'system';

export interface ClaimedJob {
  key: string;
  run_id: string;
  flow: string;
  kind: JobKind;
  name: string;
  child_id: string | null;
  input: unknown;
  attempts: number;
  max_attempts: number;
  recoveries: number;
  lease_ms: number;
}

export interface ClaimedTimer {
  run_id: string;
  send_id: string;
  event: any;
}

/** Claims up to `limit` due jobs: queued ones whose run_at passed, and running ones whose lease expired. */
export async function claimJobs(sql: Db, owner: string, limit: number): Promise<ClaimedJob[]> {
  return sql<ClaimedJob[]>`
    UPDATE jobs j SET status = 'running', lease_owner = ${owner}, attempts = j.attempts + 1,
      recoveries = j.recoveries + CASE WHEN j.status = 'running' THEN 1 ELSE 0 END,
      due_at = now() + j.lease_ms * interval '1 millisecond', updated_at = now()
    FROM (SELECT key FROM jobs WHERE status IN ('queued', 'running') AND due_at <= now()
          ORDER BY due_at LIMIT ${limit} FOR UPDATE SKIP LOCKED) c
    WHERE j.key = c.key
    RETURNING j.key, j.run_id, j.flow, j.kind, j.name, j.child_id, j.input, j.attempts, j.max_attempts, j.recoveries, j.lease_ms`;
}

/** Puts a failed attempt back in the queue after `delayMs`. False if our claim was lost. */
export async function rescheduleJob(
  sql: Db,
  key: string,
  owner: string,
  attempt: number,
  delayMs: number,
  error: unknown,
): Promise<boolean> {
  const rows = await sql`
    UPDATE jobs SET status = 'queued', lease_owner = NULL, last_error = ${sql.json(error as any)},
      due_at = now() + ${delayMs} * interval '1 millisecond', updated_at = now()
    WHERE key = ${key} AND status = 'running' AND lease_owner = ${owner} AND attempts = ${attempt}
    RETURNING key`;
  return rows.length === 1;
}

/**
 * Puts an attempt that hit a rate limit back in the queue after `delayMs`
 * without using up the attempt, at most `maxDeferrals` times per job. False if
 * our claim was lost or the job has used its deferrals (then it counts as a failure).
 */
export async function deferJob(
  sql: Db,
  key: string,
  owner: string,
  attempt: number,
  delayMs: number,
  error: unknown,
  maxDeferrals: number,
): Promise<boolean> {
  const rows = await sql`
    UPDATE jobs SET status = 'queued', lease_owner = NULL, last_error = ${sql.json(error as any)},
      attempts = attempts - 1, deferrals = deferrals + 1,
      due_at = now() + ${delayMs} * interval '1 millisecond', updated_at = now()
    WHERE key = ${key} AND status = 'running' AND lease_owner = ${owner} AND attempts = ${attempt} AND deferrals < ${maxDeferrals}
    RETURNING key`;
  return rows.length === 1;
}

/** Closes an effect job (effects feed nothing back to the machine). False if our claim was lost. */
export async function finishJob(
  sql: Db,
  key: string,
  owner: string,
  attempt: number,
  status: 'done' | 'failed',
  error: unknown,
): Promise<boolean> {
  const rows = await sql`
    UPDATE jobs SET status = ${status}, lease_owner = NULL, last_error = ${error == null ? null : sql.json(error as any)}, updated_at = now()
    WHERE key = ${key} AND status = 'running' AND lease_owner = ${owner} AND attempts = ${attempt}
    RETURNING key`;
  return rows.length === 1;
}

/** A step job that paused for a person: it sleeps, unclaimable, until `resumeWaitingJob`. */
export async function waitJob(sql: Db, key: string, owner: string, attempt: number): Promise<boolean> {
  const rows = await sql`
    UPDATE jobs SET status = 'waiting', lease_owner = NULL, updated_at = now()
    WHERE key = ${key} AND status = 'running' AND lease_owner = ${owner} AND attempts = ${attempt}
    RETURNING key`;
  return rows.length === 1;
}

/** Makes a waiting job claimable now (the person it asked has answered). */
export async function resumeWaitingJob(sql: Db, key: string): Promise<boolean> {
  const rows = await sql`
    UPDATE jobs SET status = 'queued', lease_owner = NULL, due_at = now(), updated_at = now()
    WHERE key = ${key} AND status = 'waiting'
    RETURNING key`;
  return rows.length === 1;
}

export interface NewJob {
  key: string;
  runId: string;
  flow: string;
  kind: JobKind;
  name: string;
  input: unknown;
  delayMs: number;
  maxAttempts: number;
  leaseMs: number;
}

/** Queues jobs due after their delay; a key that exists already is left as it is (idempotent). */
export async function enqueueJobs(sql: Db, jobs: NewJob[]): Promise<number> {
  if (jobs.length === 0) return 0;
  const rows = await sql`
    INSERT INTO jobs (key, run_id, flow, kind, name, input, status, max_attempts, lease_ms, due_at)
    SELECT x.key, x.run_id, x.flow, x.kind, x.name, x.input, 'queued', x.max_attempts, x.lease_ms,
           now() + x.delay_ms * interval '1 millisecond'
    FROM jsonb_to_recordset(${sql.json(
      jobs.map((j) => ({
        key: j.key,
        run_id: j.runId,
        flow: j.flow,
        kind: j.kind,
        name: j.name,
        input: j.input ?? null,
        max_attempts: j.maxAttempts,
        lease_ms: j.leaseMs,
        delay_ms: j.delayMs,
      })) as any,
    )}) AS x(key text, run_id text, flow text, kind text, name text, input jsonb, max_attempts int, lease_ms int, delay_ms float8)
    ON CONFLICT (key) DO NOTHING
    RETURNING key`;
  if (rows.length > 0) await notifyWorkers(sql, 'jobs');
  return rows.length;
}

/**
 * Tells every worker (this process's too: its listener has its own connection)
 * that work was queued. Inside a transaction Postgres delivers it on COMMIT and
 * drops it on rollback, so a worker is never woken for work it cannot see yet,
 * and never left asleep for work that committed. The channel is the one
 * `wakeChannel(schema)` names, built from the schema the client searches.
 */
export async function notifyWorkers(sql: Db, why: string): Promise<void> {
  await sql`SELECT pg_notify('signoff_wake_' || current_schema(), ${why})`;
}

/** Cancels queued (not yet started) jobs by key: reminders of a review that was decided. */
export async function cancelQueuedJobs(sql: Db, keys: string[]): Promise<void> {
  if (keys.length === 0) return;
  await sql`UPDATE jobs SET status = 'cancelled', updated_at = now()
            WHERE key = ANY(${sql.array(keys)}::text[]) AND status = 'queued'`;
}

/** Marks a job whose step is no longer current (its state was left) as cancelled. */
export async function cancelStaleJob(sql: Db, key: string, owner: string): Promise<void> {
  await sql`UPDATE jobs SET status = 'cancelled', lease_owner = NULL, updated_at = now()
            WHERE key = ${key} AND lease_owner = ${owner} AND status = 'running'`;
}

/** Whether `owner` still holds its claim on a job attempt (false once its lease expired and another worker took it). */
export async function holdsJob(sql: Db, key: string, owner: string, attempt: number): Promise<boolean> {
  const rows =
    await sql`SELECT 1 FROM jobs WHERE key = ${key} AND status = 'running' AND lease_owner = ${owner} AND attempts = ${attempt}`;
  return rows.length === 1;
}

/** Whether `owner` still holds its claim on a timer (false once another worker re-claimed or fired it). */
export async function holdsTimer(sql: Db, runId: string, sendId: string, owner: string): Promise<boolean> {
  const rows =
    await sql`SELECT 1 FROM timers WHERE run_id = ${runId} AND send_id = ${sendId} AND lease_owner = ${owner}`;
  return rows.length === 1;
}

/** Shutdown: hands our unfinished jobs back, claimable at once, without counting the attempt. */
export async function releaseJobs(sql: Db, owner: string, keys: string[]): Promise<number> {
  if (keys.length === 0) return 0;
  const rows = await sql`
    UPDATE jobs SET status = 'queued', lease_owner = NULL, attempts = greatest(attempts - 1, 0), due_at = now(), updated_at = now()
    WHERE key = ANY(${sql.array(keys)}::text[]) AND lease_owner = ${owner} AND status = 'running'
    RETURNING key`;
  return rows.length;
}

/** Operator retry: the failed step job of a run goes back to the queue with fresh counters. */
export async function requeueFailedJob(sql: Db, runId: string, key: string): Promise<boolean> {
  const rows = await sql`
    UPDATE jobs SET status = 'queued', attempts = 0, recoveries = 0, lease_owner = NULL, due_at = now(), updated_at = now()
    WHERE key = ${key} AND run_id = ${runId} AND status IN ('failed', 'running', 'queued')
    RETURNING key`;
  return rows.length === 1;
}

/** Cancels every open job and timer of a run (run cancelled). */
export async function cancelRunWork(sql: Db, runId: string): Promise<void> {
  await sql`UPDATE jobs SET status = 'cancelled', lease_owner = NULL, updated_at = now()
            WHERE run_id = ${runId} AND status IN ('queued', 'running', 'waiting')`;
  await sql`DELETE FROM timers WHERE run_id = ${runId}`;
}

/** Claims due timers for `leaseMs`; a claim that is never committed becomes due again. */
export async function claimTimers(sql: Db, owner: string, limit: number, leaseMs: number): Promise<ClaimedTimer[]> {
  return sql<ClaimedTimer[]>`
    UPDATE timers t SET lease_owner = ${owner}, due_at = now() + ${leaseMs} * interval '1 millisecond'
    FROM (SELECT run_id, send_id FROM timers WHERE due_at <= now()
          ORDER BY due_at LIMIT ${limit} FOR UPDATE SKIP LOCKED) c
    WHERE t.run_id = c.run_id AND t.send_id = c.send_id
    RETURNING t.run_id, t.send_id, t.event`;
}

/** Drops a claimed timer whose event the run no longer accepts. */
export async function dropTimer(sql: Db, runId: string, sendId: string, owner: string): Promise<void> {
  await sql`DELETE FROM timers WHERE run_id = ${runId} AND send_id = ${sendId} AND lease_owner = ${owner}`;
}

/** Milliseconds until the earliest job or timer becomes due (null when none), for the poll loop. */
export async function msUntilNextDue(sql: Db): Promise<number | null> {
  const rows = await sql<{ ms: number | null }[]>`
    SELECT extract(epoch FROM (least(
      (SELECT min(due_at) FROM jobs WHERE status IN ('queued', 'running')),
      (SELECT min(due_at) FROM timers)) - now())) * 1000 AS ms`;
  const ms = rows[0]?.ms;
  return ms == null ? null : Math.max(0, Number(ms));
}
