/**
 * The Linear and HubSpot halves of the fake tool server (./tool-servers.ts),
 * each refusing what the real API refuses, as far as the connectors use them.
 *
 * Linear (GraphQL, `POST /graphql`):
 * - A personal API key goes in `Authorization` as is, an OAuth access token as
 *   `Bearer <token>`; a key sent as Bearer, or nothing, is not authenticated
 *   (https://linear.app/developers/graphql#authentication; Linear's own SDK does the
 *   same: packages/sdk/src/client.ts in github.com/linear/linear).
 * - Errors are GraphQL errors with `extensions.type` ("authentication error",
 *   "ratelimited", …) and `extensions.code`; an unauthenticated request gets HTTP
 *   400 with AUTHENTICATION_ERROR (the SDK reads any 4xx without a type as one:
 *   packages/sdk/src/error.ts).
 * - `issue(id:)` takes the UUID or the identifier (ENG-123); an unknown id is a
 *   GraphQL error in a 200 answer, "Entity not found: Issue" with `extensions.code`
 *   INPUT_ERROR and `userPresentableMessage` "Could not find referenced Issue."
 *   (https://linear.app/developers/graphql, "Error handling": errors come in the
 *   standard GraphQL `errors` array, partial or not, with HTTP 200).
 * - Rate limiting is the error code RATELIMITED with the
 *   `X-RateLimit-Requests-Limit/-Remaining/-Reset` headers, Reset in epoch
 *   milliseconds (https://linear.app/developers/rate-limiting): `linearRateLimited()`.
 *
 * HubSpot (CRM v3):
 * - A private app's access token goes as `Authorization: Bearer <token>`;
 *   anything else gets 401 `category: INVALID_AUTHENTICATION`
 *   (https://developers.hubspot.com/docs/api/private-apps,
 *   https://developers.hubspot.com/docs/api/error-handling).
 * - Over the limit: 429 with `errorType: RATE_LIMIT`, the policy's name, and the
 *   `X-HubSpot-RateLimit-Max/-Remaining/-Interval-Milliseconds` headers, no
 *   Retry-After (https://developers.hubspot.com/docs/api/usage-details): `hubspotRateLimited()`.
 * - PATCH /crm/v3/objects/contacts/{id} sets the given property values; HubSpot
 *   documents no idempotency key for it, so the fake ignores one (a repeat sets
 *   the same values again; https://developers.hubspot.com/docs/api/crm/contacts).
 */
import { randomUUID } from 'node:crypto';
import type { Fault } from './tool-servers.ts';

/** The credentials the fake Linear accepts. */
export interface LinearKeys {
  apiKey: string;
  oauthToken: string;
}
export const LINEAR_KEYS: Readonly<LinearKeys> = Object.freeze({
  apiKey: 'lin_api_test',
  oauthToken: 'lin_oauth_test',
});
/** The private app token the fake HubSpot accepts. */
export const HUBSPOT_TOKEN = 'pat-test';

/** A Linear issue as the fake holds it; the optional fields are what `issue(id:)` reads. */
export interface FakeIssue {
  title: string;
  priority: number;
  stateId: string;
  identifier?: string;
  description?: string | null;
  /** The workflow state's type (triage, backlog, unstarted, started, completed, canceled). */
  stateType?: string;
  trashed?: boolean;
  creator?: { name: string; email: string };
  updatedAt?: string;
}

export interface LinearHubspotState {
  issues: Map<string, FakeIssue>;
  issueComments: { id: string; issueId: string; body: string }[];
  contacts: Map<string, Record<string, string>>;
}

export interface Routed {
  answer: { status: number; body: unknown; headers?: Record<string, string> };
  effect: boolean;
}

const LINEAR_UNAUTHENTICATED = {
  errors: [
    {
      message: 'Authentication required, not authenticated',
      extensions: {
        type: 'authentication error',
        code: 'AUTHENTICATION_ERROR',
        statusCode: 401,
        userPresentableMessage: 'You need to authenticate to access this operation.',
      },
    },
  ],
};

export function isLinearAuthorized(keys: LinearKeys, header: string | undefined): boolean {
  return header === keys.apiKey || header === `Bearer ${keys.oauthToken}`;
}

/** Linear's answer to a request made over its rate limit, with the wait until `resetInMs` from now. */
export function linearRateLimited(resetInMs: number, status = 400): Fault {
  return {
    status,
    body: {
      errors: [
        {
          message: 'Rate limit exceeded',
          extensions: { type: 'ratelimited', code: 'RATELIMITED', userPresentableMessage: 'Too many requests.' },
        },
      ],
    },
    headers: {
      'x-ratelimit-requests-limit': '1500',
      'x-ratelimit-requests-remaining': '0',
      'x-ratelimit-requests-reset': String(Date.now() + resetInMs),
    },
  };
}

