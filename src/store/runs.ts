/**
 * SQL for runs and their append-only timeline. A transition is committed by one
 * statement (data-modifying CTEs run atomically): the run update is fenced on
 * the version it read (and, for step results and timers, on the claim that
 * produced them); the event row, job and timer changes hang off that update, so
 * a losing writer changes nothing at all. Each event row is hash-chained to the
 * run's previous one (migration 0050): the statement that writes it computes
 * its hash with `run_audit_hash` and moves `runs.audit_head` in the same
 * UPDATE, so the chain costs no extra query (src/store/audit.ts verifies it).
 * Over 300 lines because the three statements that append to a run's chain
 * (insert, commit, note) must stay side by side: they write one chain alike.
 */
import type postgres from 'postgres';
import type { Db } from './client.ts';
import type { JobKind } from './jobs.ts';

export interface JobRow {
  key: string;
  kind: JobKind;
  name: string;
  child_id: string | null;
  input: unknown;
  max_attempts: number;
  lease_ms: number;
}
export interface TimerRow {
  send_id: string;
  event: unknown;
  delay_ms: number;
}

/** The durable work of one transition, passed to Postgres as one JSON parameter. */
export interface WritePlan {
  jobs: JobRow[];
  timers: TimerRow[];
  cancelJobs: string[];
  cancelTimers: string[];
}

export interface EventRow {
  kind: 'event' | 'note';
  type: string;
  event: unknown;
  actor: string | null;
  stateBefore: unknown;
  stateAfter: unknown;
  dedupeKey: string | null;
}

export interface NewRun {
  id: string;
  flow: string;
  flowVersion: string;
  status: string;
  snapshot: unknown;
  input: unknown;
  output: unknown;
  triggerKey: string | null;
  trigger: unknown;
}

export interface RunHead {
  flow: string;
  flow_version: string;
  status: string;
  snapshot: any;
  version: number;
  duplicate: boolean;
}

export interface RunRecord {
  id: string;
  flow: string;
  flow_version: string;
  status: string;
  status_reason: string | null;
  snapshot: any;
  input: unknown;
  output: unknown;
  trigger_key: string | null;
  trigger: any;
  version: number;
  created_at: Date;
  updated_at: Date;
}

export interface TimelineRow {
  seq: number;
  kind: string;
  type: string;
  event: unknown;
  actor: string | null;
  state_before: unknown;
  state_after: unknown;
  at: Date;
}

/** Creates a run and its first transition's work. False when the id or trigger key already exists. */
export async function insertRun(sql: Db, run: NewRun, ev: EventRow, plan: WritePlan, owner: string): Promise<boolean> {
  const rows = await sql`
    WITH p AS (SELECT ${sql.json(plan as any)}::jsonb AS plan),
    e AS (
      SELECT ${ev.type}::text AS type, ${json(sql, ev.event)}::jsonb AS event, ${ev.actor}::text AS actor,
             ${json(sql, ev.stateAfter)}::jsonb AS state_after, now() AS at
    ),
    r AS (
      INSERT INTO runs (id, flow, flow_version, status, snapshot, input, output, trigger_key, trigger, version, audit_head)
      SELECT ${run.id}, ${run.flow}, ${run.flowVersion}, ${run.status}, ${sql.json(run.snapshot as any)},
             ${sql.json(run.input as any)}, ${json(sql, run.output)}, ${run.triggerKey}, ${sql.json(run.trigger as any)}, 1,
             run_audit_hash('', ${run.id}, 1, 'event', e.type, e.event, e.actor, NULL, e.state_after, NULL, NULL, e.at)
      FROM e
      ON CONFLICT DO NOTHING
      RETURNING id, audit_head
    ),
    ev AS (
      INSERT INTO run_events (run_id, seq, kind, type, event, actor, state_before, state_after, dedupe_key, at, prev_hash, hash)
      SELECT r.id, 1, 'event', e.type, e.event, e.actor, NULL, e.state_after, NULL, e.at, '', r.audit_head FROM r, e
    ),
    ${insertJobsAndTimers(sql, run.id, run.flow, owner)}
    SELECT count(*)::int AS n FROM r`;
  return rows[0]!.n === 1;
}

/** The id of the run holding this id or trigger key (after a lost insert race). */
export async function findRunId(sql: Db, id: string, triggerKey: string | null): Promise<string | null> {
  const rows =
    await sql`SELECT id FROM runs WHERE id = ${id} OR (${triggerKey}::text IS NOT NULL AND trigger_key = ${triggerKey}) LIMIT 1`;
  return rows[0]?.id ?? null;
}

