/**
 * The weekly digest's figures (flows/weekly-digest.flow.ts, docs/schedules.md):
 * one workspace and channel, the 7 days before `endAt` against the 7 before
 * those. One query per section, each returning both weeks at once (`is_this`),
 * each a range scan through an index of migration 0040; no per-row round trips.
 * Numbers come from here only; the model writes words around them.
 */
import type { Db } from './client.ts';

export interface DigestScope {
  tenant: string;
  channel: string;
  /** The end of "this week" (exclusive): the slot time, or now for `/signoff digest`. */
  endAt: Date;
  /** Zone for working hours and days. Default UTC. */
  timezone?: string;
}

/** A figure for this week and the week before. */
export interface Pair {
  this: number;
  prev: number;
}

export interface DigestRows {
  runsByFlow: { flow: string; runs: Pair }[];
  outcomesByFlow: {
    flow: string;
    approved: Pair;
    approvedEdited: Pair;
    rejected: Pair;
    expired: Pair;
    escalated: Pair;
  }[];
  timeToDecision: { flow: string; isThis: boolean; decided: number; medianS: number; p90S: number }[];
  oldestPending: { reviewId: string; runId: string; flow: string; title: string; createdAt: Date; total: number }[];
  people: { actor: string; isThis: boolean; decisions: number; offHours: number }[];
  rejectionReasons: { isThis: boolean; reason: string }[];
  edits: { isThis: boolean; flow: string; original: Record<string, string> | null; approved: Record<string, string> }[];
  refusals: { code: string; isThis: boolean; n: number }[];
  spendByFlow: { flow: string; isThis: boolean; usd: number; calls: number }[];
  /** This week's decisions per local day, by outcome, with the day's median time to decision. */
  days: { day: string; approved: number; rejected: number; expired: number; medianS: number | null }[];
}

/** Pending reviews the digest lists. */
const OLDEST_PENDING = 5;
const DAY_MS = 86_400_000;

/** Reads every section; the queries run concurrently on `sql`'s pool. */
export async function readDigest(sql: Db, scope: DigestScope): Promise<DigestRows> {
  const w = windows(scope);
  const [
    runsByFlow,
    outcomesByFlow,
    timeToDecision,
    oldestPending,
    people,
    rejectionReasons,
    edits,
    refusals,
    spendByFlow,
    days,
  ] = await Promise.all([
    runsStarted(sql, w),
    outcomes(sql, w),
    decisionTimes(sql, w),
    pending(sql, w),
    decidersLoad(sql, w),
    reasons(sql, w),
    editedApprovals(sql, w),
    policyRefusals(sql, w),
    modelSpend(sql, w),
    decisionsPerDay(sql, w),
  ]);
  return {
    runsByFlow,
    outcomesByFlow,
    timeToDecision,
    oldestPending,
    people,
    rejectionReasons,
    edits,
    refusals,
    spendByFlow,
    days,
  };
}

interface Windows {
  tenant: string;
  channel: string;
  tz: string;
  from: Date;
  mid: Date;
  end: Date;
}

function windows(s: DigestScope): Windows {
  const end = s.endAt;
  return {
    tenant: s.tenant,
    channel: s.channel,
    tz: s.timezone ?? 'UTC',
    from: new Date(end.getTime() - 14 * DAY_MS),
    mid: new Date(end.getTime() - 7 * DAY_MS),
    end,
  };
}

/** Runs whose trigger names this workspace and channel (index runs_tenant_channel_created). */
async function runsStarted(sql: Db, w: Windows) {
  const rows = await sql<{ flow: string; this: number; prev: number }[]>`
    SELECT flow, count(*) FILTER (WHERE created_at >= ${w.mid})::int AS this, count(*) FILTER (WHERE created_at < ${w.mid})::int AS prev
    FROM runs
    WHERE trigger->>'tenant' = ${w.tenant} AND trigger->>'channel' = ${w.channel} AND created_at >= ${w.from} AND created_at < ${w.end}
    GROUP BY flow ORDER BY flow`;
  return rows.map((r) => ({ flow: r.flow, runs: { this: r.this, prev: r.prev } }));
}

