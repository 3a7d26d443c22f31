/**
 * Pure: cards, notices and modals as Discord message bodies. A card is one
 * embed (title, draft, fields, status) plus a row of buttons: embeds keep
 * `content` free, so nothing on a card can ping (embeds never notify), and
 * components v2 would forbid embeds and content for good (PLATFORMS "Components
 * v2"). Every untrusted text is markdown-escaped, so `<@123>` or `@everyone`
 * reads literally, and every body carries `allowed_mentions: { parse: [] }`
 * (RELIABILITY 82). Limits from resources/message.mdx "Embed Limits".
 */
import { ButtonStyle, ComponentType, TextInputStyle } from 'discord-api-types/v10';
import { TRUNCATION_MARKER, truncateForDisplay, type ReviewAction, type ReviewCard } from '../../src/chat/messages.ts';
import type { EditorForm, Notice } from '../../src/chat/port.ts';
import { neutraliseBidi } from '../../src/chat/text.ts';
import { buttonId, modalId } from './discord-inbound.ts';

type Body = Record<string, any>;

/** Mentions only ids we name on purpose; `parse: []` stops text from pinging anyone. */
export function allowedMentions(users: string[] = []): Body {
  return { parse: [], users };
}

const MAX_CONTENT = 2_000;
const MAX_DESCRIPTION = 4_096;
const MAX_FIELD_VALUE = 1_024;
const MAX_EMBED_TOTAL = 6_000;
/** What fields may take of the 6000, so the draft keeps at least about 1000. */
const MAX_FIELDS_TOTAL = 4_500;
/** A modal: 1-5 components, text input values up to 4000 (interactions/receiving-and-responding.mdx, components/reference.mdx). */
const MODAL_INPUTS = 5;
const INPUT_CHARS = 4_000;
const MENTION_TOKEN = /<@([A-Za-z0-9._-]+)>/g;
const LABELS: Record<ReviewAction, [string, ButtonStyle]> = {
  approve: ['Approve', ButtonStyle.Success],
  reject: ['Reject', ButtonStyle.Danger],
  edit: ['Edit', ButtonStyle.Secondary],
  delegate: ['Delegate', ButtonStyle.Secondary],
};

