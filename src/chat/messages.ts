/**
 * The neutral message model of the chat port (DESIGN §7): what flows and the review
 * core hand to adapters (a review card) and what adapters hand back (a command, a
 * button click, a form submission). Types and tiny pure helpers only: no platform SDK,
 * no markup. Text here is plain; each adapter's renderer escapes it for its platform,
 * so nothing in this model can ping a channel or fake a link (RELIABILITY 82).
 */
import { SignoffError } from '../errors.ts';

/**
 * A chat platform's name (`slack`, `console`): the prefix of its message refs and
 * the key its port is found by. Each adapter declares its own (`ChatPort.platform`);
 * the core lists none, so a new adapter changes nothing here. A literal in lower
 * case type-checks; a runtime string must be checked (`isChatPlatform`) or cast.
 */
export type ChatPlatform = Lowercase<string>;

/** Lower-case letters and digits, a letter first: never a `:`, so a ref's prefix is unambiguous. */
const PLATFORM_NAME = /^[a-z][a-z0-9]{0,19}$/;

export function isChatPlatform(name: string): name is ChatPlatform {
  return PLATFORM_NAME.test(name);
}

/**
 * Where a posted message lives, as one opaque string with a platform prefix, e.g.
 * `slack:C123:1712.0001`. Only the adapter that made it reads its parts; everyone
 * else stores and compares it whole.
 */
export type MessageRef = string & { readonly __brand: 'MessageRef' };

/**
 * Builds a ref from the platform and its own parts (channel, ts, …). A `:` or `%` in a
 * part is percent-encoded so any part round-trips through `parseMessageRef`.
 */
export function makeMessageRef(platform: ChatPlatform, ...parts: string[]): MessageRef {
  if (!isChatPlatform(platform))
    throw new SignoffError('event_invalid', 'a platform name is lower-case letters and digits');
  if (parts.length === 0 || parts.some((part) => part === '')) {
    throw new SignoffError('event_invalid', 'a message reference needs at least one non-empty part');
  }
  return [platform, ...parts.map(encodePart)].join(':') as MessageRef;
}

/**
 * Splits a ref back into its platform and parts; throws `event_invalid` for anything
 * else. Any platform name parses: the adapter that reads the parts checks it is its own.
 */
export function parseMessageRef(ref: string): { platform: ChatPlatform; parts: string[] } {
  const [platform = '', ...encoded] = ref.split(':');
  if (!isChatPlatform(platform) || encoded.length === 0 || encoded.some((part) => !/^(?:[^%]|%25|%3A)+$/.test(part))) {
    // The ref may come from a button payload: say nothing about what it named.
    throw new SignoffError('event_invalid', 'not a message reference');
  }
  return { platform, parts: encoded.map(decodePart) };
}

function encodePart(part: string): string {
  return part.replaceAll('%', '%25').replaceAll(':', '%3A');
}

function decodePart(part: string): string {
  return part.replace(/%(25|3A)/g, (_match, code: string) => (code === '25' ? '%' : ':'));
}

/**
 * A picture sent with a message (the weekly digest's chart). PNG only, as base64
 * so a message stays JSON (a step's output, a stored web chat message).
 * A platform that cannot show it posts `fallbackText` in its place.
 */
export interface ChatImage {
  /** The PNG bytes, base64. */
  pngBase64: string;
  /** Describes the picture for screen readers (Slack `alt_text`, the page's `alt`). */
  alt: string;
  /** Plain text standing in for the picture where it cannot be posted (Unicode bars). */
  fallbackText: string;
  /** File name for platforms that upload files. Default `chart.png`. */
  filename?: string;
}

/** The buttons a review card can carry. */
export type ReviewAction = 'approve' | 'reject' | 'edit' | 'delegate';

/** One labelled value on a card, e.g. "Customer: ACME". */
export interface CardField {
  /** Short label, plain text. */
  label: string;
  /** The value, plain text. */
  value: string;
}

/** One field a tool call will change, shown old → new. */
export interface ProposedField {
  /** Field name as the tool knows it. */
  name: string;
  /** The current value, when known (absent for a create). */
  old?: string;
  /** The value it will have after approval. */
  new: string;
}

/** Exactly what happens on approval, as structured data so it is rendered, not trusted (RELIABILITY 61). */
export interface ProposedAction {
  /** Registered tool name, e.g. `zendesk`. */
  tool: string;
  /** HTTP method or tool verb, e.g. `PUT`. */
  method: string;
  /** The host the call goes to. */
  host: string;
  /** The fields the call sets. */
  fields: ProposedField[];
}

/** Where a review stands, shown on the card; after an outcome the buttons go. */
export interface ReviewCardStatus {
  /** The review's status. */
  kind: 'pending' | 'approved' | 'rejected' | 'expired' | 'cancelled';
  /** Who decided (user id), once decided. */
  by?: string;
  /** When it was decided, ISO. */
  at?: string;
  /** Live quorum tally while pending. */
  tally?: { approvals: number; needed: number };
  /**
   * The status in words, with `<@id>` mention tokens rendered like a Notice's text,
   * e.g. "Approved by <@U1> and <@U2> at 14:02 UTC". Adapters show this line as is.
   */
  text: string;
}

