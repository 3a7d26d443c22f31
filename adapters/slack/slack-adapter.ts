/**
 * Slack as a `ChatPort` (DESIGN §7), on Bolt, in HTTP mode (POST /slack/events
 * on the bot's server, SLACK_SIGNING_SECRET) or Socket Mode (SLACK_APP_TOKEN).
 * Outbound: cards and notices rendered by ./slack-render.ts, posted once per
 * idempotency key by ./slack-web.ts. Inbound: ./slack-receivers.ts verifies,
 * ./slack-listeners.ts translates and answers. It holds no flow logic and no
 * SQL, imports neither src/engine nor src/store, and reads no environment:
 * its settings and its `SlackStore` come in through `createSlackAdapter`.
 */
import { App } from '@slack/bolt';
import type { ChatHandlers, ChatPort, Notice, SendOptions } from '../../src/chat/port.ts';
import type { MessageRef, ReviewCard } from '../../src/chat/messages.ts';
import { SignoffError } from '../../src/errors.ts';
import type { Route } from '../../src/ops/http.ts';
import { silentLogger, type Logger } from '../../src/ops/log.ts';
import { slackRef, slackRefParts } from './slack-inbound.ts';
import { registerListeners, type ClickDecider } from './slack-listeners.ts';
import { boltLogger, SlackHttpReceiver, SlackSocketReceiver } from './slack-receivers.ts';
import { noticeMessage, renderCard } from './slack-render.ts';
import { SlackUploads } from './slack-upload.ts';
import { clientOptions, GroupDirectory, SlackWeb } from './slack-web.ts';
import type { SlackAdapterOptions } from './types.ts';

export interface SlackAdapter {
  port: ChatPort;
  /** Mount on the bot's HTTP server: POST /slack/events in HTTP mode; none in Socket Mode. */
  routes: Route[];
  /** `http` with a signing secret, `socket` with an app token (which wins when both are set). */
  mode: 'http' | 'socket';
}

/** Slack as the chat platform; `port.start` checks the token (auth.test) and, in Socket Mode, connects. */
export function createSlackAdapter(opts: SlackAdapterOptions): SlackAdapter {
  const log = opts.log ?? silentLogger;
  const { botToken, signingSecret, appToken, apiUrl } = opts.settings;
  const options = clientOptions(apiUrl, opts.callTimeoutMs ?? 10_000, boltLogger(log));
  const web = new SlackWeb(
    botToken,
    options,
    opts.store,
    opts.channelIntervalMs ?? 1_000,
    opts.isTierPaced ?? true,
    log,
    opts.metrics ?? null,
  );
  let receiver: SlackHttpReceiver | SlackSocketReceiver;
  if (appToken) receiver = new SlackSocketReceiver(appToken, options, log);
  else if (signingSecret)
    receiver = new SlackHttpReceiver({ signingSecret, maxBodyBytes: opts.maxBodyBytes ?? 1024 * 1024, log });
  // config.ts refuses this combination already; an empty secret must never mean "unsigned".
  else
    throw new SignoffError(
      'config_invalid',
      'Slack needs SLACK_SIGNING_SECRET (HTTP) or SLACK_APP_TOKEN (Socket Mode)',
    );
  // deferInitialization: `new App` would otherwise call auth.test at once and crash on an unreachable API.
  const app = new App({
    token: botToken,
    receiver,
    clientOptions: { ...options },
    logger: options.logger!,
    deferInitialization: true,
  });
  let handlers: ChatHandlers | null = null;
  const clicks = registerListeners(app, {
    handlers: () => handlers,
    web,
    store: opts.store,
    log,
    crashpoint: opts.crashpoint ?? (() => undefined),
  });
  const uploads = new SlackUploads(
    web,
    opts.store,
    log,
    opts.crashpoint ?? (() => undefined),
    opts.callTimeoutMs ?? 10_000,
  );
  const port = new SlackPort(
    app,
    web,
    uploads,
    new GroupDirectory(web, opts.groupCacheMs ?? 30_000),
    (next) => void (handlers = next),
    clicks,
    log,
    () => !(receiver instanceof SlackSocketReceiver) || receiver.isConnected,
  );
  return {
    port,
    routes: receiver instanceof SlackHttpReceiver ? [receiver.route] : [],
    mode: receiver instanceof SlackHttpReceiver ? 'http' : 'socket',
  };
}

