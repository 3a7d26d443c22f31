/**
 * Pure: neutral cards, notices and editor forms as Slack Block Kit. Every text a
 * person or a model wrote is escaped (`&`, `<`, `>` per Slack's formatting rules)
 * and shown with `verbatim: true`, so `<!channel>`, `<@U123>` or
 * `<https://evil|Approve>` appear literally: no ping, no disguised link
 * (RELIABILITY 82). The only markup we emit is our own: bold labels and the
 * `<@id>` mention tokens of our own sentences, whose ids are shape-checked.
 * Slack's limits shape the layout: 50 blocks per message and 100 per modal, 3000
 * characters per section text, 10 fields of 2000 per section, 150 for a header,
 * 24 for a modal title, 3000 per input (https://api.slack.com/reference/block-kit/blocks).
 * What does not fit is cut with a pointer to the full text, which stays stored
 * (and hashed) with the run; test/unit/slack-render-limits.test.ts checks random
 * and hostile cards against the fake Slack's validator.
 */
import { TRUNCATION_MARKER, truncateForDisplay, type ReviewAction, type ReviewCard } from '../../src/chat/messages.ts';
import type { EditorForm, Notice } from '../../src/chat/port.ts';
import { neutraliseBidi } from '../../src/chat/text.ts';

/** A Block Kit block; the SDK's own types are wider than what we build. */
export type Block = Record<string, unknown>;

/** The action id of each review button: `signoff_approve`, `signoff_reject`, … */
export const ACTION_PREFIX = 'signoff_';
/** The actions block's id carries the version the card shows: `signoff_card:v3`. */
export const CARD_BLOCK_PREFIX = 'signoff_card:v';
/** callback_id of every editor modal. */
export const EDITOR_CALLBACK = 'signoff_editor';
/** Who wrote the draft, said on the card so nobody mistakes it for a colleague's words (RELIABILITY 61). */
export const DRAFT_LABEL = 'Draft (written by the model)';

const SECTION_CHARS = 3_000;
const FIELD_CHARS = 2_000;
const FIELDS_PER_SECTION = 10;
const HEADER_CHARS = 150;
const MODAL_TITLE_CHARS = 24;
const INPUT_CHARS = 3_000;
/** Sections the draft may take; beyond them it is cut with a pointer to the full text. */
const MAX_BODY_SECTIONS = 5;
/** What each side of a diff may take (raw), and escaped, so both and their labels fit one section. */
const DIFF_SIDE_CHARS = 1_400;
const DIFF_SIDE_ESCAPED = 1_480;
/** Blocks per message (Slack: 50) and per modal (100). */
const MESSAGE_BLOCKS = 50;
const MODAL_BLOCKS = 100;
/** A card's blocks besides its field sections: header, label, body, diff, proposed head, status, meta, buttons. */
const FIXED_CARD_BLOCKS = 7 + MAX_BODY_SECTIONS;
/** Field sections the proposed call may take of what is left; the card's own fields get the rest. */
const PROPOSED_SECTIONS = 20;
/** Room for the cost label in the meta line. */
const COST_CHARS = 200;
/** Said at the end of a notice cut to fit. */
const NOTICE_POINTER = '_The full text is kept with the run; `/signoff status` shows it._';
const MENTION_TOKEN = /<@([A-Za-z0-9._-]{1,64})>/g;
const LABELS: Record<ReviewAction, string> = {
  approve: 'Approve',
  reject: 'Reject',
  edit: 'Edit',
  delegate: 'Delegate',
};

