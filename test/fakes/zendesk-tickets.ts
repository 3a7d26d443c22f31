/**
 * Zendesk's Show Ticket, for test/fakes/webhook-tools.ts: what ticket-triage
 * reads before drafting (zendesk.get-ticket). Refuses what Zendesk refuses:
 *
 * - Every /api/v2 call authenticates as an agent: an API token as Basic
 *   `{email}/token:{api_token}`, or an OAuth access token as `Bearer <token>`.
 *   A token sent as Bearer that is not an OAuth token, a password, or nothing:
 *   401 `{"error":"Couldn't authenticate you"}`
 *   (https://support.zendesk.com/hc/en-us/articles/4408831452954-How-can-I-authenticate-API-requests).
 * - `GET /api/v2/tickets/{id}.json` answers `{ ticket }`, the first comment as
 *   `description`; `?include=users` side-loads the requester (and submitter)
 *   under `users` (https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#show-ticket,
 *   https://developer.zendesk.com/documentation/ticketing/using-the-zendesk-api/side_loading/).
 * - An id with no ticket (never created, or deleted) is 404 `{"error":"RecordNotFound","description":"Not found"}`
 *   (https://developer.zendesk.com/api-reference/introduction/requests/, "400 range").
 */

/** A ticket as the fake holds it (Zendesk's field names). */
export interface FakeTicket {
  subject: string;
  description: string;
  status: 'new' | 'open' | 'pending' | 'hold' | 'solved' | 'closed';
  priority: string | null;
  requester_id: number;
  updated_at: string;
}

export interface ZendeskAccount {
  email: string;
  apiToken: string;
  oauthToken: string;
}
export const ZENDESK_ACCOUNT: Readonly<ZendeskAccount> = Object.freeze({
  email: 'agent@example.com',
  apiToken: 'zd-api-token-123',
  oauthToken: 'zd-oauth-token-456',
});

export interface ZendeskTickets {
  tickets: Map<string, FakeTicket>;
  users: Map<number, { name: string; email: string }>;
}

export interface ZendeskAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** Basic `{email}/token:{api_token}` or Bearer `{oauth_token}`, nothing else. */
export function isZendeskAuthorized(account: ZendeskAccount, header: string | undefined): boolean {
  const [scheme = '', value = ''] = (header ?? '').split(' ', 2);
  if (scheme.toLowerCase() === 'bearer') return value === account.oauthToken;
  if (scheme.toLowerCase() !== 'basic') return false;
  return Buffer.from(value, 'base64').toString('utf8') === `${account.email}/token:${account.apiToken}`;
}

/** Answers an /api/v2 request, or null when the path is not one this fake serves. */
export function zendeskRoute(
  state: ZendeskTickets,
  account: ZendeskAccount,
  authorization: string | undefined,
  method: string,
  url: URL,
): ZendeskAnswer | null {
  if (!url.pathname.startsWith('/api/v2/')) return null;
  if (!isZendeskAuthorized(account, authorization)) {
    return {
      status: 401,
      body: { error: "Couldn't authenticate you" },
      headers: { 'www-authenticate': 'Basic realm="Web Password"' },
    };
  }
  const m = /^\/api\/v2\/tickets\/(\d+)\.json$/.exec(url.pathname);
  if (!m || method !== 'GET') return { status: 404, body: { error: 'InvalidEndpoint', description: 'Not found' } };
  const ticket = state.tickets.get(m[1]!);
  if (!ticket) return { status: 404, body: { error: 'RecordNotFound', description: 'Not found' } };
  const includes = (url.searchParams.get('include') ?? '').split(',');
  const requester = state.users.get(ticket.requester_id);
  return {
    status: 200,
    body: {
      ticket: { id: Number(m[1]), raw_subject: ticket.subject, submitter_id: ticket.requester_id, ...ticket },
      ...(includes.includes('users') ? { users: requester ? [{ id: ticket.requester_id, ...requester }] : [] } : {}),
    },
  };
}
