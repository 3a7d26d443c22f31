/**
 * Discord as a `ChatPort` (DESIGN §7), on discord.js 14: over the gateway by
 * default (DISCORD_TOKEN), or over HTTP interactions at POST /discord/interactions
 * when DISCORD_PUBLIC_KEY is set (./discord-http.ts). Cards are ordinary bot
 * messages posted and edited with the bot token, never interaction-token
 * replies, so a card works and is updated at any age (PLATFORMS "Ephemeral").
 * Approver groups are guild roles (names or ids) from the clicker's member
 * payload; unknown roles fail closed. No flow logic, no SQL, no environment reads.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, GatewayIntentBits, REST, Status } from 'discord.js';
import { GatewayDispatchEvents, type APIInteraction } from 'discord-api-types/v10';
import Bottleneck from 'bottleneck';
import type { MessageRef, ReviewCard } from '../../src/chat/messages.ts';
import type { ChatHandlers, ChatPort, Notice, SendOptions } from '../../src/chat/port.ts';
import { SignoffError } from '../../src/errors.ts';
import { toCorrelationId, withCorrelation } from '../../src/ops/correlation.ts';
import type { Route } from '../../src/ops/http.ts';
import { silentLogger, type Logger } from '../../src/ops/log.ts';
import { discordRef, discordRefParts, DM_TENANT } from './discord-inbound.ts';
import { interactionsRoute, publicKeyOf } from './discord-http.ts';
import {
  decideClick,
  handleInteraction,
  Members,
  type InteractionContext,
  type RecordedClick,
} from './discord-interactions.ts';
import { fallbackBody, imageMessage, noticeBody, renderCard } from './discord-render.ts';
import { DiscordRest, FILE_REFUSED, restOptions } from './discord-rest.ts';
import type { DiscordAdapterOptions, DiscordStore } from './types.ts';

export interface DiscordAdapter {
  port: ChatPort & { readonly rest: DiscordRest };
  /** POST /discord/interactions in HTTP mode; none over the gateway. */
  routes: Route[];
  mode: 'gateway' | 'http';
}

/** Recorded clicks decided at once, and how old an undecided one must be before another process replays it. */
const DECISIONS_AT_ONCE = 4;
const CLICK_REPLAY_AFTER_MS = 10_000;

/**
 * How long a login waits, from the logins of every process in the last minute and day
 * (RELIABILITY 18): free for the first `freePerMinute` (default 5: a deploy restarting a
 * few processes), then doubling from 5 s to 10 min; near Discord's 1000 a day (which
 * resets the token) an hour.
 */
export function identifyDelayMs(lastMinute: number, lastDay: number, freePerMinute = 5): number {
  if (lastDay >= 900) return 60 * 60_000;
  if (lastMinute <= freePerMinute) return 0;
  return Math.min(5_000 * 2 ** (lastMinute - freePerMinute - 1), 10 * 60_000);
}

/** The IDENTIFY guard plugged into discord.js's gateway (`ws.buildIdentifyThrottler`). */
function identifyGuard(store: DiscordStore, log: Logger, freePerMinute: number) {
  return {
    async waitForIdentify(_shardId: number, signal: AbortSignal): Promise<void> {
      const { lastMinute, lastDay } = await store.recordIdentify();
      const delayMs = identifyDelayMs(lastMinute, lastDay, freePerMinute);
      if (delayMs === 0) return;
      log.error('discord: gateway logins are crash-looping; delaying this IDENTIFY', { lastMinute, lastDay, delayMs });
      await sleep(delayMs, undefined, { signal });
    },
  };
}

export function createDiscordAdapter(opts: DiscordAdapterOptions): DiscordAdapter {
  const log = opts.log ?? silentLogger;
  const { token, publicKey, apiUrl } = opts.settings;
  const mode = publicKey ? 'http' : 'gateway';
  const client =
    mode === 'gateway'
      ? new Client({
          intents: [GatewayIntentBits.Guilds],
          rest: restOptions(apiUrl),
          waitGuildTimeout: opts.waitGuildTimeoutMs ?? 15_000,
          ws: { buildIdentifyThrottler: async () => identifyGuard(opts.store, log, opts.freeIdentifiesPerMinute ?? 5) },
        })
      : null;
  const rawRest = client ? client.rest : new REST(restOptions(apiUrl));
  rawRest.setToken(token);
  const rest = new DiscordRest(rawRest, opts.store, log, {
    invalidWarnAt: opts.invalidWarnAt ?? 1_000,
    roleCacheMs: opts.roleCacheMs ?? 30_000,
    crashpoint: opts.crashpoint ?? (() => undefined),
    metrics: opts.metrics ?? null,
  });
  const port = new DiscordPort(rest, opts.store, client, token, log);
  const routes = publicKey
    ? [
        interactionsRoute({
          key: publicKeyOf(publicKey),
          maxBodyBytes: opts.maxBodyBytes ?? 1024 * 1024,
          log,
          handle: (i) => port.handle(i),
        }),
      ]
    : [];
  return { port, routes, mode };
}

function mustParse(ref: MessageRef) {
  const parts = discordRefParts(ref);
  if (!parts)
    throw new SignoffError('input_invalid', 'not a Discord message reference', { details: { retryable: false } });
  return parts;
}

class DiscordPort implements ChatPort {
  readonly platform = 'discord';
  private readonly ctx: InteractionContext;
  private handlersNow: ChatHandlers | null = null;
  private readonly decisions = new Bottleneck({ maxConcurrent: DECISIONS_AT_ONCE });
  private readonly dms = new Map<string, string>();
  private replayer: NodeJS.Timeout | null = null;
  /** Resolves when stop() is called, so a start held back by the IDENTIFY guard ends too. */
  private stopped: () => void = () => undefined;