/** Escapes the three characters Slack treats as markup, and shows bidi controls as markers (src/chat/text.ts). */
export function escapeText(text: string): string {
  return neutraliseBidi(text).replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/** Our own sentence: escaped, except the `<@id>` tokens we put there. */
export function mentionText(text: string): string {
  let out = '';
  let last = 0;
  for (const match of text.matchAll(MENTION_TOKEN)) {
    out += escapeText(text.slice(last, match.index)) + match[0];
    last = match.index + match[0].length;
  }
  return out + escapeText(text.slice(last));
}

/** A notice as mrkdwn: our sentence, then someone's words as an escaped quote. */
export function noticeText(notice: Notice): string {
  const quote = notice.quote
    ? '\n' +
      notice.quote
        .split('\n')
        .map((line) => `>${escapeText(line)}`)
        .join('\n')
    : '';
  return mentionText(notice.text) + quote;
}

/** A notice as a message: escaped sections (3000 characters each) and the same text as the notification fallback. */
export function noticeMessage(notice: Notice): { text: string; blocks: Block[] } {
  const text = noticeText(notice);
  const blocks = chunkEscaped(text, SECTION_CHARS, MAX_BODY_SECTIONS, NOTICE_POINTER).map((chunk) => section(chunk));
  return { text: cutEscaped(text, 4_000), blocks };
}

/** A notice where Slack shows plain text only (modal errors): mentions as `@id`. */
export function plainNotice(notice: Notice): string {
  const text = notice.text.replace(MENTION_TOKEN, '@$1');
  return notice.quote ? `${text} "${notice.quote}"` : text;
}

function mrkdwn(text: string): Block {
  return { type: 'mrkdwn', text, verbatim: true };
}

function section(text: string, blockId?: string): Block {
  return { type: 'section', ...(blockId ? { block_id: blockId } : {}), text: mrkdwn(text) };
}

/** Cuts escaped text to `maxChars` without splitting an entity, one of our `<@id>` tokens or a surrogate pair. */
function cutEscaped(escaped: string, maxChars: number): string {
  if (escaped.length <= maxChars) return escaped;
  let cut = maxChars;
  const amp = escaped.lastIndexOf('&', cut);
  if (amp > cut - 5 && escaped.indexOf(';', amp) >= cut) cut = amp;
  // Escaped text has no raw `<` but our mention tokens: never leave half of one.
  const open = escaped.lastIndexOf('<', cut - 1);
  if (open >= 0 && escaped.indexOf('>', open) >= cut) cut = open;
  if (/[\uD800-\uDBFF]/.test(escaped[cut - 1] ?? '')) cut -= 1;
  return escaped.slice(0, cut);
}

/** Escaped text cut to fit `maxChars` with the truncation marker. */
function fitEscaped(escaped: string, maxChars: number): string {
  return escaped.length <= maxChars
    ? escaped
    : cutEscaped(escaped, maxChars - TRUNCATION_MARKER.length) + TRUNCATION_MARKER;
}

/** Escaped text in chunks of at most `size`, at most `max` chunks; the last says how much was left out. */
export function splitEscaped(text: string, size: number, max: number, pointer: string): string[] {
  return chunkEscaped(escapeText(text), size, max, pointer);
}

function chunkEscaped(escaped: string, size: number, max: number, pointer: string): string[] {
  let rest = escaped;
  const chunks: string[] = [];
  while (rest.length > 0 && chunks.length < max) {
    const isLast = chunks.length === max - 1;
    const room = isLast && rest.length > size ? size - pointer.length - TRUNCATION_MARKER.length - 2 : size;
    const chunk = cutEscaped(rest, room);
    rest = rest.slice(chunk.length);
    chunks.push(isLast && rest.length > 0 ? `${chunk}${TRUNCATION_MARKER}\n${pointer}` : chunk);
  }
  return chunks.length > 0 ? chunks : [' '];
}

/**
 * Fields, 10 to a section, in at most `maxSections` sections; when they do not
 * all fit, the last field says how many more there are and where they are.
 */
function fieldSections(all: [string, string][], blockPrefix: string, maxSections: number, pointer: string): Block[] {
  const room = maxSections * FIELDS_PER_SECTION;
  const pairs: [string, string][] =
    all.length <= room
      ? all
      : [...all.slice(0, room - 1), ['…', `${all.length - room + 1} more fields not shown. ${pointer}`]];
  const blocks: Block[] = [];
  for (let i = 0; i < pairs.length; i += FIELDS_PER_SECTION) {
    const fields = pairs.slice(i, i + FIELDS_PER_SECTION).map(([label, value]) => {
      // Labels are short by design; a long value is cut with the marker (the full one stays stored and hashed).
      const text = `*${fitEscaped(escapeText(label), 200)}*\n${escapeText(value)}`;
      return mrkdwn(fitEscaped(text, FIELD_CHARS));
    });
    blocks.push({ type: 'section', block_id: `${blockPrefix}:${i / FIELDS_PER_SECTION}`, fields });
  }
  return blocks;
}

function proposedBlocks(action: NonNullable<ReviewCard['proposedAction']>, pointer: string): Block[] {
  const head = section(
    fitEscaped(
      `*On approval:* ${escapeText(action.method)} ${escapeText(action.host)} (${escapeText(action.tool)})`,
      SECTION_CHARS,
    ),
    'proposed',
  );
  const pairs = action.fields.map((f): [string, string] => [
    f.name,
    f.old === undefined ? f.new : `${f.old} → ${f.new}`,
  ]);
  return [head, ...fieldSections(pairs, 'proposed_fields', PROPOSED_SECTIONS, pointer)];
}

function diffBlock(diff: NonNullable<ReviewCard['diff']>): Block {
  const side = (label: string, text: string) => {
    const cut = truncateForDisplay(text, DIFF_SIDE_CHARS).text;
    return `*${label}*\n${fitEscaped(escapeText(cut), DIFF_SIDE_ESCAPED)}`;
  };
  return section(`${side('Before', diff.before)}\n${side('After', diff.after)}`, 'diff');
}

function buttons(card: ReviewCard): Block[] {
  if (card.status.kind !== 'pending' || card.actions.length === 0) return [];
  const elements = card.actions.map((action) => ({
    type: 'button',
    action_id: `${ACTION_PREFIX}${action}`,
    text: { type: 'plain_text', text: LABELS[action] },
    // The button names the review and nothing else; who may act is decided at click time.
    value: card.reviewRef,
    ...(action === 'approve' ? { style: 'primary' } : action === 'reject' ? { style: 'danger' } : {}),
  }));
  return [{ type: 'actions', block_id: `${CARD_BLOCK_PREFIX}${card.version}`, elements }];
}

/** A review card: header, fields, the labelled draft, diff, proposed action, status, cost, buttons. */
export function renderCard(card: ReviewCard): { text: string; blocks: Block[] } {
  const pointer = `_The full draft is stored with run \`${escapeText(card.runId)}\`; Edit shows all of it._`;
  const fieldsPointer = `All are stored with run \`${escapeText(card.runId)}\`.`;
  const proposed = card.proposedAction ? proposedBlocks(card.proposedAction, fieldsPointer) : [];
  const fieldRoom = MESSAGE_BLOCKS - FIXED_CARD_BLOCKS - Math.max(0, proposed.length - 1);
  const cost = fitEscaped(escapeText(card.costLabel ?? '-'), COST_CHARS);
  const blocks: Block[] = [
    {
      type: 'header',
      block_id: 'title',
      text: { type: 'plain_text', text: truncateForDisplay(neutraliseBidi(card.title), HEADER_CHARS).text },
    },
    ...fieldSections(
      card.fields.map((f) => [f.label, f.value]),
      'fields',
      fieldRoom,
      fieldsPointer,
    ),
    { type: 'context', block_id: 'draft_label', elements: [mrkdwn(`*${DRAFT_LABEL}*`)] },
    ...splitEscaped(card.body, SECTION_CHARS, MAX_BODY_SECTIONS, pointer).map((chunk, i) =>
      section(chunk, `body:${i}`),
    ),
    ...(card.diff ? [diffBlock(card.diff)] : []),
    ...proposed,
    section(fitEscaped(mentionText(card.status.text), SECTION_CHARS), `status:${card.status.kind}`),
    {
      type: 'context',
      block_id: 'meta',
      elements: [mrkdwn(`Cost so far: ${cost} · run \`${escapeText(card.runId)}\` · version ${card.version}`)],
    },
    ...buttons(card),
  ];
  return { text: `Review: ${escapeText(truncateForDisplay(card.title, HEADER_CHARS).text)}`, blocks };
}

/** What an editor modal carries back in private_metadata; the server re-checks all of it. */
export interface EditorMeta {
  /** reviewRef */ r: string;
  /** version the form was opened on */ v: number;
  /** purpose */ p: EditorForm['purpose'];
  /** channel of the card, for the confirmation */ c: string;
}

/** A long value becomes several inputs of Slack's 3000-character limit; submission joins them. */
function inputBlocks(form: EditorForm): Block[] {
  return form.fields.flatMap((field) => {
    const parts = Math.max(1, Math.ceil(field.value.length / INPUT_CHARS));
    return Array.from({ length: parts }, (_unused, i) => {
      const value = field.value.slice(i * INPUT_CHARS, (i + 1) * INPUT_CHARS);
      // Slack refuses an initial value longer than max_length, so a value already over the field's limit widens it.
      const maxLength = Math.min(INPUT_CHARS, Math.max(field.maxChars, value.length));
      return {
        type: 'input',
        block_id: `${field.name}#${i}`,
        optional: form.purpose === 'reject',
        label: {
          type: 'plain_text',
          text: truncateForDisplay(parts > 1 ? `${field.label} (part ${i + 1} of ${parts})` : field.label, 2_000).text,
        },
        element: {
          type: 'plain_text_input',
          action_id: 'value',
          multiline: field.isMultiline,
          max_length: maxLength,
          ...(value ? { initial_value: value } : {}),
        },
      };
    });
  });
}

/** The modal for an editor form (views.open). */
export function renderEditor(form: EditorForm, channel: string): Record<string, unknown> {
  const meta: EditorMeta = { r: form.reviewRef, v: form.version, p: form.purpose, c: channel };
  const inputs = inputBlocks(form);
  // A text needing more inputs than a modal holds cannot be edited here without losing its end: say so, offer no Save.
  const fits = inputs.length <= MODAL_BLOCKS;
  const chars = form.fields.reduce((n, f) => n + f.value.length, 0).toLocaleString('en-US');
  const tooLong = section(
    escapeText(
      `This is too long to edit in Slack (${chars} characters; a Slack dialog holds ` +
        `${(MODAL_BLOCKS * INPUT_CHARS).toLocaleString('en-US')}). Edit it in the web chat, or reject it with a reason.`,
    ),
  );
  return {
    type: 'modal',
    callback_id: EDITOR_CALLBACK,
    private_metadata: JSON.stringify(meta),
    title: { type: 'plain_text', text: truncateForDisplay(form.title, MODAL_TITLE_CHARS).text },
    ...(fits ? { submit: { type: 'plain_text', text: form.purpose === 'edit' ? 'Save' : 'Submit' } } : {}),
    close: { type: 'plain_text', text: 'Cancel' },
    blocks: fits ? inputs : [tooLong],
  };
}

/** Modal errors by block id: a field's message on its first input, a general one on the first block. */
export function editorErrors(errors: Record<string, string>, blockIds: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, message] of Object.entries(errors)) {
    const target = blockIds.find((id) => id === `${name}#0`) ?? blockIds[0] ?? `${name}#0`;
    out[target] = out[target] ? `${out[target]} ${message}` : message;
  }
  return out;
}
