/**
 * ticket-triage: a support ticket comes in (`/signoff run ticket-triage
 * subject="…" body="…" customer="…" ticketId=123`). A cheap model sorts it, a
 * strong model drafts a reply, a support lead reviews the draft (and may edit
 * it), and the approved reply is posted to the ticket through the helpdesk
 * (`zendesk.reply`). A rejection's reason goes back to the model for a new
 * draft, twice at most, then the run ends rejected; an expired review ends it.
 *
 * Started by a Zendesk ticket-created or Linear issue-created webhook, it first
 * reads the ticket where it lives (./ticket-triage.read.ts): deliveries come out
 * of order or with ids only (RELIABILITY 28), so it drafts from the ticket as it
 * is now, and ends without a card when the ticket is gone or already solved.
 * The command path reads nothing and starts at classifying, as it always has.
 * (Just over 300 lines: the machine, its steps and both start paths read best
 * together; the webhook mappings and the read itself are in the .read.ts file.)
 *
 * With no OPENAI_API_KEY or OPENAI_BASE_URL the built-in offline model writes
 * the draft (the card says so); with no ZENDESK_URL the reply is recorded, not sent.
 */
import { z } from 'zod';
import { assign, defineFlow, modelStep, review, setup, step, type ModelStepOutput } from '../src/authoring/index.ts';
import { fromLinearCreated, fromZendeskCreated, readTicket, type TicketRead } from './ticket-triage.read.ts';

const Ticket = z
  .object({
    subject: z.string().min(1).max(200),
    body: z.string().min(1).max(10_000),
    customer: z.string().min(1).max(200).optional(),
    /** The helpdesk ticket to reply on; without it the approved reply is recorded, not sent. */
    ticketId: z
      .string()
      .regex(/^\d{1,20}$/, 'ticketId must be the helpdesk ticket number')
      .optional(),
    /** Set by the webhook triggers: where the ticket lives, read before drafting. */
    readFrom: z.enum(['zendesk', 'linear']).optional(),
    /** The Linear issue (UUID or ENG-123) to read when readFrom is linear. */
    issueId: z
      .string()
      .regex(/^[A-Za-z0-9-]{1,64}$/, 'issueId must be a Linear issue id')
      .optional(),
  })
  .refine((t) => t.readFrom !== 'zendesk' || t.ticketId !== undefined, {
    message: 'readFrom=zendesk needs the ticketId to read',
    path: ['ticketId'],
  })
  .refine((t) => t.readFrom !== 'linear' || t.issueId !== undefined, {
    message: 'readFrom=linear needs the issueId to read',
    path: ['issueId'],
  });
type Ticket = z.infer<typeof Ticket>;

const Triage = z.object({
  category: z.enum(['billing', 'bug', 'how-to', 'account', 'other']),
  urgency: z.enum(['low', 'normal', 'high']),
});
type Triage = z.infer<typeof Triage>;

const Draft = z.object({ reply: z.string().min(1).max(5_000) });
type Draft = z.infer<typeof Draft>;
type CardField = { label: string; value: string };

interface DraftInput {
  ticket: Ticket;
  triage: Triage | null;
  feedback: string | null;
  previousDraft: string;
}
interface SendInput {
  ticket: Ticket;
  reply: string;
  contentSha256: string;
}
/** What happened to the approved reply: the hash the approval covered, and where it went. */
interface Sent {
  reply: string;
  contentSha256: string;
  to: string;
  ticketId: string | null;
  delivery: 'zendesk' | 'local' | 'none';
  idempotencyKey: string;
}

/** Drafts after a rejection, at most; then the run ends rejected. */
const MAX_REDRAFTS = 2;

/** The helpdesk call an approval allows: what the card shows and exactly what `send` makes. */
function replyCall(ticketId: string, reply: string) {
  return { tool: 'zendesk.reply', input: { ticketId, body: reply, public: true } };
}

