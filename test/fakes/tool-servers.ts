/**
 * Fake tool APIs: one real `node:http` server on 127.0.0.1 speaking just
 * enough Zendesk, Linear (GraphQL), HubSpot and generic JSON for the
 * connectors, with scripted faults. It records every call and counts effects
 * per Idempotency-Key, so a test can assert RELIABILITY I2 (no duplicate
 * effect) from what the server saw.
 *
 *   const fake = await startFakeTools();
 *   fake.next({ status: 503 });                      // the next call answers 503
 *   fake.next({ kind: 'drop-after-accept' });        // applies the effect, then cuts the socket
 *   fake.down(5_000);                                // 503 to everything for 5 s
 *   expect(fake.effectsByKey('run:child:1')).toHaveLength(1);
 *
 * Zendesk, as documented, and no more:
 * - every /api/v2 call must authenticate as the configured agent, with an API
 *   token as Basic `{email}/token:{api_token}` or an OAuth access token as
 *   Bearer; anything else gets Zendesk's 401 `{"error":"Couldn't authenticate you"}`
 *   (https://support.zendesk.com/hc/en-us/articles/4408831452954-How-can-I-authenticate-API-requests).
 * - Idempotency-Key is honoured on ticket *creation* only (POST /api/v2/tickets.json:
 *   a repeat gets the first answer and `x-idempotency-lookup: hit`); on an update
 *   it is ignored, so a retried PUT adds its comment again
 *   (https://developer.zendesk.com/api-reference/ticketing/introduction/#idempotency).
 * - GET /api/v2/tickets/{id}/comments.json lists comments, `sort_order=asc|desc`,
 *   `per_page` at most 100, and GET /api/v2/users/me.json names the agent
 *   (https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_comments/#list-comments,
 *   https://developer.zendesk.com/api-reference/ticketing/users/users/#show-the-currently-authenticated-user).
 *
 * Linear and HubSpot: ./linear-hubspot.ts says what they refuse. The generic
 * /echo and /redirect routes stand for any URL a flow names (http.get,
 * http.post-json): as src/steps/tools/connectors/http-json.ts documents, those
 * calls carry no credentials and no Idempotency-Key, and /echo refuses a request
 * that carries either.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { hubspotContact, HUBSPOT_TOKEN, LINEAR_KEYS, linearGraphql, type LinearKeys } from './linear-hubspot.ts';
import { isZendeskAuthorized } from './zendesk-tickets.ts';

export { HUBSPOT_TOKEN, hubspotRateLimited, LINEAR_KEYS, linearRateLimited } from './linear-hubspot.ts';

export type Fault =
  /**
   * Answers this status (no effect); retryAfter in seconds goes in Retry-After. `body` may be
   * built from the request: some providers echo request headers (the Authorization too) in errors.
   */
  | {
      status: number;
      body?: unknown | ((call: RecordedCall) => unknown);
      retryAfter?: number;
      headers?: Record<string, string>;
    }
  /** Reads the request and never answers; fake.close() destroys the socket. */
  | { kind: 'hang' }
  /** Applies the effect, then destroys the socket without answering. */
  | { kind: 'drop-after-accept' }
  /** 409: this Idempotency-Key was used before (no effect). */
  | { kind: 'conflict' };

export interface RecordedCall {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON body (null when empty or not JSON). */
  body: any;
  key: string | null;
}

/** A change a write made: applied at most once per Idempotency-Key. */
export interface Effect {
  key: string | null;
  method: string;
  path: string;
  body: any;
}

export interface FakeTools {
  /** `http://127.0.0.1:<port>`, for ZENDESK_URL, LINEAR_URL and HUBSPOT_URL alike. */
  baseUrl: string;
  port: number;
  calls: RecordedCall[];
  effects: Effect[];
  /** What the writes did: tickets (with comments), Linear issues and comments, HubSpot contacts. */
  state: FakeState;
  /** Queues faults for the next calls, one each. */
  next(...faults: Fault[]): void;
  /** Answers 503 to every call for `ms`; false ends it now. */
  down(ms: number | false): void;
  /** Calls that carried this Idempotency-Key. */
  countByKey(key: string): number;
  /** Effects applied under this Idempotency-Key (at most one, if all is well). */
  effectsByKey(key: string): Effect[];
  /** Stops the server and destroys open sockets, hung ones included. */
  close(): Promise<void>;
}

