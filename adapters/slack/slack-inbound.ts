/**
 * Pure: Slack payloads (already verified) into the neutral inbound types, and
 * the raw request body into the object Bolt expects. Slack's shapes are read
 * defensively: a payload missing what we need is refused (`null`), never
 * guessed at, and never reaches a handler. Message refs are
 * `slack:<channel>:<ts>` (plus `:<thread ts>` for a reply), so the desk can
 * compare the clicked message with the card of record.
 */
import { createHash } from 'node:crypto';
import {
  makeMessageRef,
  parseMessageRef,
  type InboundAction,
  type InboundCommand,
  type InboundSubmission,
  type MessageRef,
  type ReviewAction,
} from '../../src/chat/messages.ts';
import { isWellFormedText } from '../../src/chat/text.ts';
import { ACTION_PREFIX, CARD_BLOCK_PREFIX, type EditorMeta } from './slack-render.ts';

/** The slash command this adapter answers; manifest.yml declares the same (a test compares). */
export const COMMAND = '/signoff';

const ACTIONS: readonly ReviewAction[] = ['approve', 'reject', 'edit', 'delegate'];
const PURPOSES: readonly EditorMeta['p'][] = ['edit', 'reject', 'delegate'];
// Postgres refuses NUL in text: refuse it here rather than fail an insert later (RELIABILITY 79).
const HAS_NUL = /\u0000/; // eslint-disable-line no-control-regex -- finding NUL is the point

type Json = Record<string, any>;

const str = (v: unknown): string | null =>
  typeof v === 'string' && v !== '' && !HAS_NUL.test(v) && isWellFormedText(v) ? v : null;

/** Slack sends `&`, `<`, `>` in typed text as entities; commands are parsed as the user typed them. */
export function unescapeText(text: string): string {
  return text.replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&amp;', '&');
}

/**
 * The request body as Bolt reads it: JSON for the Events API, a form for slash
 * commands, and a form with one `payload` field of JSON for interactivity.
 */
export function parseBody(raw: string, contentType: string): Json | null {
  try {
    if (/^application\/json/i.test(contentType)) return JSON.parse(raw) as Json;
    const form = Object.fromEntries(new URLSearchParams(raw));
    return typeof form.payload === 'string' ? (JSON.parse(form.payload) as Json) : form;
  } catch {
    return null;
  }
}

/** A slash command form; the trigger id names this one delivery. */
export function toInboundCommand(body: Json): InboundCommand | null {
  const [tenant, channel, user, deliveryId] = [
    str(body.team_id),
    str(body.channel_id),
    str(body.user_id),
    str(body.trigger_id),
  ];
  // A NUL or a broken character in the text goes on to the parser, which says what is wrong (not "try again").
  const text = typeof body.text === 'string' ? unescapeText(body.text) : null;
  if (!tenant || !channel || !user || !deliveryId || text === null) return null;
  const responseRef = str(body.response_url);
  return {
    platform: 'slack',
    tenant,
    channel,
    user,
    text: text.trim(),
    deliveryId,
    ...(responseRef ? { responseRef } : {}),
  };
}

/** An `app_mention` event as a command: the text after the bot's mention, deduplicated by event id. */
export function mentionToCommand(body: Json): InboundCommand | null {
  const event = body.event as Json | undefined;
  const [tenant, channel, user, deliveryId] = [
    str(body.team_id),
    str(event?.channel),
    str(event?.user),
    str(body.event_id),
  ];
  if (!event || !tenant || !channel || !user || !deliveryId || typeof event.text !== 'string') return null;
  const text = unescapeText(event.text)
    .replace(/^\s*(<@[A-Z0-9]+>\s*)+/i, '')
    .trim();
  return { platform: 'slack', tenant, channel, user, text: text || 'help', deliveryId };
}

