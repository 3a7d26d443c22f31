/**
 * Clicks and dialog submissions on review cards: who is asking, judged against
 * the policy and the review as committed, then recorded, all under the review
 * row's lock, so the first commit wins and everyone after is told who won
 * (RELIABILITY 45–58). Authority is this check at click time, never the button:
 * a button names a review, and a review that is not on the clicked message, or
 * of another tenant, is refused without saying whether it exists (case 55).
 * The group lookup (a network call) happens before the lock is taken.
 */
import type { InboundAction, InboundSubmission } from '../chat/messages.ts';
import type { ActionReply, ChatPort, EditorForm, SubmissionReply } from '../chat/port.ts';
import type { RunGateway, RunTx } from '../engine/engine.ts';
import type { Logger } from '../ops/log.ts';
import type { Db, Sql } from '../store/client.ts';
import { hasDelivery, lockReview, readReview, type ReviewRow } from '../store/reviews.ts';
import { approvalSha256, delegateForm, DRAFT_MAX_CHARS, editForm, rejectForm, reviewState } from './card.ts';
import { recordChange, type Change } from './outcomes.ts';
import {
  applyDecision,
  applyEdit,
  applyExpiry,
  judgeClick,
  type ClickVerdict,
  type ReviewClick,
  type ReviewPolicy,
} from './policy.ts';

export interface ClickDeps {
  sql: Sql;
  /** A transaction in which a decision also moves its run on (the engine's). */
  transaction: RunGateway['transaction'];
  portOf(platform: string): ChatPort;
  log: Logger;
}

const INVALID_BUTTON: ActionReply = {
  kind: 'ephemeral',
  notice: { text: 'This button is not valid here. Use the buttons on the review card itself.' },
};
const REVIEW_ID = /^[0-9a-f-]{36}$/;
/**
 * How long a click on a card not yet recorded waits for it: up to 30 × 50 ms,
 * well inside the platforms' 3 s (a person's first click must work, even on a
 * busy bot), and a click that comes later still gets a clear "click again".
 */
const CARD_RECORD_POLLS = 30;
const CARD_RECORD_POLL_MS = 50;

type Asked = Pick<ReviewClick, 'reviewer' | 'action' | 'version' | 'reason'> & {
  deliveryId: string;
  messageRef: string | null;
};

export class Clicks {
  constructor(private readonly d: ClickDeps) {}

  async action(act: InboundAction): Promise<ActionReply> {
    let review = await this.findReview(act.reviewRef, act.tenant);
    // A card shows the moment it is posted, a few ms before the desk records it as the card of
    // record: a click that quick waits that long rather than being turned away.
    for (let i = 0; review?.card_ref === null && review.channel === act.channel && i < CARD_RECORD_POLLS; i++) {
      await new Promise((r) => setTimeout(r, CARD_RECORD_POLL_MS));
      review = await this.findReview(act.reviewRef, act.tenant);
    }
    if (!review) return INVALID_BUTTON;
    if (review.card_ref === null && review.channel === act.channel) {
      // Posted, but still not recorded as the card of record: not a tampered button.
      await this.refuse(review.id, act.user, 'card_not_ready', act.action, act.deliveryId, act.messageRef, false);
      return {
        kind: 'ephemeral',
        notice: { text: 'This card is still being posted. Please click again in a moment.' },
      };
    }
    if (review.card_ref !== act.messageRef || review.channel !== act.channel) {
      this.d.log.warn('security: a review button was used on another message', { review: review.id, user: act.user });
      await this.refuse(review.id, act.user, 'ref_mismatch', act.action, act.deliveryId, act.messageRef);
      return INVALID_BUTTON;
    }
    if (await hasDelivery(this.d.sql, review.id, act.user, act.deliveryId)) return { kind: 'ok' };
    // Delegating hands over a vote, so it needs the right to approve.
    const judgedAs = act.action === 'delegate' ? 'approve' : act.action;
    const asked: Asked = {
      reviewer: act.user,
      action: judgedAs,
      version: act.version,
      deliveryId: act.deliveryId,
      messageRef: act.messageRef,
    };
    if (act.action === 'approve') return this.decide(review, asked);
    // Edit, reject and delegate open a dialog; the submission is judged again under the lock.
    const verdict = await this.judge(review, asked);
    if (verdict.kind === 'refused' && !(act.action === 'delegate' && verdict.code === 'duplicate')) {
      return this.d.transaction(async (rt) => {
        const locked = await this.lock(rt.sql, review.id);
        return this.recordRefusal(rt, locked, asked, verdict);
      });
    }
    const forms: Record<string, (r: ReviewRow) => EditorForm> = {
      edit: editForm,
      reject: rejectForm,
      delegate: delegateForm,
    };
    return { kind: 'open_editor', form: forms[act.action]!(review) };
  }

