/**
 * Egress through discord.js's bucket-aware REST client (@discordjs/rest), never
 * raw fetch. A 429 on a bot route is thrown, not queued in memory, and becomes
 * `retryLater` after its `retry_after`, so the job waits in Postgres; a global
 * one also pauses this process's client (it sets its global reset itself).
 * Interaction routes are queued as usual: they are not bound to the global
 * limit and must answer in seconds (topics/rate-limits.mdx). Invalid requests
 * (401/403/429) are counted per 10 minutes; shared-scope 429s do not count
 * toward Cloudflare's 10,000 ban, so neither here (RELIABILITY 67).
 */
import { createHash } from 'node:crypto';
import { DiscordAPIError, RateLimitError, REST, RESTEvents, type RequestData, type RouteLike } from 'discord.js';
import type { APIInteraction } from 'discord-api-types/v10';
import { retryLater, SignoffError } from '../../src/errors.ts';
import type { Logger } from '../../src/ops/log.ts';
import type { UploadFile } from './discord-render.ts';
import type { Metrics } from '../../src/ops/metrics.ts';
import type { DiscordStore } from './types.ts';

type Body = Record<string, any>;
/** Discord's own codes for things gone for good (topics/opcodes-and-status-codes.mdx). */
const GONE = new Set([10003, 10008, 50001, 50013]);
/** 40005 request too large, 50045 file over the maximum size, 50046 invalid file: the picture cannot go (topics/opcodes-and-status-codes.mdx). */
export const FILE_REFUSED = new Set([40005, 50045, 50046]);
/** 10062 Unknown interaction (3 s passed), 40060 already acknowledged, 50027 / 10015 expired token. */
export const UNKNOWN_INTERACTION = 10062;
export const ALREADY_ACKNOWLEDGED = 40060;
const TOKEN_GONE = new Set([50027, 10015, 10062]);
const INVALID_WINDOW_MS = 10 * 60_000;

/** REST options shared by both modes. `api` is the base without version (the fake's or discord.com/api). */
export function restOptions(api: string) {
  return {
    api,
    version: '10',
    timeout: 10_000,
    retries: 1,
    rejectOnRateLimit: (d: { route: string }) =>
      !d.route.startsWith('/interactions') && !d.route.startsWith('/webhooks'),
  };
}

/** A 25-character nonce from an idempotency key (resources/message.mdx: nonce is at most 25 characters). */
export function nonceOf(key: string): string {
  return createHash('sha256').update(key).digest('base64url').slice(0, 25);
}

export class DiscordRest {
  private invalid: { count: number; sinceMs: number } = { count: 0, sinceMs: Date.now() };
  private readonly roleCache = new Map<string, { atMs: number; roles: { id: string; name: string }[] }>();

  constructor(
    readonly rest: REST,
    private readonly store: DiscordStore,
    private readonly log: Logger,
    /** `metrics` counts 429s and the retries they become (GET /metrics). */
    private readonly o: {
      invalidWarnAt: number;
      roleCacheMs: number;
      crashpoint: (name: string) => void;
      metrics?: Metrics | null;
    },
  ) {
    rest.on(RESTEvents.Response, (_req, res) => this.count(res.status, res.headers.get('x-ratelimit-scope')));
  }

  /** Invalid requests in the current 10-minute window. */
  get invalidRequests(): number {
    return this.invalid.count;
  }

  private count(status: number, scope: string | null): void {
    // Every 429 Discord sends is counted; the RateLimitError thrown for it (or before it) is the retry.
    if (status === 429) this.o.metrics?.rateLimited('discord', false);
    if (status !== 401 && status !== 403 && status !== 429) return;
    if (status === 429 && scope === 'shared') return;
    if (Date.now() - this.invalid.sinceMs > INVALID_WINDOW_MS) this.invalid = { count: 0, sinceMs: Date.now() };
    this.invalid.count += 1;
    if (this.invalid.count % this.o.invalidWarnAt === 0) {
      this.log.warn('discord: many invalid requests (401/403/429) in 10 minutes; Cloudflare bans an IP at 10,000', {
        count: this.invalid.count,
      });
    }
  }

