/**
 * Read-only queries of the operator's command line (src/cli): runs across every
 * tenant with filters, all the reviews of a run, and which reviews have an audit
 * trail to verify. The bot itself never needs them: its reads are tenant-scoped
 * (src/store/runs.ts listRuns) or per review (src/store/reviews.ts).
 */
import type { Db } from './client.ts';
import type { ReviewRow } from './reviews.ts';
import type { RunSummary } from './runs.ts';

export interface RunFilter {
  flow?: string | null;
  status?: string | null;
  /** Runs created at or after this instant. */
  since?: Date | null;
  limit: number;
}

/** Most runs one listing returns. */
const MAX_LISTED = 1_000;

/** Runs of every tenant, newest first, narrowed by flow, status and creation time. */
export async function listRunsForOperator(sql: Db, f: RunFilter): Promise<RunSummary[]> {
  const limit = Math.max(1, Math.min(MAX_LISTED, Math.trunc(f.limit)));
  return sql<RunSummary[]>`
    SELECT id, flow, status, status_reason, trigger, created_at, updated_at FROM runs
    WHERE (${f.flow ?? null}::text IS NULL OR flow = ${f.flow ?? null})
      AND (${f.status ?? null}::text IS NULL OR status = ${f.status ?? null})
      AND (${f.since ?? null}::timestamptz IS NULL OR created_at >= ${f.since ?? null})
    ORDER BY created_at DESC, id DESC LIMIT ${limit}`;
}

/** Every review of a run, decided or not, oldest first. */
export async function reviewsOfRun(sql: Db, runId: string): Promise<ReviewRow[]> {
  return sql<ReviewRow[]>`SELECT * FROM reviews WHERE run_id = ${runId} ORDER BY created_at, id`;
}

/**
 * The reviews whose audit chain to walk: one review, the reviews of one run, or all of
 * them. Read from review_audit itself, so rows whose review row is gone are walked too.
 */
export async function auditedReviewIds(sql: Db, scope: { reviewId?: string; runId?: string }): Promise<string[]> {
  const rows = await sql<{ review_id: string }[]>`
    SELECT DISTINCT review_id FROM review_audit
    WHERE (${scope.reviewId ?? null}::text IS NULL OR review_id = ${scope.reviewId ?? null})
      AND (${scope.runId ?? null}::text IS NULL OR run_id = ${scope.runId ?? null})
    ORDER BY review_id`;
  return rows.map((r) => r.review_id);
}

/** The server's version, as words (`16.4`) and as a number to compare (`160004`). */
export async function serverVersion(sql: Db): Promise<{ text: string; num: number }> {
  const [row] = await sql<{ text: string; num: number }[]>`
    SELECT current_setting('server_version') AS text, current_setting('server_version_num')::int AS num`;
  return row!;
}
