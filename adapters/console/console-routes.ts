/**
 * The web chat's HTTP face, mounted on the bot's one server (src/ops/http.ts):
 * the page, its state, its live stream, and the three inbound doors (command,
 * click, dialog) that hand neutral events to `ChatHandlers`. Answers carry no
 * stack, SQL or ids beyond the caller's own: a failure is "please try again".
 * Writes need `content-type: application/json`, which a cross-site form cannot
 * send without a CORS preflight this server never grants, so another site open
 * in the browser cannot click Approve here.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ZodType } from 'zod';
import type { ChatHandlers } from '../../src/chat/port.ts';
import { describeError } from '../../src/errors.ts';
import { readBody, sendJson, type Route } from '../../src/ops/http.ts';
import type { Logger } from '../../src/ops/log.ts';
import {
  actionBody, commandBody, consoleRefParts, parseRequest, personBody, submissionBody, toInboundAction,
  toInboundCommand, toInboundSubmission, type ActionBody, type CommandBody, type PersonBody, type SubmissionBody,
} from './console-inbound.ts';
import type { LiveHub } from './console-live.ts';
import { renderMessage, renderNotice, type NameOf } from './console-render.ts';
import { renderPage } from './page.ts';
import { BOT_AUTHOR, type ConsoleMessage, type ConsoleStore, type NewConsoleMessage, type Person } from './types.ts';

/** The largest request body read; a larger one is refused with 413 before parsing. */
export const MAX_BODY_BYTES = 64 * 1024;

/** What the routes need from the adapter. */
export interface ConsoleContext {
  readonly tenant: string;
  readonly store: ConsoleStore;
  readonly log: Logger;
  readonly live: LiveHub;
  /** The handlers `start` was given; null before start and after stop. */
  handlers(): ChatHandlers | null;
  /** Seeds the demo world once (retried after a failure). */
  ready(): Promise<void>;
  /** Stores a message once per key and pushes it to open pages. */
  post(message: NewConsoleMessage): Promise<ConsoleMessage>;
}

interface Outcome { status: number; body: unknown }

const NOT_READY: Outcome = { status: 503, body: { error: 'signoff is not ready yet; please try again in a moment' } };
const COULD_NOT_RECORD = 'could not record that; please try again';
const COULD_NOT_LOAD = 'could not load that; please try again';

const refuse = (error: string): Outcome => ({ status: 400, body: { error } });

export function namesOf(people: Person[]): NameOf {
  const names = new Map(people.map((p) => [p.id, p.displayName]));
  return (userId) => names.get(userId);
}

/** Who may speak where: a known person, in a shared channel or their own DMs. */
async function checkSpeaker(ctx: ConsoleContext, user: string, channel: string | null): Promise<Outcome | null> {
  const [people, channels] = await Promise.all([ctx.store.listPeople(ctx.tenant), ctx.store.listChannels(ctx.tenant)]);
  if (!people.some((p) => p.id === user)) return refuse('unknown user: pick a person from the person switcher');
  if (channel === null) return null;
  const found = channels.find((c) => c.id === channel);
  if (!found) return refuse('unknown channel');
  if (found.dmOf !== null && found.dmOf !== user) return refuse('only the owner of a direct-message channel can use it');
  return null;
}

async function runCommand(ctx: ConsoleContext, handlers: ChatHandlers, b: CommandBody): Promise<Outcome> {
  const refusal = await checkSpeaker(ctx, b.user, b.channel);
  if (refusal) return refusal;
  const reply = await handlers.command(toInboundCommand(ctx.tenant, b));
  if (reply.visibility === 'channel') {
    await ctx.post({
      channel: b.channel, parentId: null, author: BOT_AUTHOR, kind: 'text', notice: reply.notice,
      idempotencyKey: `command-reply:${b.deliveryId}`,
    });
  }
  const nameOf = namesOf(await ctx.store.listPeople(ctx.tenant));
  return { status: 200, body: { reply, notice: renderNotice(reply.notice, nameOf) } };
}

async function runAction(ctx: ConsoleContext, handlers: ChatHandlers, b: ActionBody): Promise<Outcome> {
  const refusal = await checkSpeaker(ctx, b.user, b.channel);
  if (refusal) return refusal;
  // A platform only delivers clicks on a card that is there; the reviewRef stays a claim for the handler to check.
  const ref = consoleRefParts(b.messageRef);
  const card = ref && ref.channel === b.channel ? await ctx.store.getMessage(ctx.tenant, ref.id) : null;
  if (!card || card.kind !== 'card' || card.channel !== b.channel) return refuse('messageRef does not name a card in this channel');
  const reply = await handlers.action(toInboundAction(ctx.tenant, b));
  const notice = reply.kind !== 'open_editor' && reply.notice ? reply.notice : null;
  const nameOf = namesOf(await ctx.store.listPeople(ctx.tenant));
  return { status: 200, body: { reply, notice: notice && renderNotice(notice, nameOf) } };
}

