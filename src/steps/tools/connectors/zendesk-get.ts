/**
 * `zendesk.get-ticket`: a Zendesk ticket as it is now (same settings as
 * ./zendesk.ts). Webhooks arrive out of order and may carry only the ticket id
 * (RELIABILITY 28), so ticket-triage reads the ticket through this before it
 * drafts, and never acts on a payload's stale fields.
 *
 * `GET /api/v2/tickets/{id}.json?include=users`
 * (https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#show-ticket):
 * the ticket, with its first comment as `description`, and the requester
 * side-loaded under `users`
 * (https://developer.zendesk.com/documentation/ticketing/using-the-zendesk-api/side_loading/).
 * A ticket that does not exist (or was deleted since) answers 404
 * `{"error":"RecordNotFound"}`: that is an answer, `exists: false`, not a failure.
 */
import { z } from 'zod';
import { HttpStatusError } from '../http.ts';
import type { ToolDefinition } from '../types.ts';
import { apiUrl, cardHost, field, zendeskAuth } from './connector.ts';

const getInput = z.object({
  /** Digits only, so a payload's id cannot walk the URL path. */
  ticketId: z.union([z.number().int().positive(), z.string().regex(/^\d{1,20}$/, 'must be a ticket number')]),
});

const getOutput = z.object({
  ticketId: z.string(),
  /** False when Zendesk has no such ticket (deleted since the event, or never there): it answers 404. */
  exists: z.boolean(),
  subject: z.string().nullable(),
  /** The ticket's first comment, which Zendesk keeps as its description. */
  description: z.string().nullable(),
  /** new, open, pending, hold, solved or closed. */
  status: z.string().nullable(),
  priority: z.string().nullable(),
  /** The requester as side-loaded; null when Zendesk sent no user for the requester id. */
  requester: z.object({ name: z.string().nullable(), email: z.string().nullable() }).nullable(),
  updatedAt: z.string().nullable(),
  /** True in local mode: nothing was read, and every field but the id is null. */
  local: z.boolean().optional(),
});

type GetInput = z.infer<typeof getInput>;
type GetOutput = z.infer<typeof getOutput>;

interface ZendeskTicket {
  id?: unknown;
  subject?: unknown;
  description?: unknown;
  status?: unknown;
  priority?: unknown;
  requester_id?: unknown;
  updated_at?: unknown;
}
interface ZendeskUser {
  id?: unknown;
  name?: unknown;
  email?: unknown;
}

const text = (v: unknown): string | null => (typeof v === 'string' ? v : null);

function emptyTicket(ticketId: string, exists: boolean): GetOutput {
  return {
    ticketId,
    exists,
    subject: null,
    description: null,
    status: null,
    priority: null,
    requester: null,
    updatedAt: null,
  };
}

/** `{ ticket, users }` → the output, with the requester picked out of the side-loaded users. */
function ticketOf(id: string, body: unknown): GetOutput {
  const { ticket = {}, users = [] } = (body ?? {}) as { ticket?: ZendeskTicket; users?: ZendeskUser[] };
  const requester = users.find((u) => u.id !== undefined && u.id === ticket.requester_id);
  return {
    ticketId: ticket.id === undefined ? id : String(ticket.id),
    exists: true,
    subject: text(ticket.subject),
    description: text(ticket.description),
    status: text(ticket.status),
    priority: text(ticket.priority),
    requester: requester ? { name: text(requester.name), email: text(requester.email) } : null,
    updatedAt: text(ticket.updated_at),
  };
}

export const zendeskGetTicket: ToolDefinition<GetInput, GetOutput> = {
  name: 'zendesk.get-ticket',
  connector: 'zendesk',
  description: 'Read a Zendesk ticket as it is now, with its requester.',
  input: getInput,
  output: getOutput,
  safety: 'idempotent',
  isWrite: false,
  async call(input, ctx) {
    const id = String(input.ticketId);
    const url = apiUrl(ctx.settings, `/api/v2/tickets/${encodeURIComponent(id)}.json?include=users`);
    const res = await ctx.http
      .request({ method: 'GET', url, headers: zendeskAuth(ctx.settings) })
      .catch((err: unknown) => {
        if (err instanceof HttpStatusError && err.response.status === 404) return null;
        throw err;
      });
    return res ? ticketOf(id, res.body) : emptyTicket(id, false);
  },
  local(input) {
    return { ...emptyTicket(String(input.ticketId), true), local: true };
  },
  describe(input, settings) {
    return {
      tool: 'zendesk.get-ticket',
      method: 'GET',
      host: cardHost(settings),
      fields: [field('ticket', String(input.ticketId))],
    };
  },
};
