/**
 * The one port every chat platform plugs into (DESIGN §7). An adapter
 * (adapters/slack, adapters/discord, adapters/console) implements `ChatPort`:
 * outbound it posts, updates and replies; inbound it verifies what the platform
 * delivers, translates it to the neutral types of ./messages.ts, hands it to
 * `ChatHandlers`, and acknowledges only after the handler resolved (the handler
 * commits first: persist, then acknowledge). Adapters hold no flow logic and no
 * SQL; the review desk and the command handlers behind `ChatHandlers` do.
 *
 * Text conventions, so nothing can ping or fake a link (RELIABILITY 82):
 * - Card texts (title, fields, body, diff) are plain: the renderer escapes all.
 * - A `Notice` is our own sentence with mention tokens `<@userId>`, which the
 *   renderer shows as a non-pinging name; everything else in it is escaped.
 *   Text a person or a model wrote goes in `quote`, shown verbatim and escaped.
 */
import type {
  ChatImage,
  ChatPlatform,
  InboundAction,
  InboundCommand,
  InboundSubmission,
  MessageRef,
  ReviewCard,
} from './messages.ts';

/** Our own sentence (with `<@id>` mention tokens) plus, optionally, someone's words shown verbatim. */
export interface Notice {
  text: string;
  /** Text written by a person or a model, e.g. a rejection reason; never parsed for mentions. */
  quote?: string;
  /** A picture shown with the message (postMessage, notifyUser); where it cannot go, its `fallbackText` follows the text. */
  image?: ChatImage;
}

/** Every outbound write carries a key: the same key twice posts once (RELIABILITY contract 2). */
export interface SendOptions {
  idempotencyKey: string;
}

/** One input of an editor dialog. */
export interface EditorField {
  /** Key in the submission's `fields`. */
  name: string;
  label: string;
  /** Prefilled value. */
  value: string;
  isMultiline: boolean;
  /** Longest accepted value, in characters. */
  maxChars: number;
}

/** A dialog (Slack modal, Discord modal, console dialog) opened in answer to a click. */
export interface EditorForm {
  /** `edit`: change the draft; `reject`: give an optional reason; `delegate`: name someone to decide. */
  purpose: 'edit' | 'reject' | 'delegate';
  title: string;
  /** Carried back in the submission; the server re-checks it. */
  reviewRef: string;
  /** The version the dialog is opened on; a submission for an older one is refused. */
  version: number;
  fields: EditorField[];
}

/** What the handler of a slash command answers. */
export interface CommandReply {
  /** `ephemeral`: only the user sees it; `channel`: everyone in the channel. */
  visibility: 'ephemeral' | 'channel';
  notice: Notice;
}

/** What the handler of a click answers; the card itself is updated by the desk, not here. */
export type ActionReply =
  /** Nothing to say to the clicker (the card update shows what happened). */
  | { kind: 'ok'; notice?: Notice }
  /** A private explanation: refused, already decided, try again. */
  | { kind: 'ephemeral'; notice: Notice }
  /** Open this dialog for the clicker. */
  | { kind: 'open_editor'; form: EditorForm };

/** What the handler of a dialog submission answers. */
export type SubmissionReply =
  | { kind: 'ok'; notice?: Notice }
  /** Keep the dialog open with these messages by field name (Slack `response_action: errors`). */
  | { kind: 'errors'; errors: Record<string, string> };

/**
 * What inbound traffic is handed to. Each resolves after the decision or run it
 * records has committed; a rejection (database down) must reach the user as a
 * clear "could not record that, try again", never as silence.
 */
export interface ChatHandlers {
  command(command: InboundCommand): Promise<CommandReply>;
  action(action: InboundAction): Promise<ActionReply>;
  submission(submission: InboundSubmission): Promise<SubmissionReply>;
}

/**
 * A chat platform. Outbound calls throw on failure; a `SignoffError` with
 * `details.retryable === false` (channel gone, message deleted) is not retried,
 * and `retryLater(message, ms)` (src/errors.ts: a 429's Retry-After) reschedules
 * the job in Postgres without using up an attempt.
 * Optional members are capabilities a platform may lack.
 */
export interface ChatPort {
  readonly platform: ChatPlatform;
  /** Starts delivering inbound commands, clicks and submissions to `handlers`. */
  start(handlers: ChatHandlers): Promise<void>;
  /** Stops taking inbound traffic; in-flight handlers finish. */
  stop(): Promise<void>;
  /** Posts a card in a channel. The same key again returns the first message's ref. */
  postCard(channel: string, card: ReviewCard, opts: SendOptions): Promise<MessageRef>;
  /** Replaces a posted card in place (tally, outcome, buttons gone). */
  updateCard(ref: MessageRef, card: ReviewCard): Promise<void>;
  /** Replies in the thread under a posted message. */
  replyInThread(ref: MessageRef, notice: Notice, opts: SendOptions): Promise<MessageRef>;
  /** Posts a plain message in a channel. */
  postMessage(channel: string, notice: Notice, opts: SendOptions): Promise<MessageRef>;
  /** Tells one person privately (a DM). */
  notifyUser(tenant: string, user: string, notice: Notice, opts: SendOptions): Promise<void>;
  /**
   * The groups (Slack user groups, Discord roles, console groups) `user` is in
   * now. Throws when the lookup fails: the caller fails closed (RELIABILITY 48).
   */
  groupsOf(tenant: string, user: string): Promise<string[]>;
  /**
   * Whether `user` is a person of this tenant, where the platform can tell
   * without a scope it lacks (the web chat knows its people; Slack would need
   * `users:read`, so it leaves this out and ids are checked by shape only).
   */
  hasUser?(tenant: string, user: string): Promise<boolean>;
  /**
   * Whether inbound traffic reaches the bot now (Slack Socket Mode connected or its
   * HTTP route serving, Discord's gateway ready, the web chat serving): /readyz
   * asks (src/ops/readiness.ts). Absent means ready once started.
   */
  isReady?(): boolean;
}