/** How a draft is described on the card: which model wrote it, its tokens and cost, or why it is unusable. */
function draftFields(draft: ModelStepOutput<Draft>): CardField[] {
  const tokens = draft.usage.inputTokens + draft.usage.outputTokens;
  const by = draft.offline
    ? 'the offline model (no OPENAI_API_KEY or OPENAI_BASE_URL set: a stand-in, not a real model)'
    : draft.model;
  return [
    { label: 'Drafted by', value: by },
    { label: 'Draft cost', value: `${tokens.toLocaleString('en-US')} tokens, $${draft.costUsd.toFixed(4)}` },
    ...(draft.invalid
      ? [
          {
            label: 'Model problem',
            value: `The model's answer was not usable (${draft.invalid.reason}). Edit the reply before approving.`,
          },
        ]
      : []),
  ];
}

const classify = modelStep({
  route: 'cheap',
  prompt: new URL('./prompts/ticket-triage.classify.md', import.meta.url),
  output: Triage,
  maxOutputTokens: 100,
  vars: (t: Ticket) => ({ subject: t.subject, body: t.body, customer: t.customer ?? 'unknown' }),
});

const draft = modelStep({
  route: 'strong',
  prompt: new URL('./prompts/ticket-triage.draft.md', import.meta.url),
  output: Draft,
  maxOutputTokens: 800,
  vars: ({ ticket, triage, feedback, previousDraft }: DraftInput) => ({
    subject: ticket.subject,
    body: ticket.body,
    customer: ticket.customer ?? 'unknown',
    category: triage?.category ?? 'unknown',
    urgency: triage?.urgency ?? 'unknown',
    feedback: feedback ?? undefined,
    previousDraft: feedback ? previousDraft : undefined,
  }),
});

const replyReview = review<{ reply: string }>({
  approvers: { groups: ['support-leads'] },
  allowEdit: true,
  expiresInMs: 24 * 60 * 60_000,
  remindAtMs: [2 * 60 * 60_000],
});

const send = step(
  async ({ ticket, reply, contentSha256 }: SendInput, ctx): Promise<Sent> => {
    const base = {
      reply,
      contentSha256,
      to: ticket.customer ?? 'the ticket requester',
      idempotencyKey: ctx.idempotencyKey,
    };
    if (!ticket.ticketId) return { ...base, ticketId: null, delivery: 'none' };
    const call = replyCall(ticket.ticketId, reply);
    const result = (await ctx.services.callTool(call.tool, call.input)) as { local?: boolean };
    return { ...base, ticketId: ticket.ticketId, delivery: result.local ? 'local' : 'zendesk' };
  },
  { maxAttempts: 5, backoffMs: 2_000 },
);