/** Reviews decided, by flow and outcome; "edited" means approved on a version after the first (index reviews_decided). */
async function outcomes(sql: Db, w: Windows) {
  const rows = await sql<Record<string, number | string>[]>`
    SELECT flow,
      count(*) FILTER (WHERE status = 'approved' AND decided_at >= ${w.mid})::int AS approved_this,
      count(*) FILTER (WHERE status = 'approved' AND decided_at < ${w.mid})::int AS approved_prev,
      count(*) FILTER (WHERE status = 'approved' AND version > 1 AND decided_at >= ${w.mid})::int AS edited_this,
      count(*) FILTER (WHERE status = 'approved' AND version > 1 AND decided_at < ${w.mid})::int AS edited_prev,
      count(*) FILTER (WHERE status = 'rejected' AND decided_at >= ${w.mid})::int AS rejected_this,
      count(*) FILTER (WHERE status = 'rejected' AND decided_at < ${w.mid})::int AS rejected_prev,
      count(*) FILTER (WHERE status = 'expired' AND decided_at >= ${w.mid})::int AS expired_this,
      count(*) FILTER (WHERE status = 'expired' AND decided_at < ${w.mid})::int AS expired_prev,
      count(*) FILTER (WHERE is_escalated AND decided_at >= ${w.mid})::int AS escalated_this,
      count(*) FILTER (WHERE is_escalated AND decided_at < ${w.mid})::int AS escalated_prev
    FROM reviews
    WHERE tenant = ${w.tenant} AND channel = ${w.channel} AND decided_at >= ${w.from} AND decided_at < ${w.end}
      AND status IN ('approved', 'rejected', 'expired')
    GROUP BY flow ORDER BY flow`;
  const pair = (r: Record<string, number | string>, k: string): Pair => ({
    this: Number(r[`${k}_this`]),
    prev: Number(r[`${k}_prev`]),
  });
  return rows.map((r) => ({
    flow: String(r.flow),
    approved: pair(r, 'approved'),
    approvedEdited: pair(r, 'edited'),
    rejected: pair(r, 'rejected'),
    expired: pair(r, 'expired'),
    escalated: pair(r, 'escalated'),
  }));
}

/** Request to decision, for reviews a person decided (approved or rejected), by flow. */
async function decisionTimes(sql: Db, w: Windows) {
  const rows = await sql<{ flow: string; is_this: boolean; decided: number; median_s: number; p90_s: number }[]>`
    SELECT flow, decided_at >= ${w.mid} AS is_this, count(*)::int AS decided,
      percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM decided_at - created_at))::float8 AS median_s,
      percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM decided_at - created_at))::float8 AS p90_s
    FROM reviews
    WHERE tenant = ${w.tenant} AND channel = ${w.channel} AND decided_at >= ${w.from} AND decided_at < ${w.end}
      AND status IN ('approved', 'rejected')
    GROUP BY flow, 2 ORDER BY flow, 2`;
  return rows.map((r) => ({ flow: r.flow, isThis: r.is_this, decided: r.decided, medianS: r.median_s, p90S: r.p90_s }));
}

/** The oldest reviews still waiting, and how many wait in all (index reviews_pending). */
async function pending(sql: Db, w: Windows) {
  const rows = await sql<
    { id: string; run_id: string; flow: string; title: string | null; created_at: Date; total: number }[]
  >`
    SELECT id, run_id, flow, request->>'title' AS title, created_at, count(*) OVER ()::int AS total
    FROM reviews
    WHERE tenant = ${w.tenant} AND channel = ${w.channel} AND status = 'pending' AND created_at < ${w.end}
    ORDER BY created_at, id LIMIT ${OLDEST_PENDING}`;
  return rows.map((r) => ({
    reviewId: r.id,
    runId: r.run_id,
    flow: r.flow,
    title: r.title ?? r.flow,
    createdAt: r.created_at,
    total: r.total,
  }));
}

/**
 * Accepted approve and reject clicks per person; "off hours" is outside
 * Monday to Friday 09:00–18:00 in the digest's zone (index review_audit_tenant_at).
 */
async function decidersLoad(sql: Db, w: Windows) {
  const rows = await sql<{ actor: string; is_this: boolean; decisions: number; off_hours: number }[]>`
    SELECT a.actor, a.at >= ${w.mid} AS is_this, count(*)::int AS decisions,
      count(*) FILTER (WHERE extract(isodow FROM a.at AT TIME ZONE ${w.tz}) > 5
                          OR extract(hour FROM a.at AT TIME ZONE ${w.tz}) NOT BETWEEN 9 AND 17)::int AS off_hours
    FROM review_audit a JOIN reviews r ON r.id = a.review_id
    WHERE a.tenant = ${w.tenant} AND a.at >= ${w.from} AND a.at < ${w.end} AND r.tenant = ${w.tenant} AND r.channel = ${w.channel}
      AND a.action IN ('approve', 'reject') AND a.outcome = 'accepted'
    GROUP BY a.actor, 2 ORDER BY a.actor, 2`;
  return rows.map((r) => ({ actor: r.actor, isThis: r.is_this, decisions: r.decisions, offHours: r.off_hours }));
}

/** The reasons given with rejections of reviews rejected in either week. */
async function reasons(sql: Db, w: Windows) {
  const rows = await sql<{ is_this: boolean; reason: string }[]>`
    SELECT r.decided_at >= ${w.mid} AS is_this, d->>'reason' AS reason
    FROM reviews r CROSS JOIN LATERAL jsonb_array_elements(r.decisions) d
    WHERE r.tenant = ${w.tenant} AND r.channel = ${w.channel} AND r.decided_at >= ${w.from} AND r.decided_at < ${w.end}
      AND r.status = 'rejected' AND d->>'decision' = 'reject' AND coalesce(d->>'reason', '') <> ''
    ORDER BY r.decided_at`;
  return rows.map((r) => ({ isThis: r.is_this, reason: r.reason }));
}

