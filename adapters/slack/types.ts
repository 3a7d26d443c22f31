/**
 * What the Slack adapter needs from storage and from its caller, as interfaces
 * it owns: the adapter holds no SQL and may not import src/store (boundary
 * test), so src/store/slack.ts implements `SlackStore` structurally and main.ts
 * wires the two. Everything here is shared by every bot process on the same
 * database: event dedupe, the post ledger, and the per-channel send pace.
 */
import type { Logger } from '../../src/ops/log.ts';
import type { Metrics } from '../../src/ops/metrics.ts';

/** The Slack adapter's slice of the config (src/config.ts fills it from SLACK_* variables). */
export interface SlackSettings {
  botToken: string;
  /** HTTP mode: requests to POST /slack/events are verified with it. */
  signingSecret: string | null;
  /** Socket Mode when set (xapp-…). */
  appToken: string | null;
  /** Web API base, ending in /api/ (SLACK_API_URL). Default https://slack.com/api/. */
  apiUrl: string;
}

/** A post the ledger knows about: `ts` once it is known to have landed. */
export interface PostRecord {
  channel: string;
  ts: string | null;
  /** How many times a post with this key was sent (its outcome unknown unless `ts` is set). */
  attempts: number;
  /** When the first attempt began (database clock). */
  firstAt: Date;
}

export interface SlackStore {
  /**
   * Runs `work` for an Events API `event_id` unless it already ran: the id is
   * recorded in the same transaction that waits for `work`, so it counts only
   * once `work` succeeded (a failed first attempt is processed again on retry),
   * and a concurrent duplicate on another process waits, then sees it. Returns
   * false for a duplicate.
   */
  onceEvent(eventId: string, work: () => Promise<void>): Promise<boolean>;
  /** What is known of earlier posts under `key`; null when none was begun. */
  readPost(key: string): Promise<PostRecord | null>;
  /** Records that a post under `key` is about to be sent. */
  beginPost(key: string, channel: string): Promise<void>;
  /** Records where the post with `key` landed. */
  finishPost(key: string, channel: string, ts: string): Promise<void>;
  /**
   * Reserves the next send slot of `channel`, slots `intervalMs` apart across
   * all processes. Returns how long to wait for it, or null (nothing reserved)
   * when the next free slot is more than `maxWaitMs` away.
   */
  reserveSend(channel: string, intervalMs: number, maxWaitMs: number): Promise<number | null>;
  /**
   * Records a decision click (its delivery id and everything needed to decide
   * and answer it) and resolves once the row committed: true when new, false
   * for a redelivery.
   */
  recordClick(deliveryId: string, payload: unknown): Promise<boolean>;
  /** Marks a recorded click decided. */
  finishClick(deliveryId: string): Promise<void>;
  /** Decides clicks recorded over `olderThanMs` ago and never finished, each under a lock; returns how many. */
  replayClicks(olderThanMs: number, limit: number, work: (payload: unknown) => Promise<void>): Promise<number>;
}

export interface SlackAdapterOptions {
  settings: SlackSettings;
  store: SlackStore;
  /** Default: silent. */
  log?: Logger;
  /** Counts the platform's 429s and paced calls (GET /metrics). Default: not counted. */
  metrics?: Metrics;
  /** How long a user group's members are cached. Default 30 000 ms (tests use 0). */
  groupCacheMs?: number;
  /** Gap between two posts in one channel, across processes. Default 1 000 ms (Slack: about 1 message/s/channel). */
  channelIntervalMs?: number;
  /** Pace each Web API method by its Slack tier (e.g. chat.update 50/min). Default true; suites that only test review logic turn it off. */
  isTierPaced?: boolean;
  /** Per-call timeout of Web API calls. Default 10 000 ms. */
  callTimeoutMs?: number;
  /** Largest request body accepted on POST /slack/events. Default 1 MiB (RELIABILITY 11). */
  maxBodyBytes?: number;
  /**
   * Named crash points (src/ops/crashpoint.ts; tests only): called with a point's
   * name where a crash must lose nothing (RELIABILITY 29). Default: none.
   */
  crashpoint?: (name: string) => void;
}