/** The Zendesk agent the fake accepts credentials of. */
export interface ZendeskAgent {
  id: number;
  email: string;
  apiToken: string;
  oauthToken: string;
}
/** Default credentials: set ZENDESK_EMAIL/ZENDESK_TOKEN (or ZENDESK_OAUTH_TOKEN) to these. */
export const ZENDESK_AGENT: Readonly<ZendeskAgent> = Object.freeze({
  id: 9001,
  email: 'agent@example.com',
  apiToken: 'zd-api-token-123',
  oauthToken: 'zd-oauth-token-456',
});

export interface ZendeskComment {
  id: number;
  type: 'Comment';
  author_id: number;
  body: string;
  plain_body: string;
  public: boolean;
  created_at: string;
}

export interface FakeState {
  tickets: Map<
    string,
    { status: string; priority: string | null; tags: string[]; comments: ZendeskComment[]; subject?: string }
  >;
  issues: Map<string, { title: string; priority: number; stateId: string }>;
  issueComments: { id: string; issueId: string; body: string }[];
  contacts: Map<string, Record<string, string>>;
}

interface Answer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}
/** A route's answer, and whether it changed something (a write that was applied). */
interface Routed {
  answer: Answer;
  effect: boolean;
}

/** Zendesk's answer to a request it cannot authenticate. */
const ZENDESK_401: Answer = {
  status: 401,
  body: { error: "Couldn't authenticate you" },
  headers: { 'www-authenticate': 'Basic realm="Web Password"' },
};

/** Whose credentials the fake accepts; each defaults to the exported constants. */
export interface FakeToolsOptions {
  zendesk?: ZendeskAgent;
  linear?: LinearKeys;
  hubspotToken?: string;
}

export async function startFakeTools(o: FakeToolsOptions = {}): Promise<FakeTools> {
  const agent = o.zendesk ?? ZENDESK_AGENT;
  const accounts = { agent, linear: o.linear ?? LINEAR_KEYS, hubspotToken: o.hubspotToken ?? HUBSPOT_TOKEN };
  const calls: RecordedCall[] = [];
  const effects: Effect[] = [];
  const faults: Fault[] = [];
  const replies = new Map<string, Answer>();
  const sockets = new Set<Socket>();
  const state: FakeState = { tickets: new Map(), issues: new Map(), issueComments: [], contacts: new Map() };
  let downUntil = 0;

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const body = parseJson(await readBody(req));
    const key = typeof req.headers['idempotency-key'] === 'string' ? req.headers['idempotency-key'] : null;
    calls.push({ method: req.method ?? 'GET', path: url.pathname + url.search, headers: req.headers, body, key });
    if (Date.now() < downUntil)
      return send(res, { status: 503, body: { error: 'ServiceUnavailable', description: 'fake is down' } });
    const fault = faults.shift();
    if (fault && 'status' in fault) {
      const headers = {
        ...(fault.retryAfter === undefined ? {} : { 'retry-after': String(fault.retryAfter) }),
        ...fault.headers,
      };
      const answer =
        typeof fault.body === 'function' ? (fault.body as (call: RecordedCall) => unknown)(calls.at(-1)!) : fault.body;
      return send(res, {
        status: fault.status,
        body: answer ?? { error: 'Injected', description: `injected ${fault.status}` },
        headers,
      });
    }
    if (fault?.kind === 'hang') return;
    if (fault?.kind === 'conflict')
      return send(res, {
        status: 409,
        body: { error: 'DuplicateRequest', description: 'Idempotency-Key already used' },
      });
    if (url.pathname.startsWith('/api/v2/') && !isZendeskAuthorized(agent, req.headers.authorization))
      return send(res, ZENDESK_401);
    // Only a ticket creation honours the key (see the header comment).
    const isKeyed = key !== null && req.method === 'POST' && url.pathname === '/api/v2/tickets.json';
    const replay = isKeyed ? replies.get(key) : undefined;
    let answer: Answer | undefined = replay && {
      ...replay,
      headers: { ...replay.headers, 'x-idempotency-lookup': 'hit' },
    };
    if (!answer) {
      const routed = route(state, accounts, req, url, body);
      answer = routed.answer;
      if (routed.effect) effects.push({ key, method: req.method ?? '', path: url.pathname, body });
      if (isKeyed && answer.status < 300) {
        answer = { ...answer, headers: { ...answer.headers, 'x-idempotency-lookup': 'miss' } };
        replies.set(key, answer);
      }
    }
    if (fault?.kind === 'drop-after-accept') return req.socket.destroy();
    send(res, answer);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => send(res, { status: 500, body: { error: 'FakeBroken' } }));
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    port,
    calls,
    effects,
    state,
    next: (...more) => void faults.push(...more),
    down: (ms) => {
      downUntil = ms === false ? 0 : Date.now() + ms;
    },
    countByKey: (key) => calls.filter((c) => c.key === key).length,
    effectsByKey: (key) => effects.filter((e) => e.key === key),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

