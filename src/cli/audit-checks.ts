/**
 * The audit checks `signoff audit verify` runs, in order. Each walks one tamper-
 * evident chain and reports in the same shape, so a new chain is one more entry
 * in `AUDIT_CHECKS`: its name, and a function that verifies the scope it is given.
 */
import { expectedRunAuditRows, verifyRunAudit } from '../store/audit.ts';
import type { Sql } from '../store/client.ts';
import { auditedReviewIds } from '../store/operator.ts';
import { findAuditBreak } from '../store/reviews.ts';

/** What to verify: everything, one review, or one run (its reviews, its events). */
export interface AuditScope {
  reviewId?: string;
  runId?: string;
}

/** The first link that breaks a chain: where it is and what differs. */
export interface BrokenLink {
  table: string;
  runId: string;
  /** The row's position in its chain (review_audit.seq, run_events.seq). */
  seq: string;
  reason: string;
  reviewId?: string;
}

export interface AuditReport {
  /** Which chain, e.g. `review audit`. */
  name: string;
  ok: boolean;
  /** Rows read. */
  checked: number;
  broken?: BrokenLink;
  /** Why the check did not apply (a --review scope for a chain with no reviews). */
  skipped?: string;
}

/** Progress of one check: `done` of `total` units (reviews, runs) walked so far. */
export type OnProgress = (done: number, total: number) => void;

export interface AuditCheck {
  name: string;
  verify(sql: Sql, scope: AuditScope, onProgress: OnProgress): Promise<AuditReport>;
}

/** review_audit: each review's rows chained by hash (migration 0002, src/store/reviews.ts). */
const reviewAudit: AuditCheck = {
  name: 'review audit',
  async verify(sql, scope, onProgress) {
    const ids = await auditedReviewIds(sql, scope);
    if (ids.length === 0 && (scope.reviewId || scope.runId))
      return { name: this.name, ok: true, checked: 0, skipped: 'no review_audit rows in this scope' };
    let checked = 0;
    for (const [index, reviewId] of ids.entries()) {
      const result = await findAuditBreak(sql, reviewId);
      checked += result.checked;
      onProgress(index + 1, ids.length);
      if (!result.broken) continue;
      const { seq, runId, reason } = result.broken;
      return {
        name: this.name,
        ok: false,
        checked,
        broken: { table: 'review_audit', reviewId, runId, seq: String(seq), reason },
      };
    }
    return { name: this.name, ok: true, checked };
  },
};

/** run_events: each run's events, decisions and tool calls chained by hash (migration 0050, src/store/audit.ts). */
const runAudit: AuditCheck = {
  name: 'run audit',
  async verify(sql, scope, onProgress) {
    if (scope.reviewId && !scope.runId)
      return { name: this.name, ok: true, checked: 0, skipped: 'only --review given' };
    const total = await expectedRunAuditRows(sql, scope.runId);
    const verdict = await verifyRunAudit(sql, {
      ...(scope.runId ? { runId: scope.runId } : {}),
      onProgress: (checked) => onProgress(checked, Math.max(total, checked)),
    });
    if (!verdict.broken) return { name: this.name, ok: true, checked: verdict.checked };
    return { name: this.name, ok: false, checked: verdict.checked, broken: { table: 'run_events', ...verdict.broken } };
  },
};

export const AUDIT_CHECKS: readonly AuditCheck[] = [reviewAudit, runAudit];