async function runSubmission(ctx: ConsoleContext, handlers: ChatHandlers, b: SubmissionBody): Promise<Outcome> {
  const refusal = await checkSpeaker(ctx, b.user, null);
  if (refusal) return refusal;
  const reply = await handlers.submission(toInboundSubmission(ctx.tenant, b));
  const notice = reply.kind === 'ok' && reply.notice ? reply.notice : null;
  const nameOf = namesOf(await ctx.store.listPeople(ctx.tenant));
  return { status: 200, body: { reply, notice: notice && renderNotice(notice, nameOf) } };
}

async function savePerson(ctx: ConsoleContext, b: PersonBody): Promise<Outcome> {
  await ctx.store.upsertPerson(ctx.tenant, b);
  ctx.live.publish('world', { people: await ctx.store.listPeople(ctx.tenant) });
  return { status: 200, body: { person: b } };
}


async function readJson(req: IncomingMessage): Promise<{ ok: true; value: unknown } | { ok: false; outcome: Outcome }> {
  const tooLarge = { ok: false as const, outcome: { status: 413, body: { error: 'request body is larger than 64 KiB' } } };
  if (!/^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? '')) {
    return { ok: false, outcome: { status: 415, body: { error: 'send JSON with content-type: application/json' } } };
  }
  if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) return tooLarge;
  const raw = await readBody(req, MAX_BODY_BYTES);
  if (raw === null) return tooLarge;
  try {
    return { ok: true, value: JSON.parse(raw.toString('utf8')) as unknown };
  } catch {
    return { ok: false, outcome: refuse('request body is not valid JSON') };
  }
}

/** Body → schema → (handlers) → endpoint, each step able to answer early. */
function post<T>(schema: ZodType<T>, needsHandlers: boolean,
  run: (ctx: ConsoleContext, handlers: ChatHandlers, body: T) => Promise<Outcome>) {
  return async (ctx: ConsoleContext, req: IncomingMessage): Promise<Outcome> => {
    const json = await readJson(req);
    if (!json.ok) return json.outcome;
    const parsed = parseRequest(schema, json.value);
    if (!parsed.ok) return refuse(parsed.error);
    const handlers = ctx.handlers();
    if (needsHandlers && !handlers) return NOT_READY;
    await ctx.ready();
    return run(ctx, handlers!, parsed.value);
  };
}

async function getState(ctx: ConsoleContext): Promise<Outcome> {
  await ctx.ready();
  const [people, channels, messages] = await Promise.all([
    ctx.store.listPeople(ctx.tenant), ctx.store.listChannels(ctx.tenant), ctx.store.recentMessages(ctx.tenant, RECENT_MESSAGES),
  ]);
  const nameOf = namesOf(people);
  return { status: 200, body: { tenant: ctx.tenant, people, channels, messages: messages.map((m) => renderMessage(m, nameOf)) } };
}

// The page shows the newest messages; older ones stay in the table.
const RECENT_MESSAGES = 1_000;

async function sendPage(res: ServerResponse): Promise<void> {
  const nonce = randomBytes(16).toString('base64');
  const html = await renderPage(nonce);
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; `
      + `connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
  });
  res.end(html);
}

type Endpoint = (ctx: ConsoleContext, req: IncomingMessage, res: ServerResponse) => Promise<Outcome | null>;

const ENDPOINTS: Record<string, Endpoint> = {
  'GET /': async (_ctx, _req, res) => sendPage(res).then(() => null),
  // Browsers ask for it on every page load; an empty answer keeps their console free of 404s.
  'GET /favicon.ico': async (_ctx, _req, res) => (res.writeHead(204).end(), null),
  'GET /api/state': (ctx) => getState(ctx),
  'GET /api/events': async (ctx, req, res) => (ctx.handlers() ? (ctx.live.attach(req, res), null) : NOT_READY),
  'POST /api/command': post(commandBody, true, runCommand),
  'POST /api/action': post(actionBody, true, runAction),
  'POST /api/submission': post(submissionBody, true, runSubmission),
  'POST /api/people': post(personBody, false, (ctx, _handlers, body) => savePerson(ctx, body)),
};

/** One route for the whole web chat; anything else falls through to the next route. */
export function createConsoleRoutes(ctx: ConsoleContext): Route {
  return async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://console.invalid').pathname;
    const endpoint = ENDPOINTS[`${req.method} ${path}`];
    if (!endpoint) return false;
    try {
      const outcome = await endpoint(ctx, req, res);
      if (outcome) sendJson(res, outcome.status, outcome.body);
    } catch (err) {
      // The user sees only this id; the log line it names has the cause (RELIABILITY 78).
      const correlationId = randomBytes(4).toString('hex');
      ctx.log.error('console request failed', { correlationId, method: req.method, path, error: describeError(err) });
      if (!res.headersSent) sendJson(res, 503, { error: req.method === 'GET' ? COULD_NOT_LOAD : COULD_NOT_RECORD, correlationId });
    }
    return true;
  };
}
