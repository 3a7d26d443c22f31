/**
 * A fake Discord: the REST API (`/api/v10/...`, node:http on 127.0.0.1:0) and, on
 * the same port, the gateway (./gateway.ts). The real discord.js client runs
 * against it unchanged. It refuses what Discord refuses, each rule citing its
 * discord-api-docs page (github.com/discord/discord-api-docs, `developers/...`):
 * the `Authorization: Bot` scheme, the 3 s initial response and the 15 min token,
 * a second acknowledgement, message and modal limits (./limits.ts), messages
 * with files (multipart/form-data, ./uploads.ts), and scoped 429s on demand. It
 * records every message, its attachments, who it would have pinged, and every
 * interaction response, for tests to assert on. Over 300 lines: one server's
 * routes read best side by side; its rule sets live in the files beside it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InteractionResponseType, MessageFlags, type APIInteraction, type APIRole } from 'discord-api-types/v10';
import { FakeGateway } from './gateway.ts';
import { invalidFormBody, messageProblems, modalProblems, wouldPing } from './limits.ts';
import { attachmentJson, checkFiles, readUpload, type FakeAttachment } from './uploads.ts';

type Body = Record<string, any>;

export interface FakeMessage {
  id: string;
  channel: string;
  content: string;
  embeds: Body[];
  components: Body[];
  /** As sent; null when the body had none (then Discord's defaults apply). */
  allowedMentions: Body | null;
  /** Who this message notified (`user:<id>`, `role:<id>`, `everyone`), given its content and allowed_mentions. */
  pinged: string[];
  /** Files sent with it (multipart/form-data, ./uploads.ts), in part order. */
  attachments: FakeAttachment[];
  /** The message this one replies to (message_reference), if any. */
  replyTo: string | null;
  nonce: string | null;
  /** Sent through an interaction token (webhook) rather than the bot token. */
  viaInteraction: boolean;
  isEphemeral: boolean;
  edits: number;
}

export interface FakeInteraction {
  payload: APIInteraction;
  createdMs: number;
  /** Callback types received, in order (the first is the acknowledgement). */
  callbacks: { type: number; data?: Body; status: number }[];
  /** The response message (type 4) or the one a deferral (5) became, once known. */
  original: FakeMessage | null;
  /** Follow-up messages sent on its token (POST /webhooks/{app}/{token}). */
  followUps: FakeMessage[];
}

/** A 429 the next matching request gets (topics/rate-limits.mdx). */
export interface RateLimitFault {
  scope: 'user' | 'global' | 'shared';
  retryAfterSeconds: number;
  pathIncludes?: string;
}

/** interactions/receiving-and-responding.mdx: initial response within 3 s; the token lasts 15 minutes. */
export const INITIAL_RESPONSE_MS = 3_000;
export const TOKEN_LIFETIME_MS = 15 * 60_000;

let nextId = BigInt(Date.now()) << 22n;
export const snowflake = (): string => String(++nextId);

export class FakeDiscord {
  readonly botToken = 'fake-bot-token.discord';
  readonly applicationId = '100000000000000001';
  readonly botUserId = '100000000000000002';
  readonly guildId = '200000000000000001';
  readonly messages: FakeMessage[] = [];
  readonly interactions = new Map<string, FakeInteraction>();
  /** Every request (method, path, status), for "was anything sent" checks. */
  readonly requests: { method: string; path: string; status: number; body: Body | null }[] = [];
  readonly commands: { scope: string; body: Body[] }[] = [];
  readonly roles: APIRole[] = [];
  readonly memberRoles = new Map<string, string[]>();
  readonly faults = { failRoles: false, rateLimits: [] as RateLimitFault[] };
  readonly gateway: FakeGateway;
  private readonly nonces = new Map<string, FakeMessage>();
  private server!: Server;
  port = 0;

  constructor() {
    this.gateway = new FakeGateway(this);
  }

  get apiUrl(): string {
    return `http://127.0.0.1:${this.port}/api`;
  }

