/**
 * What GET /metrics reads from the database at scrape time (src/ops/metrics.ts):
 * one statement, three index scans, so a scrape costs the same whether a
 * thousand runs wait or a million. Due jobs go through `jobs_due` (a partial
 * index on due_at over queued and running jobs), pending reviews through
 * `reviews_pending` (partial, status = 'pending').
 */
import type { Db } from './client.ts';

export interface QueueStats {
  /** Jobs a worker may claim now: queued ones whose time came, running ones whose lease expired. */
  dueJobs: number;
  /** How long the oldest of them has been due, in seconds; 0 when none is. */
  oldestDueAgeSeconds: number;
  /** Reviews waiting for a person. */
  pendingReviews: number;
}

export async function readQueueStats(sql: Db): Promise<QueueStats> {
  const [row] = await sql<{ due_jobs: number; oldest_due_age_s: number; pending_reviews: number }[]>`
    SELECT count(*)::int AS due_jobs,
           coalesce(extract(epoch FROM now() - min(due_at)), 0)::float8 AS oldest_due_age_s,
           (SELECT count(*)::int FROM reviews WHERE status = 'pending') AS pending_reviews
    FROM jobs WHERE status IN ('queued', 'running') AND due_at <= now()`;
  return {
    dueJobs: row!.due_jobs,
    oldestDueAgeSeconds: Math.max(0, row!.oldest_due_age_s),
    pendingReviews: row!.pending_reviews,
  };
}
