/**
 * SQL for reviews and their append-only audit (migration 0002). A decision is
 * judged and written under the review row's lock (`lockReview` in a
 * transaction), so the first commit wins and the loser re-judges against what
 * won. Audit rows are hash-chained per review; `verifyAuditChain` recomputes it.
 */
import { createHash } from 'node:crypto';
import type { Db } from './client.ts';

export type ReviewRowStatus = 'pending' | 'approved' | 'rejected' | 'expired' | 'cancelled';

export interface ReviewRow {
  id: string;
  run_id: string;
  flow: string;
  job_key: string;
  name: string;
  tenant: string;
  platform: string;
  channel: string;
  requested_by: string;
  policy: any;
  request: any;
  content: Record<string, string>;
  content_sha256: string;
  version: number;
  previous_content: Record<string, string> | null;
  last_editor: string | null;
  status: ReviewRowStatus;
  decisions: any[];
  delegates: string[];
  is_escalated: boolean;
  reminders_sent: number;
  expires_at: Date | null;
  decided_at: Date | null;
  card_ref: string | null;
  seq: number;
  created_at: Date;
  /** The step job a budget review pauses (null for a flow's own reviews, whose job is `job_key`). */
  resume_job: string | null;
}

export type NewReview = Pick<
  ReviewRow,
  | 'id'
  | 'run_id'
  | 'flow'
  | 'job_key'
  | 'name'
  | 'tenant'
  | 'platform'
  | 'channel'
  | 'requested_by'
  | 'policy'
  | 'request'
  | 'content'
  | 'content_sha256'
> & { expiresInMs: number | null; resume_job?: string | null };

/** Creates the review of a job, or returns the one it already has (the job ran again). */
export async function insertReview(sql: Db, r: NewReview): Promise<ReviewRow> {
  await sql`
    INSERT INTO reviews (id, run_id, flow, job_key, name, tenant, platform, channel, requested_by, policy, request, content, content_sha256, resume_job, expires_at)
    VALUES (${r.id}, ${r.run_id}, ${r.flow}, ${r.job_key}, ${r.name}, ${r.tenant}, ${r.platform}, ${r.channel}, ${r.requested_by},
            ${sql.json(r.policy)}, ${sql.json(r.request)}, ${sql.json(r.content)}, ${r.content_sha256}, ${r.resume_job ?? null},
            CASE WHEN ${r.expiresInMs}::float8 IS NULL THEN NULL ELSE now() + ${r.expiresInMs}::float8 * interval '1 millisecond' END)
    ON CONFLICT (job_key) DO NOTHING`;
  const rows = await sql<ReviewRow[]>`SELECT * FROM reviews WHERE job_key = ${r.job_key}`;
  return rows[0]!;
}

export async function readReview(sql: Db, id: string): Promise<ReviewRow | null> {
  const rows = await sql<ReviewRow[]>`SELECT * FROM reviews WHERE id = ${id}`;
  return rows[0] ?? null;
}

export async function readReviewByJob(sql: Db, jobKey: string): Promise<ReviewRow | null> {
  const rows = await sql<ReviewRow[]>`SELECT * FROM reviews WHERE job_key = ${jobKey}`;
  return rows[0] ?? null;
}

/** Locks a review for a decision; `now` is the database clock (RELIABILITY 43). */
export async function lockReview(tx: Db, id: string): Promise<{ review: ReviewRow; now: Date } | null> {
  const rows = await tx<
    (ReviewRow & { db_now: Date })[]
  >`SELECT *, now() AS db_now FROM reviews WHERE id = ${id} FOR UPDATE`;
  const row = rows[0];
  if (!row) return null;
  const { db_now: now, ...review } = row;
  return { review, now };
}

export type ReviewChange = Partial<
  Pick<
    ReviewRow,
    | 'status'
    | 'decisions'
    | 'content'
    | 'content_sha256'
    | 'version'
    | 'previous_content'
    | 'last_editor'
    | 'delegates'
    | 'is_escalated'
    | 'reminders_sent'
    | 'decided_at'
  >
>;

