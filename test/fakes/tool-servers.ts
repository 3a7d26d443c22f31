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
 * Like Zendesk and Stripe, a repeat of a write with an Idempotency-Key already
 * seen gets the first answer back and changes nothing.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type Fault =
  /**
   * Answers this status (no effect); retryAfter in seconds goes in Retry-After. `body` may be
   * built from the request: some providers echo request headers (the Authorization too) in errors.
   */
  | { status: number; body?: unknown | ((call: RecordedCall) => unknown); retryAfter?: number }
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
export interface Effect { key: string | null; method: string; path: string; body: any }

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

export interface FakeState {
  tickets: Map<string, { status: string; priority: string | null; tags: string[]; comments: { id: number; body: string; public: boolean }[] }>;
  issues: Map<string, { title: string; priority: number; stateId: string }>;
  issueComments: { id: string; issueId: string; body: string }[];
  contacts: Map<string, Record<string, string>>;
}

interface Answer { status: number; body: unknown; headers?: Record<string, string> }
/** A route's answer, and whether it changed something (a write that was applied). */
interface Routed { answer: Answer; effect: boolean }

export async function startFakeTools(): Promise<FakeTools> {
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
    if (Date.now() < downUntil) return send(res, { status: 503, body: { error: 'ServiceUnavailable', description: 'fake is down' } });
    const fault = faults.shift();
    if (fault && 'status' in fault) {
      const headers = fault.retryAfter === undefined ? undefined : { 'retry-after': String(fault.retryAfter) };
      const answer = typeof fault.body === 'function' ? (fault.body as (call: RecordedCall) => unknown)(calls.at(-1)!) : fault.body;
      return send(res, { status: fault.status, body: answer ?? { error: 'Injected', description: `injected ${fault.status}` }, headers });
    }
    if (fault?.kind === 'hang') return;
    if (fault?.kind === 'conflict') return send(res, { status: 409, body: { error: 'DuplicateRequest', description: 'Idempotency-Key already used' } });
    const isWrite = req.method !== 'GET';
    const replay = key && isWrite ? replies.get(key) : undefined;
    let answer = replay;
    if (!answer) {
      const routed = route(state, req.method ?? 'GET', url, body);
      answer = routed.answer;
      if (routed.effect) effects.push({ key, method: req.method ?? '', path: url.pathname, body });
      if (key && isWrite && answer.status < 300) replies.set(key, answer);
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
    down: (ms) => { downUntil = ms === false ? 0 : Date.now() + ms; },
    countByKey: (key) => calls.filter((c) => c.key === key).length,
    effectsByKey: (key) => effects.filter((e) => e.key === key),
    close: () => new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}

/** The routes. Each write mutates `state` and says so; reads and refusals do not. */
function route(state: FakeState, method: string, url: URL, body: any): Routed {
  const path = url.pathname;
  let m: RegExpMatchArray | null;
  if (method === 'PUT' && (m = path.match(/^\/api\/v2\/tickets\/(\d+)\.json$/))) return updateTicket(state, m[1]!, body);
  if (method === 'GET' && (m = path.match(/^\/api\/v2\/tickets\/(\d+)\/comments\.json$/))) {
    return read({ comments: state.tickets.get(m[1]!)?.comments ?? [] });
  }
  if (method === 'POST' && path === '/graphql') return graphql(state, body);
  if ((m = path.match(/^\/crm\/v3\/objects\/contacts\/(\d+)$/))) {
    if (method === 'PATCH') return updateContact(state, m[1]!, body);
    const contact = state.contacts.get(m[1]!);
    if (method === 'GET') return contact ? read({ id: m[1], properties: contact }) : refuse(404, { status: 'error', message: 'resource not found', category: 'OBJECT_NOT_FOUND' });
  }
  if (path === '/echo' && method === 'GET') return read({ method, query: Object.fromEntries(url.searchParams) });
  if (path === '/echo' && method === 'POST') return { answer: { status: 200, body: { method, body } }, effect: true };
  if (path === '/redirect' && method === 'GET') {
    return { answer: { status: 302, body: null, headers: { location: url.searchParams.get('to') ?? '/echo' } }, effect: false };
  }
  return refuse(404, { error: 'InvalidEndpoint', description: `no route ${method} ${path}` });
}

function updateTicket(state: FakeState, id: string, body: any): Routed {
  const change = body?.ticket;
  if (!change || typeof change !== 'object') return refuse(400, { error: 'InvalidEndpoint', description: 'body must be { ticket: { … } }' });
  const ticket = state.tickets.get(id) ?? { status: 'open', priority: null, tags: [], comments: [] };
  state.tickets.set(id, ticket);
  if (change.comment?.body) ticket.comments.push({ id: ticket.comments.length + 1, body: change.comment.body, public: change.comment.public !== false });
  if (change.status) ticket.status = change.status;
  if (change.priority) ticket.priority = change.priority;
  if (change.tags) ticket.tags = change.tags;
  const { comments: _comments, ...fields } = ticket;
  return { answer: { status: 200, body: { ticket: { id: Number(id), ...fields }, audit: { id: Date.now() } } }, effect: true };
}

function graphql(state: FakeState, body: any): Routed {
  const query = String(body?.query ?? '');
  const vars = body?.variables ?? {};
  if (query.includes('issueUpdate')) {
    const issue = state.issues.get(vars.id) ?? { title: `Issue ${vars.id}`, priority: 0, stateId: 'state-todo' };
    const input = vars.input ?? {};
    if (input.title !== undefined) issue.title = input.title;
    if (input.priority !== undefined) issue.priority = input.priority;
    if (input.stateId !== undefined) issue.stateId = input.stateId;
    state.issues.set(vars.id, issue);
    const shown = { id: vars.id, title: issue.title, priority: issue.priority, state: { id: issue.stateId } };
    return { answer: { status: 200, body: { data: { issueUpdate: { success: true, issue: shown } } } }, effect: true };
  }
  if (query.includes('commentCreate')) {
    const comment = { id: `comment-${state.issueComments.length + 1}`, issueId: vars.input?.issueId, body: vars.input?.body };
    state.issueComments.push(comment);
    return { answer: { status: 200, body: { data: { commentCreate: { success: true, comment: { id: comment.id } } } } }, effect: true };
  }
  return refuse(400, { errors: [{ message: 'Unknown operation', extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }] });
}

function updateContact(state: FakeState, id: string, body: any): Routed {
  const properties = body?.properties;
  if (!properties || typeof properties !== 'object') {
    return refuse(400, { status: 'error', message: 'Invalid input JSON: properties is required', category: 'VALIDATION_ERROR' });
  }
  const contact = { ...(state.contacts.get(id) ?? { email: `contact${id}@example.com` }), ...properties };
  state.contacts.set(id, contact);
  return { answer: { status: 200, body: { id, properties: { ...contact, hs_object_id: id }, updatedAt: new Date().toISOString(), archived: false } }, effect: true };
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