/** Approvals of an edited draft, with the draft as first requested (the review job's input) and as approved. */
async function editedApprovals(sql: Db, w: Windows) {
  const rows = await sql<
    { is_this: boolean; flow: string; original: Record<string, string> | null; approved: Record<string, string> }[]
  >`
    SELECT r.decided_at >= ${w.mid} AS is_this, r.flow, coalesce(j.input->'content', r.previous_content) AS original, r.content AS approved
    FROM reviews r LEFT JOIN jobs j ON j.key = r.job_key
    WHERE r.tenant = ${w.tenant} AND r.channel = ${w.channel} AND r.decided_at >= ${w.from} AND r.decided_at < ${w.end}
      AND r.status = 'approved' AND r.version > 1
    ORDER BY r.decided_at`;
  return rows.map((r) => ({ isThis: r.is_this, flow: r.flow, original: r.original, approved: r.approved }));
}

/** Refused clicks by their code (`denied:self_approval`, …). */
async function policyRefusals(sql: Db, w: Windows) {
  return sql<{ code: string; isThis: boolean; n: number }[]>`
    SELECT substr(a.outcome, 8) AS code, a.at >= ${w.mid} AS "isThis", count(*)::int AS n
    FROM review_audit a JOIN reviews r ON r.id = a.review_id
    WHERE a.tenant = ${w.tenant} AND a.at >= ${w.from} AND a.at < ${w.end} AND r.tenant = ${w.tenant} AND r.channel = ${w.channel}
      AND a.outcome LIKE 'denied:%'
    GROUP BY 1, 2 ORDER BY 1, 2`;
}

/**
 * Model spend of this channel's runs in the two weeks: the channel's runs that started up to
 * 30 days before (index runs_tenant_channel_created; a run's calls come within its life), then
 * their calls (model_calls_run).
 */
async function modelSpend(sql: Db, w: Windows) {
  const rows = await sql<{ flow: string; is_this: boolean; usd: number; calls: number }[]>`
    SELECT ru.flow, m.at >= ${w.mid} AS is_this, sum(m.cost_usd)::float8 AS usd, count(*)::int AS calls
    FROM model_calls m JOIN runs ru ON ru.id = m.run_id
    WHERE m.at >= ${w.from} AND m.at < ${w.end} AND ru.trigger->>'tenant' = ${w.tenant} AND ru.trigger->>'channel' = ${w.channel}
      AND ru.created_at >= ${w.from}::timestamptz - interval '30 days' AND ru.created_at < ${w.end}
    GROUP BY 1, 2 ORDER BY 1, 2`;
  return rows.map((r) => ({ flow: r.flow, isThis: r.is_this, usd: r.usd, calls: r.calls }));
}

/** This week's decisions per local day (all 7 days, zeros included) for the chart. */
async function decisionsPerDay(sql: Db, w: Windows) {
  return sql<{ day: string; approved: number; rejected: number; expired: number; medianS: number | null }[]>`
    WITH days AS (
      SELECT to_char(d, 'YYYY-MM-DD') AS day
      FROM generate_series((${w.mid}::timestamptz AT TIME ZONE ${w.tz})::date, ((${w.end}::timestamptz - interval '1 microsecond') AT TIME ZONE ${w.tz})::date, interval '1 day') d
    ), decided AS (
      SELECT to_char(decided_at AT TIME ZONE ${w.tz}, 'YYYY-MM-DD') AS day, status, extract(epoch FROM decided_at - created_at) AS secs
      FROM reviews
      WHERE tenant = ${w.tenant} AND channel = ${w.channel} AND decided_at >= ${w.mid} AND decided_at < ${w.end}
        AND status IN ('approved', 'rejected', 'expired')
    )
    SELECT days.day,
      count(*) FILTER (WHERE status = 'approved')::int AS approved,
      count(*) FILTER (WHERE status = 'rejected')::int AS rejected,
      count(*) FILTER (WHERE status = 'expired')::int AS expired,
      (percentile_cont(0.5) WITHIN GROUP (ORDER BY secs) FILTER (WHERE status IN ('approved', 'rejected')))::float8 AS "medianS"
    FROM days LEFT JOIN decided USING (day)
    GROUP BY days.day ORDER BY days.day`;
}

/** The workspaces and channels with reviews requested or decided in the 14 days before `endAt` (a scheduled digest posts to each). */
export async function readDigestScopes(
  sql: Db,
  endAt: Date,
): Promise<{ tenant: string; platform: string; channel: string }[]> {
  const from = new Date(endAt.getTime() - 14 * DAY_MS);
  return sql<{ tenant: string; platform: string; channel: string }[]>`
    SELECT DISTINCT tenant, platform, channel FROM reviews
    WHERE (created_at >= ${from} AND created_at < ${endAt}) OR (decided_at >= ${from} AND decided_at < ${endAt})
    ORDER BY tenant, platform, channel`;
}