/** What an event needs: the run's snapshot and version, and whether `dedupeKey` was already applied. */
export async function readRunHead(sql: Db, runId: string, dedupeKey: string | null): Promise<RunHead | null> {
  const rows = await sql<RunHead[]>`
    SELECT flow, flow_version, status, snapshot, version,
           (${dedupeKey}::text IS NOT NULL AND EXISTS (
              SELECT 1 FROM run_events WHERE run_id = ${runId} AND dedupe_key = ${dedupeKey})) AS duplicate
    FROM runs WHERE id = ${runId}`;
  return rows[0] ?? null;
}

/** `readRunHead` under a row lock, for an event applied inside a caller's transaction. */
export async function lockRunHead(tx: Db, runId: string, dedupeKey: string | null): Promise<RunHead | null> {
  const rows = await tx<RunHead[]>`
    SELECT flow, flow_version, status, snapshot, version,
           (${dedupeKey}::text IS NOT NULL AND EXISTS (
              SELECT 1 FROM run_events WHERE run_id = ${runId} AND dedupe_key = ${dedupeKey})) AS duplicate
    FROM runs WHERE id = ${runId} FOR UPDATE`;
  return rows[0] ?? null;
}

export interface TransitionCommit {
  runId: string;
  flow: string;
  seq: number;
  snapshot: unknown;
  status: string;
  reason: string | null;
  output: unknown;
  event: EventRow;
  plan: WritePlan;
  owner: string;
  /** The step job whose result this is: the commit requires our claim on it, and closes it. */
  job: { key: string; attempt: number; outcome: 'done' | 'failed'; error: unknown } | null;
  /** The timer whose firing this is: the commit requires our claim on it. */
  timerSendId: string | null;
  /** The wait (a review's job row) whose outcome this is: closed as done with the commit. */
  waitKey?: string | null;
}

/** Commits one transition iff the run is still at `seq - 1` (and the claim holds). */
export async function commitTransition(sql: Db, c: TransitionCommit): Promise<boolean> {
  const jobKey = c.job?.key ?? null;
  const rows = await sql`
    WITH p AS (SELECT ${sql.json(c.plan as any)}::jsonb AS plan),
    o AS (SELECT audit_head FROM runs WHERE id = ${c.runId} AND version = ${c.seq - 1} FOR UPDATE),
    e AS (
      SELECT ${c.event.kind}::text AS kind, ${c.event.type}::text AS type, ${json(sql, c.event.event)}::jsonb AS event,
             ${c.event.actor}::text AS actor, ${json(sql, c.event.stateBefore)}::jsonb AS state_before,
             ${json(sql, c.event.stateAfter)}::jsonb AS state_after, ${c.event.dedupeKey}::text AS dedupe_key,
             ${stepCall(sql, c.job)} AS step_call, now() AS at
    ),
    r AS (
      UPDATE runs SET snapshot = ${sql.json(c.snapshot as any)}, status = ${c.status}, status_reason = ${c.reason},
                      output = ${json(sql, c.output)}, version = ${c.seq}, updated_at = now(),
                      audit_head = run_audit_hash(o.audit_head, runs.id, ${c.seq}, e.kind, e.type, e.event, e.actor,
                                                  e.state_before, e.state_after, e.dedupe_key, e.step_call, e.at)
      FROM o, e
      WHERE runs.id = ${c.runId} AND runs.version = ${c.seq - 1}
        AND (${jobKey}::text IS NULL OR EXISTS (
              SELECT 1 FROM jobs WHERE key = ${jobKey} AND status = 'running'
                AND lease_owner = ${c.owner} AND attempts = ${c.job?.attempt ?? 0}))
        AND (${c.timerSendId}::text IS NULL OR EXISTS (
              SELECT 1 FROM timers WHERE run_id = ${c.runId} AND send_id = ${c.timerSendId} AND lease_owner = ${c.owner}))
      RETURNING runs.id, o.audit_head AS prev_hash, runs.audit_head AS hash
    ),
    ev AS (
      INSERT INTO run_events (run_id, seq, kind, type, event, actor, state_before, state_after, dedupe_key, step_call, at,
                              prev_hash, hash)
      SELECT r.id, ${c.seq}, e.kind, e.type, e.event, e.actor, e.state_before, e.state_after, e.dedupe_key, e.step_call, e.at,
             r.prev_hash, r.hash FROM r, e
    ),
    jd AS (
      UPDATE jobs SET status = ${c.job?.outcome ?? 'done'}, lease_owner = NULL, last_error = ${json(sql, c.job?.error)}, updated_at = now()
      WHERE key = ${jobKey} AND EXISTS (SELECT 1 FROM r)
    ),
    wd AS (
      UPDATE jobs SET status = 'done', lease_owner = NULL, updated_at = now()
      WHERE key = ${c.waitKey ?? null} AND status IN ('waiting', 'running') AND EXISTS (SELECT 1 FROM r)
    ),
    jc AS (
      UPDATE jobs SET status = 'cancelled', lease_owner = NULL, updated_at = now()
      WHERE key IN (SELECT jsonb_array_elements_text(plan->'cancelJobs') FROM p)
        AND status IN ('queued', 'running', 'waiting') AND EXISTS (SELECT 1 FROM r)
    ),
    td AS (
      DELETE FROM timers WHERE run_id = ${c.runId}
        AND send_id IN (SELECT jsonb_array_elements_text(plan->'cancelTimers') FROM p) AND EXISTS (SELECT 1 FROM r)
    ),
    ${insertJobsAndTimers(sql, c.runId, c.flow, c.owner)}
    SELECT count(*)::int AS n FROM r`;
  return rows[0]!.n === 1;
}