interface Accounts {
  agent: ZendeskAgent;
  linear: LinearKeys;
  hubspotToken: string;
}

/** The routes. Each write mutates `state` and says so; reads and refusals do not. */
function route(state: FakeState, accounts: Accounts, req: IncomingMessage, url: URL, body: any): Routed {
  const { agent } = accounts;
  const method = req.method ?? 'GET';
  const path = url.pathname;
  const { authorization } = req.headers;
  let m: RegExpMatchArray | null;
  if (method === 'PUT' && (m = path.match(/^\/api\/v2\/tickets\/(\d+)\.json$/)))
    return updateTicket(state, agent, m[1]!, body);
  if (method === 'POST' && path === '/api/v2/tickets.json') return createTicket(state, agent, body);
  if (method === 'GET' && (m = path.match(/^\/api\/v2\/tickets\/(\d+)\.json$/))) return showTicket(state, m[1]!);
  if (method === 'GET' && (m = path.match(/^\/api\/v2\/tickets\/(\d+)\/comments\.json$/)))
    return listComments(state, m[1]!, url);
  if (method === 'GET' && path === '/api/v2/users/me.json')
    return read({ user: { id: agent.id, email: agent.email, role: 'agent' } });
  if (method === 'POST' && path === '/graphql') return linearGraphql(state, accounts.linear, authorization, body);
  m = path.match(/^\/crm\/v3\/objects\/contacts\/(\d+)$/);
  const contact = m ? hubspotContact(state, accounts.hubspotToken, authorization, method, m[1]!, body) : null;
  if (contact) return contact;
  if (path === '/echo' && (authorization || req.headers['idempotency-key'])) {
    return refuse(400, {
      error: 'UnexpectedCredentials',
      description: 'a generic http.* call must carry no Authorization and no Idempotency-Key',
    });
  }
  if (path === '/echo' && method === 'GET') return read({ method, query: Object.fromEntries(url.searchParams) });
  if (path === '/echo' && method === 'POST') return { answer: { status: 200, body: { method, body } }, effect: true };
  if (path === '/redirect' && method === 'GET') {
    return {
      answer: { status: 302, body: null, headers: { location: url.searchParams.get('to') ?? '/echo' } },
      effect: false,
    };
  }
  return refuse(404, { error: 'InvalidEndpoint', description: `no route ${method} ${path}` });
}

/** A comment as Zendesk lists it; `plain_body` is the text without markup. */
function addComment(ticket: { comments: ZendeskComment[] }, agent: ZendeskAgent, comment: any): ZendeskComment {
  const added: ZendeskComment = {
    id: 100_000 + ticket.comments.length + 1,
    type: 'Comment',
    author_id: agent.id,
    body: String(comment.body),
    plain_body: String(comment.body),
    public: comment.public !== false,
    created_at: new Date().toISOString(),
  };
  ticket.comments.push(added);
  return added;
}

