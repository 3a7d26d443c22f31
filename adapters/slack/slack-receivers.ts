/**
 * How Slack traffic reaches Bolt, in both modes, as Bolt `Receiver`s:
 * - HTTP: a route on the bot's one server (POST /slack/events). It caps the
 *   body before hashing it (413, RELIABILITY 11), answers `ssl_check` with no
 *   side effects, verifies the signature on the raw bytes (5) with the
 *   timestamp checked in both directions (4: Bolt checks only the past), and
 *   refuses anything else with 401, never 500 (2, 3).
 * - Socket Mode: @slack/socket-mode's client, with our bounded WebClient options.
 * Both acknowledge only after the listener resolved. Bolt acks Events API
 * deliveries itself before any listener runs; here that early ack is held back
 * until the listener has committed, so a failure is a 500 (or no socket ack)
 * that Slack retries, not a silent drop (RELIABILITY 1, 7).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LogLevel, type App, type Logger as BoltLogger, type Receiver } from '@slack/bolt';
import { SocketModeClient } from '@slack/socket-mode';
import type { WebClientOptions } from '@slack/web-api';
import { readBody, sendJson, type Route } from '../../src/ops/http.ts';
import { toCorrelationId, withCorrelation } from '../../src/ops/correlation.ts';
import type { Logger } from '../../src/ops/log.ts';
import { parseBody } from './slack-inbound.ts';

/** Where Slack posts commands, clicks and events (manifest.yml says the same). */
export const EVENTS_PATH = '/slack/events';
/** Slack's replay window, applied to the past and the future alike. */
const MAX_SKEW_SECONDS = 300;

type Ack = (response?: unknown) => Promise<void>;
type Body = Record<string, any>;

/**
 * Hands one verified delivery to Bolt and calls `ack` once, after the listener:
 * an event is acknowledged when its listener resolved; anything else when the
 * listener acked (or, unhandled, at the end). Throws when the listener failed
 * before acknowledging. Runs under Slack's own id as the correlation id (src/ops/correlation.ts):
 * the Events API `event_id`, else the `trigger_id` of a command, click or dialog.
 */
export async function deliver(app: App, body: Body, ack: Ack, retry: { num?: number; reason?: string }): Promise<void> {
  return withCorrelation(toCorrelationId(body.event_id ?? body.trigger_id), () => deliverNow(app, body, ack, retry));
}

async function deliverNow(app: App, body: Body, ack: Ack, retry: { num?: number; reason?: string }): Promise<void> {
  const isEvent = body.type === 'event_callback';
  let isAcked = false;
  const once: Ack = async (response) => {
    if (isAcked) return;
    isAcked = true;
    await ack(response);
  };
  await app.processEvent({
    body,
    ack: isEvent ? async () => undefined : once,
    ...(retry.num !== undefined ? { retryNum: retry.num } : {}),
    ...(retry.reason ? { retryReason: retry.reason } : {}),
  });
  await once();
}

/** Bolt's and the socket client's logger, onto ours: warnings and errors only, never payloads. */
export function boltLogger(log: Logger): BoltLogger {
  const line = (msg: unknown[]) => ({
    detail: msg
      .map((m) => (m instanceof Error ? m.message : String(m)))
      .join(' ')
      .slice(0, 300),
  });
  return {
    debug: () => undefined,
    info: () => undefined,
    warn: (...msg: unknown[]) => log.warn('slack sdk', line(msg)),
    error: (...msg: unknown[]) => log.error('slack sdk', line(msg)),
    setLevel: () => undefined,
    getLevel: () => LogLevel.INFO,
    setName: () => undefined,
  };
}

/** Why a request is refused, or null when its signature and timestamp hold. */
export function verifySignature(
  raw: Buffer,
  headers: IncomingMessage['headers'],
  secret: string,
  nowSeconds: number,
): string | null {
  const ts = headers['x-slack-request-timestamp'];
  const signature = headers['x-slack-signature'];
  if (typeof ts !== 'string' || !/^\d{1,12}$/.test(ts)) return 'missing or non-numeric timestamp';
  if (Math.abs(nowSeconds - Number(ts)) > MAX_SKEW_SECONDS) return 'timestamp outside the 300 s window';
  if (typeof signature !== 'string' || !/^v0=[0-9a-f]{64}$/.test(signature)) return 'missing or malformed signature';
  const expected = createHmac('sha256', secret).update(`v0:${ts}:`).update(raw).digest();
  return timingSafeEqual(expected, Buffer.from(signature.slice(3), 'hex')) ? null : 'signature mismatch';
}

