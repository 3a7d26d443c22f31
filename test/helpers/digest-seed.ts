/**
 * Two weeks of decisions in one channel (plus noise in another channel and
 * another workspace), written straight into the tables the review desk
 * writes, for the digest's tests. `endAt` is Monday 2026-11-30 09:00
 * Europe/Berlin; the figures each test expects are worked out beside the rows.
 */
import type { Db } from '../../src/store/client.ts';

export const SEED = {
  tenant: 'local',
  platform: 'console',
  channel: 'general',
  endAt: '2026-11-30T08:00:00.000Z',
  timezone: 'Europe/Berlin',
};

interface ReviewSeed {
  id: string;
  flow: string;
  channel?: string;
  tenant?: string;
  status: 'approved' | 'rejected' | 'expired' | 'pending';
  createdAt: string;
  decidedAt?: string;
  by?: string;
  reason?: string;
  version?: number;
  escalated?: boolean;
  original?: string;
  approved?: string;
}

/** This week: R1–R6 decided, P2 pending; the week before: Q1, Q2, P1 (still pending). */
export const REVIEWS: ReviewSeed[] = [
  {
    id: 'R1',
    flow: 'ticket-triage',
    status: 'approved',
    createdAt: '2026-11-24T09:00:00Z',
    decidedAt: '2026-11-24T09:10:00Z',
    by: 'alice',
  },
  {
    id: 'R2',
    flow: 'ticket-triage',
    status: 'approved',
    createdAt: '2026-11-25T10:00:00Z',
    decidedAt: '2026-11-25T10:30:00Z',
    by: 'bob',
    version: 2,
    original: 'Hello there we will refund you soon',
    approved: 'Hello there we will refund you today',
  },
  {
    id: 'R3',
    flow: 'ticket-triage',
    status: 'rejected',
    createdAt: '2026-11-26T12:00:00Z',
    decidedAt: '2026-11-26T13:00:00Z',
    by: 'alice',
    reason: 'The tone is too harsh',
  },
  // Saturday 22:00 in Berlin: outside working hours.
  {
    id: 'R4',
    flow: 'refund',
    status: 'approved',
    createdAt: '2026-11-28T20:00:00Z',
    decidedAt: '2026-11-28T21:00:00Z',
    by: 'carol',
  },
  {
    id: 'R5',
    flow: 'ticket-triage',
    status: 'expired',
    createdAt: '2026-11-23T09:00:00Z',
    decidedAt: '2026-11-24T09:00:00Z',
  },
  // Friday 07:30 in Berlin: outside working hours; it had been escalated.
  {
    id: 'R6',
    flow: 'refund',
    status: 'rejected',
    createdAt: '2026-11-27T06:00:00Z',
    decidedAt: '2026-11-27T06:30:00Z',
    by: 'bob',
    reason: 'Wrong amount in the refund',
    escalated: true,
  },
  { id: 'P1', flow: 'ticket-triage', status: 'pending', createdAt: '2026-11-20T08:00:00Z' },
  { id: 'P2', flow: 'refund', status: 'pending', createdAt: '2026-11-29T10:00:00Z' },
  {
    id: 'Q1',
    flow: 'ticket-triage',
    status: 'approved',
    createdAt: '2026-11-17T09:00:00Z',
    decidedAt: '2026-11-17T09:20:00Z',
    by: 'alice',
  },
  {
    id: 'Q2',
    flow: 'ticket-triage',
    status: 'rejected',
    createdAt: '2026-11-18T09:00:00Z',
    decidedAt: '2026-11-18T11:00:00Z',
    by: 'alice',
    reason: 'Missing the order number',
  },
  // Noise the digest of #general must not count.
  {
    id: 'S1',
    flow: 'ticket-triage',
    channel: 'support',
    status: 'approved',
    createdAt: '2026-11-24T09:00:00Z',
    decidedAt: '2026-11-24T09:05:00Z',
    by: 'alice',
  },
  {
    id: 'T1',
    flow: 'ticket-triage',
    tenant: 'other',
    status: 'rejected',
    createdAt: '2026-11-24T09:00:00Z',
    decidedAt: '2026-11-24T09:05:00Z',
    by: 'zed',
    reason: 'nope',
  },
];

/** Refused clicks: [review, actor, code, at]. */
const REFUSALS: [string, string, string, string][] = [
  ['R1', 'dave', 'self_approval', '2026-11-24T09:05:00Z'],
  ['R2', 'bob', 'stale_version', '2026-11-25T10:20:00Z'],
  ['R2', 'erin', 'stale_version', '2026-11-25T10:25:00Z'],
  ['Q1', 'mallory', 'not_allowed', '2026-11-17T09:10:00Z'],
  ['S1', 'mallory', 'not_allowed', '2026-11-24T09:01:00Z'],
];

/** Model spend by review's run: [review, usd]. */
const SPEND: [string, number][] = [
  ['R1', 0.01],
  ['R2', 0.02],
  ['R4', 0.005],
  ['Q1', 0.03],
  ['S1', 0.5],
];

