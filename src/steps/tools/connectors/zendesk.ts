/**
 * Zendesk Support tools (ZENDESK_URL, ZENDESK_TOKEN). Both write through
 * `PUT /api/v2/tickets/{id}.json`: a reply adds a comment (keyed: Zendesk
 * honours Idempotency-Key and replays the first answer), an update sets
 * fields (idempotent: setting a value twice is setting it once).
 */
import { z } from 'zod';
import type { HttpResponse, ToolDefinition } from '../types.ts';
import { apiUrl, bearer, cardHost, changedFields, field } from './connector.ts';

/** A ticket number. Digits only, so a model-proposed id cannot walk the URL path. */
const ticketId = z.union([z.number().int().positive(), z.string().regex(/^\d{1,20}$/, 'must be a ticket number')]);
const STATUSES = ['new', 'open', 'pending', 'hold', 'solved', 'closed'] as const;
const PRIORITIES = ['low', 'normal', 'high', 'urgent'] as const;

const replyInput = z.object({
  ticketId,
  body: z.string().min(1).max(65_000),
  /** Default true: a public reply the requester sees; false for an internal note. */
  public: z.boolean().optional(),
});

const ticketChanges = {
  status: z.enum(STATUSES).optional(),
  priority: z.enum(PRIORITIES).optional(),
  tags: z.array(z.string().min(1).max(80)).max(50).optional(),
};
const updateInput = z.object({
  ticketId,
  ...ticketChanges,
  /** The ticket's current values, when the flow read them: the card shows old → new. */
  previous: z.object(ticketChanges).optional(),
}).refine((i) => i.status !== undefined || i.priority !== undefined || i.tags !== undefined, 'set at least one of status, priority, tags');

const ticketOutput = z.object({
  ticketId: z.string(),
  status: z.string().optional(),
  priority: z.string().nullable().optional(),
  tags: z.array(z.string()).optional(),
  /** True in local mode: nothing was sent. */
  local: z.boolean().optional(),
  /** True when Zendesk said this key was used before (the earlier attempt happened). */
  duplicate: z.boolean().optional(),
});

type ReplyInput = z.infer<typeof replyInput>;
type UpdateInput = z.infer<typeof updateInput>;
type TicketOutput = z.infer<typeof ticketOutput>;

function ticketPath(id: string | number): string {
  return `/api/v2/tickets/${encodeURIComponent(String(id))}.json`;
}

/** Zendesk answers `{ ticket: { id, status, priority, tags, … }, audit }`. */
function ticketFrom(id: string | number, res: HttpResponse): TicketOutput {
  const ticket = (res.body as { ticket?: Record<string, unknown> } | null)?.ticket ?? {};
  return {
    ticketId: String(ticket.id ?? id),
    ...(typeof ticket.status === 'string' ? { status: ticket.status } : {}),
    ...(typeof ticket.priority === 'string' || ticket.priority === null ? { priority: ticket.priority as string | null } : {}),
    ...(Array.isArray(ticket.tags) ? { tags: ticket.tags.map(String) } : {}),
  };
}

export const zendeskReply: ToolDefinition<ReplyInput, TicketOutput> = {
  name: 'zendesk.reply',
  connector: 'zendesk',
  description: 'Add a public reply (or an internal note) to a Zendesk ticket.',
  input: replyInput,
  output: ticketOutput,
  safety: 'keyed',
  isWrite: true,
  async call(input, ctx) {
    const res = await ctx.http.request({
      method: 'PUT',
      url: apiUrl(ctx.settings, ticketPath(input.ticketId)),
      headers: bearer(ctx.settings),
      body: { ticket: { comment: { body: input.body, public: input.public ?? true } } },
    });
    return ticketFrom(input.ticketId, res);
  },
  fromConflict(input, res) {
    return { ...ticketFrom(input.ticketId, res), duplicate: true };
  },
  local(input) {
    return { ticketId: String(input.ticketId), local: true };
  },
  describe(input, settings) {
    return {
      tool: 'zendesk.reply',
      method: 'PUT',
      host: cardHost(settings),
      fields: [field('ticket', String(input.ticketId)), field(input.public === false ? 'internal note' : 'public reply', input.body)],
    };
  },
};

export const zendeskUpdate: ToolDefinition<UpdateInput, TicketOutput> = {
  name: 'zendesk.update',
  connector: 'zendesk',
  description: 'Set the status, priority or tags of a Zendesk ticket.',
  input: updateInput,
  output: ticketOutput,
  safety: 'idempotent',
  isWrite: true,
  async call(input, ctx) {
    const { status, priority, tags } = input;
    const res = await ctx.http.request({
      method: 'PUT',
      url: apiUrl(ctx.settings, ticketPath(input.ticketId)),
      headers: bearer(ctx.settings),
      body: { ticket: { status, priority, tags } },
    });
    return ticketFrom(input.ticketId, res);
  },
  local(input) {
    const { status, priority, tags } = input;
    return { ticketId: String(input.ticketId), ...(status ? { status } : {}), ...(priority ? { priority } : {}), ...(tags ? { tags } : {}), local: true };
  },
  describe(input, settings) {
    const { status, priority, tags } = input;
    return {
      tool: 'zendesk.update',
      method: 'PUT',
      host: cardHost(settings),
      fields: [field('ticket', String(input.ticketId)), ...changedFields({ status, priority, tags }, input.previous)],
    };
  },
};