  async call(
    method: 'get' | 'post' | 'patch' | 'put' | 'delete',
    route: RouteLike,
    body?: unknown,
    opts: Partial<RequestData> = {},
  ): Promise<any> {
    try {
      return await this.rest[method](route, { ...(body === undefined ? {} : { body }), ...opts });
    } catch (err) {
      if (err instanceof RateLimitError) {
        this.o.metrics?.providerRetried('discord', 'rate_limited');
        throw retryLater(
          `Discord rate limit (${err.scope}${err.global ? ', global' : ''}) on ${err.route}`,
          Math.max(err.retryAfter, 1),
          err,
        );
      }
      if (err instanceof DiscordAPIError && (GONE.has(Number(err.code)) || FILE_REFUSED.has(Number(err.code)))) {
        throw new SignoffError('input_invalid', `Discord refused: ${err.message}`, {
          cause: err,
          details: { retryable: false, code: err.code },
        });
      }
      throw err;
    }
  }

  /**
   * Posts once per key: a known message is returned; a retry reuses the nonce so
   * Discord returns the first (resources/message.mdx `enforce_nonce`: "that message
   * will be returned and no new message will be created"). With `files` the body
   * goes as `payload_json` beside `files[n]` parts (multipart/form-data), the nonce
   * inside it, so a message with a picture is once-only the same way, even when
   * the process dies after Discord created it and before the ledger row
   * (crash point `discord-upload-sent`).
   */
  async postOnce(
    channel: string,
    body: Body,
    key: string,
    files: UploadFile[] = [],
  ): Promise<{ channel: string; id: string }> {
    const known = await this.store.readPost(key);
    if (known?.messageId) return { channel: known.channel, id: known.messageId };
    await this.store.beginPost(key, channel);
    const posted = await this.call(
      'post',
      `/channels/${channel}/messages`,
      { ...body, nonce: nonceOf(key), enforce_nonce: true },
      files.length > 0 ? { files } : {},
    );
    if (files.length > 0) this.o.crashpoint('discord-upload-sent');
    await this.store.finishPost(key, channel, String(posted.id));
    return { channel, id: String(posted.id) };
  }

  /** The initial response. Returns `acknowledged` (40060: another process answered) or `expired` (10062) instead of throwing. */
  async respond(i: APIInteraction, body: Body): Promise<'ok' | 'acknowledged' | 'expired'> {
    try {
      await this.rest.post(`/interactions/${i.id}/${i.token}/callback`, { body, auth: false });
      return 'ok';
    } catch (err) {
      const code = err instanceof DiscordAPIError ? Number(err.code) : 0;
      if (code === ALREADY_ACKNOWLEDGED) return 'acknowledged';
      if (code === UNKNOWN_INTERACTION) return 'expired';
      throw err;
    }
  }

  /**
   * A follow-up on the interaction token (`edit`: the deferred original), or, once the
   * 15-minute token is gone (401 50027 / 404), a channel message with nonce +
   * enforce_nonce so a retry still shows exactly one (RELIABILITY 68).
   */
  async followUp(i: APIInteraction, body: Body, opts: { edit: boolean; key: string }): Promise<void> {
    const route = opts.edit
      ? (`/webhooks/${i.application_id}/${i.token}/messages/@original` as const)
      : (`/webhooks/${i.application_id}/${i.token}` as const);
    try {
      await this.rest[opts.edit ? 'patch' : 'post'](route, { body, auth: false });
    } catch (err) {
      const code = err instanceof DiscordAPIError ? Number(err.code) : 0;
      const status = err instanceof DiscordAPIError ? err.status : 0;
      if (!TOKEN_GONE.has(code) && status !== 401 && status !== 404) throw err;
      this.log.info('discord: interaction token expired; answering with a channel message', { interaction: i.id });
      const channel = i.channel?.id ?? i.channel_id;
      if (!channel) throw err;
      const { flags: _flags, ...visible } = body;
      await this.postOnce(channel, visible, opts.key);
    }
  }

  /** The guild's roles (id and name), cached for roleCacheMs. Throws when Discord cannot say. */
  async roles(guild: string): Promise<{ id: string; name: string }[]> {
    const cached = this.roleCache.get(guild);
    if (cached && Date.now() - cached.atMs < this.o.roleCacheMs) return cached.roles;
    const roles = ((await this.call('get', `/guilds/${guild}/roles`)) as { id: string; name: string }[]).map((r) => ({
      id: r.id,
      name: r.name,
    }));
    this.roleCache.set(guild, { atMs: Date.now(), roles });
    return roles;
  }
}
