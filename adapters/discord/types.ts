/**
 * What the Discord adapter needs from its caller and from storage, as interfaces
 * it owns (it holds no SQL and imports no src/store: src/store/discord.ts
 * implements `DiscordStore` structurally and main.ts wires the two).
 */
import type { Logger } from '../../src/ops/log.ts';
import type { Metrics } from '../../src/ops/metrics.ts';

/** The Discord adapter's slice of the config (src/config.ts fills it from DISCORD_* variables). */
export interface DiscordSettings {
  token: string;
  /** Needed by `npm run discord:register` only: READY and every interaction carry it otherwise. */
  applicationId: string | null;
  /** HTTP interactions at POST /discord/interactions when set (hex Ed25519 key); else the gateway. */
  publicKey: string | null;
  /** REST base without the version, e.g. https://discord.com/api (DISCORD_API_URL). */
  apiUrl: string;
  /** Guild for `discord:register` (guild commands show at once); null registers global commands. */
  guildId: string | null;
}

/** A post the ledger knows: `messageId` once it is known to have landed. */
export interface DiscordPostRecord {
  channel: string;
  messageId: string | null;
}

export interface DiscordStore {
  /** Records an interaction id in `inbox` (committed when it resolves); false when any process had it already. */
  claim(interactionId: string): Promise<boolean>;
  /** Records a decision click with what is needed to decide and answer it; false for a redelivery. */
  recordClick(interactionId: string, payload: unknown): Promise<boolean>;
  finishClick(interactionId: string): Promise<void>;
  /** Decides clicks recorded over `olderThanMs` ago and never finished, each under a lock. */
  replayClicks(olderThanMs: number, limit: number, work: (payload: unknown) => Promise<void>): Promise<number>;
  readPost(key: string): Promise<DiscordPostRecord | null>;
  beginPost(key: string, channel: string): Promise<void>;
  finishPost(key: string, channel: string, messageId: string): Promise<void>;
  /** Records one gateway login (IDENTIFY) and returns how many all processes made in the last minute and day. */
  recordIdentify(): Promise<{ lastMinute: number; lastDay: number }>;
}

export interface DiscordAdapterOptions {
  settings: DiscordSettings;
  store: DiscordStore;
  /** Default: silent. */
  log?: Logger;
  /** Counts the platform's 429s and paced calls (GET /metrics). Default: not counted. */
  metrics?: Metrics;
  /** How long a guild's role list is cached. Default 30 000 ms (tests use 0). */
  roleCacheMs?: number;
  /** Invalid requests (401/403/429, shared 429s excepted) per 10 min that raise a warning. Default 1 000 (Cloudflare bans at 10 000). */
  invalidWarnAt?: number;
  /** Gateway mode: how long discord.js waits for GUILD_CREATEs after READY. Default 15 000 ms. */
  waitGuildTimeoutMs?: number;
  /** Gateway logins (all processes) a minute before the IDENTIFY guard delays them. Default 5. */
  freeIdentifiesPerMinute?: number;
  /** Largest body accepted on POST /discord/interactions. Default 1 MiB. */
  maxBodyBytes?: number;
  /**
   * Named crash points (src/ops/crashpoint.ts; tests only): called where a crash
   * must lose nothing and repeat nothing (RELIABILITY 29). Default: none.
   */
  crashpoint?: (name: string) => void;
}
