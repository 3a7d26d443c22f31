/**
 * Zendesk Support tools (ZENDESK_URL, with ZENDESK_EMAIL + ZENDESK_TOKEN or
 * ZENDESK_OAUTH_TOKEN). Both write through `PUT /api/v2/tickets/{id}.json`:
 *
 * - a reply adds a comment. It is `reconcilable`, not `keyed`: Zendesk offers
 *   Idempotency-Key only "to retry a ticket creation request"
 *   (https://developer.zendesk.com/api-reference/ticketing/introduction/#idempotency),
 *   so a repeated PUT adds a second comment. Before sending again, a retry lists
 *   the ticket's newest comments (GET /api/v2/tickets/{id}/comments.json,
 *   https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_comments/#list-comments)
 *   and looks for ours: same body, same visibility, written by the user our
 *   credentials belong to (GET /api/v2/users/me.json). Not `safe_update` with
 *   `updated_stamp`: that refuses a write after *any* change to the ticket, and
 *   the stamp of the first attempt is not kept across attempts, so it cannot say
 *   whether our comment landed. A marker in the text would show to the customer.
 * - an update sets fields (idempotent: setting a value twice is setting it once).
 */
import { z } from 'zod';
import type { HttpResponse, ToolContext, ToolDefinition } from '../types.ts';
import { apiUrl, cardHost, changedFields, field, zendeskAuth } from './connector.ts';

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
const updateInput = z
  .object({
    ticketId,
    ...ticketChanges,
    /** The ticket's current values, when the flow read them: the card shows old → new. */
    previous: z.object(ticketChanges).optional(),
  })
  .refine(
    (i) => i.status !== undefined || i.priority !== undefined || i.tags !== undefined,
    'set at least one of status, priority, tags',
  );

const ticketOutput = z.object({
  ticketId: z.string(),
  status: z.string().optional(),
  priority: z.string().nullable().optional(),
  tags: z.array(z.string()).optional(),
  /** True in local mode: nothing was sent. */
  local: z.boolean().optional(),
  /** The reply's comment id, when Zendesk's answer (its audit) or the lookup names it. */
  commentId: z.string().optional(),
  /** True when a retry found the comment an earlier attempt added, and sent nothing. */
  reconciled: z.boolean().optional(),
});

type ReplyInput = z.infer<typeof replyInput>;
type UpdateInput = z.infer<typeof updateInput>;
type TicketOutput = z.infer<typeof ticketOutput>;

function ticketPath(id: string | number): string {
  return `/api/v2/tickets/${encodeURIComponent(String(id))}.json`;
}

/** Newest comments a retry reads; a reply lost in transit is among the newest. Zendesk's page limit is 100. */
const RECENT_COMMENTS = 100;

interface ZendeskComment {
  id?: unknown;
  author_id?: unknown;
  body?: unknown;
  plain_body?: unknown;
  public?: unknown;
}

/** Zendesk keeps a comment's text but may change line endings and trailing space. */
function sameText(a: string, b: string): boolean {
  const norm = (s: string) =>
    s
      .replace(/\r\n?/g, '\n')
      .replace(/[ \t]+$/gm, '')
      .trim();
  return norm(a) === norm(b);
}

/** The comment an earlier attempt of this reply added, if any. */
async function findOurComment(input: ReplyInput, ctx: ToolContext): Promise<ZendeskComment | null> {
  const headers = zendeskAuth(ctx.settings);
  const me = await ctx.http.request({ method: 'GET', url: apiUrl(ctx.settings, '/api/v2/users/me.json'), headers });
  const myId = (me.body as { user?: { id?: unknown } } | null)?.user?.id;
  if (typeof myId !== 'number') return null;
  const path = `/api/v2/tickets/${encodeURIComponent(String(input.ticketId))}/comments.json?sort_order=desc&per_page=${RECENT_COMMENTS}`;
  const res = await ctx.http.request({ method: 'GET', url: apiUrl(ctx.settings, path), headers });
  const comments = (res.body as { comments?: ZendeskComment[] } | null)?.comments ?? [];
  const isPublic = input.public ?? true;
  return (
    comments.find(
      (c) =>
        c.author_id === myId && c.public === isPublic && typeof c.body === 'string' && sameText(c.body, input.body),
    ) ?? null
  );
}

/** The id of the Comment event in the audit Zendesk returns with an update. */
function commentIdFrom(res: HttpResponse): string | undefined {
  const events = (res.body as { audit?: { events?: { type?: unknown; id?: unknown }[] } } | null)?.audit?.events ?? [];
  const id = events.find((e) => e.type === 'Comment')?.id;
  return id === undefined ? undefined : String(id);
}

/** Zendesk answers `{ ticket: { id, status, priority, tags, … }, audit }`. */
function ticketFrom(id: string | number, res: HttpResponse): TicketOutput {
  const ticket = (res.body as { ticket?: Record<string, unknown> } | null)?.ticket ?? {};
  return {
    ticketId: String(ticket.id ?? id),
    ...(typeof ticket.status === 'string' ? { status: ticket.status } : {}),
    ...(typeof ticket.priority === 'string' || ticket.priority === null
      ? { priority: ticket.priority as string | null }
      : {}),
    ...(Array.isArray(ticket.tags) ? { tags: ticket.tags.map(String) } : {}),
  };
}

export const zendeskReply: ToolDefinition<ReplyInput, TicketOutput> = {
  name: 'zendesk.reply',
  connector: 'zendesk',
  description: 'Add a public reply (or an internal note) to a Zendesk ticket.',
  input: replyInput,
  output: ticketOutput,
  safety: 'reconcilable',
  isWrite: true,
  async call(input, ctx) {
    const res = await ctx.http.request({
      method: 'PUT',
      url: apiUrl(ctx.settings, ticketPath(input.ticketId)),
      headers: zendeskAuth(ctx.settings),
      body: { ticket: { comment: { body: input.body, public: input.public ?? true } } },
    });
    const commentId = commentIdFrom(res);
    return { ...ticketFrom(input.ticketId, res), ...(commentId ? { commentId } : {}) };
  },
  async reconcile(input, ctx) {
    const found = await findOurComment(input, ctx);
    if (!found) return null;
    return {
      ticketId: String(input.ticketId),
      ...(found.id !== undefined ? { commentId: String(found.id) } : {}),
      reconciled: true,
    };
  },
  local(input) {
    return { ticketId: String(input.ticketId), local: true };
  },
  describe(input, settings) {
    return {
      tool: 'zendesk.reply',
      method: 'PUT',
      host: cardHost(settings),
      fields: [
        field('ticket', String(input.ticketId)),
        field(input.public === false ? 'internal note' : 'public reply', input.body),
      ],
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
      headers: zendeskAuth(ctx.settings),
      body: { ticket: { status, priority, tags } },
    });
    return ticketFrom(input.ticketId, res);
  },
  local(input) {
    const { status, priority, tags } = input;
    return {
      ticketId: String(input.ticketId),
      ...(status ? { status } : {}),
      ...(priority ? { priority } : {}),
      ...(tags ? { tags } : {}),
      local: true,
    };
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
