/**
 * Pure: turns stored console messages (review cards and notices, verbatim) into
 * the JSON view models the page draws. The view keeps every text as data: the
 * page inserts it with textContent, never as markup, so `<!channel>`, `<script>`
 * or `<https://evil|Approve>` in a card show literally (RELIABILITY 82). The only
 * thing parsed is the mention token `<@id>` in our own sentences (a notice's text,
 * a card's status line), which becomes a segment the page shows as a non-pinging
 * `@Name`; a notice's quote and every card text stay verbatim, except that
 * bidirectional controls are shown as `[U+202E]` markers (src/chat/text.ts), so
 * `Refund \u202Egnp.exe` cannot read as "Refund exe.png".
 */
import type { Notice } from '../../src/chat/port.ts';
import {
  makeMessageRef,
  truncateForDisplay,
  type ReviewAction,
  type ReviewCard,
  type ReviewCardStatus,
} from '../../src/chat/messages.ts';
import { neutraliseBidi as shown } from '../../src/chat/text.ts';
import { BOT_AUTHOR, type ConsoleMessage } from './types.ts';

/** A run of plain text, or a mention drawn as `@name`. */
export type Segment = { kind: 'text'; text: string } | { kind: 'mention'; userId: string; name: string };

export interface NoticeView {
  parts: Segment[];
  /** Someone's words, shown verbatim; null when absent. */
  quote: string | null;
  /** A picture with the message, served by GET /api/image?id=<message id>; absent when none. */
  image?: { url: string; alt: string };
}

export interface CardView {
  title: string;
  fields: { label: string; value: string }[];
  body: { label: string; text: string };
  diff: { before: string; after: string } | null;
  proposedAction: {
    tool: string;
    method: string;
    host: string;
    fields: { name: string; old: string | null; new: string; isTruncated: boolean }[];
  } | null;
  costLabel: string | null;
  status: {
    kind: ReviewCardStatus['kind'];
    /** The status line as the desk wrote it, e.g. "Approved by @Bob at 14:02 UTC". */
    parts: Segment[];
    /** "1 of 2 approvals" while pending with a tally, else null; the page marks it in the line (or adds it). */
    tally: string | null;
    /** The decision time, ISO, for a tooltip; null when unknown. */
    at: string | null;
  };
  /** Buttons; none once decided. */
  actions: { action: ReviewAction; label: string }[];
  reviewRef: string;
  version: number;
  runId: string;
}

interface MessageViewBase {
  id: string;
  /** The message ref a click carries back (`console:<channel>:<id>`). */
  ref: string;
  channel: string;
  parentId: string | null;
  author: { id: string; name: string; isBot: boolean };
  createdAt: string;
  updatedAt: string;
}

export type MessageView =
  (MessageViewBase & { kind: 'card'; card: CardView }) | (MessageViewBase & { kind: 'text'; notice: NoticeView });

/** Display name of a person id, when known. */
export type NameOf = (userId: string) => string | undefined;

/** Who wrote the draft, said on the card so nobody mistakes it for a colleague's words (RELIABILITY 61). */
export const DRAFT_LABEL = 'Draft (written by the model)';

// A 10 kB tool argument is cut for display (RELIABILITY 61); the review keeps the full, hashed payload.
const MAX_VALUE_CHARS = 2_000;

const ACTION_LABELS: Record<ReviewAction, string> = {
  approve: 'Approve',
  reject: 'Reject',
  edit: 'Edit',
  delegate: 'Delegate',
};

// Ids as people and the review desk write them; anything else stays literal text.
const MENTION_TOKEN = /<@([A-Za-z0-9._-]{1,64})>/g;

function mention(userId: string, nameOf: NameOf): Segment {
  return { kind: 'mention', userId, name: nameOf(userId) ?? userId };
}