/** A review button click from a `block_actions` payload. */
export function toInboundAction(body: Json): InboundAction | null {
  const action = (body.actions as Json[] | undefined)?.[0];
  const name =
    typeof action?.action_id === 'string' ? (action.action_id.slice(ACTION_PREFIX.length) as ReviewAction) : null;
  const version = Number(String(action?.block_id ?? '').slice(CARD_BLOCK_PREFIX.length));
  const [tenant, channel, user, reviewRef, deliveryId] = [
    str(body.team?.id ?? body.user?.team_id),
    str(body.channel?.id ?? body.container?.channel_id),
    str(body.user?.id),
    str(action?.value),
    str(body.trigger_id),
  ];
  const ts = str(body.container?.message_ts ?? body.message?.ts);
  if (
    !name ||
    !ACTIONS.includes(name) ||
    !String(action?.block_id ?? '').startsWith(CARD_BLOCK_PREFIX) ||
    !Number.isInteger(version) ||
    version < 0 ||
    !tenant ||
    !channel ||
    !user ||
    !reviewRef ||
    !deliveryId ||
    !ts
  )
    return null;
  const messageRef = makeMessageRef('slack', channel, ts);
  return { platform: 'slack', tenant, channel, user, reviewRef, action: name, messageRef, version, deliveryId };
}

/** The editor's metadata, or null when it is not ours or was tampered into another shape. */
export function readEditorMeta(privateMetadata: unknown): EditorMeta | null {
  try {
    const meta = JSON.parse(String(privateMetadata)) as Partial<EditorMeta>;
    const isValid =
      typeof meta.r === 'string' &&
      Number.isInteger(meta.v) &&
      PURPOSES.includes(meta.p!) &&
      typeof meta.c === 'string';
    return isValid ? (meta as EditorMeta) : null;
  } catch {
    return null;
  }
}

/** The submitted values by field name, a split field's parts joined in order. */
export function submittedFields(values: Json): Record<string, string> {
  const parts = Object.entries(values).flatMap(([blockId, inputs]) => {
    const match = /^(.+)#(\d+)$/.exec(blockId);
    const value = (inputs as Json)?.value?.value;
    return match ? [{ name: match[1]!, index: Number(match[2]), value: typeof value === 'string' ? value : '' }] : [];
  });
  parts.sort((a, b) => a.index - b.index);
  const fields: Record<string, string> = {};
  for (const p of parts) fields[p.name] = (fields[p.name] ?? '') + p.value;
  return fields;
}

/** Per field, what cannot be stored (a NUL, a broken character), said so the person can fix it; {} when all is well. */
export function unstorableFields(fields: Record<string, string>): Record<string, string> {
  const problems: Record<string, string> = {};
  for (const [name, value] of Object.entries(fields)) {
    if (HAS_NUL.test(value)) problems[name] = 'This contains a NUL character (\\0), which cannot be stored; remove it.';
    else if (!isWellFormedText(value))
      problems[name] = 'This contains a broken character (an unpaired UTF-16 surrogate); retype it.';
  }
  return problems;
}

/** A submitted editor modal. Its delivery id covers what was typed, so an identical resubmission is a no-op. */
export function toInboundSubmission(
  body: Json,
): { submission: InboundSubmission; meta: EditorMeta; blockIds: string[] } | null {
  const view = body.view as Json | undefined;
  const meta = readEditorMeta(view?.private_metadata);
  const [tenant, user, viewId] = [str(body.team?.id ?? body.user?.team_id), str(body.user?.id), str(view?.id)];
  const values = view?.state?.values;
  if (!meta || !tenant || !user || !viewId || !values || typeof values !== 'object') return null;
  const fields = submittedFields(values as Json);
  const digest = createHash('sha256').update(JSON.stringify(fields)).digest('hex').slice(0, 16);
  const submission: InboundSubmission = {
    platform: 'slack',
    tenant,
    user,
    purpose: meta.p,
    reviewRef: meta.r,
    version: meta.v,
    fields,
    deliveryId: `${viewId}:${digest}`,
  };
  return { submission, meta, blockIds: Object.keys(values as Json) };
}

/** Channel, ts and thread root of a Slack message ref; null for anything else. */
export function slackRefParts(ref: string): { channel: string; ts: string; threadTs: string } | null {
  try {
    const { platform, parts } = parseMessageRef(ref);
    const [channel, ts, threadTs] = parts;
    if (platform !== 'slack' || !channel || !ts || parts.length > 3) return null;
    return { channel, ts, threadTs: threadTs ?? ts };
  } catch {
    return null;
  }
}

export function slackRef(channel: string, ts: string, threadTs?: string): MessageRef {
  return threadTs && threadTs !== ts
    ? makeMessageRef('slack', channel, ts, threadTs)
    : makeMessageRef('slack', channel, ts);
}