/** A review request as a platform-neutral card. Adapters render and escape every text. */
export interface ReviewCard {
  /** One-line title, plain text. */
  title: string;
  /** Labelled facts about the run, in display order. */
  fields: CardField[];
  /** The draft under review, plain text (the model's output, labelled as such by the renderer). */
  body: string;
  /** What an edit changed, for a version after the first. */
  diff?: { before: string; after: string };
  /** What will happen on approval, when it is a tool call. */
  proposedAction?: ProposedAction;
  /** The run's model cost so far, formatted by the desk, e.g. "$0.04 · 1,200 tokens". */
  costLabel: string;
  /** Current status and tally. */
  status: ReviewCardStatus;
  /** Buttons to show; empty once decided. */
  actions: ReviewAction[];
  /** Opaque handle the adapter puts in its buttons; the server re-checks everything at click time. */
  reviewRef: string;
  /** The content version shown; buttons carry it back so a click on an edited-since card is refused. */
  version: number;
  /** Id of the run under review, shown so people can ask for its status and timeline. */
  runId: string;
}

/** A slash command or typed command, e.g. `/signoff run ticket-triage subject=…`. */
export interface InboundCommand {
  /** The platform it came from. */
  platform: ChatPlatform;
  /** Workspace, guild or local tenant id; every lookup is scoped by it. */
  tenant: string;
  /** Channel id where it was typed. */
  channel: string;
  /** User id of who typed it. */
  user: string;
  /** The text after the command name, verbatim. */
  text: string;
  /** Adapter-private handle for replying to this command (Slack response_url, Discord token). */
  responseRef?: string;
  /** The platform's id for this delivery (trigger id, interaction id); a redelivery is deduplicated by it. */
  deliveryId: string;
}

/** A button click on a review card. */
export interface InboundAction {
  /** The platform it came from. */
  platform: ChatPlatform;
  /** Workspace, guild or local tenant id. */
  tenant: string;
  /** Channel id of the card. */
  channel: string;
  /** User id of who clicked. */
  user: string;
  /** The card's `reviewRef`, as carried by the button: a claim, checked by the server. */
  reviewRef: string;
  /** Which button. */
  action: ReviewAction;
  /** The message that was clicked, so the card can be updated in place. */
  messageRef: MessageRef;
  /** The content version shown on the card; a stale one is refused. */
  version: number;
  /** The platform's id for this click (Slack action ts + trigger id, Discord interaction id); a redelivery is a no-op. */
  deliveryId: string;
}

/** A submitted edit dialog (modal). */
export interface InboundSubmission {
  /** The platform it came from. */
  platform: ChatPlatform;
  /** Workspace, guild or local tenant id. */
  tenant: string;
  /** User id of who submitted. */
  user: string;
  /** Which dialog: an edit of the draft, a rejection with its reason, or a delegation. */
  purpose: 'edit' | 'reject' | 'delegate';
  /** The review being edited, as carried by the dialog. */
  reviewRef: string;
  /** The version the dialog was opened on; a stale one is refused (RELIABILITY 58). */
  version: number;
  /** Submitted values by field name, verbatim. */
  fields: Record<string, string>;
  /** The platform's id for this submission; a redelivery is a no-op. */
  deliveryId: string;
}

/** Appended to truncated text so a reader knows there is more (RELIABILITY 81). */
export const TRUNCATION_MARKER = '… [truncated]';

/**
 * Shortens `text` to at most `maxChars` UTF-16 units including the marker. Platforms
 * count characters no more strictly than UTF-16 units, so this stays under their limits,
 * and a cut never splits a surrogate pair.
 */
export function truncateForDisplay(text: string, maxChars: number): { text: string; isTruncated: boolean } {
  if (!Number.isInteger(maxChars) || maxChars < TRUNCATION_MARKER.length) {
    throw new SignoffError('input_invalid', `maxChars must be a whole number of at least ${TRUNCATION_MARKER.length}`);
  }
  if (text.length <= maxChars) return { text, isTruncated: false };
  let cut = maxChars - TRUNCATION_MARKER.length;
  // A high surrogate at the end would be half an emoji: drop it too.
  if (cut > 0 && /[\uD800-\uDBFF]/.test(text[cut - 1] ?? '')) cut -= 1;
  return { text: text.slice(0, cut) + TRUNCATION_MARKER, isTruncated: true };
}

/**
 * A user-facing error with the correlation id an operator greps the logs for:
 * `could not record that; please try again (ref 7f3a9c01b2d4)` (RELIABILITY 78).
 * The text stays generic; the id names this request only, never a run or tenant.
 */
export function withReference(text: string, ref: string | undefined): string {
  return ref ? `${text} (ref ${ref})` : text;
}