  async listen(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.gateway.attach(this.server);
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    await this.gateway.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** A role in the guild, by name; returns its id. */
  role(name: string): string {
    const found = this.roles.find((r) => r.name === name);
    if (found) return found.id;
    const id = snowflake();
    this.roles.push({
      id,
      name,
      color: 0,
      hoist: false,
      position: this.roles.length + 1,
      permissions: '0',
      managed: false,
      mentionable: false,
      flags: 0,
      colors: { primary_color: 0, secondary_color: null, tertiary_color: null },
    } as unknown as APIRole);
    return id;
  }

  setRoles(user: string, names: string[]): void {
    this.memberRoles.set(
      user,
      names.map((n) => this.role(n)),
    );
  }

  /** Registers an interaction so its token works, from now (tests deliver it over the gateway or HTTP). */
  track(payload: APIInteraction): FakeInteraction {
    const entry: FakeInteraction = { payload, createdMs: Date.now(), callbacks: [], original: null, followUps: [] };
    this.interactions.set(payload.id, entry);
    return entry;
  }

  /** Moves an interaction's creation into the past (its 3 s deadline or 15 min token then lapse). */
  age(interactionId: string, ms: number): void {
    const entry = this.interactions.get(interactionId);
    if (entry) entry.createdMs -= ms;
  }

  inChannel(channel: string): FakeMessage[] {
    return this.messages.filter((m) => m.channel === channel && !m.isEphemeral);
  }

  deleteMessage(id: string): void {
    const i = this.messages.findIndex((m) => m.id === id);
    if (i >= 0) this.messages.splice(i, 1);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake.invalid');
    // discord.js encodes path segments (`%40original`, `%40me`).
    const path = decodeURIComponent(url.pathname).replace(/^\/api(\/v\d+)?/, '');
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const contentType = String(req.headers['content-type'] ?? '');
    // reference.mdx "Uploading Files": files come as multipart/form-data, the JSON body in payload_json.
    const upload = contentType.startsWith('multipart/form-data') ? await readUpload(raw, contentType) : null;
    const body = upload
      ? 'body' in upload
        ? upload.body
        : null
      : raw.length
        ? (JSON.parse(raw.toString('utf8')) as Body)
        : null;
    const send = (status: number, json?: unknown, headers: Record<string, string> = {}) => {
      this.requests.push({ method: req.method ?? '', path, status, body });
      // A 204 has no body and no content type (discord.js parses any application/json body).
      res.writeHead(status, {
        ...(json === undefined ? {} : { 'content-type': 'application/json' }),
        ...this.rateHeaders(path),
        ...headers,
      });
      res.end(json === undefined ? undefined : JSON.stringify(json));
    };
    const isTokenRoute = path.startsWith('/interactions/') || path.startsWith('/webhooks/');
    // reference.mdx "Authentication": `Authorization: Bot <token>`; interaction and webhook routes carry their token in the path.
    if (!isTokenRoute && req.headers.authorization !== `Bot ${this.botToken}`)
      return send(401, { message: '401: Unauthorized', code: 0 });
    const fault = this.faults.rateLimits.findIndex((f) => !f.pathIncludes || path.includes(f.pathIncludes));
    if (fault >= 0) return this.tooMany(send, this.faults.rateLimits.splice(fault, 1)[0]!);
    if (upload && 'refusal' in upload) return send(...upload.refusal);
    try {
      const files = upload && 'files' in upload ? upload.files : [];
      const [status, json] = this.route(req.method ?? 'GET', path, body ?? {}, files);
      send(status, json);
    } catch (err) {
      send(500, { message: (err as Error).message, code: 0 });
    }
  }

  /** topics/rate-limits.mdx: bucket headers on every response. */
  private rateHeaders(path: string): Record<string, string> {
    return {
      'x-ratelimit-limit': '5',
      'x-ratelimit-remaining': '4',
      'x-ratelimit-reset-after': '1',
      'x-ratelimit-reset': String(Date.now() / 1_000 + 1),
      'x-ratelimit-bucket': `b-${path.split('/')[1] ?? ''}`,
    };
  }

  /** topics/rate-limits.mdx "Exceeding A Rate Limit": 429, Retry-After, X-RateLimit-Scope, and X-RateLimit-Global when global. */
  private tooMany(send: (s: number, j?: unknown, h?: Record<string, string>) => void, f: RateLimitFault): void {
    const headers: Record<string, string> = {
      'retry-after': String(Math.ceil(f.retryAfterSeconds)),
      'x-ratelimit-scope': f.scope,
      'x-ratelimit-remaining': '0',
    };
    if (f.scope === 'global') headers['x-ratelimit-global'] = 'true';
    send(
      429,
      {
        message: 'You are being rate limited.',
        retry_after: f.retryAfterSeconds,
        global: f.scope === 'global',
        ...(f.scope === 'global' ? { code: 0 } : {}),
      },
      headers,
    );
  }

  private route(method: string, path: string, body: Body, files: FakeAttachment[]): [number, unknown] {
    const p = path.split('/').filter(Boolean);
    const is = (m: string, pattern: string) =>
      method === m &&
      pattern
        .split('/')
        .filter(Boolean)
        .every((s, i) => s.startsWith(':') || s === p[i]) &&
      pattern.split('/').filter(Boolean).length === p.length;
    if (is('GET', '/gateway/bot'))
      return [
        200,
        {
          url: this.gateway.url,
          shards: 1,
          session_start_limit: {
            total: 1_000,
            remaining: 1_000 - this.gateway.identifies,
            reset_after: 86_400_000,
            max_concurrency: 1,
          },
        },
      ];
    // resources/user.mdx "Get Current User": the bot's own user (what `signoff doctor` asks).
    if (is('GET', '/users/@me'))
      return [
        200,
        { id: this.botUserId, username: 'signoff', discriminator: '0', global_name: null, avatar: null, bot: true },
      ];
    if (is('GET', '/applications/@me'))
      return [200, { id: this.applicationId, name: 'signoff', bot_public: false, flags: 0 }];
    if (is('POST', '/channels/:c/messages')) return this.createMessage(p[1]!, body, false, files);
    if (is('PATCH', '/channels/:c/messages/:m')) return this.editMessage(p[3]!, body);
    if (is('DELETE', '/channels/:c/messages/:m')) return (this.deleteMessage(p[3]!), [204, undefined]);
    if (is('POST', '/users/@me/channels'))
      return [200, { id: `D${body.recipient_id}`, type: 1, recipients: [{ id: body.recipient_id }] }];
    if (is('GET', '/guilds/:g/roles'))
      return this.faults.failRoles ? [500, { message: '500: Internal Server Error', code: 0 }] : [200, this.roles];
    if (is('PUT', '/applications/:a/commands'))
      return (this.commands.push({ scope: 'global', body: body as Body[] }), [200, body]);
    if (is('PUT', '/applications/:a/guilds/:g/commands'))
      return (this.commands.push({ scope: `guild:${p[3]}`, body: body as Body[] }), [200, body]);
    if (is('POST', '/interactions/:i/:t/callback')) return this.callback(p[1]!, p[2]!, body);
    if (is('PATCH', '/webhooks/:a/:t/messages/@original'))
      return this.webhook(p[2]!, (entry) => this.editOriginal(entry, body));
    if (is('POST', '/webhooks/:a/:t')) return this.webhook(p[2]!, (entry) => this.followUp(entry, body, files));
    return [404, { message: '404: Not Found', code: 0 }];
  }

  private createMessage(
    channel: string,
    body: Body,
    viaInteraction: boolean,
    files: FakeAttachment[] = [],
  ): [number, unknown] {
    const problems = messageProblems(body, false, files.length);
    if (problems.length > 0) return [400, invalidFormBody(problems)];
    const upload = checkFiles(body, files);
    if ('refusal' in upload) return upload.refusal;
    // resources/message.mdx: with enforce_nonce, a nonce seen from the same author in the past few minutes returns that message instead.
    const nonceKey = body.nonce !== undefined && body.enforce_nonce ? `${channel}:${body.nonce}` : null;
    const seen = nonceKey ? this.nonces.get(nonceKey) : undefined;
    if (seen) return [200, this.toApi(seen)];
    const message: FakeMessage = {
      id: snowflake(),
      channel,
      content: body.content ?? '',
      embeds: body.embeds ?? [],
      components: body.components ?? [],
      allowedMentions: body.allowed_mentions ?? null,
      pinged: wouldPing(body.content ?? '', body.allowed_mentions, viaInteraction),
      attachments: files.map((f) => ({ ...f, id: snowflake() })),
      replyTo: body.message_reference?.message_id ?? null,
      nonce: body.nonce === undefined ? null : String(body.nonce),
      viaInteraction,
      isEphemeral: ((body.flags ?? 0) & MessageFlags.Ephemeral) !== 0,
      edits: 0,
    };
    this.messages.push(message);
    if (nonceKey) this.nonces.set(nonceKey, message);
    return [200, this.toApi(message)];
  }

  private editMessage(id: string, body: Body): [number, unknown] {
    const message = this.messages.find((m) => m.id === id);
    // topics/opcodes-and-status-codes.mdx: 10008 Unknown message.
    if (!message) return [404, { message: 'Unknown Message', code: 10008 }];
    const problems = messageProblems(body, true);
    if (problems.length > 0) return [400, invalidFormBody(problems)];
    if ('content' in body) message.content = body.content ?? '';
    if ('embeds' in body) message.embeds = body.embeds ?? [];
    if ('components' in body) message.components = body.components ?? [];
    if ('allowed_mentions' in body) message.allowedMentions = body.allowed_mentions;
    message.pinged = [
      ...new Set([
        ...message.pinged,
        ...wouldPing(message.content, message.allowedMentions ?? undefined, message.viaInteraction),
      ]),
    ];
    message.edits += 1;
    return [200, this.toApi(message)];
  }

  /** interactions/receiving-and-responding.mdx "Responding to an Interaction". */
  private callback(id: string, token: string, body: Body): [number, unknown] {
    const entry = this.interactions.get(id);
    // The 3 s deadline passed, or no such interaction: 10062 Unknown interaction (topics/opcodes-and-status-codes.mdx).
    if (!entry || entry.payload.token !== token) return [404, { message: 'Unknown interaction', code: 10062 }];
    const record = (status: number) => entry.callbacks.push({ type: body.type, data: body.data, status });
    if (Date.now() - entry.createdMs > INITIAL_RESPONSE_MS)
      return (record(404), [404, { message: 'Unknown interaction', code: 10062 }]);
    // topics/opcodes-and-status-codes.mdx: 40060 Interaction has already been acknowledged.
    if (entry.callbacks.some((c) => c.status < 300))
      return (record(400), [400, { message: 'Interaction has already been acknowledged.', code: 40060 }]);
    const problems =
      body.type === InteractionResponseType.Modal
        ? modalProblems(body.data)
        : body.type === InteractionResponseType.ChannelMessageWithSource ||
            body.type === InteractionResponseType.UpdateMessage
          ? messageProblems(body.data ?? {}, body.type === 7)
          : [];
    if (problems.length > 0) return (record(400), [400, invalidFormBody(problems)]);
    record(204);
    if (
      body.type === InteractionResponseType.ChannelMessageWithSource ||
      body.type === InteractionResponseType.DeferredChannelMessageWithSource
    ) {
      const [, made] = this.createMessage(
        entry.payload.channel?.id ?? '',
        { content: '', ...(body.data ?? {}), ...(body.type === 5 ? { content: '…' } : {}) },
        true,
      );
      entry.original = this.messages.find((m) => m.id === (made as Body).id) ?? null;
    }
    const clicked = (entry.payload as Body).message?.id;
    if (
      (body.type === InteractionResponseType.UpdateMessage ||
        body.type === InteractionResponseType.DeferredMessageUpdate) &&
      clicked
    ) {
      entry.original = this.messages.find((m) => m.id === clicked) ?? null;
      if (body.type === InteractionResponseType.UpdateMessage) this.editMessage(clicked, body.data ?? {});
    }
    return [204, undefined];
  }

  private webhook(token: string, work: (entry: FakeInteraction) => [number, unknown]): [number, unknown] {
    const entry = [...this.interactions.values()].find((e) => e.payload.token === token);
    // The token lasts 15 minutes (interactions/receiving-and-responding.mdx); after that 401 50027 Invalid webhook token.
    if (!entry || Date.now() - entry.createdMs > TOKEN_LIFETIME_MS)
      return [401, { message: 'Invalid Webhook Token', code: 50027 }];
    if (!entry.callbacks.some((c) => c.status < 300)) return [404, { message: 'Unknown Webhook', code: 10015 }];
    return work(entry);
  }

  private followUp(entry: FakeInteraction, body: Body, files: FakeAttachment[]): [number, unknown] {
    const [status, made] = this.createMessage(entry.payload.channel?.id ?? '', body, true, files);
    const message = status === 200 ? this.messages.find((m) => m.id === (made as Body).id) : undefined;
    if (message) entry.followUps.push(message);
    return [status, made];
  }

  private editOriginal(entry: FakeInteraction, body: Body): [number, unknown] {
    if (!entry.original) return [404, { message: 'Unknown Message', code: 10008 }];
    return this.editMessage(entry.original.id, body);
  }

  toApi(m: FakeMessage): Body {
    return {
      id: m.id,
      channel_id: m.channel,
      content: m.content,
      embeds: m.embeds,
      components: m.components,
      type: 0,
      tts: false,
      author: {
        id: this.botUserId,
        username: 'signoff',
        discriminator: '0',
        global_name: null,
        avatar: null,
        bot: true,
      },
      timestamp: new Date().toISOString(),
      edited_timestamp: null,
      mention_everyone: false,
      mentions: [],
      mention_roles: [],
      attachments: m.attachments.map((a) => attachmentJson(a, m.channel)),
      pinned: false,
      flags: m.isEphemeral ? MessageFlags.Ephemeral : 0,
      ...(m.nonce ? { nonce: m.nonce } : {}),
    };
  }
}

export async function startFakeDiscord(): Promise<FakeDiscord> {
  const fake = new FakeDiscord();
  await fake.listen();
  return fake;
}