/** Runs with no review: one at the start of this week (counted), one at its end (not), one at the start of the week before (counted). */
const BARE_RUNS: [string, string][] = [
  ['B1', '2026-11-23T08:00:00Z'],
  ['B2', '2026-11-30T08:00:00Z'],
  ['B3', '2026-11-16T08:00:00Z'],
];

/** Every seeded time moves by this much (0: the times as written); set by `seedDigest`. */
let shiftMs = 0;
const at = (iso: string) => new Date(new Date(iso).getTime() + shiftMs);
const minuteBefore = (iso: string) => new Date(at(iso).getTime() - 60_000);

async function insertRun(sql: Db, id: string, flow: string, at: Date, tenant: string, channel: string): Promise<void> {
  await sql`
    INSERT INTO runs (id, flow, flow_version, status, snapshot, input, trigger, version, created_at, updated_at)
    VALUES (${id}, ${flow}, 'v1', 'done', '{}', '{}', ${sql.json({ source: 'console', tenant, channel, actor: 'alice' })}, 1, ${at}, ${at})`;
}

/**
 * Writes the seed; review `X` belongs to run `run-X`. `shift` moves every time (a
 * test whose digest ends at the real now): counts, durations and spend stay as
 * worked out here; the hour and weekday of each decision (working hours, chart days) move with it.
 */
export async function seedDigest(sql: Db, shift = 0): Promise<void> {
  shiftMs = shift;
  for (const r of REVIEWS) {
    const tenant = r.tenant ?? SEED.tenant;
    const channel = r.channel ?? SEED.channel;
    await insertRun(sql, `run-${r.id}`, r.flow, minuteBefore(r.createdAt), tenant, channel);
    const decidedAt = r.decidedAt ? at(r.decidedAt) : null;
    const decisions = r.by
      ? [
          {
            reviewer: r.by,
            decision: r.status === 'rejected' ? 'reject' : 'approve',
            version: r.version ?? 1,
            at: decidedAt,
            ...(r.reason ? { reason: r.reason } : {}),
          },
        ]
      : [];
    const content = { reply: r.approved ?? `draft of ${r.id}` };
    await sql`
      INSERT INTO reviews (id, run_id, flow, job_key, name, tenant, platform, channel, requested_by, policy, request, content, content_sha256,
                           version, status, decisions, is_escalated, decided_at, created_at, updated_at)
      VALUES (${r.id}, ${`run-${r.id}`}, ${r.flow}, ${`run-${r.id}:review:2`}, 'review', ${tenant}, ${SEED.platform}, ${channel}, 'alice', '{}',
              ${sql.json({ title: `Reply for ${r.id}` })}, ${sql.json(content)}, 'sha', ${r.version ?? 1}, ${r.status}, ${sql.json(decisions)},
              ${r.escalated ?? false}, ${decidedAt}, ${at(r.createdAt)}, ${at(r.createdAt)})`;
    // The review job keeps the draft as first requested; a pending review's job waits (else the desk's sweep closes it).
    await sql`
      INSERT INTO jobs (key, run_id, flow, kind, name, input, status, max_attempts, lease_ms, due_at)
      VALUES (${`run-${r.id}:review:2`}, ${`run-${r.id}`}, ${r.flow}, 'review', 'review',
              ${sql.json({ title: `Reply for ${r.id}`, content: { reply: r.original ?? content.reply } })},
              ${r.status === 'pending' ? 'waiting' : 'done'}, 10, 30000, now())`;
    if (r.by)
      await audit(sql, r.id, tenant, r.by, r.status === 'rejected' ? 'reject' : 'approve', 'accepted', r.decidedAt!, 1);
  }
  let seq = 10;
  for (const [review, actor, code, when] of REFUSALS) {
    const tenant = REVIEWS.find((r) => r.id === review)!.tenant ?? SEED.tenant;
    await audit(sql, review, tenant, actor, 'approve', `denied:${code}`, when, seq++);
  }
  let call = 0;
  for (const [review, usd] of SPEND) {
    const r = REVIEWS.find((x) => x.id === review)!;
    await sql`
      INSERT INTO model_calls (run_id, job_key, attempt, call_no, model, outcome, input_tokens, output_tokens, cost_usd, at)
      VALUES (${`run-${review}`}, ${`run-${review}:draft:1`}, 1, ${call++}, 'gpt-4.1', 'ok', 100, 50, ${usd}, ${minuteBefore(r.createdAt)})`;
  }
  for (const [id, when] of BARE_RUNS) await insertRun(sql, id, 'ticket-triage', at(when), SEED.tenant, SEED.channel);
}

async function audit(
  sql: Db,
  review: string,
  tenant: string,
  actor: string,
  action: string,
  outcome: string,
  when: string,
  seq: number,
): Promise<void> {
  await sql`
    INSERT INTO review_audit (review_id, seq, run_id, tenant, actor, action, outcome, version, content_sha256, at, prev_hash, hash)
    VALUES (${review}, ${seq}, ${`run-${review}`}, ${tenant}, ${actor}, ${action}, ${outcome}, 1, 'sha', ${at(when)}, 'x', 'y')`;
}
