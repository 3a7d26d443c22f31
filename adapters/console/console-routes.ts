/**
 * The web chat's HTTP face, mounted on the bot's one server (src/ops/http.ts):
 * the page, its state, its live stream, and the three inbound doors (command,
 * click, dialog) that hand neutral events to `ChatHandlers`. Answers carry no
 * stack, SQL or ids beyond the caller's own: a failure is "please try again".
 * Writes need `content-type: application/json`, which a cross-site form cannot
 * send without a CORS preflight this server never grants, so another site open
 * in the browser cannot click Approve here; and every request must name this
 * server in `Host` and (when sent) `Origin`, and beyond loopback carry a
 * session (console-access.ts).
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ZodType } from 'zod';
import type { ChatHandlers } from '../../src/chat/port.ts';
import { impersonationRefusal } from '../../src/chat/text.ts';
import { describeError } from '../../src/errors.ts';
import { readBody, sendJson, type Route } from '../../src/ops/http.ts';
import { correlationId as currentCorrelationId, newCorrelationId } from '../../src/ops/correlation.ts';
import type { Logger } from '../../src/ops/log.ts';
import {
  actionBody,
  commandBody,
  consoleRefParts,
  parseRequest,
  personBody,
  submissionBody,
  toInboundAction,
  toInboundCommand,
  toInboundSubmission,
  type ActionBody,
  type CommandBody,
  type PersonBody,
  type SubmissionBody,
} from './console-inbound.ts';
import {
  hashToken,
  newToken,
  originRefusal,
  sessionCookie,
  sessionToken,
  SESSION_TTL_MS,
  type ConsoleAccess,
} from './console-access.ts';
import type { LiveHub } from './console-live.ts';
import { renderMessage, renderNotice, type NameOf } from './console-render.ts';
import { sendImage } from './console-image.ts';
import { renderPage } from './page.ts';
import { BOT_AUTHOR, type ConsoleMessage, type ConsoleStore, type NewConsoleMessage, type Person } from './types.ts';

/** The largest request body read; a larger one is refused with 413 before parsing. */
export const MAX_BODY_BYTES = 64 * 1024;

/** What the routes need from the adapter. */
export interface ConsoleContext {
  readonly tenant: string;
  readonly access: ConsoleAccess;
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

export interface Outcome {
  status: number;
  body: unknown;
}

const NOT_READY: Outcome = { status: 503, body: { error: 'signoff is not ready yet; please try again in a moment' } };
const COULD_NOT_RECORD = 'could not record that; please try again';
/** A write not answered by then is told so (the database may be stalled); chat platforms allow 3 s. */
export const ANSWER_BUDGET_MS = 2_500;
const SLOW: Outcome = {
  status: 503,
  body: { error: 'signoff is slow to record that right now; if nothing shows up in a moment, please try again' },
};

/** The endpoint's answer, or SLOW once the budget is spent (the work goes on; a retry is deduplicated by its delivery id). */
function withinBudget(work: Promise<Outcome | null>, isWrite: boolean): Promise<Outcome | null> {
  if (!isWrite) return work;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<Outcome>((resolve) => (timer = setTimeout(() => resolve(SLOW), ANSWER_BUDGET_MS)));
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}
const COULD_NOT_LOAD = 'could not load that; please try again';

const refuse = (error: string): Outcome => ({ status: 400, body: { error } });
const forbid = (error: string): Outcome => ({ status: 403, body: { error } });

/** Who is asking: the session's person beyond loopback; null in local demo mode, where the body says. */
export interface Caller {
  viewer: string | null;
}

/** The acting person: the session's, and a body that names someone else is refused (never trusted). */
function actingUser(caller: Caller, claimed: string | undefined): { user: string } | { outcome: Outcome } {
  if (caller.viewer === null) return claimed ? { user: claimed } : { outcome: refuse('user is required') };
  if (claimed !== undefined && claimed !== caller.viewer) {
    return { outcome: forbid(`you are signed in as ${caller.viewer} and cannot act as ${claimed}`) };
  }
  return { user: caller.viewer };
}

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
  if (found.dmOf !== null && found.dmOf !== user)
    return refuse('only the owner of a direct-message channel can use it');
  return null;
}

async function runCommand(ctx: ConsoleContext, handlers: ChatHandlers, b: CommandBody, user: string): Promise<Outcome> {
  const refusal = await checkSpeaker(ctx, user, b.channel);
  if (refusal) return refusal;
  const reply = await handlers.command(toInboundCommand(ctx.tenant, b, user));
  if (reply.visibility === 'channel') {
    await ctx.post({
      channel: b.channel,
      parentId: null,
      author: BOT_AUTHOR,
      kind: 'text',
      notice: reply.notice,
      idempotencyKey: `command-reply:${b.deliveryId}`,
    });
  }
  const nameOf = namesOf(await ctx.store.listPeople(ctx.tenant));
  return { status: 200, body: { reply, notice: renderNotice(reply.notice, nameOf) } };
}