/** Writes a change to a locked review and returns it with its new `seq`. */
export async function saveReview(tx: Db, current: ReviewRow, change: ReviewChange): Promise<ReviewRow> {
  const next = { ...current, ...change };
  const rows = await tx<{ seq: number }[]>`
    UPDATE reviews SET status = ${next.status}, decisions = ${tx.json(next.decisions)}, content = ${tx.json(next.content)},
      content_sha256 = ${next.content_sha256}, version = ${next.version},
      previous_content = ${next.previous_content === null ? null : tx.json(next.previous_content)},
      last_editor = ${next.last_editor}, delegates = ${tx.json(next.delegates)}, is_escalated = ${next.is_escalated},
      reminders_sent = ${next.reminders_sent}, decided_at = ${next.decided_at}, seq = seq + 1, updated_at = now()
    WHERE id = ${current.id}
    RETURNING seq`;
  return { ...next, seq: rows[0]!.seq };
}

/** Records where the card was posted; returns the review's seq, so the poster knows if it is stale. */
export async function setCardRef(sql: Db, id: string, ref: string): Promise<number> {
  const rows = await sql<{ seq: number }[]>`UPDATE reviews SET card_ref = ${ref} WHERE id = ${id} RETURNING seq`;
  return rows[0]?.seq ?? 0;
}

/** Forgets where the card was posted, so the next post makes a new one (an operator's re-post). */
export async function clearCardRef(tx: Db, id: string): Promise<void> {
  await tx`UPDATE reviews SET card_ref = NULL, seq = seq + 1 WHERE id = ${id}`;
}

export async function pendingReviewsOfRun(sql: Db, runId: string): Promise<ReviewRow[]> {
  return sql<ReviewRow[]>`SELECT * FROM reviews WHERE run_id = ${runId} AND status = 'pending' ORDER BY created_at`;
}

/** Pending reviews whose job is gone (the flow left the state, or the run ended): to be closed. */
export async function listAbandonedReviews(sql: Db, limit: number): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`
    SELECT r.id FROM reviews r JOIN jobs j ON j.key = coalesce(r.resume_job, r.job_key)
    WHERE r.status = 'pending' AND j.status IN ('cancelled', 'done', 'failed')
    LIMIT ${limit}`;
  return rows.map((r) => r.id);
}

export interface AuditEntry {
  reviewId: string;
  runId: string;
  tenant: string;
  actor: string;
  action: string;
  outcome: string;
  version: number;
  contentSha256: string;
  messageRef: string | null;
  deliveryId: string | null;
  detail: unknown;
  /** ISO time, millisecond precision, from the database clock. */
  at: string;
}

export interface AuditRow {
  review_id: string;
  seq: number;
  run_id: string;
  tenant: string;
  actor: string;
  action: string;
  outcome: string;
  version: number;
  content_sha256: string;
  message_ref: string | null;
  delivery_id: string | null;
  detail: unknown;
  at: Date;
  prev_hash: string;
  hash: string;
}

/** Appends an audit row under the review's lock; false when this delivery id was recorded already. */
export async function appendAudit(tx: Db, e: AuditEntry): Promise<boolean> {
  const last = await tx<{ seq: number; hash: string }[]>`
    SELECT seq, hash FROM review_audit WHERE review_id = ${e.reviewId} ORDER BY seq DESC LIMIT 1`;
  const seq = (last[0]?.seq ?? 0) + 1;
  const prevHash = last[0]?.hash ?? '';
  const hash = auditHash(prevHash, { ...e, seq });
  const rows = await tx`
    INSERT INTO review_audit (review_id, seq, run_id, tenant, actor, action, outcome, version, content_sha256,
                              message_ref, delivery_id, detail, at, prev_hash, hash)
    VALUES (${e.reviewId}, ${seq}, ${e.runId}, ${e.tenant}, ${e.actor}, ${e.action}, ${e.outcome}, ${e.version},
            ${e.contentSha256}, ${e.messageRef}, ${e.deliveryId}, ${e.detail == null ? null : tx.json(e.detail as any)},
            ${e.at}, ${prevHash}, ${hash})
    ON CONFLICT (review_id, actor, delivery_id) WHERE delivery_id IS NOT NULL DO NOTHING
    RETURNING seq`;
  return rows.length === 1;
}

/** Whether this person's delivery (a click or submission id) was recorded for this review already. */
export async function hasDelivery(sql: Db, reviewId: string, actor: string, deliveryId: string): Promise<boolean> {
  const rows =
    await sql`SELECT 1 FROM review_audit WHERE review_id = ${reviewId} AND actor = ${actor} AND delivery_id = ${deliveryId}`;
  return rows.length === 1;
}

export async function readAudit(sql: Db, reviewId: string): Promise<AuditRow[]> {
  return sql<AuditRow[]>`SELECT * FROM review_audit WHERE review_id = ${reviewId} ORDER BY seq`;
}

