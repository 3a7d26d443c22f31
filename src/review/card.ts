/**
 * What a review looks like in chat, computed from its stored row: the neutral
 * card (./chat/messages.ts ReviewCard), the dialogs a click opens, and the
 * sentences people are told. Pure: the desk reads the row, adapters render and
 * escape. What a flow asks to have reviewed (`ReviewRequest`) is checked here
 * too, since the card is what it becomes.
 */
import { z } from 'zod';
import type { CardField, ReviewAction, ReviewCard } from '../chat/messages.ts';
import { truncateForDisplay } from '../chat/messages.ts';
import type { EditorForm, Notice } from '../chat/port.ts';
import type { RunCost } from '../store/ledger.ts';
import type { ReviewRow } from '../store/reviews.ts';
import {
  clockUtc as hourMinuteUtc,
  contentSha256,
  deciders,
  joinWords,
  tally,
  type ReviewPolicy,
  type ReviewState,
} from './policy.ts';

/** Longest value shown for a proposed field; the full value stays stored and hashed (RELIABILITY 61). */
const FIELD_DISPLAY_CHARS = 500;
/** Longest draft a person may submit in the editor. */
export const DRAFT_MAX_CHARS = 20_000;

const proposedField = z.strictObject({ name: z.string().min(1).max(200), old: z.string().optional(), new: z.string() });

/** A tool call as the card shows it: method, host and the fields it sends (old → new). */
const describedAction = z.strictObject({
  tool: z.string().min(1).max(100),
  method: z.string().min(1).max(20),
  host: z.string().min(1).max(255),
  fields: z.array(proposedField).max(50),
  /** The call's input as the tool will receive it, when the tool described it. */
  input: z.unknown().optional(),
});
export type DescribedAction = z.infer<typeof describedAction>;

/** A tool call named by the flow; the desk asks the tool to describe it. */
const toolCall = z.strictObject({ tool: z.string().min(1).max(100), input: z.unknown() });
export type ToolCallRequest = z.infer<typeof toolCall>;

/** What a flow passes as the `input` of a review child. */
export const reviewRequestSchema = z.strictObject({
  /** One line saying what is being decided. */
  title: z.string().min(1).max(200),
  /** Facts shown on the card, in order. */
  fields: z
    .array(z.strictObject({ label: z.string().min(1).max(100), value: z.string().max(2_000) }))
    .max(20)
    .default([]),
  /** The editable draft, by name (each becomes a field of the edit dialog); what the approval covers. */
  content: z
    .record(z.string().regex(/^[a-z][a-zA-Z0-9_]{0,39}$/), z.string().max(DRAFT_MAX_CHARS))
    .refine((c) => Object.keys(c).length >= 1 && Object.keys(c).length <= 10, 'content needs 1 to 10 named parts'),
  /**
   * Exactly what happens on approval, when it is a tool call: named as the call
   * (`{ tool, input }`, which the desk has the tool describe) or already
   * described. Covered by the approval's hash, input included.
   */
  proposedAction: z.union([describedAction, toolCall]).optional(),
  /** Channel for the card; default the channel the run was started from. */
  channel: z.string().min(1).max(200).optional(),
});
export type ReviewRequest = z.infer<typeof reviewRequestSchema>;

/**
 * What an approval covers: the draft and the full proposed action (never the
 * truncated display), so what runs is exactly what was approved (RELIABILITY 56, 61).
 */
export function approvalSha256(content: Record<string, string>, request: { proposedAction?: unknown }): string {
  return contentSha256({ content, proposedAction: request.proposedAction ?? null });
}

/** The policy-facing state of a stored review. */
export function reviewState(review: ReviewRow): ReviewState {
  return {
    version: review.version,
    contentSha256: review.content_sha256,
    requestedBy: review.requested_by,
    ...(review.last_editor ? { lastEditor: review.last_editor } : {}),
    status: review.status,
    decisions: review.decisions,
    ...(review.expires_at ? { expiresAt: review.expires_at.toISOString() } : {}),
  };
}

/** The card for a review as it stands now. */
export function buildCard(review: ReviewRow, policy: ReviewPolicy, cost?: RunCost): ReviewCard {
  const request = review.request as ReviewRequest;
  const isPending = review.status === 'pending';
  const state = reviewState(review);
  const t = tally(policy, state);
  const decidedBy = deciders(policy, state);
  const actions: ReviewAction[] = isPending
    ? ['approve', 'reject', ...(policy.allowEdit ? ['edit' as const] : []), 'delegate']
    : [];
  return {
    title: request.title,
    fields: [...request.fields, ...standardFields(review)],
    body: draftText(review.content),
    ...(review.previous_content
      ? { diff: { before: draftText(review.previous_content), after: draftText(review.content) } }
      : {}),
    ...(request.proposedAction && 'method' in request.proposedAction
      ? { proposedAction: shortenAction(request.proposedAction) }
      : {}),
    costLabel: costLabel(cost),
    status: {
      kind: review.status,
      ...(isPending ? { tally: { approvals: t.approvals, needed: t.needed } } : {}),
      ...(review.decided_at ? { at: review.decided_at.toISOString() } : {}),
      ...(decidedBy.length > 0 ? { by: decidedBy.at(-1)! } : {}),
      text: statusText(review, policy),
    },
    actions,
    reviewRef: review.id,
    version: review.version,
    runId: review.run_id,
  };
}