function updateTicket(state: FakeState, agent: ZendeskAgent, id: string, body: any): Routed {
  const change = body?.ticket;
  if (!change || typeof change !== 'object')
    return refuse(400, { error: 'InvalidEndpoint', description: 'body must be { ticket: { … } }' });
  const ticket = state.tickets.get(id) ?? { status: 'open', priority: null, tags: [], comments: [] };
  state.tickets.set(id, ticket);
  const events: unknown[] = [];
  if (change.comment?.body) {
    const { id: commentId, body: text, public: isPublic, author_id } = addComment(ticket, agent, change.comment);
    events.push({ id: commentId, type: 'Comment', body: text, public: isPublic, author_id });
  }
  if (change.status) ticket.status = change.status;
  if (change.priority) ticket.priority = change.priority;
  if (change.tags) ticket.tags = change.tags;
  const { comments: _comments, ...fields } = ticket;
  return {
    answer: {
      status: 200,
      body: { ticket: { id: Number(id), ...fields }, audit: { id: Date.now(), author_id: agent.id, events } },
    },
    effect: true,
  };
}

/**
 * Show Ticket: a ticket this fake holds (made by a write, or put in `state.tickets` by a
 * test), its first comment as `description`; any other id is Zendesk's 404 RecordNotFound
 * (https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#show-ticket).
 */
function showTicket(state: FakeState, id: string): Routed {
  const ticket = state.tickets.get(id);
  if (!ticket) return refuse(404, { error: 'RecordNotFound', description: 'Not found' });
  const { comments, ...fields } = ticket;
  return read({ ticket: { id: Number(id), subject: null, ...fields, description: comments[0]?.body ?? null } });
}

function createTicket(state: FakeState, agent: ZendeskAgent, body: any): Routed {
  if (!body?.ticket?.comment?.body)
    return refuse(422, {
      error: 'RecordInvalid',
      description: 'Record validation errors',
      details: { description: [{ description: 'Description: cannot be blank' }] },
    });
  const id = String(1_000 + state.tickets.size + 1);
  const ticket = { status: 'new', priority: null, tags: [], comments: [] as ZendeskComment[] };
  state.tickets.set(id, ticket);
  addComment(ticket, agent, body.ticket.comment);
  return {
    answer: {
      status: 201,
      body: {
        ticket: {
          id: Number(id),
          status: ticket.status,
          priority: null,
          tags: [],
          subject: body.ticket.subject ?? null,
        },
      },
    },
    effect: true,
  };
}

/** Offset pagination as Zendesk's list endpoints do it: `per_page` (max 100) and `next_page`. */
function listComments(state: FakeState, id: string, url: URL): Routed {
  // Like updateTicket, every ticket id exists (untouched ones have no comments yet).
  const ticket = state.tickets.get(id) ?? { comments: [] };
  const perPage = Number(url.searchParams.get('per_page') ?? 100);
  if (!Number.isInteger(perPage) || perPage < 1 || perPage > 100) {
    return refuse(400, { error: 'InvalidPaginationParameter', description: 'per_page must be between 1 and 100' });
  }
  const sorted = url.searchParams.get('sort_order') === 'desc' ? [...ticket.comments].reverse() : ticket.comments;
  return read({
    comments: sorted.slice(0, perPage),
    next_page: sorted.length > perPage ? 'more' : null,
    previous_page: null,
    count: sorted.length,
  });
}

function read(body: unknown): Routed {
  return { answer: { status: 200, body }, effect: false };
}

function refuse(status: number, body: unknown): Routed {
  return { answer: { status, body }, effect: false };
}

function send(res: ServerResponse, answer: Answer): void {
  const text = answer.body === null ? '' : JSON.stringify(answer.body);
  res.writeHead(answer.status, { 'content-type': 'application/json; charset=utf-8', ...answer.headers });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function parseJson(text: string): any {
  if (text === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
