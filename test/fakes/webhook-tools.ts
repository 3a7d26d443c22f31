/**
 * Fakes for the tools the webhook flows call: HubSpot contacts (read and
 * update) and Stripe refunds, on one `node:http` server on 127.0.0.1 that
 * refuses what the real services refuse.
 *
 * HubSpot (developers.hubspot.com/docs/api/private-apps, crm/v3 contacts):
 * - `Authorization: Bearer <private app token>`, else 401 `{"status":"error","category":"INVALID_AUTHENTICATION",…}`.
 * - GET /crm/v3/objects/contacts/{id}?properties=a,b answers `{id, properties, createdAt, updatedAt, archived}`
 *   with only the properties asked for; an unknown id is 404 `{"status":"error","category":"OBJECT_NOT_FOUND"}`.
 * - PATCH the same path with `{properties}` sets them (a PATCH of values: idempotent, HubSpot documents no key).
 *
 * Stripe (docs.stripe.com/api/authentication, /api/refunds/create, /api/idempotent_requests):
 * - the secret key as Bearer (or Basic username), else 401 `{"error":{"type":"invalid_request_error",…}}`.
 * - POST /v1/refunds takes a form body only (`charge`, `amount`, `reason`); JSON is not parsed (400 `parameter_missing`).
 * - `Idempotency-Key`: a retry with the same key and parameters gets the first response back, with
 *   `Idempotent-Replayed: true`, and refunds nothing more; the same key with other parameters is 400
 *   `idempotency_error`. A charge refunded past its amount is 400 `charge_already_refunded`.
 * - Fault `lose-response`: the refund is made, then the socket is cut before any answer.
 *
 * Zendesk tickets (./zendesk-tickets.ts), Linear issues (`POST /graphql`,
 * ./linear-hubspot.ts) and Salesforce leads (./salesforce.ts) say what they refuse.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { LINEAR_KEYS, linearGraphql, type FakeIssue } from './linear-hubspot.ts';
import { SALESFORCE_TOKEN, salesforceRoute, type FakeLead } from './salesforce.ts';
import { ZENDESK_ACCOUNT, zendeskRoute, type FakeTicket } from './zendesk-tickets.ts';

export interface FakeContact {
  id: string;
  properties: Record<string, string | null>;
  updatedAt: string;
}
export interface FakeRefund {
  id: string;
  charge: string;
  amount: number;
  reason: string | null;
  key: string | null;
}

export interface WebhookTools {
  baseUrl: string;
  hubspotToken: string;
  stripeKey: string;
  contacts: Map<string, FakeContact>;
  /** Zendesk tickets by id, and their requesters by user id. */
  tickets: Map<string, FakeTicket>;
  users: Map<number, { name: string; email: string }>;
  /** Linear issues by UUID (each may carry its identifier). */
  issues: Map<string, FakeIssue>;
  /** Salesforce leads by record id. */
  leads: Map<string, FakeLead>;
  /** Charge id → its amount in cents. */
  charges: Map<string, number>;
  refunds: FakeRefund[];
  /** Every request: method, path, Idempotency-Key, status answered (or 'lost'). */
  calls: { method: string; path: string; key: string | null; status: number | 'lost' }[];
  /** The next refund POSTs are made and then their responses lost, one each. */
  loseNextRefundResponses(n: number): void;
  close(): Promise<void>;
}