/** The `ji` and `ti` CTEs: new jobs leased to `owner` (it runs them at once), new timers unclaimed. */
function insertJobsAndTimers(sql: Db, runId: string, flow: string, owner: string) {
  return sql`
    ji AS (
      INSERT INTO jobs (key, run_id, flow, kind, name, child_id, input, status, attempts, max_attempts, lease_ms, due_at, lease_owner)
      SELECT x.key, ${runId}, ${flow}, x.kind, x.name, x.child_id, x.input, 'running', 1, x.max_attempts, x.lease_ms,
             now() + x.lease_ms * interval '1 millisecond', ${owner}
      FROM r, p, jsonb_to_recordset(p.plan->'jobs')
        AS x(key text, kind text, name text, child_id text, input jsonb, max_attempts int, lease_ms int)
    ),
    ti AS (
      INSERT INTO timers (run_id, send_id, event, fire_at, due_at)
      SELECT ${runId}, x.send_id, x.event, now() + x.delay_ms * interval '1 millisecond', now() + x.delay_ms * interval '1 millisecond'
      FROM r, p, jsonb_to_recordset(p.plan->'timers') AS x(send_id text, event jsonb, delay_ms float8)
      ON CONFLICT (run_id, send_id) DO UPDATE
        SET event = excluded.event, fire_at = excluded.fire_at, due_at = excluded.due_at, lease_owner = NULL
    )`;
}

export interface Note {
  type: string;
  data: unknown;
  actor: string | null;
  status?: string;
  reason?: string | null;
}

/**
 * Appends a non-replayed note (retry scheduled, parked, cancelled) and optionally sets the status.
 * A note whose `data.job` names a step job (run.blocked, run.parked) also records that job and its
 * journaled tool calls (`step_call`), so an unknown outcome enters the chain when the run stops on it.
 */
export async function appendNote(sql: Db, runId: string, note: Note): Promise<number | null> {
  const rows = await sql`
    WITH o AS (SELECT version, snapshot->'value' AS state, audit_head FROM runs WHERE id = ${runId} FOR UPDATE),
    e AS (
      SELECT ${note.type}::text AS type, ${json(sql, note.data)}::jsonb AS event, ${note.actor}::text AS actor,
             ${noteStepCall(sql, note)} AS step_call, now() AS at
    ),
    r AS (
      UPDATE runs SET version = o.version + 1, updated_at = now(),
        status = coalesce(${note.status ?? null}::text, runs.status),
        status_reason = CASE WHEN ${note.status ?? null}::text IS NULL THEN runs.status_reason ELSE ${note.reason ?? null} END,
        audit_head = run_audit_hash(o.audit_head, runs.id, o.version + 1, 'note', e.type, e.event, e.actor, o.state, o.state,
                                    NULL, e.step_call, e.at)
      FROM o, e WHERE runs.id = ${runId}
      RETURNING runs.id, runs.version, o.state, o.audit_head AS prev_hash, runs.audit_head AS hash
    )
    INSERT INTO run_events (run_id, seq, kind, type, event, actor, state_before, state_after, step_call, at, prev_hash, hash)
    SELECT r.id, r.version, 'note', e.type, e.event, e.actor, r.state, r.state, e.step_call, e.at, r.prev_hash, r.hash
    FROM r, e
    RETURNING seq`;
  return rows[0]?.seq ?? null;
}

