/**
 * The local web chat as a `ChatPort` (DESIGN §7): what `npm start` serves at
 * http://localhost:3000 when no Slack or Discord credentials are set. Outbound
 * calls become rows (through `ConsoleStore`, wired by main.ts) and are pushed to
 * open pages; inbound clicks and commands arrive through console-routes.ts. It
 * holds no flow logic and no SQL, imports neither src/engine nor src/store, and
 * reads no environment: everything comes in through `createConsoleAdapter`.
 */
import { SignoffError } from '../../src/errors.ts';
import type { ChatHandlers, ChatPort, Notice, SendOptions } from '../../src/chat/port.ts';
import { makeMessageRef, type MessageRef, type ReviewCard } from '../../src/chat/messages.ts';
import type { Route } from '../../src/ops/http.ts';
import { silentLogger, type Logger } from '../../src/ops/log.ts';
import { consoleRefParts } from './console-inbound.ts';
import type { ConsoleAccess } from './console-access.ts';
import { createLiveHub } from './console-live.ts';
import { renderMessage } from './console-render.ts';
import { createConsoleRoutes, namesOf, type ConsoleContext } from './console-routes.ts';
import { BOT_AUTHOR, type ConsoleMessage, type ConsoleStore, type NewConsoleMessage, type Person } from './types.ts';

export interface ConsoleAdapterOptions {
  store: ConsoleStore;
  /** Default: silent. */
  log?: Logger;
  /** The one workspace the console plays. Default `local`. */
  tenant?: string;
  /** Who may reach it and how they sign in (console-access.ts). Default local demo mode. */
  access?: ConsoleAccess;
}

/**
 * Failures our own fake remote can be told to have, so tests can prove the
 * callers fail closed. Production code never sets these.
 */
export interface ConsoleFaults {
  /** `groupsOf` throws, like a Slack `usergroups.users.list` 5xx (RELIABILITY 48). Default false. */
  failGroupLookups: boolean;
}

export interface ConsoleAdapter {
  port: ChatPort;
  /** Mount on the bot's HTTP server: the page, /api/state, /api/events and the inbound POSTs. */
  routes: Route[];
  faults: ConsoleFaults;
}

/** Who and what a fresh console has: enough to play requester and two kinds of approver. */
export const DEFAULT_WORLD: { channels: string[]; people: Person[] } = {
  channels: ['general', 'support'],
  people: [
    { id: 'alice', displayName: 'Alice Adams', groups: [] },
    { id: 'bob', displayName: 'Bob Brown', groups: ['support-leads'] },
    { id: 'carol', displayName: 'Carol Chen', groups: ['support-leads'] },
    { id: 'dave', displayName: 'Dave Diaz', groups: ['release-managers'] },
  ],
};

/** A target that is not there (channel, person, message): retrying will not help. */
function gone(message: string): SignoffError {
  return new SignoffError('input_invalid', message, { details: { retryable: false } });
}

function refOf(message: ConsoleMessage): MessageRef {
  return makeMessageRef('console', message.channel, message.id);
}

function parseRef(ref: MessageRef): { channel: string; id: string } {
  const parts = consoleRefParts(ref);
  if (!parts) throw gone('not a console message reference');
  return parts;
}

function textMessage(channel: string, parentId: string | null, notice: Notice, opts: SendOptions): NewConsoleMessage {
  return { channel, parentId, author: BOT_AUTHOR, kind: 'text', notice, idempotencyKey: opts.idempotencyKey };
}

/** The routes' context plus what only the port does. */
interface AdapterContext extends ConsoleContext {
  setHandlers(next: ChatHandlers | null): void;
  /** Pushes a stored message to open pages. */
  publish(message: ConsoleMessage): Promise<void>;
}

function missingTarget(message: NewConsoleMessage): string {
  if (message.parentId !== null) return 'the message to reply to is gone';
  return message.channel.startsWith('@') ? 'no such person in the console' : 'no such channel in the console';
}