function standardFields(review: ReviewRow): CardField[] {
  const fields: CardField[] = [
    { label: 'Requested by', value: review.requested_by },
    { label: 'Version', value: String(review.version) },
  ];
  if (review.last_editor) fields.push({ label: 'Last edited by', value: review.last_editor });
  if (review.expires_at && review.status === 'pending')
    fields.push({ label: 'Expires', value: clockUtc(review.expires_at) });
  return fields;
}

/** The draft as one text: a single part as is, several as labelled blocks. */
export function draftText(content: Record<string, string>): string {
  const parts = Object.entries(content);
  if (parts.length === 1) return parts[0]![1];
  return parts.map(([name, text]) => `${name}:\n${text}`).join('\n\n');
}

function shortenAction({ input: _input, ...action }: DescribedAction) {
  const cut = (text: string) => {
    const { text: shown, isTruncated } = truncateForDisplay(text, FIELD_DISPLAY_CHARS);
    return isTruncated
      ? `${shown} (${text.length} characters; the full value is stored and covered by the approval)`
      : shown;
  };
  return {
    ...action,
    fields: action.fields.map((f) => ({
      name: f.name,
      new: cut(f.new),
      ...(f.old !== undefined ? { old: cut(f.old) } : {}),
    })),
  };
}

function statusText(review: ReviewRow, policy: ReviewPolicy): string {
  const at = review.decided_at ? ` at ${clockUtc(review.decided_at)}` : '';
  const state = reviewState(review);
  const who = deciders(policy, state);
  switch (review.status) {
    case 'pending': {
      const t = tally(policy, state);
      return `Waiting for review: ${t.approvals} of ${t.needed} approval${t.needed === 1 ? '' : 's'}`;
    }
    case 'approved':
    case 'rejected': {
      const verb = review.status === 'approved' ? 'Approved' : 'Rejected';
      return who.length > 0
        ? `${verb} by ${joinMentions(who)}${at}`
        : `${verb} by default when the review expired${at}`;
    }
    case 'expired':
      return `Expired${at}: nobody decided in time`;
    case 'cancelled':
      return `Cancelled${at}`;
  }
}

/** The sentence for the thread and the requester once a review has its outcome. */
export function outcomeNotice(review: ReviewRow, policy: ReviewPolicy): Notice {
  const reason =
    review.status === 'rejected'
      ? (review.decisions.findLast((d) => d.decision === 'reject' && d.version === review.version)?.reason as
          string | undefined)
      : undefined;
  const text = `${statusText(review, policy)} (version ${review.version}, run ${review.run_id}).`;
  return reason ? { text: `${text} Reason:`, quote: reason } : { text };
}

export function editForm(review: ReviewRow): EditorForm {
  return {
    purpose: 'edit',
    title: 'Edit the draft',
    reviewRef: review.id,
    version: review.version,
    fields: Object.entries(review.content).map(([name, value]) => ({
      name,
      label: name,
      value,
      isMultiline: true,
      maxChars: DRAFT_MAX_CHARS,
    })),
  };
}

export function rejectForm(review: ReviewRow): EditorForm {
  return {
    purpose: 'reject',
    title: 'Reject: why? (optional)',
    reviewRef: review.id,
    version: review.version,
    fields: [
      {
        name: 'reason',
        label: 'Reason (handed to the flow, which may redraft)',
        value: '',
        isMultiline: true,
        maxChars: 2_000,
      },
    ],
  };
}

export function delegateForm(review: ReviewRow): EditorForm {
  return {
    purpose: 'delegate',
    title: 'Delegate this decision',
    reviewRef: review.id,
    version: review.version,
    fields: [
      { name: 'user', label: 'User id of the person who should decide', value: '', isMultiline: false, maxChars: 100 },
    ],
  };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * A time in UTC as people read it on a card: "15:15 UTC" today, "3 Dec 15:15 UTC" on another
 * day (and "3 Dec 2027 15:15 UTC" in another year), so a 24 h expiry never reads as "now".
 * `now` is when the text is written (the card is re-rendered whenever it changes).
 */
export function clockUtc(at: Date, now: Date = new Date()): string {
  const time = `${hourMinuteUtc(at.toISOString())} UTC`;
  if (at.toISOString().slice(0, 10) === now.toISOString().slice(0, 10)) return time;
  const year = at.getUTCFullYear() === now.getUTCFullYear() ? '' : ` ${at.getUTCFullYear()}`;
  return `${at.getUTCDate()} ${MONTHS[at.getUTCMonth()]}${year} ${time}`;
}

/** "<@a>, <@b> and <@c>": mention tokens the adapters render without pinging. */
export function joinMentions(users: string[]): string {
  return joinWords(
    users.map((u) => `<@${u}>`),
    'and',
  );
}

/** "Cost so far" on a card: the run's model spend and tokens, and whether the offline model wrote it. */
export function costLabel(cost: RunCost | undefined): string {
  if (!cost || cost.calls === 0) return '$0.00 (no model calls)';
  const tokens = (cost.inputTokens + cost.outputTokens).toLocaleString('en-US');
  const usd =
    cost.costUsd === 0 ? '$0.00' : cost.costUsd < 0.01 ? `$${cost.costUsd.toFixed(4)}` : `$${cost.costUsd.toFixed(2)}`;
  return `${usd} · ${tokens} tokens${cost.offline ? ' · offline model' : ''}`;
}