function reply(res: ServerResponse, status: number, response?: unknown): void {
  if (response === undefined || response === '') return void res.writeHead(status).end();
  if (typeof response === 'string')
    return void res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(response);
  sendJson(res, status, response);
}

export class SlackHttpReceiver implements Receiver {
  private app: App | null = null;

  constructor(private readonly o: { signingSecret: string; maxBodyBytes: number; log: Logger }) {}

  init(app: App): void {
    this.app = app;
  }

  /** The bot's HTTP server is main.ts's; this receiver only answers its route. */
  async start(): Promise<void> {}

  async stop(): Promise<void> {
    this.app = null;
  }

  readonly route: Route = async (req, res) => {
    if (req.method !== 'POST' || new URL(req.url ?? '/', 'http://slack.invalid').pathname !== EVENTS_PATH) return false;
    await this.answer(req, res);
    return true;
  };

  private async answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const tooLarge = Number(req.headers['content-length'] ?? 0) > this.o.maxBodyBytes;
    const raw = tooLarge ? (req.resume(), null) : await readBody(req, this.o.maxBodyBytes);
    if (raw === null) return sendJson(res, 413, { error: 'request body too large' });
    const text = raw.toString('utf8');
    // Slack's periodic certificate check: answered, and nothing else happens.
    if (/(^|&)ssl_check=1(&|$)/.test(text)) return reply(res, 200);
    const refusal = verifySignature(raw, req.headers, this.o.signingSecret, Math.floor(Date.now() / 1_000));
    if (refusal) {
      this.o.log.warn('security: refused a Slack request', { reason: refusal, sizeBytes: raw.length });
      return sendJson(res, 401, { error: 'invalid request signature' });
    }
    const body = parseBody(text, String(req.headers['content-type'] ?? ''));
    if (!body) return sendJson(res, 400, { error: 'unreadable body' });
    if (body.type === 'url_verification') return sendJson(res, 200, { challenge: String(body.challenge ?? '') });
    await this.dispatch(req, res, body);
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse, body: Body): Promise<void> {
    if (!this.app) return void sendJson(res, 503, { error: 'not ready' });
    const retryNum = Number(req.headers['x-slack-retry-num']);
    const retry = {
      ...(Number.isInteger(retryNum) ? { num: retryNum } : {}),
      reason: String(req.headers['x-slack-retry-reason'] ?? ''),
    };
    try {
      await deliver(this.app, body, async (response) => reply(res, 200, response), retry);
    } catch (err) {
      // No X-Slack-No-Retry: the Events API will deliver it again (RELIABILITY 7).
      this.o.log.warn('slack delivery failed; answering 500 so Slack retries', {
        type: body.type,
        error: (err as Error).message,
      });
      if (!res.headersSent) sendJson(res, 500, { error: 'could not record that; please retry' });
    }
  }
}

export class SlackSocketReceiver implements Receiver {
  private readonly client: SocketModeClient;
  private app: App | null = null;
  /** Slack said hello on the current socket (the client emits nothing when a socket drops, only on reconnect). */
  private hasHello = false;

  constructor(
    appToken: string,
    options: WebClientOptions,
    private readonly log: Logger,
  ) {
    // A copy: the socket client writes into the options it is given.
    this.client = new SocketModeClient({ appToken, clientOptions: { ...options }, logger: boltLogger(log) });
    this.client.on('connected', () => (this.hasHello = true));
    for (const state of ['disconnecting', 'reconnecting', 'disconnected'])
      this.client.on(state, () => (this.hasHello = false));
    this.client.on('slack_event', (e: { ack: Ack; body: Body; retry_num?: number; retry_reason?: string }) => {
      if (!this.app) return;
      deliver(this.app, e.body, e.ack, { num: e.retry_num, reason: e.retry_reason }).catch((err: unknown) => {
        // Not acknowledged: Slack delivers the envelope again (RELIABILITY 7, 12).
        this.log.warn('slack socket delivery failed; left unacknowledged so Slack retries', {
          error: (err as Error).message,
        });
      });
    });
  }

  init(app: App): void {
    this.app = app;
  }

  /** The socket is open and Slack said hello on it; /readyz asks (src/ops/readiness.ts). */
  get isConnected(): boolean {
    return this.hasHello && this.client.websocket?.isActive() === true;
  }

  async start(): Promise<void> {
    await this.client.start();
  }

  async stop(): Promise<void> {
    this.app = null;
    await this.client.disconnect();
  }
}
