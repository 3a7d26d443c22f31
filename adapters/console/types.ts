/**
 * What the console adapter needs from storage, as an interface it owns: the
 * adapter holds no SQL and may not import src/store (boundary test), so
 * src/store/console.ts implements this structurally and main.ts wires the two.
 * The console has no remote platform to remember its channels, people and
 * messages, so they are rows, and a restart loses nothing.
 */
import type { Notice } from '../../src/chat/port.ts';
import type { ReviewCard } from '../../src/chat/messages.ts';

/** Someone the console user can act as. */
export interface Person {
  /** Lower-case id, e.g. `bob`; what `<@bob>` mentions and `groupsOf` looks up. */
  id: string;
  displayName: string;
  /** Group names, e.g. `support-leads`. */
  groups: string[];
}

/** A shared channel or one person's direct messages. */
export interface ConsoleChannel {
  /** `general`, or `@bob` for bob's DMs. */
  id: string;
  /** The person whose DM channel this is; null for a shared channel. */
  dmOf: string | null;
}

/** The author id of everything the bot posts. */
export const BOT_AUTHOR = 'signoff';

interface MessageBase {
  /** Decimal id, unique per database; the last part of the message ref. */
  id: string;
  channel: string;
  /** The message this replies to in a thread; null at top level. */
  parentId: string | null;
  /** `signoff` (BOT_AUTHOR) or a person id. */
  author: string;
  createdAt: Date;
  updatedAt: Date;
}

/** A stored message: a review card or a notice, verbatim as the port was given it. */
export type ConsoleMessage =
  (MessageBase & { kind: 'card'; card: ReviewCard }) | (MessageBase & { kind: 'text'; notice: Notice });

/** A message to store; `idempotencyKey` is unique per tenant. */
export type NewConsoleMessage = { channel: string; parentId: string | null; author: string; idempotencyKey: string } & (
  { kind: 'card'; card: ReviewCard } | { kind: 'text'; notice: Notice }
);

/**
 * `inserted`/`existing`: the message with that key (existing: posted before).
 * `no_target`: the channel, or the parent of a reply, does not exist.
 */
export type InsertOutcome = { status: 'inserted' | 'existing'; message: ConsoleMessage } | { status: 'no_target' };

/** Storage of the console's world. Every call is scoped by tenant. */
export interface ConsoleStore {
  /** Adds the channels and people (with their DM channels) that do not exist yet; changes no existing row. */
  seed(tenant: string, world: { channels: string[]; people: Person[] }): Promise<void>;
  /** Adds a person with a DM channel, or replaces their name and groups. */
  upsertPerson(tenant: string, person: Person): Promise<void>;
  listPeople(tenant: string): Promise<Person[]>;
  listChannels(tenant: string): Promise<ConsoleChannel[]>;
  /** The newest `limit` messages that are not deleted, oldest first. */
  recentMessages(tenant: string, limit: number): Promise<ConsoleMessage[]>;
  /** A message that exists and is not deleted, else null. */
  getMessage(tenant: string, id: string): Promise<ConsoleMessage | null>;
  /** Stores a message once per idempotency key (ON CONFLICT DO NOTHING). */
  insertMessage(tenant: string, message: NewConsoleMessage): Promise<InsertOutcome>;
  /** Replaces the card of a card message in `channel` in place; null when there is none (or it is deleted). */
  replaceCard(tenant: string, channel: string, id: string, card: ReviewCard): Promise<ConsoleMessage | null>;
  /** The person's groups; [] for someone unknown. */
  groupsOf(tenant: string, user: string): Promise<string[]>;
  /** Trades an unused, unexpired invite (by token hash) for a session, once; the person, or null. */
  redeemInvite(tenant: string, inviteHash: string, sessionHash: string, ttlMs: number): Promise<string | null>;
  /** The person a live session (by token hash) belongs to, or null. */
  sessionPerson(tenant: string, sessionHash: string): Promise<string | null>;
}