export async function readRun(sql: Db, runId: string): Promise<RunRecord | null> {
  const rows = await sql<RunRecord[]>`SELECT * FROM runs WHERE id = ${runId}`;
  return rows[0] ?? null;
}

export async function readTimeline(sql: Db, runId: string): Promise<TimelineRow[]> {
  return sql<TimelineRow[]>`
    SELECT seq, kind, type, event, actor, state_before, state_after, at
    FROM run_events WHERE run_id = ${runId} ORDER BY seq`;
}

export async function countRunsByStatus(sql: Db, idPrefix: string): Promise<Record<string, number>> {
  const rows = await sql<{ status: string; n: number }[]>`
    SELECT status, count(*)::int AS n FROM runs WHERE id LIKE ${idPrefix.replace(/[\\%_]/g, '\\$&') + '%'} GROUP BY status`;
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

/** Active runs of a flow started on another version: candidates for parking after a deploy. */
export async function listRunsOnOtherVersions(sql: Db, flow: string, version: string) {
  return sql<{ id: string; flow_version: string; snapshot: any }[]>`
    SELECT id, flow_version, snapshot FROM runs
    WHERE flow = ${flow} AND flow_version <> ${version} AND status IN ('running', 'waiting')`;
}

function json(sql: Db, value: unknown) {
  return value === undefined || value === null ? null : sql.json(value as any);
}

/**
 * The immutable record of the step job a commit closes, for its audit row: the
 * job's key (the idempotency key its tools get), name, attempt, outcome, input
 * hash, and its journaled tool calls as they stand now (tool_calls rows change
 * status later, so they are not the record). NULL when no job is closed.
 */
function stepCall(sql: Db, job: TransitionCommit['job']) {
  if (!job) return sql`NULL::jsonb`;
  return stepCallOf(sql, job.key, sql`${job.attempt}::int`, sql`${job.outcome}::text`);
}

/** The same record for a note that closes a step job, named by its `data.job` (run.blocked, run.parked). */
function noteStepCall(sql: Db, note: Note) {
  const key = (note.data as { job?: unknown } | null)?.job;
  if (typeof key !== 'string') return sql`NULL::jsonb`;
  return stepCallOf(sql, key, sql`j.attempts`, sql`j.status`);
}

function stepCallOf(sql: Db, key: string, attempt: postgres.Fragment, outcome: postgres.Fragment) {
  return sql`(
    SELECT jsonb_build_object('job', j.key, 'step', j.name, 'attempt', ${attempt}, 'outcome', ${outcome},
             'inputSha256', encode(sha256(convert_to(coalesce(j.input::text, 'null'), 'UTF8')), 'hex'),
             'toolCalls', (SELECT coalesce(jsonb_agg(jsonb_build_object('attempt', t.attempt, 'tool', t.tool,
                                    'status', t.status, 'startedAt', t.started_at, 'endedAt', t.ended_at) ORDER BY t.attempt), '[]')
                           FROM tool_calls t WHERE t.job_key = j.key))
    FROM jobs j WHERE j.key = ${key})`;
}

/** One line of a tenant's run list. */
export interface RunSummary {
  id: string;
  flow: string;
  status: string;
  status_reason: string | null;
  trigger: any;
  created_at: Date;
  updated_at: Date;
}

/** Most runs one list returns, whatever the caller asks. */
const MAX_LISTED_RUNS = 100;

/**
 * The most recent runs of one tenant (`trigger.tenant`), newest first. Runs
 * started without a tenant are never listed. `runs_tenant_created` serves it.
 */
export async function listRuns(sql: Db, opts: { tenant: string; limit: number }): Promise<RunSummary[]> {
  const limit = Math.max(1, Math.min(MAX_LISTED_RUNS, Math.trunc(opts.limit)));
  return sql<RunSummary[]>`
    SELECT id, flow, status, status_reason, trigger, created_at, updated_at FROM runs
    WHERE trigger->>'tenant' = ${opts.tenant}
    ORDER BY created_at DESC, id DESC LIMIT ${limit}`;
}