export async function startWebhookTools(
  opts: { hubspotToken?: string; stripeKey?: string } = {},
): Promise<WebhookTools> {
  const hubspotToken = opts.hubspotToken ?? 'pat-na1-fake-token';
  const stripeKey = opts.stripeKey ?? 'sk_test_fake_key';
  const sockets = new Set<Socket>();
  const replays = new Map<string, { params: string; status: number; body: unknown }>();
  let toLose = 0;
  const state = {
    contacts: new Map<string, FakeContact>(),
    tickets: new Map<string, FakeTicket>(),
    users: new Map<number, { name: string; email: string }>(),
    issues: new Map<string, FakeIssue>(),
    leads: new Map<string, FakeLead>(),
    charges: new Map<string, number>(),
    refunds: [] as FakeRefund[],
    calls: [] as WebhookTools['calls'],
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const raw = await readAll(req);
    const key = typeof req.headers['idempotency-key'] === 'string' ? req.headers['idempotency-key'] : null;
    const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      state.calls.push({ method: req.method ?? '', path: url.pathname, key, status });
      if (body === null) return void res.writeHead(status, headers).end();
      res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
    };
    const other = otherRoute(req, url, raw);
    if (other) return answer(other.status, other.body, other.headers);
    const contact = /^\/crm\/v3\/objects\/contacts\/(\d+)$/.exec(url.pathname);
    if (contact) return hubspotContact(req, url, raw, contact[1]!, answer);
    if (url.pathname === '/v1/refunds' && req.method === 'POST') return stripeRefund(req, raw, key, res, answer);
    answer(404, { error: 'not found' });
  };

  /** Zendesk, Linear and Salesforce: each module answers its own paths. */
  const otherRoute = (req: IncomingMessage, url: URL, raw: string) => {
    const auth = req.headers.authorization;
    const method = req.method ?? 'GET';
    const zendesk = zendeskRoute(state, ZENDESK_ACCOUNT, auth, method, url);
    if (zendesk) return zendesk;
    if (url.pathname === '/graphql' && method === 'POST') {
      const routed = linearGraphql({ ...state, issueComments: [], contacts: new Map() }, LINEAR_KEYS, auth, parse(raw));
      return routed.answer;
    }
    return salesforceRoute(state, SALESFORCE_TOKEN, auth, method, url, parse(raw));
  };

  const hubspotContact = (
    req: IncomingMessage,
    url: URL,
    raw: string,
    id: string,
    answer: (s: number, b: unknown) => void,
  ) => {
    if (req.headers.authorization !== `Bearer ${hubspotToken}`) {
      return answer(401, {
        status: 'error',
        message: 'Authentication credentials not found.',
        category: 'INVALID_AUTHENTICATION',
      });
    }
    const found = state.contacts.get(id);
    if (!found) return answer(404, { status: 'error', message: 'resource not found', category: 'OBJECT_NOT_FOUND' });
    if (req.method === 'PATCH') {
      const props = (JSON.parse(raw || '{}') as { properties?: Record<string, string> }).properties ?? {};
      Object.assign(found.properties, props);
      found.updatedAt = new Date().toISOString();
    } else if (req.method !== 'GET') {
      return answer(405, { status: 'error', message: 'method not allowed' });
    }
    const wanted = (url.searchParams.get('properties') ?? Object.keys(found.properties).join(','))
      .split(',')
      .filter(Boolean);
    const properties = Object.fromEntries(wanted.map((p) => [p, found.properties[p] ?? null]));
    answer(200, { id, properties, createdAt: '2026-01-01T00:00:00.000Z', updatedAt: found.updatedAt, archived: false });
  };

  const stripeRefund = (
    req: IncomingMessage,
    raw: string,
    key: string | null,
    res: ServerResponse,
    answer: (s: number, b: unknown, h?: Record<string, string>) => void,
  ) => {
    const auth = req.headers.authorization ?? '';
    const basic = auth.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString().split(':')[0] : null;
    if (auth !== `Bearer ${stripeKey}` && basic !== stripeKey) {
      return answer(401, { error: { type: 'invalid_request_error', message: 'Invalid API Key provided.' } });
    }
    const isForm = (req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
    const form = new URLSearchParams(isForm ? raw : '');
    const params = [...form.entries()]
      .sort()
      .map(([k, v]) => `${k}=${v}`)
      .join('&');
    const earlier = key ? replays.get(key) : undefined;
    if (earlier) {
      if (earlier.params !== params) {
        return answer(400, {
          error: {
            type: 'idempotency_error',
            message:
              'Keys for idempotent requests can only be used with the same parameters they were first used with.',
          },
        });
      }
      return answer(earlier.status, earlier.body, { 'idempotent-replayed': 'true' });
    }
    const charge = form.get('charge');
    const result = refundOf(charge, form);
    if (key) replays.set(key, { params, ...result });
    if (result.status === 200 && toLose > 0) {
      toLose--;
      state.calls.push({ method: 'POST', path: '/v1/refunds', key, status: 'lost' });
      return void res.socket?.destroy();
    }
    answer(result.status, result.body);
  };

  const refundOf = (charge: string | null, form: URLSearchParams): { status: number; body: unknown } => {
    if (!charge)
      return {
        status: 400,
        body: {
          error: {
            type: 'invalid_request_error',
            code: 'parameter_missing',
            param: 'charge',
            message: 'Must provide source or charge.',
          },
        },
      };
    const total = state.charges.get(charge);
    if (total === undefined)
      return {
        status: 404,
        body: {
          error: {
            type: 'invalid_request_error',
            code: 'resource_missing',
            param: 'charge',
            message: `No such charge: '${charge}'`,
          },
        },
      };
    const done = state.refunds.filter((r) => r.charge === charge).reduce((n, r) => n + r.amount, 0);
    const amount = form.has('amount') ? Number(form.get('amount')) : total - done;
    if (done + amount > total)
      return {
        status: 400,
        body: {
          error: {
            type: 'invalid_request_error',
            code: 'charge_already_refunded',
            message: `Charge ${charge} has already been refunded.`,
          },
        },
      };
    const refund = {
      id: `re_${state.refunds.length + 1}`,
      charge,
      amount,
      reason: form.get('reason'),
      key: null as string | null,
    };
    state.refunds.push(refund);
    return {
      status: 200,
      body: {
        id: refund.id,
        object: 'refund',
        amount,
        charge,
        currency: 'usd',
        reason: refund.reason,
        status: 'succeeded',
      },
    };
  };

  const server = createServer((req, res) => void handle(req, res).catch(() => res.writeHead(500).end()));
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    hubspotToken,
    stripeKey,
    ...state,
    loseNextRefundResponses: (n) => void (toLose = n),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function parse(raw: string): unknown {
  try {
    return raw === '' ? null : JSON.parse(raw);
  } catch {
    return null;
  }
}

function readAll(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.once('error', reject);
  });
}
