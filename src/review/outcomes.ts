/**
 * The writes every review change shares, made inside the transaction that holds
 * the review's lock: the audit row, the saved state, the chat jobs that show
 * the change (card update, thread reply, DMs), and, when the review has its
 * outcome, the hand-off to the run (its outcome event delivered in this same
 * transaction, or the paused step re-queued) and the cancellation of reminders
 * that no longer matter. Everything a person sees
 * follows from committed rows, so a crash never shows an outcome that was not
 * recorded, and a recorded one is always shown (the jobs are durable).
 */
import type { Notice } from '../chat/port.ts';
import type { RunTx } from '../engine/engine.ts';
import { cancelQueuedJobs, enqueueJobs, type NewJob } from '../store/jobs.ts';
import { appendAudit, saveReview, type ReviewChange, type ReviewRow } from '../store/reviews.ts';
import { outcomeNotice, reviewState } from './card.ts';
import { deciders, type ReviewPolicy } from './policy.ts';

/** Options of the desk's chat jobs: short, retried, each keyed so it happens once. */
export const CHAT_JOB = { maxAttempts: 8, leaseMs: 20_000 } as const;

/**
 * Who asked, for a run no person started (a webhook, a schedule): signoff itself. The
 * card says so, and nobody is sent "Your request: …" (there is no such person to tell).
 */
export const SYSTEM_ACTOR = 'signoff';

export type ChatJobName =
  | 'review.post-card'
  | 'review.update-card'
  | 'review.thread'
  | 'review.notify'
  | 'review.remind'
  | 'review.escalate'
  | 'review.expire';

export function chatJob(
  review: ReviewRow,
  name: ChatJobName,
  key: string,
  input: Record<string, unknown>,
  delayMs = 0,
): NewJob {
  return {
    key: `review:${review.id}:${key}`,
    runId: review.run_id,
    flow: review.flow,
    kind: 'system',
    name,
    input: { reviewId: review.id, ...input },
    delayMs,
    ...CHAT_JOB,
  };
}

/** Keys of the timed jobs of a review, so a decided review can cancel the rest. */
export function timedJobKeys(review: ReviewRow, policy: ReviewPolicy): string[] {
  const reminders = (policy.remindAtMs ?? []).map((_ms, i) => `review:${review.id}:remind:${i}`);
  return [...reminders, `review:${review.id}:escalate`, `review:${review.id}:expire`];
}

/** A RunTx that is also told of each review it gives an outcome, so the desk can count it once COMMIT returns. */
export interface ReviewTx extends RunTx {
  onOutcome?: (review: ReviewRow) => void;
}

export interface Change {
  actor: string;
  action: string;
  /** `accepted` or `denied:<code>`. */
  outcome: string;
  /** The DB clock's time of the change. */
  now: Date;
  messageRef?: string | null;
  deliveryId?: string | null;
  detail?: unknown;
  /** New state to save (absent for a refusal). */
  patch?: ReviewChange;
  /** Sentences for the card's thread, and private ones by user. */
  thread?: Notice;
  dms?: { user: string; notice: Notice }[];
}

/**
 * Records one change of a locked review and queues what shows it. Returns the
 * review as saved, or null when this delivery id was recorded already.
 */
export async function recordChange(
  rt: ReviewTx,
  review: ReviewRow,
  policy: ReviewPolicy,
  c: Change,
): Promise<ReviewRow | null> {
  const tx = rt.sql;
  const isNew = await appendAudit(tx, {
    reviewId: review.id,
    runId: review.run_id,
    tenant: review.tenant,
    actor: c.actor,
    action: c.action,
    outcome: c.outcome,
    version: review.version,
    contentSha256: review.content_sha256,
    messageRef: c.messageRef ?? review.card_ref,
    deliveryId: c.deliveryId ?? null,
    detail: c.detail ?? null,
    at: c.now.toISOString(),
  });
  if (!isNew) return null;
  if (!c.patch) return review;
  const decided = c.patch.status && c.patch.status !== 'pending' ? { decided_at: c.now } : {};
  const saved = await saveReview(tx, review, { ...c.patch, ...decided });
  const jobs: NewJob[] = [chatJob(saved, 'review.update-card', `card:${saved.seq}`, {})];
  const tag = `${saved.seq}`;
  if (c.thread) jobs.push(chatJob(saved, 'review.thread', `thread:${tag}`, { notice: c.thread }));
  for (const dm of c.dms ?? [])
    jobs.push(chatJob(saved, 'review.notify', `dm:${tag}:${dm.user}`, { user: dm.user, notice: dm.notice }));
  if (saved.status !== 'pending') jobs.push(...(await finishReview(rt, saved, policy, c.actor)));
  if (saved.status !== 'pending') rt.onOutcome?.(saved);
  await enqueueJobs(tx, jobs);
  return saved;
}

/** The review has its outcome: hand it to the run, stop the timers, tell the thread and the requester. */
async function finishReview(rt: RunTx, review: ReviewRow, policy: ReviewPolicy, actor: string): Promise<NewJob[]> {
  // A cancelled review was closed because its run was cancelled or moved on: nothing to hand over.
  if (review.status !== 'cancelled' && review.resume_job) {
    // A step asked (a budget question): it runs again and reads the answer.
    await rt.resumeJob(review.resume_job);
  } else if (review.status !== 'cancelled') {
    // A run that has left this review takes nothing: deliver is then a no-op.
    await rt.deliver(review.run_id, outcomeEvent(review, policy), {
      waitKey: review.job_key,
      dedupeKey: `review:${review.id}`,
      actor,
    });
  }
  await cancelQueuedJobs(rt.sql, timedJobKeys(review, policy));
  const notice = outcomeNotice(review, policy);
  const thread = chatJob(review, 'review.thread', 'outcome', { notice });
  if (review.status === 'cancelled' || review.requested_by === SYSTEM_ACTOR) return [thread];
  return [
    thread,
    chatJob(review, 'review.notify', `outcome:${review.requested_by}`, {
      user: review.requested_by,
      notice: { ...notice, text: `Your request: ${notice.text}` },
    }),
  ];
}

/** The event the run receives once its review is decided. */
export function outcomeEvent(review: ReviewRow, policy: ReviewPolicy): { type: string } & Record<string, unknown> {
  const reason = review.decisions.findLast(
    (d) => d.version === review.version && d.decision === 'reject' && d.reason,
  )?.reason;
  return {
    type: `review.${review.status}`,
    reviewId: review.id,
    by: deciders(policy, reviewState(review)),
    content: review.content,
    contentSha256: review.content_sha256,
    version: review.version,
    decidedAt: review.decided_at?.toISOString() ?? null,
    ...(review.status === 'rejected' && reason ? { reason } : {}),
  };
}
