/**
 * Outbound Web API calls, paced and with errors the engine understands
 * (DESIGN §6, RELIABILITY 62–64):
 * - every method is paced per Slack tier (bottleneck via src/ops/pacing.ts),
 *   and posts to a channel take a slot about 1 s apart shared by all processes;
 * - the SDK never retries (`retries: 0`) and never waits out a 429 itself
 *   (`rejectRateLimitedCalls`): a 429 becomes `retryLater(Retry-After)`, so the
 *   job is rescheduled in Postgres and no worker sleeps;
 * - a Slack error that retrying cannot fix (channel gone) is not retried;
 * - a post carries its idempotency key in message metadata; when an earlier
 *   attempt may have landed (its response lost), the channel is searched for
 *   that key before posting again (RELIABILITY 63).
 */
import {
  WebAPIPlatformError,
  WebAPIRateLimitedError,
  WebClient,
  type Logger as SlackLogger,
  type WebClientOptions,
} from '@slack/web-api';
import { retryLater, SignoffError } from '../../src/errors.ts';
import type { Logger } from '../../src/ops/log.ts';
import type { Metrics } from '../../src/ops/metrics.ts';
import { Pacer, type PaceSpec } from '../../src/ops/pacing.ts';
import type { SlackStore } from './types.ts';

/** Requests per minute per method, from Slack's tiers (2: 20+, 3: 50+, 4: 100+). chat.postMessage is paced per channel. */
const TIER_PER_MINUTE: Record<string, number> = {
  'chat.update': 50,
  'chat.postEphemeral': 100,
  'views.open': 100,
  'usergroups.list': 20,
  'usergroups.users.list': 20,
  'conversations.history': 50,
  'conversations.replies': 50,
  'conversations.open': 50,
  // The digest's chart (./slack-upload.ts): paced as files.uploadV2 was, well under Slack's tier.
  'files.getUploadURLExternal': 20,
  'files.completeUploadExternal': 20,
};
/** Slack errors that mean the target is gone or the call is wrong: retrying will not help. */
const PERMANENT = new Set([
  'channel_not_found',
  'not_in_channel',
  'is_archived',
  'message_not_found',
  'cant_update_message',
  'msg_too_long',
  'no_text',
  'invalid_blocks',
  'invalid_arguments',
  'user_not_found',
  'cannot_dm_bot',
  'restricted_action',
  'invalid_auth',
  'not_authed',
  'account_inactive',
  'token_revoked',
  'missing_scope',
  'invalid_metadata_format',
]);
/**
 * The OAuth scope each Web API method we call needs (manifest.yml declares
 * exactly these, with `commands` and `app_mentions:read`; a test compares).
 * History is read only to find a post whose response was lost (RELIABILITY 63).
 */
export const METHOD_SCOPES: Readonly<Record<string, readonly string[]>> = {
  'chat.postMessage': ['chat:write'],
  'chat.update': ['chat:write'],
  'chat.postEphemeral': ['chat:write'],
  'usergroups.list': ['usergroups:read'],
  'usergroups.users.list': ['usergroups:read'],
  'conversations.history': ['channels:history', 'groups:history', 'im:history'],
  'conversations.replies': ['channels:history', 'groups:history', 'im:history'],
  'conversations.open': ['im:write'],
  'views.open': [],
  'auth.test': [],
  // The digest's chart (./slack-upload.ts): both calls of the upload need files:write.
  'files.getUploadURLExternal': ['files:write'],
  'files.completeUploadExternal': ['files:write'],
};
/** The metadata event type our posts carry, with `{ key }` as its payload. */
export const POST_EVENT_TYPE = 'signoff_post';
/** A queue for one channel longer than this is rescheduled rather than waited out in memory. */
const MAX_CHANNEL_WAIT_MS = 5_000;

type Args = Record<string, unknown>;
type Result = Record<string, any>;

/** Options for every WebClient we make, Bolt's included: bounded, no hidden retries. */
export function clientOptions(apiUrl: string, timeoutMs: number, logger: SlackLogger): WebClientOptions {
  // Always set retryConfig: Socket Mode otherwise writes 100 retries into shared options (DESIGN §9).
  return { slackApiUrl: apiUrl, retryConfig: { retries: 0 }, rejectRateLimitedCalls: true, timeout: timeoutMs, logger };
}

/** A Slack failure as the engine and the port's callers expect it. */
export function portError(err: unknown, method: string): Error {
  if (err instanceof WebAPIRateLimitedError) {
    return retryLater(`Slack is rate limiting ${method}; trying again later`, Math.max(1, err.retryAfter) * 1_000, err);
  }
  if (err instanceof WebAPIPlatformError) {
    const code = String(err.data.error);
    if (PERMANENT.has(code))
      return new SignoffError('input_invalid', `Slack refused ${method}: ${code}`, {
        cause: err,
        details: { retryable: false, slackError: code },
      });
    return new Error(`Slack ${method} failed: ${code}`, { cause: err });
  }
  return new Error(`Slack ${method} did not answer: ${(err as Error).message}`, { cause: err });
}