function mustParse(ref: MessageRef): { channel: string; ts: string; threadTs: string } {
  const parts = slackRefParts(ref);
  if (!parts)
    throw new SignoffError('input_invalid', 'not a Slack message reference', { details: { retryable: false } });
  return parts;
}

/** A recorded click still undecided after this long was left by a process that died. */
const CLICK_REPLAY_AFTER_MS = 10_000;
const CLICK_REPLAY_EVERY_MS = 5_000;

class SlackPort implements ChatPort {
  readonly platform = 'slack';
  private isInitialized = false;
  /** User id → their DM channel with the bot (conversations.open is idempotent; this saves the call). */
  private readonly dms = new Map<string, string>();

  private replayer: NodeJS.Timeout | null = null;

  constructor(
    private readonly app: App,
    private readonly web: SlackWeb,
    private readonly uploads: SlackUploads,
    private readonly groups: GroupDirectory,
    private readonly setHandlers: (next: ChatHandlers | null) => void,
    private readonly clicks: ClickDecider,
    private readonly log: Logger,
    /** Socket Mode: the socket is connected; HTTP: always (the route is on our server). */
    private readonly isConnected: () => boolean,
  ) {}

  private isStarted = false;

  /** Started, and in Socket Mode connected (src/ops/readiness.ts). */
  isReady(): boolean {
    return this.isStarted && this.isConnected();
  }

  async start(handlers: ChatHandlers): Promise<void> {
    if (!this.isInitialized) await this.app.init();
    this.isInitialized = true;
    this.setHandlers(handlers);
    await this.app.start();
    this.isStarted = true;
    // Clicks acknowledged by a process that died before deciding them.
    this.replayer ??= setInterval(() => {
      this.clicks
        .replay(CLICK_REPLAY_AFTER_MS)
        .catch((err: unknown) =>
          this.log.warn('replaying recorded slack clicks failed; will retry', { error: (err as Error).message }),
        );
    }, CLICK_REPLAY_EVERY_MS);
    this.replayer.unref();
  }

  async stop(): Promise<void> {
    this.isStarted = false;
    if (this.replayer) clearInterval(this.replayer);
    this.replayer = null;
    this.setHandlers(null);
    await this.app.stop();
    await this.web.stop();
  }

  async postCard(channel: string, card: ReviewCard, opts: SendOptions): Promise<MessageRef> {
    const posted = await this.web.postOnce(channel, renderCard(card), opts.idempotencyKey);
    return slackRef(posted.channel, posted.ts);
  }

  async updateCard(ref: MessageRef, card: ReviewCard): Promise<void> {
    const { channel, ts } = mustParse(ref);
    await this.web.call('chat.update', { channel, ts, ...renderCard(card) });
  }

  async replyInThread(ref: MessageRef, notice: Notice, opts: SendOptions): Promise<MessageRef> {
    // Threads are one level deep: a reply to a reply joins its thread.
    const { channel, threadTs } = mustParse(ref);
    const posted = await this.web.postOnce(
      channel,
      { thread_ts: threadTs, ...noticeMessage(notice) },
      opts.idempotencyKey,
    );
    return slackRef(posted.channel, posted.ts, threadTs);
  }

  async postMessage(channel: string, notice: Notice, opts: SendOptions): Promise<MessageRef> {
    const posted = await this.web.postOnce(channel, noticeMessage(notice), opts.idempotencyKey);
    if (notice.image) await this.uploads.uploadOnce(posted.channel, notice.image, opts.idempotencyKey, posted.ts);
    return slackRef(posted.channel, posted.ts);
  }

  async notifyUser(_tenant: string, user: string, notice: Notice, opts: SendOptions): Promise<void> {
    let channel = this.dms.get(user);
    if (!channel) {
      const opened = await this.web.call('conversations.open', { users: user });
      channel = String(opened.channel?.id);
      this.dms.set(user, channel);
    }
    const posted = await this.web.postOnce(channel, noticeMessage(notice), opts.idempotencyKey);
    if (notice.image) await this.uploads.uploadOnce(posted.channel, notice.image, opts.idempotencyKey, posted.ts);
  }

  /** One bot token serves one workspace, so the tenant is that workspace. */
  async groupsOf(_tenant: string, user: string): Promise<string[]> {
    return this.groups.groupsOf(user);
  }
}