async function runAction(ctx: ConsoleContext, handlers: ChatHandlers, b: ActionBody, user: string): Promise<Outcome> {
  const refusal = await checkSpeaker(ctx, user, b.channel);
  if (refusal) return refusal;
  // A platform only delivers clicks on a card that is there; the reviewRef stays a claim for the handler to check.
  const ref = consoleRefParts(b.messageRef);
  const card = ref && ref.channel === b.channel ? await ctx.store.getMessage(ctx.tenant, ref.id) : null;
  if (!card || card.kind !== 'card' || card.channel !== b.channel)
    return refuse('messageRef does not name a card in this channel');
  const reply = await handlers.action(toInboundAction(ctx.tenant, b, user));
  const notice = reply.kind !== 'open_editor' && reply.notice ? reply.notice : null;
  const nameOf = namesOf(await ctx.store.listPeople(ctx.tenant));
  return { status: 200, body: { reply, notice: notice && renderNotice(notice, nameOf) } };
}

async function runSubmission(
  ctx: ConsoleContext,
  handlers: ChatHandlers,
  b: SubmissionBody,
  user: string,
): Promise<Outcome> {
  const refusal = await checkSpeaker(ctx, user, null);
  if (refusal) return refusal;
  const reply = await handlers.submission(toInboundSubmission(ctx.tenant, b, user));
  const notice = reply.kind === 'ok' && reply.notice ? reply.notice : null;
  const nameOf = namesOf(await ctx.store.listPeople(ctx.tenant));
  return { status: 200, body: { reply, notice: notice && renderNotice(notice, nameOf) } };
}

async function savePerson(ctx: ConsoleContext, b: PersonBody): Promise<Outcome> {
  const impersonation = impersonationRefusal(b, await ctx.store.listPeople(ctx.tenant));
  if (impersonation) return refuse(impersonation);
  await ctx.store.upsertPerson(ctx.tenant, b);
  ctx.live.publish('world', { people: await ctx.store.listPeople(ctx.tenant) });
  return { status: 200, body: { person: b } };
}

