/**
 * Human reviews as flow authors declare them: once, with their policy, as
 * actor logic a state invokes. The state leaves on the review's events, which
 * the typed `setup` (./setup.ts) adds to the machine with `content` typed from
 * the review's content:
 *
 *   const replyReview = review<{ reply: string }>({ approvers: { groups: ['support-leads'] }, expiresInMs: DAY });
 *   awaitingReview: {
 *     invoke: { src: 'replyReview', input: ({ context }) => ({ title: '…', content: { reply: context.reply } }) },
 *     on: { 'review.approved': { target: 'sending', actions: assign({ reply: ({ event }) => event.content.reply }) } },
 *   }
 *
 * The events are exactly what the review desk sends (src/review/outcomes.ts `outcomeEvent`).
 */
import { fromPromise, type AnyActorLogic, type PromiseActorLogic } from 'xstate';
import { parsePolicy, type ReviewPolicy, type ReviewPolicyInput } from '../review/policy.ts';

/** The editable draft a person reviews, by name (each part a field of the edit dialog). */
export type ReviewContent = Record<string, string>;

/** A tool call the approval covers; the tool describes it on the card (method, host, fields). */
export interface ProposedToolCall {
  /** A registered tool, e.g. `zendesk.reply`. */
  tool: string;
  /** The tool's input, exactly as the step will send it after approval. */
  input: unknown;
}

/** What a state invokes a review with; src/review/card.ts `reviewRequestSchema` checks it at run time. */
export interface ReviewRequest<C extends ReviewContent = ReviewContent> {
  /** One line saying what is being decided. */
  title: string;
  /** Facts shown on the card, in order. */
  fields?: { label: string; value: string }[];
  /** What the approval covers, and what an editor may change. */
  content: C;
  /** What happens on approval, as the tool call itself. */
  proposedAction?: ProposedToolCall;
  /** Channel for the card; default the channel the run was started from. */
  channel?: string;
}

/** What every outcome of a review carries. */
export interface ReviewOutcome<C extends ReviewContent = ReviewContent> {
  reviewId: string;
  /** Who decided (the approvers, or the rejecter). Empty on a plain expiry. */
  by: string[];
  /** The content as decided: edited, when someone edited it. */
  content: C;
  /** Hash of the content and proposed action the decision covers. */
  contentSha256: string;
  version: number;
  /** ISO time of the decision. */
  decidedAt: string | null;
  /** A rejecter's reason, when given. */
  reason?: string;
}

export type ReviewApproved<C extends ReviewContent = ReviewContent> = { type: 'review.approved' } & ReviewOutcome<C>;
export type ReviewRejected<C extends ReviewContent = ReviewContent> = { type: 'review.rejected' } & ReviewOutcome<C>;
export type ReviewExpired<C extends ReviewContent = ReviewContent> = { type: 'review.expired' } & ReviewOutcome<C>;
export type ReviewEvent<C extends ReviewContent = ReviewContent> =
  ReviewApproved<C> | ReviewRejected<C> | ReviewExpired<C>;

declare const reviewContent: unique symbol;

/** A review: actor logic for `setup({ actors })` that carries its policy; `C` types its events. */
export type Review<C extends ReviewContent> = PromiseActorLogic<never, ReviewRequest<C>> & {
  readonly [reviewContent]?: C;
};

const policies = new WeakMap<AnyActorLogic, ReviewPolicy>();

/** A named human review with its policy (who decides, quorum, expiry…), checked now: a bad policy fails at load. */
export function review<C extends ReviewContent>(policy: ReviewPolicyInput = {}): Review<C> {
  const parsed = parsePolicy(policy);
  const logic = fromPromise<never, ReviewRequest<C>>(async () => {
    throw new Error('signoff reviews are decided by people, not inside an XState actor');
  });
  policies.set(logic, parsed);
  return logic as Review<C>;
}

/** The policy of a review made by this module; undefined for any other actor logic. */
export function reviewPolicy(logic: AnyActorLogic): ReviewPolicy | undefined {
  return policies.get(logic);
}
