/**
 * ticket-triage: a support ticket comes in (`/signoff run ticket-triage
 * subject="…" body="…" customer="…"`), a reply is drafted, a support lead
 * reviews it (and may edit it), and the approved reply is sent. A rejection's
 * reason goes back to the drafter, twice at most; an expired review ends the run.
 *
 * Until model and tool steps land, `draft` is a template and `send` records the
 * reply as sent; their names and shapes stay when they become real calls.
 */
import { assign, setup } from 'xstate';
import { z } from 'zod';
import { defineFlow, review, step } from '../src/engine/flow.ts';

const Ticket = z.object({
  subject: z.string().min(1).max(200),
  body: z.string().min(1).max(10_000),
  customer: z.string().min(1).max(200).optional(),
});
type Ticket = z.infer<typeof Ticket>;

interface DraftInput { ticket: Ticket; feedback?: string }
interface Draft { reply: string }
/** What was sent: the approved reply, the hash the approval covered, and the key a real helpdesk call would carry. */
interface Sent { reply: string; contentSha256: string; to: string; idempotencyKey: string }
type Decided = { reviewId: string; by: string[]; content: { reply: string }; contentSha256: string; version: number; reason?: string };
type ReviewEvent =
  | ({ type: 'review.approved' } & Decided)
  | ({ type: 'review.rejected' } & Decided)
  | ({ type: 'review.expired' } & Decided);

/** Drafts after a rejection, at most; then the run ends rejected. */
const MAX_REDRAFTS = 2;

const machine = setup({
  types: {} as {
    input: Ticket;
    context: { ticket: Ticket; draft?: Draft; feedback?: string; redrafts: number; approvedBy?: string[]; approvedSha256?: string; sent?: Sent };
    events: ReviewEvent;
  },
  actors: {
    draft: step<DraftInput, Draft>(),
    replyReview: review(),
    send: step<{ ticket: Ticket; reply: string; contentSha256: string }, Sent>(),
  },
  guards: {
    mayRedraft: ({ context }) => context.redrafts < MAX_REDRAFTS,
  },
}).createMachine({
  id: 'ticket-triage',
  context: ({ input }) => ({ ticket: input, redrafts: 0 }),
  initial: 'drafting',
  states: {
    drafting: {
      invoke: {
        src: 'draft', id: 'draft',
        input: ({ context }) => ({ ticket: context.ticket, ...(context.feedback ? { feedback: context.feedback } : {}) }),
        onDone: { target: 'awaitingReview', actions: assign({ draft: ({ event }) => event.output }) },
      },
    },
    awaitingReview: {
      invoke: {
        src: 'replyReview', id: 'replyReview',
        input: ({ context }) => ({
          title: `Reply to "${context.ticket.subject}"`,
          fields: [
            { label: 'Customer', value: context.ticket.customer ?? 'unknown' },
            { label: 'Ticket', value: context.ticket.body },
          ],
          content: { reply: context.draft!.reply },
          proposedAction: {
            tool: 'helpdesk', method: 'POST', host: 'helpdesk.local',
            fields: [
              { name: 'to', new: context.ticket.customer ?? 'the ticket requester' },
              { name: 'subject', new: `Re: ${context.ticket.subject}` },
              { name: 'body', new: '(the approved reply above)' },
            ],
          },
        }),
      },
      on: {
        'review.approved': { target: 'sending', actions: assign({ draft: ({ event }) => event.content, approvedBy: ({ event }) => event.by, approvedSha256: ({ event }) => event.contentSha256 }) },
        'review.rejected': [
          { guard: 'mayRedraft', target: 'drafting', actions: assign({ feedback: ({ event }) => event.reason ?? 'rejected without a reason', redrafts: ({ context }) => context.redrafts + 1 }) },
          { target: 'rejected' },
        ],
        'review.expired': { target: 'expired' },
      },
    },
    sending: {
      invoke: {
        src: 'send', id: 'send',
        input: ({ context }) => ({ ticket: context.ticket, reply: context.draft!.reply, contentSha256: context.approvedSha256! }),
        onDone: { target: 'sent', actions: assign({ sent: ({ event }) => event.output }) },
      },
    },
    sent: { type: 'final' },
    rejected: { type: 'final' },
    expired: { type: 'final' },
  },
  output: ({ context }) => ({ sent: context.sent ?? null, approvedBy: context.approvedBy ?? [], redrafts: context.redrafts }),
});

export default defineFlow({
  id: 'ticket-triage',
  title: 'Draft a reply to a support ticket; a support lead reviews it before it is sent',
  input: Ticket,
  triggers: [{ kind: 'command' }],
  machine,
  steps: {
    draft: async ({ ticket, feedback }: DraftInput): Promise<Draft> => ({
      reply: [
        `Hello${ticket.customer ? ` ${ticket.customer}` : ''},`,
        `thanks for telling us about "${ticket.subject}". We are looking into it and will update you today.`,
        ...(feedback ? [`(Redrafted after review: ${feedback})`] : []),
      ].join('\n'),
    }),
    send: async ({ ticket, reply, contentSha256 }: { ticket: Ticket; reply: string; contentSha256: string }, ctx): Promise<Sent> => ({
      reply, contentSha256, to: ticket.customer ?? 'the ticket requester', idempotencyKey: ctx.idempotencyKey,
    }),
  },
  reviews: {
    replyReview: { approvers: { groups: ['support-leads'] }, allowEdit: true, expiresInMs: 24 * 60 * 60_000, remindAtMs: [2 * 60 * 60_000] },
  },
});
