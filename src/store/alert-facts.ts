/**
 * The reads behind alerts (src/ops/alerts.ts): what needs a person right now.
 * Each read is grouped the way alerts are (one row per flow and step, per
 * webhook source, per circuit), so a burst of failures is one row with a
 * count, and each runs on a partial index of migration 0060 or 0030 that holds
 * only the rows in trouble.
 */
import type { Db } from './client.ts';
import { BUDGET_REVIEW } from './reviews.ts';

/** Runs of one flow in trouble for one reason, with the newest of them. */
export interface AttentionRuns {
  flow: string;
  /** `failed`; `parked` (a crash loop, a deploy, an unsafe call's unknown outcome); `quota` (the model's quota is gone). */
  kind: 'failed' | 'parked' | 'quota';
  /** The step that failed (from the run's reason, `step "<id>" failed: …`); null for a flow-level failure or a park. */
  step: string | null;
  count: number;
  latestRunId: string;
  latestReason: string | null;
}

/** Failed and parked runs, grouped by flow, kind and failed step. */
export async function readAttentionRuns(db: Db): Promise<AttentionRuns[]> {
  return db<AttentionRuns[]>`
    SELECT flow, kind, step, count(*)::int AS count,
           (array_agg(id ORDER BY updated_at DESC, id))[1] AS "latestRunId",
           (array_agg(status_reason ORDER BY updated_at DESC, id))[1] AS "latestReason"
    FROM (
      SELECT id, flow, updated_at, status_reason,
             CASE WHEN status = 'failed' THEN 'failed'
                  WHEN status_reason LIKE 'blocked:quota:%' THEN 'quota' ELSE 'parked' END AS kind,
             CASE WHEN status = 'failed' THEN substring(status_reason FROM '^step "([^"]+)" failed') END AS step
      FROM runs WHERE status IN ('failed', 'parked')
    ) r
    GROUP BY flow, kind, step
    ORDER BY flow, kind, step`;
}

/** Runs of one flow waiting for a person to allow more model spend (the budget review). */
export interface PendingBudgets {
  flow: string;
  count: number;
  latestRunId: string;
}

export async function readPendingBudgets(db: Db): Promise<PendingBudgets[]> {
  return db<PendingBudgets[]>`
    SELECT flow, count(*)::int AS count, (array_agg(run_id ORDER BY created_at DESC, id))[1] AS "latestRunId"
    FROM reviews WHERE name = ${BUDGET_REVIEW} AND status = 'pending'
    GROUP BY flow ORDER BY flow`;
}

/** Dead letters of one webhook source received since a time and not replayed, with the newest reason. */
export interface DeadLetterCount {
  source: string;
  count: number;
  latestReason: string;
}

export async function countDeadLettersSince(db: Db, since: Date): Promise<DeadLetterCount[]> {
  return db<DeadLetterCount[]>`
    SELECT source, count(*)::int AS count, (array_agg(reason ORDER BY received_at DESC, id DESC))[1] AS "latestReason"
    FROM webhook_dead_letters WHERE received_at > ${since} AND replayed_at IS NULL
    GROUP BY source ORDER BY source`;
}

/** A cause some process observed (an open circuit), with how many processes see it. */
export interface ObservedCause {
  cause: string;
  observers: number;
  detail: Record<string, unknown>;
}

/** Observations refreshed after `since`; older ones belong to processes that are gone. */
export async function readObservations(db: Db, since: Date): Promise<ObservedCause[]> {
  return db<ObservedCause[]>`
    SELECT cause, count(*)::int AS observers, (array_agg(detail ORDER BY seen_at DESC))[1] AS detail
    FROM alert_observations WHERE seen_at > ${since}
    GROUP BY cause ORDER BY cause`;
}