/** Our own sentence as text and mention segments. */
function mentionSegments(text: string, nameOf: NameOf): Segment[] {
  const parts: Segment[] = [];
  let last = 0;
  for (const match of text.matchAll(MENTION_TOKEN)) {
    if (match.index > last) parts.push({ kind: 'text', text: shown(text.slice(last, match.index)) });
    parts.push(mention(match[1]!, nameOf));
    last = match.index + match[0].length;
  }
  if (last < text.length) parts.push({ kind: 'text', text: shown(text.slice(last)) });
  return parts;
}

/** Splits our own sentence into text and mentions; the quote stays verbatim. */
export function renderNotice(notice: Notice, nameOf: NameOf, messageId?: string): NoticeView {
  const view: NoticeView = {
    parts: mentionSegments(notice.text, nameOf),
    quote: notice.quote ? shown(notice.quote) : null,
  };
  if (notice.image && messageId)
    view.image = { url: `/api/image?id=${encodeURIComponent(messageId)}`, alt: shown(notice.image.alt) };
  return view;
}

// Said when a producer left the status line empty.
const STATUS_WORDS: Record<ReviewCardStatus['kind'], string> = {
  pending: 'Waiting for review',
  approved: 'Approved',
  rejected: 'Rejected',
  expired: 'Expired',
  cancelled: 'Cancelled',
};

function renderStatus(status: ReviewCardStatus, nameOf: NameOf): CardView['status'] {
  const t = status.kind === 'pending' ? status.tally : undefined;
  return {
    kind: status.kind,
    parts: mentionSegments(status.text || STATUS_WORDS[status.kind], nameOf),
    tally: t ? `${t.approvals} of ${t.needed} approval${t.needed === 1 ? '' : 's'}` : null,
    at: status.at ?? null,
  };
}

function cutValue(value: string): { text: string; isTruncated: boolean } {
  return truncateForDisplay(shown(value), MAX_VALUE_CHARS);
}

function renderProposedAction(action: ReviewCard['proposedAction']): CardView['proposedAction'] {
  if (!action) return null;
  const fields = action.fields.map((field) => {
    const after = cutValue(field.new);
    const before = field.old === undefined ? null : cutValue(field.old);
    return {
      name: field.name,
      old: before?.text ?? null,
      new: after.text,
      isTruncated: after.isTruncated || Boolean(before?.isTruncated),
    };
  });
  return {
    tool: action.tool,
    method: action.method,
    host: shown(action.host),
    fields: fields.map((f) => ({ ...f, name: shown(f.name) })),
  };
}

export function renderCard(card: ReviewCard, nameOf: NameOf): CardView {
  const isPending = card.status.kind === 'pending';
  return {
    title: shown(card.title),
    fields: card.fields.map((f) => ({ label: shown(f.label), value: shown(f.value) })),
    body: { label: DRAFT_LABEL, text: shown(card.body) },
    diff: card.diff ? { before: shown(card.diff.before), after: shown(card.diff.after) } : null,
    proposedAction: renderProposedAction(card.proposedAction),
    costLabel: card.costLabel ?? null,
    status: renderStatus(card.status, nameOf),
    actions: isPending ? card.actions.map((action) => ({ action, label: ACTION_LABELS[action] })) : [],
    reviewRef: card.reviewRef,
    version: card.version,
    runId: card.runId,
  };
}

export function renderMessage(message: ConsoleMessage, nameOf: NameOf): MessageView {
  const isBot = message.author === BOT_AUTHOR;
  const base: MessageViewBase = {
    id: message.id,
    ref: makeMessageRef('console', message.channel, message.id),
    channel: message.channel,
    parentId: message.parentId,
    author: { id: message.author, name: isBot ? 'signoff' : (nameOf(message.author) ?? message.author), isBot },
    createdAt: message.createdAt.toISOString(),
    updatedAt: message.updatedAt.toISOString(),
  };
  return message.kind === 'card'
    ? { ...base, kind: 'card', card: renderCard(message.card, nameOf) }
    : { ...base, kind: 'text', notice: renderNotice(message.notice, nameOf, message.id) };
}
