/**
 * Verifies the run audit chain (migration 0050): every run_events row carries
 * `hash`, chained to the previous row of its run through `prev_hash`, and
 * `runs.audit_head` is the hash of the run's last row.
 *
 * What is hashed, exactly (the writer is `run_audit_hash` in 0050, inside the
 * statement that appends the row; this module recomputes it independently):
 *
 *   hash = hex(sha256(utf8(prev_hash + "\n" + C)))      prev_hash of seq 1 is ""
 *   C    = "[" + join(", ", [run_id, seq, kind, type, event, actor, state_before,
 *                             state_after, dedupe_key, step_call, at]) + "]"
 *
 * Text columns are JSON strings (JSON.stringify, which escapes exactly as
 * Postgres does), `seq` a JSON number, NULL `null`, jsonb columns their stored
 * text as Postgres prints it (object keys sorted shorter first then bytewise,
 * `", "` and `": "` separators, numbers as stored: re-serialising a parsed value
 * would print 1e-7 where Postgres prints 0.0000001), and `at` the stored time in
 * UTC with microseconds, `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
 *
 * The walk reads keyset pages (500 rows by default) in (run_id, seq) order, so a
 * database of any size verifies in bounded memory. It names the first broken
 * link: which run, which seq, and whether a row was altered, is missing, or
 * links to the wrong predecessor.
 */
import { createHash } from 'node:crypto';
import { SignoffError } from '../errors.ts';
import type { Db } from './client.ts';

/** Rows per page: small enough for big events, big enough that round trips do not dominate. */
const DEFAULT_PAGE_ROWS = 500;

export interface RunAuditBreak {
  runId: string;
  /** The seq of the first link that does not hold (a string: it may name a missing row). */
  seq: string;
  reason: string;
}

export interface RunAuditVerdict {
  ok: boolean;
  /** Rows whose links held, up to the first break. */
  checked: number;
  broken?: RunAuditBreak;
}

export interface VerifyRunAuditOptions {
  /** Check this run only. Default: every run. */
  runId?: string;
  /** Told the running count of rows checked after each page. */
  onProgress?: (checked: number) => void;
  /** Rows read per query. Default 500. */
  pageRows?: number;
}

/** One run_events row as stored, jsonb columns as Postgres prints them, with its run's head. */
interface StoredRow {
  run_id: string;
  seq: number;
  kind: string;
  type: string;
  event: string | null;
  actor: string | null;
  state_before: string | null;
  state_after: string | null;
  dedupe_key: string | null;
  step_call: string | null;
  at: string;
  prev_hash: string;
  hash: string;
  has_run: boolean;
  audit_head: string | null;
  version: number | null;
}

/** Where the walk is in one run's chain. */
interface ChainCursor {
  runId: string;
  lastSeq: number;
  lastHash: string;
  last: StoredRow;
}

/** Recomputes the run audit chain of one run or of all; the first broken link, if any. */
export async function verifyRunAudit(sql: Db, opts: VerifyRunAuditOptions = {}): Promise<RunAuditVerdict> {
  const pageRows = Math.max(1, Math.trunc(opts.pageRows ?? DEFAULT_PAGE_ROWS));
  let checked = 0;
  let cursor: ChainCursor | null = null;
  for (let page = await readPage(sql, opts.runId, null, pageRows); page.length > 0;) {
    for (const row of page) {
      const broken = (cursor && cursor.runId !== row.run_id ? endOfChain(cursor) : null) ?? checkRow(cursor, row);
      if (broken) return { ok: false, checked, broken };
      cursor = { runId: row.run_id, lastSeq: row.seq, lastHash: row.hash, last: row };
      checked++;
    }
    opts.onProgress?.(checked);
    if (page.length < pageRows) break;
    page = await readPage(sql, opts.runId, cursor, pageRows);
  }
  const broken = (cursor ? endOfChain(cursor) : null) ?? (await headWithoutRows(sql, opts.runId));
  return broken ? { ok: false, checked, broken } : { ok: true, checked };
}

/** Rows a walk will check (every run has one per version), for a progress bar: no count over run_events. */
export async function expectedRunAuditRows(sql: Db, runId?: string): Promise<number> {
  const rows = await sql<{ total: number }[]>`
    SELECT coalesce(sum(version), 0)::float8 AS total FROM runs
    WHERE ${runId === undefined ? sql`audit_head IS NOT NULL` : sql`id = ${runId}`}`;
  return rows[0]?.total ?? 0;
}