  constructor(
    readonly rest: DiscordRest,
    private readonly store: DiscordStore,
    private readonly client: Client | null,
    private readonly token: string,
    private readonly log: Logger,
  ) {
    this.ctx = { handlers: () => this.handlersNow, rest, store, members: new Members(), log };
    client?.ws.on(GatewayDispatchEvents.InteractionCreate as never, (data: APIInteraction) => void this.handle(data));
  }

  /** Under the interaction id as correlation id (src/ops/correlation.ts), gateway and HTTP alike. */
  handle(i: APIInteraction): Promise<void> {
    return withCorrelation(toCorrelationId(i.id), () =>
      handleInteraction(this.ctx, i, (click) => this.decideLater(click)),
    );
  }

  private decideLater(click: RecordedClick): void {
    void this.decisions
      .schedule(() => withCorrelation(toCorrelationId(click.interaction.id), () => decideClick(this.ctx, click)))
      .then(() => this.store.finishClick(click.interaction.id))
      .catch((err: unknown) =>
        this.log.error('a recorded discord click could not be decided yet; it will be replayed', {
          interaction: click.interaction.id,
          error: (err as Error).message,
        }),
      );
  }

  /** Started, and every gateway shard READY (HTTP interactions come through our own server). */
  isReady(): boolean {
    if (this.handlersNow === null) return false;
    return (
      this.client === null || (this.client.isReady() && this.client.ws.shards.every((s) => s.status === Status.Ready))
    );
  }

  async start(handlers: ChatHandlers): Promise<void> {
    this.handlersNow = handlers;
    if (this.client && !this.client.isReady()) {
      const ready = new Promise<void>((resolve) => this.client!.once('clientReady', () => resolve()));
      const stopped = new Promise<void>((resolve) => (this.stopped = resolve));
      await Promise.race([this.client.login(this.token).then(() => ready), stopped]);
    }
    this.replayer ??= setInterval(() => {
      this.store
        .replayClicks(CLICK_REPLAY_AFTER_MS, 50, (payload) => {
          const click = payload as RecordedClick;
          return withCorrelation(toCorrelationId(click.interaction.id), () => decideClick(this.ctx, click));
        })
        .catch((err: unknown) =>
          this.log.warn('replaying recorded discord clicks failed; will retry', { error: (err as Error).message }),
        );
    }, 5_000);
    this.replayer.unref();
  }

  async stop(): Promise<void> {
    if (this.replayer) clearInterval(this.replayer);
    this.replayer = null;
    this.handlersNow = null;
    this.stopped();
    await this.client?.destroy();
  }

  async postCard(channel: string, card: ReviewCard, opts: SendOptions): Promise<MessageRef> {
    const posted = await this.rest.postOnce(channel, renderCard(card), opts.idempotencyKey);
    return discordRef(posted.channel, posted.id);
  }

  async updateCard(ref: MessageRef, card: ReviewCard): Promise<void> {
    const { channel, messageId } = mustParse(ref);
    const { allowed_mentions, ...body } = renderCard(card);
    await this.rest.call('patch', `/channels/${channel}/messages/${messageId}`, { ...body, allowed_mentions });
  }

  /** A reply to the card (message_reference): replies are one level deep, so a reply to a reply hangs under the same card. */
  async replyInThread(ref: MessageRef, notice: Notice, opts: SendOptions): Promise<MessageRef> {
    const { channel, rootId } = mustParse(ref);
    const body = { ...noticeBody(notice), message_reference: { message_id: rootId, fail_if_not_exists: false } };
    const posted = await this.rest.postOnce(channel, body, opts.idempotencyKey);
    return discordRef(posted.channel, posted.id, rootId);
  }

  async postMessage(channel: string, notice: Notice, opts: SendOptions): Promise<MessageRef> {
    const posted = await this.postNotice(channel, notice, opts.idempotencyKey);
    return discordRef(posted.channel, posted.id);
  }

  /**
   * A notice, with its picture attached when it has one (one message: text and
   * PNG); a picture over the upload limit, or one Discord refuses as a file,
   * gives way to its text fallback in the same message.
   */
  private async postNotice(channel: string, notice: Notice, key: string): Promise<{ channel: string; id: string }> {
    const upload = imageMessage(notice);
    if (!upload) return this.rest.postOnce(channel, notice.image ? fallbackBody(notice) : noticeBody(notice), key);
    try {
      return await this.rest.postOnce(channel, upload.body, key, upload.files);
    } catch (err) {
      const code = err instanceof SignoffError ? Number(err.details?.code) : 0;
      if (!FILE_REFUSED.has(code)) throw err;
      this.log.warn('discord took no picture; posting its text fallback', { channel, code });
      return this.rest.postOnce(channel, fallbackBody(notice), key);
    }
  }

  async notifyUser(_tenant: string, user: string, notice: Notice, opts: SendOptions): Promise<void> {
    let channel = this.dms.get(user);
    if (!channel) {
      channel = String((await this.rest.call('post', '/users/@me/channels', { recipient_id: user })).id);
      this.dms.set(user, channel);
    }
    await this.postNotice(channel, notice, opts.idempotencyKey);
  }

  /** The clicker's guild roles, as ids and names, from their latest interaction's member payload. */
  async groupsOf(tenant: string, user: string): Promise<string[]> {
    if (tenant === DM_TENANT) return []; // a DM has no roles
    const roleIds = this.ctx.members.get(tenant, user);
    // No member payload seen for them here: we cannot say, so the desk refuses (fail closed).
    if (!roleIds) throw new SignoffError('input_invalid', 'the roles of this person are not known');
    const roles = await this.rest.roles(tenant);
    return roles.filter((r) => roleIds.includes(r.id)).flatMap((r) => [r.id, r.name]);
  }
}
