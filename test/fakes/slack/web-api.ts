/**
 * A fake Slack: a real `node:http` server on 127.0.0.1 that speaks the Web API
 * as @slack/web-api sends it (form-encoded, objects as JSON, bearer token), a
 * response_url sink, and the Socket Mode websocket (./socket.ts). State is kept
 * as plain arrays for assertions: what was posted, updated, opened, answered.
 * Faults are scripted: 429 with Retry-After, drop-after-accept (the post is kept,
 * the response lost), failing group lookups, a per-channel pace like Slack's.
 * Block Kit limits are enforced on every message, view and response_url post
 * (./block-kit.ts): what Slack refuses with `invalid_blocks` /
 * `invalid_arguments`, the fake refuses the same way.
 *
 *   const slack = await startFakeSlack({ channels: ['C1'] });
 *   new WebClient(slack.botToken, { slackApiUrl: slack.apiUrl });
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { blockProblems, refusal, viewProblems } from './block-kit.ts';
import { attachSocketMode, type FakeSocketMode } from './socket.ts';
import { FakeFiles } from './files.ts';

export { blockProblems, viewProblems } from './block-kit.ts';

export interface FakeMessage {
  channel: string;
  ts: string;
  threadTs: string | null;
  text: string;
  blocks: any[];
  metadata: { event_type: string; event_payload: Record<string, unknown> } | null;
  /** Ids of the files this message shares (files.completeUploadExternal posts one). */
  fileIds: string[];
  isDeleted: boolean;
  updates: number;
}
/**
 * A reply only one user sees, or (a response_url post with `response_type: in_channel`)
 * one the whole channel sees; a response_url post without `response_type` is ephemeral
 * (https://api.slack.com/interactivity/handling#message_responses).
 */
export interface FakeEphemeral {
  channel: string;
  user: string;
  text: string;
  blocks: any[];
  via: 'api' | 'response_url';
  url?: string;
  responseType: 'ephemeral' | 'in_channel';
}
export interface FakeCall {
  method: string;
  args: Record<string, any>;
  status: number;
  error?: string;
  atMs: number;
}

export interface FakeSlackOptions {
  channels?: string[];
  botToken?: string;
  appToken?: string;
  teamId?: string;
}

export interface FakeSlackFaults {
  /** method → how many of its next calls answer 429 with this Retry-After (seconds). */
  rateLimit: Map<string, { count: number; retryAfterSec: number }>;
  /** method → how many of its next calls are carried out, then the connection is cut before the answer. */
  dropAfterAccept: Map<string, number>;
  /** usergroups.* answer 500 (RELIABILITY 48). */
  failGroups: boolean;
  /** When set, chat.postMessage to a channel that had this many posts in the last second gets 429 (Slack's ~1/s with short bursts). */
  channelBurst: number | null;
}

const BOT_USER = 'UBOT';
const TRIGGER_LIFE_MS = 3_000;

export class FakeSlack {
  readonly messages: FakeMessage[] = [];
  readonly ephemerals: FakeEphemeral[] = [];
  readonly views: { triggerId: string; view: any; id: string }[] = [];
  readonly calls: FakeCall[] = [];
  readonly files = new FakeFiles(this);
  readonly faults: FakeSlackFaults = {
    rateLimit: new Map(),
    dropAfterAccept: new Map(),
    failGroups: false,
    channelBurst: null,
  };
  readonly channels: Set<string>;
  readonly botToken: string;
  readonly appToken: string;
  readonly teamId: string;
  socket!: FakeSocketMode;
  apiUrl = '';
  baseUrl = '';
  private readonly server = createServer((req, res) => void this.handle(req, res));
  private readonly groups = new Map<string, Set<string>>();
  private readonly triggers = new Map<string, { issuedMs: number; isUsed: boolean }>();
  private readonly responseUrls = new Map<string, { uses: number; isExpired: boolean }>();
  private readonly recentPostsMs = new Map<string, number[]>();
  private seq = 0;