async function readJson(req: IncomingMessage): Promise<{ ok: true; value: unknown } | { ok: false; outcome: Outcome }> {
  const tooLarge = {
    ok: false as const,
    outcome: { status: 413, body: { error: 'request body is larger than 64 KiB' } },
  };
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

/** Body → schema → acting user → handlers → endpoint, each step able to answer early. */
function act<T extends { user?: string | undefined }>(
  schema: ZodType<T>,
  run: (ctx: ConsoleContext, handlers: ChatHandlers, body: T, user: string) => Promise<Outcome>,
): Endpoint {
  return async (ctx, req, _res, caller) => {
    const json = await readJson(req);
    if (!json.ok) return json.outcome;
    const parsed = parseRequest(schema, json.value);
    if (!parsed.ok) return refuse(parsed.error);
    const acting = actingUser(caller, parsed.value.user);
    if ('outcome' in acting) return acting.outcome;
    const handlers = ctx.handlers();
    if (!handlers) return NOT_READY;
    await ctx.ready();
    return run(ctx, handlers, parsed.value, acting.user);
  };
}

/** The person switcher's door: local demo mode only (it is not even routed beyond loopback). */
const addPerson: Endpoint = async (ctx, req) => {
  const json = await readJson(req);
  if (!json.ok) return json.outcome;
  const parsed = parseRequest(personBody, json.value);
  if (!parsed.ok) return refuse(parsed.error);
  await ctx.ready();
  return savePerson(ctx, parsed.value);
};

/** The page's world; a signed-in person sees the shared channels and their own DMs only. */
async function getState(ctx: ConsoleContext, caller: Caller): Promise<Outcome> {
  await ctx.ready();
  const [people, allChannels, messages] = await Promise.all([
    ctx.store.listPeople(ctx.tenant),
    ctx.store.listChannels(ctx.tenant),
    ctx.store.recentMessages(ctx.tenant, RECENT_MESSAGES),
  ]);
  const channels = allChannels.filter((c) => caller.viewer === null || c.dmOf === null || c.dmOf === caller.viewer);
  const visible = new Set(channels.map((c) => c.id));
  const nameOf = namesOf(people);
  return {
    status: 200,
    body: {
      tenant: ctx.tenant,
      mode: ctx.access.mode,
      me: caller.viewer,
      people,
      channels,
      messages: messages.filter((m) => visible.has(m.channel)).map((m) => renderMessage(m, nameOf)),
    },
  };
}

/** A one-time link from `npm run web:invite`: traded once for a session cookie, then on to the page. */
async function signIn(ctx: ConsoleContext, req: IncomingMessage, res: ServerResponse): Promise<Outcome | null> {
  const token = new URL(req.url ?? '/', 'http://console.invalid').searchParams.get('token') ?? '';
  const session = newToken();
  const person = token
    ? await ctx.store.redeemInvite(ctx.tenant, hashToken(token), hashToken(session), SESSION_TTL_MS)
    : null;
  if (!person)
    return forbid('this sign-in link is unknown, used or expired; ask for a new one (npm run web:invite -- <you>)');
  ctx.log.info('web chat sign-in', { person });
  res.writeHead(303, {
    location: '/',
    'set-cookie': sessionCookie(session, ctx.access),
    'cache-control': 'no-store',
    'referrer-policy': 'no-referrer',
  });
  res.end();
  return null;
}

// The page shows the newest messages; older ones stay in the table.
const RECENT_MESSAGES = 1_000;

async function sendPage(res: ServerResponse): Promise<void> {
  const nonce = randomBytes(16).toString('base64');
  const html = await renderPage(nonce);
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy':
      `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; ` +
      `connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
  });
  res.end(html);
}

type Endpoint = (
  ctx: ConsoleContext,
  req: IncomingMessage,
  res: ServerResponse,
  caller: Caller,
) => Promise<Outcome | null>;

/** Served whoever asks (they carry nothing private); everything else beyond loopback needs a session. */
const PUBLIC = new Set(['GET /', 'GET /favicon.ico', 'GET /signin']);

const ENDPOINTS: Record<string, Endpoint> = {
  'GET /': async (_ctx, _req, res) => sendPage(res).then(() => null),
  // Browsers ask for it on every page load; an empty answer keeps their console free of 404s.
  'GET /favicon.ico': async (_ctx, _req, res) => (res.writeHead(204).end(), null),
  'GET /api/state': (ctx, _req, _res, caller) => getState(ctx, caller),
  'GET /api/image': (ctx, req, res, caller) => sendImage(ctx, req, res, caller),
  'GET /api/events': async (ctx, req, res, caller) =>
    ctx.handlers() ? (ctx.live.attach(req, res, caller.viewer), null) : NOT_READY,
  'POST /api/command': act(commandBody, runCommand),
  'POST /api/action': act(actionBody, runAction),
  'POST /api/submission': act(submissionBody, runSubmission),
};

/** The endpoint for a request in this mode: the sign-in door only beyond loopback, the person switcher only on it. */
function endpointFor(ctx: ConsoleContext, key: string): Endpoint | undefined {
  if (key === 'GET /signin') return ctx.access.mode === 'invite' ? (c, req, res) => signIn(c, req, res) : undefined;
  if (key === 'POST /api/people') return ctx.access.mode === 'local' ? addPerson : undefined;
  return ENDPOINTS[key];
}

/** Who is asking, or the answer for someone who may not ask (no or an expired session). */
async function callerOf(ctx: ConsoleContext, req: IncomingMessage, key: string): Promise<Caller | Outcome> {
  if (ctx.access.mode === 'local' || PUBLIC.has(key)) return { viewer: null };
  const token = sessionToken(req);
  const viewer = token ? await ctx.store.sessionPerson(ctx.tenant, hashToken(token)) : null;
  return viewer
    ? { viewer }
    : { status: 401, body: { error: 'sign in first, with the link from `npm run web:invite -- <your id>`' } };
}

/** One route for the whole web chat; anything else falls through to the next route. */
export function createConsoleRoutes(ctx: ConsoleContext): Route {
  return async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://console.invalid').pathname;
    const key = `${req.method} ${path}`;
    const endpoint = endpointFor(ctx, key);
    if (!endpoint) return false;
    // Before anything is read or looked up: a rebinding page or another site gets only this.
    const refusal = originRefusal(req, ctx.access);
    if (refusal) {
      ctx.log.warn('web chat request refused', { method: req.method, path, reason: refusal });
      sendJson(res, 403, { error: refusal });
      return true;
    }
    try {
      const answer = async () => {
        const caller = await callerOf(ctx, req, key);
        return 'status' in caller ? caller : endpoint(ctx, req, res, caller);
      };
      const outcome = await withinBudget(answer(), req.method === 'POST');
      if (outcome && !res.headersSent) sendJson(res, outcome.status, outcome.body);
    } catch (err) {
      // The user sees only this id; the log line it names has the cause (RELIABILITY 78).
      const correlationId = currentCorrelationId() ?? newCorrelationId(); // the request's (src/ops/http.ts)
      ctx.log.error('console request failed', { correlationId, method: req.method, path, error: describeError(err) });
      if (!res.headersSent)
        sendJson(res, 503, { error: req.method === 'GET' ? COULD_NOT_LOAD : COULD_NOT_RECORD, correlationId });
    }
    return true;
  };
}