  async submission(sub: InboundSubmission): Promise<SubmissionReply> {
    const review = await this.findReview(sub.reviewRef, sub.tenant);
    if (!review) return { kind: 'errors', errors: { _: 'This review no longer exists here.' } };
    if (await hasDelivery(this.d.sql, review.id, sub.user, sub.deliveryId)) return { kind: 'ok' };
    const asked: Asked = {
      reviewer: sub.user,
      action: sub.purpose === 'edit' ? 'edit' : 'reject',
      version: sub.version,
      deliveryId: sub.deliveryId,
      messageRef: null,
    };
    if (sub.purpose === 'reject') {
      const reason = (sub.fields.reason ?? '').trim();
      if (reason.length > 2_000)
        return { kind: 'errors', errors: { reason: 'Keep the reason under 2,000 characters.' } };
      return asErrors(await this.decide(review, reason ? { ...asked, reason } : asked), 'reason');
    }
    if (sub.purpose === 'edit') return this.edit(review, asked, sub.fields);
    return this.delegate(review, asked, (sub.fields.user ?? '').trim());
  }

  /** Judges and records an approve or reject (or a refusal of anything) under the lock. */
  private async decide(review: ReviewRow, asked: Asked): Promise<ActionReply> {
    const groups = await this.groupsFor(review, asked.reviewer);
    const reply = await this.d.transaction(async (rt) => {
      const locked = await this.lock(rt.sql, review.id);
      const verdict = judgeClick(
        effectivePolicy(locked.review),
        reviewState(locked.review),
        click(asked, locked.now, groups),
      );
      if (verdict.kind === 'refused') return this.recordRefusal(rt, locked, asked, verdict);
      if (verdict.kind === 'edit_allowed') return { kind: 'ok' } as ActionReply;
      const policy = locked.review.policy as ReviewPolicy;
      const next = applyDecision(policy, reviewState(locked.review), verdict.decision);
      await recordChange(rt, locked.review, policy, {
        ...changeOf(asked, locked.now, 'accepted'),
        action: asked.action,
        patch: { decisions: next.decisions, status: next.status },
        ...(asked.reason ? { detail: { reason: asked.reason } } : {}),
      });
      const t = verdict.tally;
      const text = verdict.outcome
        ? `Recorded: the review is ${verdict.outcome}.`
        : `Recorded: ${t.approvals} of ${t.needed} approvals so far.`;
      return { kind: 'ok', notice: { text } } as ActionReply;
    });
    return reply;
  }