function createContext(opts: ConsoleAdapterOptions): AdapterContext {
  const tenant = opts.tenant ?? 'local';
  const access = opts.access ?? { mode: 'local' };
  // Beyond loopback the demo people (with their approver groups) are not seeded: an operator invites real ones.
  const world = access.mode === 'local' ? DEFAULT_WORLD : { channels: DEFAULT_WORLD.channels, people: [] };
  const log = opts.log ?? silentLogger;
  const live = createLiveHub();
  let handlers: ChatHandlers | null = null;
  let seeding: Promise<void> | null = null;
  const ready = () =>
    (seeding ??= opts.store.seed(tenant, world).catch((err: unknown) => {
      seeding = null;
      throw err;
    }));
  // Best effort: a page that missed an event reloads its state when it reconnects.
  const publish = (message: ConsoleMessage) =>
    opts.store
      .listPeople(tenant)
      .then((people) => live.publish('message', { message: renderMessage(message, namesOf(people)) }, message.channel))
      .catch((err: unknown) => log.warn('console could not push a message to open pages', { error: String(err) }));
  const post = async (message: NewConsoleMessage) => {
    await ready();
    const outcome = await opts.store.insertMessage(tenant, message);
    if (outcome.status === 'no_target') throw gone(missingTarget(message));
    if (outcome.status === 'inserted') await publish(outcome.message);
    return outcome.message;
  };
  return {
    tenant,
    access,
    store: opts.store,
    log,
    live,
    ready,
    post,
    publish,
    handlers: () => handlers,
    setHandlers: (next) => void (handlers = next),
  };
}

/** The local web chat: a `ChatPort`, its HTTP routes, and its fault switches for tests. */
export function createConsoleAdapter(opts: ConsoleAdapterOptions): ConsoleAdapter {
  const ctx = createContext(opts);
  const faults: ConsoleFaults = { failGroupLookups: false };
  return { port: new ConsolePort(ctx, faults), routes: [createConsoleRoutes(ctx)], faults };
}

/** Outbound calls become rows, and every new or changed row is pushed to open pages. */
class ConsolePort implements ChatPort {
  readonly platform = 'console';

  constructor(
    private readonly ctx: AdapterContext,
    private readonly faults: ConsoleFaults,
  ) {}

  async start(handlers: ChatHandlers): Promise<void> {
    await this.ctx.ready();
    this.ctx.setHandlers(handlers);
  }

  /** Serving: started and not stopped (its routes are on the bot's own server); /readyz asks. */
  isReady(): boolean {
    return this.ctx.handlers() !== null;
  }

  async stop(): Promise<void> {
    this.ctx.setHandlers(null);
    this.ctx.live.closeAll();
  }

  async postCard(channel: string, card: ReviewCard, opts: SendOptions): Promise<MessageRef> {
    const message: NewConsoleMessage = {
      channel,
      parentId: null,
      author: BOT_AUTHOR,
      kind: 'card',
      card,
      idempotencyKey: opts.idempotencyKey,
    };
    return refOf(await this.ctx.post(message));
  }

  async updateCard(ref: MessageRef, card: ReviewCard): Promise<void> {
    const { channel, id } = parseRef(ref);
    const updated = await this.ctx.store.replaceCard(this.ctx.tenant, channel, id, card);
    if (!updated) throw gone('the card is gone (deleted, or never posted)');
    await this.ctx.publish(updated);
  }

  async replyInThread(ref: MessageRef, notice: Notice, opts: SendOptions): Promise<MessageRef> {
    const { channel, id } = parseRef(ref);
    const target = await this.ctx.store.getMessage(this.ctx.tenant, id);
    if (!target || target.channel !== channel) throw gone('the message to reply to is gone');
    // Threads are one level deep, as in Slack: a reply to a reply joins its thread.
    return refOf(await this.ctx.post(textMessage(channel, target.parentId ?? target.id, notice, opts)));
  }

  async postMessage(channel: string, notice: Notice, opts: SendOptions): Promise<MessageRef> {
    return refOf(await this.ctx.post(textMessage(channel, null, notice, opts)));
  }

  async notifyUser(tenant: string, user: string, notice: Notice, opts: SendOptions): Promise<void> {
    if (tenant !== this.ctx.tenant) throw gone('the console has no such workspace');
    await this.ctx.post(textMessage(`@${user}`, null, notice, opts));
  }

  async groupsOf(tenant: string, user: string): Promise<string[]> {
    if (this.faults.failGroupLookups) throw new Error('console group lookup failed (fault injected by a test)');
    return this.ctx.store.groupsOf(tenant, user);
  }

  async hasUser(tenant: string, user: string): Promise<boolean> {
    return (await this.ctx.store.listPeople(tenant)).some((person) => person.id === user);
  }
}