  constructor(opts: FakeSlackOptions = {}) {
    this.channels = new Set(opts.channels ?? ['C0SUPPORT']);
    this.botToken = opts.botToken ?? 'xoxb-fake-bot-token';
    this.appToken = opts.appToken ?? 'xapp-fake-app-token';
    this.teamId = opts.teamId ?? 'T0FAKE';
  }

  async listen(): Promise<void> {
    this.socket = attachSocketMode(this.server);
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    this.apiUrl = `${this.baseUrl}/api/`;
  }

  async close(): Promise<void> {
    await this.socket.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** A trigger id as Slack puts in an interaction: opens one view within 3 s (`ageMs` old already). */
  newTrigger(ageMs = 0): string {
    const id = `trig-${randomUUID()}`;
    this.triggers.set(id, { issuedMs: Date.now() - ageMs, isUsed: false });
    return id;
  }

  /** A response_url as Slack puts in an interaction: 5 uses, then 404 (or at once, `expire`). */
  newResponseUrl(): string {
    const id = randomUUID();
    this.responseUrls.set(id, { uses: 0, isExpired: false });
    return `${this.baseUrl}/response/${id}`;
  }

  expireResponseUrl(url: string): void {
    const entry = this.responseUrls.get(url.split('/').at(-1)!);
    if (entry) entry.isExpired = true;
  }

  setGroups(user: string, handles: string[]): void {
    for (const [handle, members] of this.groups) if (!handles.includes(handle)) members.delete(user);
    for (const handle of handles) this.groups.set(handle, (this.groups.get(handle) ?? new Set()).add(user));
  }

  deleteMessage(channel: string, ts: string): void {
    const found = this.messages.find((m) => m.channel === channel && m.ts === ts);
    if (found) found.isDeleted = true;
  }

  /** Visible messages of a channel (top level and replies), oldest first. */
  inChannel(channel: string): FakeMessage[] {
    return this.messages.filter((m) => m.channel === channel && !m.isDeleted);
  }

  countCalls(method: string, status = 200): number {
    return this.calls.filter((c) => c.method === method && c.status === status).length;
  }

  private nextTs(): string {
    return `${Math.floor(Date.now() / 1_000)}.${String(++this.seq).padStart(6, '0')}`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const path = new URL(req.url ?? '/', this.baseUrl).pathname;
    if (path.startsWith('/upload/'))
      return this.files.receive(
        path.slice('/upload/'.length),
        Buffer.concat(chunks),
        String(req.headers['content-type'] ?? ''),
        res,
      );
    if (path.startsWith('/response/')) return this.respondToUrl(path.slice('/response/'.length), raw, res);
    const method = path.replace(/^\/api\//, '');
    const args = parseArgs(raw, String(req.headers['content-type'] ?? ''));
    const token = String(req.headers.authorization ?? '').replace(/^Bearer /, '') || args.token;
    const send = (status: number, body: Record<string, unknown>, headers: Record<string, string> = {}) => {
      this.calls.push({
        method,
        args,
        status,
        ...(body.ok === false ? { error: String(body.error) } : {}),
        atMs: Date.now(),
      });
      res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
    };
    const expected = method === 'apps.connections.open' ? this.appToken : this.botToken;
    if (token !== expected) return send(200, { ok: false, error: 'invalid_auth' });
    const limited = this.faults.rateLimit.get(method);
    if (limited && limited.count > 0) {
      limited.count -= 1;
      return send(429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(limited.retryAfterSec) });
    }
    if (method === 'chat.postMessage' && this.isTooSoon(String(args.channel)))
      return send(429, { ok: false, error: 'ratelimited' }, { 'retry-after': '1' });
    if (method.startsWith('usergroups.') && this.faults.failGroups)
      return send(500, { ok: false, error: 'fatal_error' });
    const result = this.run(method, args);
    const drops = this.faults.dropAfterAccept.get(method) ?? 0;
    if (drops > 0 && result.ok) {
      this.faults.dropAfterAccept.set(method, drops - 1);
      this.calls.push({ method, args, status: 0, atMs: Date.now() });
      return void req.socket.destroy();
    }
    send(200, result);
  }

  /**
   * Slack: chat.postMessage "will generally allow an app to post 1 message per
   * second to a specific channel", with short bursts tolerated
   * (https://api.slack.com/methods/chat.postMessage#rate_limiting). Modelled as
   * at most `channelBurst` posts to one channel in any 1 s window.
   */
  private isTooSoon(channel: string): boolean {
    if (this.faults.channelBurst === null) return false;
    const nowMs = Date.now();
    const recent = (this.recentPostsMs.get(channel) ?? []).filter((at) => nowMs - at < 1_000);
    if (recent.length >= this.faults.channelBurst) return true;
    this.recentPostsMs.set(channel, [...recent, nowMs]);
    return false;
  }

  private respondToUrl(id: string, raw: string, res: ServerResponse): void {
    const entry = this.responseUrls.get(id);
    if (!entry || entry.isExpired || entry.uses >= 5)
      return void res.writeHead(404).end(entry ? 'used_url' : 'expired_url');
    const body = JSON.parse(raw) as { text?: string; blocks?: any[]; response_type?: string };
    // Slack answers a response_url post it cannot show as chat.postMessage would: invalid_blocks.
    const problems = blockProblems(body.blocks, 'message');
    if (problems.length > 0) {
      return void res
        .writeHead(400, { 'content-type': 'application/json' })
        .end(JSON.stringify(refusal('invalid_blocks', problems)));
    }
    entry.uses += 1;
    this.ephemerals.push({
      channel: '',
      user: '',
      text: body.text ?? '',
      blocks: body.blocks ?? [],
      via: 'response_url',
      url: `${this.baseUrl}/response/${id}`,
      responseType: body.response_type === 'in_channel' ? 'in_channel' : 'ephemeral',
    });
    res.writeHead(200).end('ok');
  }

  /** A channel the bot can post in: a known channel, or a DM opened with conversations.open. */
  private channelOf(channel: string): string | null {
    return this.channels.has(channel) ? channel : null;
  }

  private run(method: string, a: Record<string, any>): Record<string, unknown> {
    const problems = method.startsWith('views.')
      ? viewProblems(a.view)
      : method.startsWith('chat.')
        ? blockProblems(a.blocks, 'message')
        : [];
    if (problems.length > 0)
      return refusal(method.startsWith('views.') ? 'invalid_arguments' : 'invalid_blocks', problems);
    switch (method) {
      case 'auth.test':
        return { ok: true, user_id: BOT_USER, bot_id: 'BBOT', team_id: this.teamId, team: 'fake', url: this.baseUrl };
      case 'apps.connections.open':
        return { ok: true, url: this.socket.url() };
      case 'chat.postMessage':
        return this.post(a);
      case 'chat.update': {
        const m = this.messages.find((x) => x.channel === a.channel && x.ts === a.ts && !x.isDeleted);
        if (!this.channelOf(String(a.channel))) return { ok: false, error: 'channel_not_found' };
        if (!m) return { ok: false, error: 'message_not_found' };
        Object.assign(m, { text: a.text ?? '', blocks: a.blocks ?? [], updates: m.updates + 1 });
        return { ok: true, channel: m.channel, ts: m.ts };
      }
      case 'chat.postEphemeral':
        if (!this.channelOf(String(a.channel))) return { ok: false, error: 'channel_not_found' };
        this.ephemerals.push({
          channel: a.channel,
          user: a.user,
          text: a.text ?? '',
          blocks: a.blocks ?? [],
          via: 'api',
          responseType: 'ephemeral',
        });
        return { ok: true, message_ts: this.nextTs() };
      case 'conversations.open':
        this.channels.add(`D${a.users}`);
        return { ok: true, channel: { id: `D${a.users}` } };
      case 'conversations.history':
      case 'conversations.replies':
        return this.history(method, a);
      case 'views.open':
        return this.openView(a);
      case 'views.update':
        return { ok: true, view: { ...a.view, id: a.view_id } };
      case 'usergroups.list':
        return { ok: true, usergroups: [...this.groups.keys()].map((handle) => ({ id: `S-${handle}`, handle })) };
      case 'usergroups.users.list': {
        const members = this.groups.get(String(a.usergroup).replace(/^S-/, ''));
        return members ? { ok: true, users: [...members] } : { ok: false, error: 'no_such_subteam' };
      }
      default:
        return this.files.run(method, a) ?? { ok: false, error: 'unknown_method' };
    }
  }

  private post(a: Record<string, any>): Record<string, unknown> {
    const channel = this.channelOf(String(a.channel));
    if (!channel) return { ok: false, error: 'channel_not_found' };
    const message: FakeMessage = {
      channel,
      ts: this.nextTs(),
      threadTs: a.thread_ts ?? null,
      text: a.text ?? '',
      blocks: a.blocks ?? [],
      metadata: a.metadata ?? null,
      fileIds: [],
      isDeleted: false,
      updates: 0,
    };
    this.messages.push(message);
    return { ok: true, channel, ts: message.ts, message: { text: message.text, ts: message.ts, bot_id: 'BBOT' } };
  }

  /** The message a completed upload shares its files in (its `initial_comment` as text); returns its ts. */
  shareFiles(channel: string, threadTs: string | null, text: string, fileIds: string[]): string {
    const ts = this.nextTs();
    this.messages.push({
      channel,
      ts,
      threadTs,
      text,
      blocks: [],
      metadata: null,
      fileIds,
      isDeleted: false,
      updates: 0,
    });
    return ts;
  }

  private history(method: string, a: Record<string, any>): Record<string, unknown> {
    if (!this.channelOf(String(a.channel))) return { ok: false, error: 'channel_not_found' };
    const oldest = Number(a.oldest ?? 0);
    const inThread = (m: FakeMessage) =>
      method === 'conversations.replies' ? (m.threadTs ?? m.ts) === a.ts : m.threadTs === null;
    const found = this.inChannel(String(a.channel)).filter((m) => inThread(m) && Number(m.ts) > oldest);
    const shown = (method === 'conversations.history' ? [...found].reverse() : found).map((m) => ({
      type: 'message',
      ts: m.ts,
      text: m.text,
      bot_id: 'BBOT',
      ...(m.threadTs ? { thread_ts: m.threadTs } : {}),
      ...(m.fileIds.length > 0 ? { files: m.fileIds.map((id) => ({ id })), upload: true } : {}),
      ...(a.include_all_metadata === true || a.include_all_metadata === 'true'
        ? m.metadata
          ? { metadata: m.metadata }
          : {}
        : {}),
    }));
    return { ok: true, messages: shown, has_more: false };
  }

  private openView(a: Record<string, any>): Record<string, unknown> {
    const trigger = this.triggers.get(String(a.trigger_id));
    if (!trigger) return { ok: false, error: 'invalid_trigger_id' };
    if (trigger.isUsed) return { ok: false, error: 'exchanged_trigger_id' };
    if (Date.now() - trigger.issuedMs > TRIGGER_LIFE_MS) return { ok: false, error: 'expired_trigger_id' };
    trigger.isUsed = true;
    const id = `V${++this.seq}`;
    this.views.push({ triggerId: String(a.trigger_id), view: a.view, id });
    return { ok: true, view: { ...a.view, id, hash: `h${this.seq}` } };
  }
}

/** @slack/web-api sends a form whose object values are JSON. */
function parseArgs(raw: string, contentType: string): Record<string, any> {
  if (contentType.includes('application/json')) return raw ? (JSON.parse(raw) as Record<string, any>) : {};
  const args: Record<string, any> = {};
  for (const [key, value] of new URLSearchParams(raw)) {
    args[key] = /^[[{]/.test(value)
      ? (() => {
          try {
            return JSON.parse(value);
          } catch {
            return value;
          }
        })()
      : value;
  }
  return args;
}

export async function startFakeSlack(opts: FakeSlackOptions = {}): Promise<FakeSlack> {
  const fake = new FakeSlack(opts);
  await fake.listen();
  return fake;
}