  private async edit(review: ReviewRow, asked: Asked, fields: Record<string, string>): Promise<SubmissionReply> {
    const names = Object.keys(review.content);
    const unknown = Object.keys(fields).filter((f) => !names.includes(f));
    if (unknown.length > 0) return { kind: 'errors', errors: { _: `Unknown field ${unknown[0]}.` } };
    const tooLong = names.find((n) => (fields[n] ?? '').length > DRAFT_MAX_CHARS);
    if (tooLong)
      return {
        kind: 'errors',
        errors: { [tooLong]: `Keep it under ${DRAFT_MAX_CHARS.toLocaleString('en')} characters.` },
      };
    const content = Object.fromEntries(names.map((n) => [n, fields[n] ?? review.content[n]!]));
    const groups = await this.groupsFor(review, asked.reviewer);
    return this.d.transaction(async (rt) => {
      const locked = await this.lock(rt.sql, review.id);
      const verdict = judgeClick(
        effectivePolicy(locked.review),
        reviewState(locked.review),
        click(asked, locked.now, groups),
      );
      if (verdict.kind === 'refused') return asErrors(await this.recordRefusal(rt, locked, asked, verdict), names[0]!);
      const next = applyEdit(reviewState(locked.review), {
        editor: asked.reviewer,
        newContentSha256: approvalSha256(content, locked.review.request),
      });
      if (next.version === locked.review.version)
        return { kind: 'ok', notice: { text: 'Nothing changed.' } } as SubmissionReply;
      await recordChange(rt, locked.review, locked.review.policy, {
        ...changeOf(asked, locked.now, 'accepted'),
        action: 'edit',
        detail: { fromSha256: locked.review.content_sha256, toSha256: next.contentSha256, toVersion: next.version },
        patch: {
          content,
          content_sha256: next.contentSha256,
          version: next.version,
          previous_content: locked.review.content,
          last_editor: asked.reviewer,
        },
        thread: {
          text: `<@${asked.reviewer}> edited the draft (now version ${next.version}); approvals of earlier versions no longer count.`,
        },
      });
      return { kind: 'ok', notice: { text: `Saved as version ${next.version}.` } } as SubmissionReply;
    });
  }

  private async delegate(review: ReviewRow, asked: Asked, user: string): Promise<SubmissionReply> {
    if (!/^[\w.@-]{1,100}$/.test(user))
      return { kind: 'errors', errors: { user: 'Enter the user id of the person who should decide.' } };
    if (user === asked.reviewer) return { kind: 'errors', errors: { user: 'Choose someone other than yourself.' } };
    // The requester may not approve their own run, so handing them a vote would let them.
    if (user === review.requested_by && !(review.policy as ReviewPolicy).allowSelfApproval) {
      return {
        kind: 'errors',
        errors: { user: `${user} requested this run, so they cannot decide it. Choose someone else.` },
      };
    }
    const port = this.d.portOf(review.platform);
    if (port.hasUser && !(await port.hasUser(review.tenant, user))) {
      return {
        kind: 'errors',
        errors: { user: `There is no one called "${user}" here. Enter the id of a person who may decide.` },
      };
    }
    const groups = await this.groupsFor(review, asked.reviewer);
    return this.d.transaction(async (rt) => {
      const locked = await this.lock(rt.sql, review.id);
      const asApprover = { ...asked, action: 'approve' as const };
      const verdict = judgeClick(
        effectivePolicy(locked.review),
        reviewState(locked.review),
        click(asApprover, locked.now, groups),
      );
      if (verdict.kind === 'refused' && verdict.code !== 'duplicate') {
        return asErrors(await this.recordRefusal(rt, locked, { ...asked, action: 'approve' }, verdict), 'user');
      }
      await recordChange(rt, locked.review, locked.review.policy, {
        ...changeOf(asked, locked.now, 'accepted'),
        action: 'delegate',
        detail: { to: user },
        patch: { delegates: [...new Set([...locked.review.delegates, user])] },
        thread: { text: `<@${asked.reviewer}> asked <@${user}> to decide.` },
        dms: [
          {
            user,
            notice: {
              text: `<@${asked.reviewer}> asked you to review "${(locked.review.request as { title: string }).title}" (run ${locked.review.run_id}).`,
            },
          },
        ],
      });
      return { kind: 'ok', notice: { text: `Delegated to <@${user}>.` } } as SubmissionReply;
    });
  }