const machine = setup({
  types: {} as {
    input: Ticket;
    context: {
      ticket: Ticket;
      triage: Triage | null;
      draftInfo: CardField[];
      reply: string;
      feedback: string | null;
      redrafts: number;
      approvedBy: string[];
      approvedSha256: string;
      sent: Sent | null;
      /** Where the ticket was read (webhook starts only); shown on the card. */
      readNote: string | null;
    };
  },
  actors: { readTicket, classify, draft, replyReview, send },
  guards: {
    mayRedraft: ({ context }) => context.redrafts < MAX_REDRAFTS,
    isToRead: ({ context }) => context.ticket.readFrom !== undefined,
    isGone: ({ event }) => (event as unknown as { output: TicketRead }).output.outcome === 'gone',
    isClosed: ({ event }) => (event as unknown as { output: TicketRead }).output.outcome === 'closed',
  },
}).createMachine({
  id: 'ticket-triage',
  context: ({ input }) => ({
    ticket: input,
    triage: null,
    draftInfo: [],
    reply: '',
    feedback: null,
    redrafts: 0,
    approvedBy: [],
    approvedSha256: '',
    sent: null,
    readNote: null,
  }),
  initial: 'received',
  states: {
    // Eventless: a webhook's ticket is read first; a command's goes straight to classifying.
    received: { always: [{ guard: 'isToRead', target: 'reading' }, { target: 'classifying' }] },
    reading: {
      invoke: {
        src: 'readTicket',
        input: ({ context }) => context.ticket,
        onDone: [
          { guard: 'isGone', target: 'gone', actions: assign({ readNote: ({ event }) => event.output.note }) },
          { guard: 'isClosed', target: 'closed', actions: assign({ readNote: ({ event }) => event.output.note }) },
          {
            target: 'classifying',
            actions: assign({
              ticket: ({ event }) => event.output.ticket,
              readNote: ({ event }) => event.output.note,
            }),
          },
        ],
      },
    },
    classifying: {
      invoke: {
        src: 'classify',
        input: ({ context }) => context.ticket,
        onDone: { target: 'drafting', actions: assign({ triage: ({ event }) => event.output.value }) },
      },
    },
    drafting: {
      invoke: {
        src: 'draft',
        input: ({ context }) => ({
          ticket: context.ticket,
          triage: context.triage,
          feedback: context.feedback,
          previousDraft: context.reply,
        }),
        onDone: {
          target: 'awaitingReview',
          actions: assign({
            draftInfo: ({ event }) => draftFields(event.output),
            reply: ({ event }) => event.output.value?.reply ?? event.output.invalid?.raw.slice(0, 5_000) ?? '',
          }),
        },
      },
    },
    awaitingReview: {
      invoke: {
        src: 'replyReview',
        input: ({ context }) => ({
          title: `Reply to "${context.ticket.subject}"`,
          fields: [
            { label: 'Customer', value: context.ticket.customer ?? 'unknown' },
            { label: 'Ticket', value: context.ticket.body.slice(0, 2_000) },
            ...(context.triage
              ? [{ label: 'Triage', value: `${context.triage.category}, ${context.triage.urgency} urgency` }]
              : []),
            ...(context.ticket.ticketId
              ? []
              : [{ label: 'Helpdesk', value: 'No ticketId given: the approved reply is recorded, not sent' }]),
            ...(context.readNote ? [{ label: 'Read', value: context.readNote }] : []),
            ...context.draftInfo,
          ],
          content: { reply: context.reply },
          ...(context.ticket.ticketId ? { proposedAction: replyCall(context.ticket.ticketId, context.reply) } : {}),
        }),
      },
      on: {
        'review.approved': {
          target: 'sending',
          actions: assign({
            reply: ({ event }) => event.content.reply,
            approvedBy: ({ event }) => event.by,
            approvedSha256: ({ event }) => event.contentSha256,
          }),
        },
        'review.rejected': [
          {
            guard: 'mayRedraft',
            target: 'drafting',
            actions: assign({
              feedback: ({ event }) => event.reason ?? 'rejected without a reason',
              redrafts: ({ context }) => context.redrafts + 1,
            }),
          },
          { target: 'rejected' },
        ],
        'review.expired': { target: 'expired' },
      },
    },
    sending: {
      invoke: {
        src: 'send',
        input: ({ context }) => ({
          ticket: context.ticket,
          reply: context.reply,
          contentSha256: context.approvedSha256,
        }),
        onDone: { target: 'sent', actions: assign({ sent: ({ event }) => event.output }) },
      },
    },
    sent: { type: 'final' },
    rejected: { type: 'final' },
    expired: { type: 'final' },
    /** The webhook's ticket no longer exists, or was solved before anyone drafted: nothing to reply to. */
    gone: { type: 'final' },
    closed: { type: 'final' },
  },
  output: ({ context }) => ({ sent: context.sent, approvedBy: context.approvedBy, redrafts: context.redrafts }),
});

export default defineFlow({
  id: 'ticket-triage',
  title: 'Draft a reply to a support ticket; a support lead reviews it before it is sent',
  input: Ticket,
  triggers: [
    // What a person may type; `readFrom` and `issueId` are the webhooks' alone (a person
    // naming a ticket to read would see it on the card without being its agent).
    { kind: 'command', fields: ['subject', 'body', 'customer', 'ticketId'] },
    // Zendesk's ticket-created event and Linear's Issue create event (mapped in ./ticket-triage.read.ts).
    { kind: 'webhook', source: 'zendesk', events: ['ticket.created'], input: fromZendeskCreated },
    { kind: 'webhook', source: 'linear', events: ['issue.create'], input: fromLinearCreated },
  ],
  tools: ['zendesk.reply', 'zendesk.get-ticket', 'linear.get-issue'],
  machine,
});