/** Recomputes a review's hash chain; returns the first seq that does not match, or null when intact. */
export async function verifyAuditChain(sql: Db, reviewId: string): Promise<number | null> {
  return (await findAuditBreak(sql, reviewId)).broken?.seq ?? null;
}

/** The first row that breaks a review's chain, and in what way. */
export interface AuditBreak {
  seq: number;
  /** The run the broken row names. */
  runId: string;
  reason: string;
}

/** Walks a review's hash chain: how many rows it read, and the first link that breaks, or null when intact. */
export async function findAuditBreak(
  sql: Db,
  reviewId: string,
): Promise<{ checked: number; broken: AuditBreak | null }> {
  let prevHash = '';
  let checked = 0;
  for (const row of await readAudit(sql, reviewId)) {
    checked++;
    const broken = auditRowBreak(row, checked, prevHash);
    if (broken) return { checked, broken: { seq: row.seq, runId: row.run_id, reason: broken } };
    prevHash = row.hash;
  }
  return { checked, broken: null };
}

/** Why `row` (the `position`-th of its chain) does not follow the row before it, or null. */
function auditRowBreak(row: AuditRow, position: number, prevHash: string): string | null {
  if (row.seq !== position)
    return `row ${position} is missing: the chain goes from seq ${position - 1} to seq ${row.seq} (a row was deleted)`;
  if (row.prev_hash !== prevHash)
    return `its prev_hash is not the hash of seq ${position - 1} (the row before it was replaced, or this one re-linked)`;
  const expected = auditHash(prevHash, {
    reviewId: row.review_id,
    seq: row.seq,
    runId: row.run_id,
    tenant: row.tenant,
    actor: row.actor,
    action: row.action,
    outcome: row.outcome,
    version: row.version,
    contentSha256: row.content_sha256,
    messageRef: row.message_ref,
    deliveryId: row.delivery_id,
    detail: row.detail ?? null,
    at: row.at.toISOString(),
  });
  if (row.hash !== expected)
    return 'its stored fields no longer hash to its hash: the row was changed after it was written';
  return null;
}

function auditHash(prevHash: string, e: AuditEntry & { seq: number }): string {
  const fields = [
    e.reviewId,
    e.seq,
    e.runId,
    e.tenant,
    e.actor,
    e.action,
    e.outcome,
    e.version,
    e.contentSha256,
    e.messageRef,
    e.deliveryId,
    e.detail ?? null,
    new Date(e.at).toISOString(),
  ];
  return createHash('sha256').update(prevHash).update('\n').update(canonicalJson(fields)).digest('hex');
}

/** JSON with object keys sorted at every depth: jsonb does not keep key order, the hash must not care. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (!v || typeof v !== 'object' || Array.isArray(v)) return v;
    return Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  });
}

/**
 * A run's budget reviews so far: the most an approval allowed it to spend
 * (null when none was approved), and who rejected one (then it may spend no more).
 */
export async function budgetDecisions(
  sql: Db,
  runId: string,
): Promise<{ allowedUsd: number | null; rejectedBy: string | null }> {
  const rows = await sql<{ allowed: string | null; rejected_by: string | null }[]>`
    SELECT max((request->>'allowUsd')::numeric) FILTER (WHERE status = 'approved')::text AS allowed,
           (SELECT d->>'reviewer' FROM reviews r2, jsonb_array_elements(r2.decisions) d
             WHERE r2.run_id = ${runId} AND r2.name = ${BUDGET_REVIEW} AND r2.status = 'rejected' AND d->>'decision' = 'reject' LIMIT 1) AS rejected_by
    FROM reviews WHERE run_id = ${runId} AND name = ${BUDGET_REVIEW}`;
  const allowed = rows[0]?.allowed;
  return { allowedUsd: allowed == null ? null : Number(allowed), rejectedBy: rows[0]?.rejected_by ?? null };
}

/** The budget reviews a step job has had: how many, and the one still pending, if any. */
export async function budgetReviewsOf(
  sql: Db,
  resumeJob: string,
): Promise<{ count: number; pending: ReviewRow | null }> {
  const rows = await sql<ReviewRow[]>`SELECT * FROM reviews WHERE resume_job = ${resumeJob} ORDER BY created_at`;
  return { count: rows.length, pending: rows.find((r) => r.status === 'pending') ?? null };
}

/** The name of the review that asks whether a run may spend more than its budget. */
export const BUDGET_REVIEW = '$budget';