  /** Records a refusal (and, for a click after expiry, the expiry itself, once). */
  private async recordRefusal(
    rt: RunTx,
    locked: { review: ReviewRow; now: Date },
    asked: Asked,
    verdict: Extract<ClickVerdict, { kind: 'refused' }>,
  ): Promise<ActionReply> {
    const policy = locked.review.policy as ReviewPolicy;
    await recordChange(rt, locked.review, policy, {
      ...changeOf(asked, locked.now, `denied:${verdict.code}`),
      action: asked.action,
    });
    if (verdict.code === 'expired' && locked.review.status === 'pending') {
      const expired = applyExpiry(policy, reviewState(locked.review), locked.now.toISOString());
      await recordChange(rt, locked.review, policy, {
        actor: 'signoff',
        action: 'expire',
        outcome: 'accepted',
        now: locked.now,
        deliveryId: 'expire',
        patch: { status: expired.status },
      });
    }
    return { kind: 'ephemeral', notice: { text: capitalize(verdict.message) + '.' } };
  }

  private async refuse(
    reviewId: string,
    actor: string,
    code: string,
    action: string,
    deliveryId: string,
    messageRef: string,
    isSecurity = true,
  ): Promise<void> {
    await this.d.transaction(async (rt) => {
      const locked = await this.lock(rt.sql, reviewId);
      await recordChange(rt, locked.review, locked.review.policy, {
        actor,
        action,
        outcome: `denied:${code}`,
        now: locked.now,
        deliveryId,
        messageRef,
        detail: { security: isSecurity },
      });
    });
  }

  private async judge(review: ReviewRow, asked: Asked): Promise<ClickVerdict> {
    const groups = await this.groupsFor(review, asked.reviewer);
    const now = await this.d.sql<{ now: Date }[]>`SELECT now()`;
    return judgeClick(effectivePolicy(review), reviewState(review), click(asked, now[0]!.now, groups));
  }

  private async findReview(ref: string, tenant: string): Promise<ReviewRow | null> {
    if (!REVIEW_ID.test(ref)) return null;
    const review = await readReview(this.d.sql, ref);
    return review && review.tenant === tenant ? review : null;
  }

  private async lock(tx: Db, id: string) {
    const locked = await lockReview(tx, id);
    if (!locked) throw new Error(`review ${id} vanished`);
    return locked;
  }

  /** The clicker's groups, looked up live; 'lookup_failed' fails closed in the policy. */
  private async groupsFor(review: ReviewRow, user: string): Promise<string[] | 'lookup_failed'> {
    const policy = effectivePolicy(review);
    if (!policy.approvers.groups?.length || policy.approvers.users?.includes(user)) return [];
    try {
      return await this.d.portOf(review.platform).groupsOf(review.tenant, user);
    } catch (err) {
      this.d.log.warn('group lookup failed; refusing the click', { review: review.id, error: (err as Error).message });
      return 'lookup_failed';
    }
  }
}

/** The policy as it applies now: delegates, and after escalation its targets, may decide too. */
export function effectivePolicy(review: ReviewRow): ReviewPolicy {
  const policy = review.policy as ReviewPolicy;
  const users = policy.approvers.users ?? [];
  const groups = policy.approvers.groups ?? [];
  if (users.length === 0 && groups.length === 0) return policy;
  const escalated = review.is_escalated ? (policy.escalateTo ?? {}) : {};
  return {
    ...policy,
    approvers: {
      users: [...new Set([...users, ...review.delegates, ...(escalated.users ?? [])])],
      groups: [...new Set([...groups, ...(escalated.groups ?? [])])],
    },
  };
}

function click(asked: Asked, now: Date, groups: string[] | 'lookup_failed'): ReviewClick {
  return {
    reviewer: asked.reviewer,
    action: asked.action,
    version: asked.version,
    at: now.toISOString(),
    reviewerGroups: groups,
    ...(asked.reason ? { reason: asked.reason } : {}),
  };
}

function changeOf(asked: Asked, now: Date, outcome: string): Omit<Change, 'action'> {
  return { actor: asked.reviewer, outcome, now, deliveryId: asked.deliveryId, messageRef: asked.messageRef };
}

function asErrors(reply: ActionReply | SubmissionReply, field: string): SubmissionReply {
  if (reply.kind === 'ephemeral') return { kind: 'errors', errors: { [field]: reply.notice.text } };
  return reply.kind === 'ok' ? reply : { kind: 'ok' };
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