/** Markdown-escaped, so text shows as typed: `\<@1>`, `\@everyone`, `\*`. */
export function escapeText(text: string): string {
  return neutraliseBidi(text).replace(/[\\`*_~|<>@#[\]()-]/g, '\\$&');
}

/** The longest escaped prefix of `text` within `max` characters, with a marker when cut. */
export function fitEscaped(text: string, max: number, pointer = ''): string {
  const whole = escapeText(text);
  if (whole.length <= max) return whole;
  const tail = `${TRUNCATION_MARKER}${pointer}`;
  let out = '';
  for (const ch of text) {
    const next = escapeText(ch);
    if (out.length + next.length + tail.length > max) break;
    out += next;
  }
  return out + tail;
}

/** Our own sentence: escaped, except the `<@id>` tokens we put there (shown as names, never pinging: see allowedMentions). */
export function mentionText(text: string): string {
  let out = '';
  let last = 0;
  for (const m of text.matchAll(MENTION_TOKEN)) {
    out += escapeText(text.slice(last, m.index)) + m[0];
    last = m.index + m[0].length;
  }
  return out + escapeText(text.slice(last));
}

export function noticeBody(notice: Notice): Body {
  const quote = notice.quote ? `\n> ${fitEscaped(notice.quote, 1_500).replaceAll('\n', '\n> ')}` : '';
  let main = mentionText(notice.text);
  // Past 2000 characters, cut with a marker (RELIABILITY 81), never through an escape.
  if (main.length + quote.length > MAX_CONTENT)
    main = main.slice(0, MAX_CONTENT - quote.length - TRUNCATION_MARKER.length).replace(/\\$/, '') + TRUNCATION_MARKER;
  return { content: main + quote, allowed_mentions: allowedMentions() };
}

/** A file to send with a message, as discord.js's REST client takes it (`files[n]` parts). */
export interface UploadFile {
  name: string;
  data: Buffer;
  contentType: string;
}

/**
 * reference.mdx "Uploading Files": the default upload limit is 10 MiB a file,
 * and a bot's message gets the default (a boosted guild may take more, but we
 * cannot know it outside an interaction's `attachment_size_limit`).
 */
export const UPLOAD_LIMIT_BYTES = 10 * 1024 * 1024;
/** resources/message.mdx "Attachment Request Structure": alt text up to 1024 characters. */
const MAX_ALT = 1_024;

/**
 * A notice with its picture as one message: the text, and the PNG as
 * `files[0]` that the `attachments` entry 0 refers to, with the alt text as its
 * description; Discord shows an image attachment under the text. Null when the
 * notice has no picture or it is over the upload limit (its text fallback goes instead).
 */
export function imageMessage(notice: Notice): { body: Body; files: UploadFile[] } | null {
  if (!notice.image) return null;
  const data = Buffer.from(notice.image.pngBase64, 'base64');
  if (data.length > UPLOAD_LIMIT_BYTES) return null;
  const filename = notice.image.filename ?? 'chart.png';
  return {
    body: {
      ...noticeBody(notice),
      attachments: [{ id: 0, filename, description: truncateForDisplay(notice.image.alt, MAX_ALT).text }],
    },
    files: [{ name: filename, data, contentType: 'image/png' }],
  };
}

/** A notice whose picture cannot go: the picture's text stand-in follows the text, in a code block so bars line up. */
export function fallbackBody(notice: Notice): Body {
  const stand = notice.image ? truncateForDisplay(notice.image.fallbackText.replaceAll('`', "'"), 1_500).text : '';
  const bars = stand ? `\n\`\`\`\n${stand}\n\`\`\`` : '';
  const body = noticeBody(notice);
  const room = MAX_CONTENT - bars.length;
  const text =
    body.content.length > room
      ? body.content.slice(0, Math.max(0, room - TRUNCATION_MARKER.length)).replace(/\\$/, '') + TRUNCATION_MARKER
      : body.content;
  return { ...body, content: text + bars };
}

function field(name: string, value: string, isOurs = false): Body {
  return {
    name: fitEscaped(name, 256),
    value: (isOurs ? mentionText(value) : fitEscaped(value, MAX_FIELD_VALUE)).slice(0, MAX_FIELD_VALUE) || '-',
  };
}

function cardFields(card: ReviewCard): Body[] {
  const fields = card.fields.map((f) => field(f.label, f.value));
  if (card.diff) fields.push(field('Before', card.diff.before), field('After', card.diff.after));
  const a = card.proposedAction;
  if (a) {
    fields.push(field('On approval', `${a.method} ${a.host} (${a.tool})`));
    for (const f of a.fields.slice(0, 12))
      fields.push(field(f.name, f.old !== undefined ? `${f.old} → ${f.new}` : f.new));
  }
  fields.push(field('Cost so far', card.costLabel || '-'), field('Status', card.status.text, true));
  // 25 fields at most (resources/message.mdx); cost and status always stay.
  return shrinkToFit([...fields.slice(0, -2).slice(0, 23), ...fields.slice(-2)], MAX_FIELDS_TOTAL);
}

/** All fields within `max` characters (the 6000 of an embed, less room for the draft): the longest are halved first, marked. */
function shrinkToFit(fields: Body[], max: number): Body[] {
  const size = () => fields.reduce((n, f) => n + f.name.length + f.value.length, 0);
  while (size() > max) {
    const longest = fields.reduce((a, f) => (f.value.length > a.value.length ? f : a));
    if (longest.value.length <= 40) break;
    longest.value = longest.value.slice(0, Math.floor(longest.value.length / 2)).replace(/\\$/, '') + TRUNCATION_MARKER;
  }
  return fields;
}

/** The card as a message body: one embed, one row of buttons (none once decided). */
export function renderCard(card: ReviewCard): Body {
  const title = fitEscaped(card.title, 256);
  const fields = cardFields(card);
  const footer = `run ${card.runId} · version ${card.version} · ${card.status.kind}`;
  const used = title.length + footer.length + fields.reduce((n, f) => n + f.name.length + f.value.length, 0);
  const pointer = ` The full draft is stored with run ${card.runId}; Edit shows all of it.`;
  const description = fitEscaped(
    card.body,
    Math.max(200, Math.min(MAX_DESCRIPTION, MAX_EMBED_TOTAL - used - 50)),
    pointer,
  );
  const buttons = card.actions.map((action) => ({
    type: ComponentType.Button,
    style: LABELS[action][1],
    label: LABELS[action][0],
    custom_id: buttonId(action, card.version, card.reviewRef),
  }));
  return {
    content: '',
    allowed_mentions: allowedMentions(),
    embeds: [{ title, description: description || '-', fields, footer: { text: footer } }],
    components: buttons.length > 0 ? [{ type: ComponentType.ActionRow, components: buttons }] : [],
  };
}

/** A form as a modal: a long value spans several text inputs (`text#0`, `text#1` …), up to five in all. */
export function renderModal(form: EditorForm): Body {
  const components: Body[] = [];
  for (const f of form.fields) {
    const parts = Math.max(1, Math.ceil(f.value.length / INPUT_CHARS));
    for (let i = 0; i < parts && components.length < MODAL_INPUTS; i++) {
      const value = f.value.slice(i * INPUT_CHARS, (i + 1) * INPUT_CHARS);
      components.push({
        type: ComponentType.Label,
        label: truncateForDisplay(parts > 1 ? `${f.label} (${i + 1}/${parts})` : f.label, 45).text,
        component: {
          type: ComponentType.TextInput,
          custom_id: `${f.name}#${i}`,
          style: f.isMultiline ? TextInputStyle.Paragraph : TextInputStyle.Short,
          max_length: Math.min(INPUT_CHARS, f.maxChars),
          required: form.purpose !== 'reject' && i === 0,
          ...(value ? { value } : {}),
        },
      });
    }
  }
  return {
    custom_id: modalId(form.purpose, form.version, form.reviewRef),
    title: truncateForDisplay(form.title, 45).text,
    components,
  };
}

/** Escaped markdown back to the text it shows (the inverse of escapeText, for a card read back). */
export function unescapeText(text: string): string {
  return text.replace(/\\(.)/g, '$1');
}

/**
 * The edit modal from the clicked message alone (RELIABILITY 19: no database on the
 * way to a modal). The draft is the embed's description; a cut one says so, and the
 * submission is still checked against the stored version by the desk.
 */
export function editorFromMessage(message: Body, version: number, reviewRef: string): EditorForm {
  const shown = unescapeText(String(message.embeds?.[0]?.description ?? ''));
  const cut = shown.indexOf(TRUNCATION_MARKER);
  return {
    purpose: 'edit',
    title: 'Edit the draft',
    reviewRef,
    version,
    fields: [
      {
        name: 'text',
        label: cut >= 0 ? 'Draft (shown cut; the stored text is longer)' : 'Draft',
        value: cut >= 0 ? shown.slice(0, cut) : shown,
        isMultiline: true,
        maxChars: 20_000,
      },
    ],
  };
}
