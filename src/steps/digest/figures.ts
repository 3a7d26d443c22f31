/**
 * The digest's figures, from the rows of src/store/digest.ts: sums across
 * flows, per-approved spend, and how much edited drafts changed. Pure; what it
 * returns is JSON (a step's output), and every number in the message is one of these.
 */
import type { DigestRows, DigestScope, Pair } from '../../store/digest.ts';

export type { Pair } from '../../store/digest.ts';

export interface DecisionTime {
  decided: number;
  medianS: number;
  p90S: number;
}

export interface Digest {
  scope: { tenant: string; channel: string; platform: string; from: string; endAt: string; timezone: string };
  runsByFlow: { flow: string; runs: Pair }[];
  runsTotal: Pair;
  outcomes: { approved: Pair; approvedEdited: Pair; rejected: Pair; expired: Pair; escalated: Pair };
  timeToDecision: { flow: string; this: DecisionTime | null; prev: DecisionTime | null }[];
  pending: {
    total: number;
    oldest: { reviewId: string; runId: string; flow: string; title: string; createdAt: string }[];
  };
  people: { actor: string; decisions: Pair; offHours: Pair }[];
  offHoursTotal: Pair;
  rejectionReasons: { this: string[]; prev: string[] };
  /** Approved drafts a person edited first: how many, and the mean share of words changed (0–1; null with none). */
  edits: { approved: Pair; edited: Pair; meanChangedShare: { this: number | null; prev: number | null } };
  refusals: { code: string; n: Pair }[];
  spend: { flow: string; usd: Pair; calls: Pair; perApprovedUsd: { this: number | null; prev: number | null } }[];
  spendTotalUsd: Pair;
  days: DigestRows['days'];
}

/** model_calls keeps dollars to 6 places (numeric(14, 6)); sums of floats are rounded back to that. */
const microUsd = (n: number) => Math.round(n * 1e6) / 1e6;
const zero = (): Pair => ({ this: 0, prev: 0 });
const add = (a: Pair, b: Pair): Pair => ({ this: a.this + b.this, prev: a.prev + b.prev });

export function buildDigest(rows: DigestRows, scope: DigestScope & { platform: string }): Digest {
  const outcomes = { approved: zero(), approvedEdited: zero(), rejected: zero(), expired: zero(), escalated: zero() };
  for (const f of rows.outcomesByFlow) {
    for (const k of Object.keys(outcomes) as (keyof typeof outcomes)[]) outcomes[k] = add(outcomes[k], f[k]);
  }
  return {
    scope: {
      tenant: scope.tenant,
      channel: scope.channel,
      platform: scope.platform,
      timezone: scope.timezone ?? 'UTC',
      from: new Date(scope.endAt.getTime() - 7 * 86_400_000).toISOString(),
      endAt: scope.endAt.toISOString(),
    },
    runsByFlow: rows.runsByFlow,
    runsTotal: rows.runsByFlow.reduce((sum, f) => add(sum, f.runs), zero()),
    outcomes,
    timeToDecision: decisionTimes(rows),
    pending: {
      total: rows.oldestPending[0]?.total ?? 0,
      oldest: rows.oldestPending.map((p) => ({
        reviewId: p.reviewId,
        runId: p.runId,
        flow: p.flow,
        title: p.title,
        createdAt: p.createdAt.toISOString(),
      })),
    },
    ...people(rows),
    rejectionReasons: {
      this: rows.rejectionReasons.filter((r) => r.isThis).map((r) => r.reason),
      prev: rows.rejectionReasons.filter((r) => !r.isThis).map((r) => r.reason),
    },
    edits: { approved: outcomes.approved, edited: outcomes.approvedEdited, meanChangedShare: meanShares(rows) },
    refusals: refusals(rows),
    ...spend(rows),
    days: rows.days,
  };
}