/** The hash `run_audit_hash` (migration 0050) gives a stored row. */
export function runAuditHash(prevHash: string, row: Omit<StoredRow, 'prev_hash' | 'hash'>): string {
  const text = (v: string | null) => (v === null ? 'null' : JSON.stringify(v));
  const jsonb = (v: string | null) => v ?? 'null';
  const canonical = [
    text(row.run_id),
    String(row.seq),
    text(row.kind),
    text(row.type),
    jsonb(row.event),
    text(row.actor),
    jsonb(row.state_before),
    jsonb(row.state_after),
    text(row.dedupe_key),
    jsonb(row.step_call),
    text(row.at),
  ].join(', ');
  return createHash('sha256').update(`${prevHash}\n[${canonical}]`, 'utf8').digest('hex');
}

/** The next row's link to `cursor` (null when `row` starts a new run), and its own content. */
function checkRow(cursor: ChainCursor | null, row: StoredRow): RunAuditBreak | null {
  const sameRun = cursor?.runId === row.run_id;
  const expectedSeq = sameRun ? cursor!.lastSeq + 1 : 1;
  const expectedPrev = sameRun ? cursor!.lastHash : '';
  const at = (seq: number, reason: string) => ({ runId: row.run_id, seq: String(seq), reason });
  if (!row.has_run) return at(row.seq, 'its run row is gone: the chain has no head to end at');
  if (row.seq !== expectedSeq) {
    return at(expectedSeq, `row missing: seq ${expectedSeq} is absent (the next row is seq ${row.seq})`);
  }
  if (runAuditHash(row.prev_hash, row) !== row.hash) {
    return at(row.seq, 'content altered: the row does not match its hash');
  }
  if (row.prev_hash !== expectedPrev) {
    const what =
      expectedSeq === 1
        ? 'the first row links to a predecessor'
        : `prev_hash is not the hash of seq ${expectedSeq - 1}`;
    return at(row.seq, `prev link wrong: ${what} (rows reordered, removed or rewritten)`);
  }
  return null;
}

/** The chain's last row must be the run's version, and its hash the run's audit head. */
function endOfChain(c: ChainCursor): RunAuditBreak | null {
  const { last } = c;
  if (last.version !== null && last.version > c.lastSeq) {
    return {
      runId: c.runId,
      seq: String(c.lastSeq + 1),
      reason: `row missing: the run is at version ${last.version} but its chain ends at seq ${c.lastSeq}`,
    };
  }
  if (last.audit_head !== c.lastHash) {
    return {
      runId: c.runId,
      seq: String(c.lastSeq),
      reason:
        "head mismatch: runs.audit_head is not the hash of the run's last row (the head or the tail was rewritten)",
    };
  }
  return null;
}

/** A run whose head names a chain of which no row is left (or, for `runId`, whether it exists at all). */
async function headWithoutRows(sql: Db, runId: string | undefined): Promise<RunAuditBreak | null> {
  const rows = await sql<{ id: string; audit_head: string | null }[]>`
    SELECT id, audit_head FROM runs r
    WHERE ${runId === undefined ? sql`r.audit_head IS NOT NULL` : sql`r.id = ${runId}`}
      AND NOT EXISTS (SELECT 1 FROM run_events e WHERE e.run_id = r.id)
    ORDER BY id LIMIT 1`;
  const run = rows[0];
  if (!run) {
    if (runId !== undefined && (await sql`SELECT 1 FROM runs WHERE id = ${runId}`).length === 0)
      throw new SignoffError('run_not_found', `no run ${runId}`);
    return null;
  }
  if (run.audit_head === null) return null;
  return { runId: run.id, seq: '1', reason: 'row missing: the run has an audit head but no rows' };
}

/** The page after `after` (keyset on the primary key), jsonb as stored text, `at` as 0050 renders it. */
async function readPage(
  sql: Db,
  runId: string | undefined,
  after: ChainCursor | null,
  limit: number,
): Promise<StoredRow[]> {
  const where =
    runId !== undefined
      ? sql`e.run_id = ${runId} AND e.seq > ${after?.lastSeq ?? 0}`
      : after
        ? sql`(e.run_id, e.seq) > (${after.runId}, ${after.lastSeq})`
        : sql`true`;
  return sql<StoredRow[]>`
    SELECT e.run_id, e.seq, e.kind, e.type, e.event::text AS event, e.actor, e.state_before::text AS state_before,
           e.state_after::text AS state_after, e.dedupe_key, e.step_call::text AS step_call,
           to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at, e.prev_hash, e.hash,
           r.id IS NOT NULL AS has_run, r.audit_head, r.version
    FROM run_events e LEFT JOIN runs r ON r.id = e.run_id
    WHERE ${where}
    ORDER BY e.run_id, e.seq LIMIT ${limit}`;
}
