/**
 * ticket-triage's first step when a webhook started it: read the ticket where
 * it lives (`zendesk.get-ticket`, `linear.get-issue`) and draft from that, not
 * from the payload. Providers deliver out of order and may send only an id
 * (RELIABILITY 28): an update can arrive before its create, and a create can
 * arrive after the ticket was solved or deleted. Kept beside the flow so the
 * machine file stays the state list; it decides nothing the machine does not see.
 */
import { step } from '../src/authoring/index.ts';

/** The ticket as the flow works on it (the flow's input schema). */
export interface TicketFields {
  subject: string;
  body: string;
  customer?: string;
  ticketId?: string;
  readFrom?: 'zendesk' | 'linear';
  issueId?: string;
}

/** What the read found: the ticket to draft from, or why there is nothing to draft. */
export interface TicketRead {
  outcome: 'open' | 'gone' | 'closed';
  ticket: TicketFields;
  /** Shown on the card: where the ticket was read, or why it was not. */
  note: string;
}

/** zendesk.get-ticket's output (src/steps/tools/connectors/zendesk-get.ts). */
interface ZendeskTicket {
  exists: boolean;
  subject: string | null;
  description: string | null;
  status: string | null;
  requester: { name: string | null; email: string | null } | null;
  updatedAt: string | null;
  local?: boolean;
}
/** linear.get-issue's output (src/steps/tools/connectors/linear-get.ts). */
interface LinearIssue {
  exists: boolean;
  identifier: string | null;
  title: string | null;
  description: string | null;
  stateType: string | null;
  creator: string | null;
  updatedAt: string | null;
  local?: boolean;
}

/** The input schema's limits, so a long ticket read from the helpdesk still fits. */
const MAX_SUBJECT = 200;
const MAX_BODY = 10_000;
/** Zendesk statuses and Linear state types with nothing left to reply to. */
const FINISHED = new Set(['solved', 'closed', 'completed', 'canceled']);

const person = (p: { name: string | null; email: string | null }) =>
  p.name && p.email ? `${p.name} <${p.email}>` : (p.name ?? p.email ?? undefined);

export function fromZendesk(t: TicketFields, z: ZendeskTicket): TicketRead {
  const where = `Zendesk ticket ${t.ticketId}`;
  if (z.local) return { outcome: 'open', ticket: t, note: `${where} as the webhook delivered it (no ZENDESK_URL)` };
  if (!z.exists) return { outcome: 'gone', ticket: t, note: `${where} no longer exists` };
  if (z.status && FINISHED.has(z.status)) return { outcome: 'closed', ticket: t, note: `${where} is ${z.status}` };
  const customer = (z.requester && person(z.requester)) ?? t.customer;
  const ticket = {
    ...t,
    subject: (z.subject || t.subject).slice(0, MAX_SUBJECT),
    body: (z.description || t.body).slice(0, MAX_BODY),
    ...(customer ? { customer: customer.slice(0, MAX_SUBJECT) } : {}),
  };
  return { outcome: 'open', ticket, note: `${where} as read from Zendesk (updated ${z.updatedAt ?? 'unknown'})` };
}

export function fromLinear(t: TicketFields, i: LinearIssue): TicketRead {
  const where = `Linear issue ${i.identifier ?? t.issueId}`;
  if (i.local) return { outcome: 'open', ticket: t, note: `${where} as the webhook delivered it (no LINEAR_TOKEN)` };
  if (!i.exists) return { outcome: 'gone', ticket: t, note: `${where} no longer exists` };
  if (i.stateType && FINISHED.has(i.stateType))
    return { outcome: 'closed', ticket: t, note: `${where} is ${i.stateType}` };
  const title = i.title || t.subject;
  const ticket = {
    ...t,
    subject: (i.identifier ? `${i.identifier}: ${title}` : title).slice(0, MAX_SUBJECT),
    body: (i.description || title).slice(0, MAX_BODY),
    ...(i.creator ? { customer: i.creator.slice(0, MAX_SUBJECT) } : {}),
  };
  return { outcome: 'open', ticket, note: `${where} as read from Linear (updated ${i.updatedAt ?? 'unknown'})` };
}

/**
 * Zendesk's ticket-created event (developer.zendesk.com ticket events): the ticket is in `detail`.
 * Only its id is trusted, since the flow reads the ticket; the rest stands in when Zendesk is not configured.
 */
export function fromZendeskCreated({
  detail: t,
}: {
  detail: { id: string | number; subject?: string; description?: string; requester_id?: string | number };
}): TicketFields {
  return {
    subject: t.subject || `Zendesk ticket ${t.id}`,
    body: t.description || `Zendesk ticket ${t.id} (read from Zendesk before drafting)`,
    ticketId: String(t.id),
    ...(t.requester_id === undefined ? {} : { customer: `Zendesk user ${t.requester_id}` }),
    readFrom: 'zendesk',
  };
}

/**
 * Linear's Issue create event: the issue is in `data`, read again by its id. There is no
 * helpdesk ticket to reply on, so the approved reply is recorded.
 */
export function fromLinearCreated({
  data: i,
}: {
  data: { id: string; identifier?: string; title?: string; description?: string | null };
}): TicketFields {
  const name = `Linear issue ${i.identifier ?? i.id}`;
  return {
    subject: (i.identifier && i.title ? `${i.identifier}: ${i.title}` : (i.title ?? name)).slice(0, MAX_SUBJECT),
    body: i.description || i.title || `${name} (read from Linear before drafting)`,
    issueId: i.id,
    readFrom: 'linear',
  };
}

/** The step: one read through the tool the ticket's source names. */
export const readTicket = step(
  async (t: TicketFields, ctx): Promise<TicketRead> => {
    if (t.readFrom === 'linear')
      return fromLinear(t, (await ctx.services.callTool('linear.get-issue', { issueId: t.issueId })) as LinearIssue);
    const read = await ctx.services.callTool('zendesk.get-ticket', { ticketId: t.ticketId });
    return fromZendesk(t, read as ZendeskTicket);
  },
  { maxAttempts: 5, backoffMs: 2_000 },
);