/** HubSpot's 429 for a rolling window of `intervalMs` (no Retry-After: HubSpot sends none). */
export function hubspotRateLimited(intervalMs = 10_000): Fault {
  return {
    status: 429,
    body: {
      status: 'error',
      message: 'You have reached your ten_secondly_rolling limit.',
      errorType: 'RATE_LIMIT',
      correlationId: randomUUID(),
      policyName: 'TEN_SECONDLY_ROLLING',
    },
    headers: {
      'x-hubspot-ratelimit-max': '100',
      'x-hubspot-ratelimit-remaining': '0',
      'x-hubspot-ratelimit-interval-milliseconds': String(intervalMs),
    },
  };
}

export function linearGraphql(
  state: LinearHubspotState,
  keys: LinearKeys,
  authorization: string | undefined,
  body: any,
): Routed {
  if (!isLinearAuthorized(keys, authorization))
    return { answer: { status: 400, body: LINEAR_UNAUTHENTICATED }, effect: false };
  const query = String(body?.query ?? '');
  const vars = body?.variables ?? {};
  if (/\bissue\(id:/.test(query)) return readIssue(state, String(vars.id ?? ''));
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
    const comment = {
      id: `comment-${state.issueComments.length + 1}`,
      issueId: vars.input?.issueId,
      body: vars.input?.body,
    };
    state.issueComments.push(comment);
    return {
      answer: { status: 200, body: { data: { commentCreate: { success: true, comment: { id: comment.id } } } } },
      effect: true,
    };
  }
  return {
    answer: {
      status: 400,
      body: {
        errors: [
          { message: 'Unknown operation', extensions: { type: 'graphql error', code: 'GRAPHQL_VALIDATION_FAILED' } },
        ],
      },
    },
    effect: false,
  };
}

const ISSUE_NOT_FOUND = {
  errors: [
    {
      message: 'Entity not found: Issue',
      path: ['issue'],
      extensions: {
        type: 'invalid input',
        code: 'INPUT_ERROR',
        statusCode: 400,
        userError: true,
        userPresentableMessage: 'Could not find referenced Issue.',
      },
    },
  ],
  data: null,
};

/** `issue(id:)` by UUID or identifier, shaped as Linear answers the fields the connector asks for. */
function readIssue(state: LinearHubspotState, id: string): Routed {
  const found = [...state.issues.entries()].find(([key, issue]) => key === id || issue.identifier === id);
  if (!found) return { answer: { status: 200, body: ISSUE_NOT_FOUND }, effect: false };
  const [key, issue] = found;
  const shown = {
    id: key,
    identifier: issue.identifier ?? null,
    title: issue.title,
    description: issue.description ?? null,
    priority: issue.priority,
    url: `https://linear.app/acme/issue/${issue.identifier ?? key}`,
    updatedAt: issue.updatedAt ?? '2026-05-14T09:12:03.000Z',
    trashed: issue.trashed ?? null,
    state: { name: issue.stateType ?? 'Todo', type: issue.stateType ?? 'unstarted' },
    creator: issue.creator ?? null,
  };
  return { answer: { status: 200, body: { data: { issue: shown } } }, effect: false };
}

/** GET and PATCH of /crm/v3/objects/contacts/{id}; null for any other method. */
export function hubspotContact(
  state: LinearHubspotState,
  token: string,
  authorization: string | undefined,
  method: string,
  id: string,
  body: any,
): Routed | null {
  if (authorization !== `Bearer ${token}`) {
    return refuse(401, {
      status: 'error',
      category: 'INVALID_AUTHENTICATION',
      correlationId: randomUUID(),
      message:
        'Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview',
    });
  }
  if (method === 'GET') {
    const contact = state.contacts.get(id);
    return contact
      ? { answer: { status: 200, body: { id, properties: contact } }, effect: false }
      : refuse(404, { status: 'error', message: 'resource not found', category: 'OBJECT_NOT_FOUND' });
  }
  if (method !== 'PATCH') return null;
  const properties = body?.properties;
  if (!properties || typeof properties !== 'object') {
    return refuse(400, {
      status: 'error',
      message: 'Invalid input JSON: properties is required',
      category: 'VALIDATION_ERROR',
    });
  }
  const contact = { ...(state.contacts.get(id) ?? { email: `contact${id}@example.com` }), ...properties };
  state.contacts.set(id, contact);
  return {
    answer: {
      status: 200,
      body: { id, properties: { ...contact, hs_object_id: id }, updatedAt: new Date().toISOString(), archived: false },
    },
    effect: true,
  };
}

function refuse(status: number, body: unknown): Routed {
  return { answer: { status, body }, effect: false };
}