function decisionTimes(rows: DigestRows): Digest['timeToDecision'] {
  const flows = [...new Set(rows.timeToDecision.map((r) => r.flow))].sort();
  const pick = (flow: string, isThis: boolean): DecisionTime | null => {
    const r = rows.timeToDecision.find((t) => t.flow === flow && t.isThis === isThis);
    return r ? { decided: r.decided, medianS: r.medianS, p90S: r.p90S } : null;
  };
  return flows.map((flow) => ({ flow, this: pick(flow, true), prev: pick(flow, false) }));
}

function people(rows: DigestRows): Pick<Digest, 'people' | 'offHoursTotal'> {
  const byActor = new Map<string, { actor: string; decisions: Pair; offHours: Pair }>();
  for (const r of rows.people) {
    const p = byActor.get(r.actor) ?? { actor: r.actor, decisions: zero(), offHours: zero() };
    const week = r.isThis ? 'this' : 'prev';
    p.decisions[week] += r.decisions;
    p.offHours[week] += r.offHours;
    byActor.set(r.actor, p);
  }
  const list = [...byActor.values()].sort(
    (a, b) => b.decisions.this - a.decisions.this || (a.actor < b.actor ? -1 : 1),
  );
  return { people: list, offHoursTotal: list.reduce((sum, p) => add(sum, p.offHours), zero()) };
}

function refusals(rows: DigestRows): Digest['refusals'] {
  // The three the issue names first, always shown (zeros too); any other code after them.
  const codes = [...new Set(['self_approval', 'not_allowed', 'stale_version', ...rows.refusals.map((r) => r.code)])];
  return codes.map((code) => ({
    code,
    n: {
      this: rows.refusals.find((r) => r.code === code && r.isThis)?.n ?? 0,
      prev: rows.refusals.find((r) => r.code === code && !r.isThis)?.n ?? 0,
    },
  }));
}

function spend(rows: DigestRows): Pick<Digest, 'spend' | 'spendTotalUsd'> {
  const flows = [...new Set(rows.spendByFlow.map((r) => r.flow))].sort();
  const list = flows.map((flow) => {
    const at = (isThis: boolean) => rows.spendByFlow.find((r) => r.flow === flow && r.isThis === isThis);
    const approved = rows.outcomesByFlow.find((o) => o.flow === flow)?.approved ?? zero();
    const usd = { this: at(true)?.usd ?? 0, prev: at(false)?.usd ?? 0 };
    return {
      flow,
      usd,
      calls: { this: at(true)?.calls ?? 0, prev: at(false)?.calls ?? 0 },
      perApprovedUsd: {
        this: approved.this > 0 ? microUsd(usd.this / approved.this) : null,
        prev: approved.prev > 0 ? microUsd(usd.prev / approved.prev) : null,
      },
    };
  });
  const total = list.reduce((sum, f) => add(sum, f.usd), zero());
  return { spend: list, spendTotalUsd: { this: microUsd(total.this), prev: microUsd(total.prev) } };
}

function meanShares(rows: DigestRows): { this: number | null; prev: number | null } {
  const mean = (isThis: boolean) => {
    const shares = rows.edits.filter((e) => e.isThis === isThis).map((e) => changedShare(e.original ?? {}, e.approved));
    return shares.length === 0 ? null : shares.reduce((a, b) => a + b, 0) / shares.length;
  };
  return { this: mean(true), prev: mean(false) };
}

/**
 * How much of a draft changed: the word-level edit distance between the draft
 * as first requested and as approved, over the longer one's word count (0: same, 1: all new).
 */
export function changedShare(before: Record<string, string>, after: Record<string, string>): number {
  const words = (c: Record<string, string>) =>
    Object.keys(c)
      .sort()
      .flatMap((k) => (c[k] ?? '').split(/\s+/).filter(Boolean));
  const a = words(before);
  const b = words(after);
  const longest = Math.max(a.length, b.length);
  if (longest === 0) return 0;
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    row = next;
  }
  return row[b.length]! / longest;
}