/** The Slack error code (`expired_trigger_id`, …) behind a `portError`, if Slack gave one. */
export function slackErrorCode(err: unknown): string | null {
  const cause = err instanceof Error ? err.cause : undefined;
  return cause instanceof WebAPIPlatformError ? String(cause.data.error) : null;
}

export class SlackWeb {
  readonly client: WebClient;
  private readonly pacer: Pacer;

  constructor(
    token: string,
    options: WebClientOptions,
    private readonly store: SlackStore,
    private readonly channelIntervalMs: number,
    private readonly isTierPaced: boolean,
    private readonly log: Logger,
    private readonly metrics: Metrics | null = null,
  ) {
    this.client = new WebClient(token, options);
    this.pacer = new Pacer(undefined, metrics);
  }

  /** One paced Web API call; failures come back as `portError`s. */
  async call(method: string, args: Args): Promise<Result> {
    const spec: PaceSpec = { perMinute: this.isTierPaced ? (TIER_PER_MINUTE[method] ?? 0) : 0 };
    try {
      return (await this.pacer.schedule(`slack:${method}`, spec, () => this.client.apiCall(method, args))) as Result;
    } catch (err) {
      if (err instanceof WebAPIRateLimitedError) this.metrics?.rateLimited('slack');
      throw err instanceof SignoffError ? err : portError(err, method);
    }
  }

  /**
   * Posts once per key: a post known to have landed is returned as is; one that
   * may have landed (an earlier attempt's response was lost) is looked up by its
   * metadata first. Returns the channel (Slack's id for it) and ts.
   */
  async postOnce(channel: string, message: Args, key: string): Promise<{ channel: string; ts: string }> {
    const prior = await this.store.readPost(key);
    if (prior?.ts) return { channel: prior.channel, ts: prior.ts };
    if (prior) {
      const found = await this.findPost(channel, key, prior.firstAt, message.thread_ts as string | undefined);
      if (found) {
        this.log.info('slack post found by its key after a lost response; not posting again', { channel, key });
        await this.store.finishPost(key, channel, found);
        return { channel, ts: found };
      }
    }
    await this.paceChannel(channel);
    await this.store.beginPost(key, channel);
    const res = await this.call('chat.postMessage', {
      ...message,
      channel,
      unfurl_links: false,
      unfurl_media: false,
      metadata: { event_type: POST_EVENT_TYPE, event_payload: { key } },
    });
    await this.store.finishPost(key, String(res.channel ?? channel), String(res.ts));
    return { channel: String(res.channel ?? channel), ts: String(res.ts) };
  }

  /** Waits for this channel's next send slot (shared across processes), or reschedules when the queue is long. */
  private async paceChannel(channel: string): Promise<void> {
    const waitMs = await this.store.reserveSend(channel, this.channelIntervalMs, MAX_CHANNEL_WAIT_MS);
    if (waitMs === null) {
      this.metrics?.providerRetried('slack', 'paced');
      throw retryLater(`channel ${channel} has a queue of posts; trying again shortly`, MAX_CHANNEL_WAIT_MS);
    }
    if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
  }

  /** The ts of our message with `key` posted since `since`, in the channel or the thread. */
  private async findPost(channel: string, key: string, since: Date, threadTs?: string): Promise<string | null> {
    const oldest = String(Math.floor(since.getTime() / 1_000) - 60);
    const res = threadTs
      ? await this.call('conversations.replies', {
          channel,
          ts: threadTs,
          oldest,
          include_all_metadata: true,
          limit: 200,
        })
      : await this.call('conversations.history', { channel, oldest, include_all_metadata: true, limit: 200 });
    const messages = (res.messages ?? []) as Result[];
    const hit = messages.find(
      (m) => m.metadata?.event_type === POST_EVENT_TYPE && m.metadata?.event_payload?.key === key,
    );
    return hit ? String(hit.ts) : null;
  }

  async stop(): Promise<void> {
    await this.pacer.stop();
  }
}

/**
 * Who is in which user group, from usergroups.list and usergroups.users.list,
 * cached for `ttlMs` (Slack tier 2). A failed lookup is not cached and throws,
 * so the click is refused with "try again" (fail closed, RELIABILITY 48).
 */
export class GroupDirectory {
  private cached: { atMs: number; groupsByUser: Promise<Map<string, string[]>> } | null = null;

  constructor(
    private readonly web: SlackWeb,
    private readonly ttlMs: number,
  ) {}

  async groupsOf(user: string): Promise<string[]> {
    const now = Date.now();
    if (!this.cached || now - this.cached.atMs >= this.ttlMs) {
      const groupsByUser = this.load();
      this.cached = { atMs: now, groupsByUser };
      groupsByUser.catch(() => {
        if (this.cached?.groupsByUser === groupsByUser) this.cached = null;
      });
    }
    return (await this.cached.groupsByUser).get(user) ?? [];
  }

  private async load(): Promise<Map<string, string[]>> {
    const list = await this.web.call('usergroups.list', {});
    const byUser = new Map<string, string[]>();
    for (const group of (list.usergroups ?? []) as Result[]) {
      const members = await this.web.call('usergroups.users.list', { usergroup: group.id });
      for (const user of (members.users ?? []) as string[])
        byUser.set(user, [...(byUser.get(user) ?? []), String(group.handle)]);
    }
    return byUser;
  }
}
