/**
 * ticket-triage: a support ticket comes in (`/signoff run ticket-triage
 * subject="…" body="…" customer="…" ticketId=123`). A cheap model sorts it, a
 * strong model drafts a reply, a support lead reviews the draft (and may edit
 * it), and the approved reply is posted to the ticket through the helpdesk
 * (`zendesk.reply`). A rejection's reason goes back to the model for a new
 * draft, twice at most, then the run ends rejected; an expired review ends it.
 *
 * With no OPENAI_API_KEY or OPENAI_BASE_URL the built-in offline model writes
 * the draft (the card says so); with no ZENDESK_URL the reply is recorded, not sent.
 */
import { assign, setup } from 'xstate';
import { z } from 'zod';
import { defineFlow, review, step } from '../src/engine/flow.ts';
import { modelStep, type ModelStepOutput } from '../src/steps/flow-steps.ts';

const Ticket = z.object({
  subject: z.string().min(1).max(200),
  body: z.string().min(1).max(10_000),
  customer: z.string().min(1).max(200).optional(),
  /** The helpdesk ticket to reply on; without it the approved reply is recorded, not sent. */
  ticketId: z.string().regex(/^\d{1,20}$/, 'ticketId must be the helpdesk ticket number').optional(),
});
type Ticket = z.infer<typeof Ticket>;

const Triage = z.object({
  category: z.enum(['billing', 'bug', 'how-to', 'account', 'other']),
  urgency: z.enum(['low', 'normal', 'high']),
});
type Triage = z.infer<typeof Triage>;

const Draft = z.object({ reply: z.string().min(1).max(5_000) });
type Draft = z.infer<typeof Draft>;

interface DraftInput { ticket: Ticket; triage: Triage | null; feedback?: string; previousDraft?: string }
interface SendInput { ticket: Ticket; reply: string; contentSha256: string }
/** What happened to the approved reply: the hash the approval covered, and where it went. */
interface Sent { reply: string; contentSha256: string; to: string; ticketId: string | null; delivery: 'zendesk' | 'local' | 'none'; idempotencyKey: string }
type Decided = { reviewId: string; by: string[]; content: { reply: string }; contentSha256: string; version: number; reason?: string };
type ReviewEvent =
  | ({ type: 'review.approved' } & Decided)
  | ({ type: 'review.rejected' } & Decided)
  | ({ type: 'review.expired' } & Decided);

/** Drafts after a rejection, at most; then the run ends rejected. */
const MAX_REDRAFTS = 2;

/** How a draft is described on the card: which model wrote it, its tokens and cost, or why it is unusable. */
function draftFields(draft: ModelStepOutput<Draft>): { label: string; value: string }[] {
  const tokens = draft.usage.inputTokens + draft.usage.outputTokens;
  const by = draft.offline
    ? 'the offline model (no OPENAI_API_KEY or OPENAI_BASE_URL set: a stand-in, not a real model)'
    : draft.model;
  return [
    { label: 'Drafted by', value: by },
    { label: 'Draft cost', value: `${tokens.toLocaleString('en-US')} tokens, $${draft.costUsd.toFixed(4)}` },
    ...(draft.invalid ? [{ label: 'Model problem', value: `The model's answer was not usable (${draft.invalid.reason}). Edit the reply before approving.` }] : []),
  ];
}

const machine = setup({
  types: {} as {
    input: Ticket;
    context: {
      ticket: Ticket; triage: Triage | null; draft?: ModelStepOutput<Draft>; reply?: string; feedback?: string; redrafts: number;
      approvedBy?: string[]; approvedSha256?: string; sent?: Sent;
    };
    events: ReviewEvent;
  },
  actors: {
    classify: step<Ticket, ModelStepOutput<Triage>>(),
    draft: step<DraftInput, ModelStepOutput<Draft>>(),
    replyReview: review(),
    send: step<SendInput, Sent>(),
  },
  guards: {
    mayRedraft: ({ context }) => context.redrafts < MAX_REDRAFTS,
  },
}).createMachine({
  id: 'ticket-triage',
  context: ({ input }) => ({ ticket: input, triage: null, redrafts: 0 }),
  initial: 'classifying',
  states: {
    classifying: {
      invoke: {
        src: 'classify', id: 'classify',
        input: ({ context }) => context.ticket,
        onDone: { target: 'drafting', actions: assign({ triage: ({ event }) => event.output.value }) },
      },
    },
    drafting: {
      invoke: {
        src: 'draft', id: 'draft',
        input: ({ context }) => ({
          ticket: context.ticket, triage: context.triage,
          ...(context.feedback ? { feedback: context.feedback } : {}),
          ...(context.feedback && context.reply ? { previousDraft: context.reply } : {}),
        }),
        onDone: {
          target: 'awaitingReview',
          actions: assign({
            draft: ({ event }) => event.output,
            reply: ({ event }) => event.output.value?.reply ?? event.output.invalid?.raw.slice(0, 5_000) ?? '',
          }),
        },
      },
    },
    awaitingReview: {
      invoke: {
        src: 'replyReview', id: 'replyReview',
        input: ({ context }) => ({
          title: `Reply to "${context.ticket.subject}"`,
          fields: [
            { label: 'Customer', value: context.ticket.customer ?? 'unknown' },
            { label: 'Ticket', value: context.ticket.body.slice(0, 2_000) },
            ...(context.triage ? [{ label: 'Triage', value: `${context.triage.category}, ${context.triage.urgency} urgency` }] : []),
            ...draftFields(context.draft!),
          ],
          content: { reply: context.reply! },
          proposedAction: {
            tool: 'zendesk.reply', method: 'PUT', host: 'helpdesk (ZENDESK_URL)',
            fields: [
              { name: 'ticket', new: context.ticket.ticketId ?? '(none given: the reply is recorded, not sent)' },
              { name: 'comment.public', new: 'true' },
              { name: 'comment.body', new: '(the approved reply above)' },
            ],
          },
        }),
      },
      on: {
        'review.approved': { target: 'sending', actions: assign({ reply: ({ event }) => event.content.reply, approvedBy: ({ event }) => event.by, approvedSha256: ({ event }) => event.contentSha256 }) },
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
        input: ({ context }) => ({ ticket: context.ticket, reply: context.reply!, contentSha256: context.approvedSha256! }),
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
  tools: ['zendesk.reply'],
  steps: {
    classify: modelStep<Ticket, Triage>({
      route: 'cheap', prompt: new URL('./prompts/ticket-triage.classify.md', import.meta.url), output: Triage, maxOutputTokens: 100,
      vars: (t) => ({ subject: t.subject, body: t.body, customer: t.customer ?? 'unknown' }),
    }),
    draft: modelStep<DraftInput, Draft>({
      route: 'strong', prompt: new URL('./prompts/ticket-triage.draft.md', import.meta.url), output: Draft, maxOutputTokens: 800,
      vars: ({ ticket, triage, feedback, previousDraft }) => ({
        subject: ticket.subject, body: ticket.body, customer: ticket.customer ?? 'unknown',
        category: triage?.category ?? 'unknown', urgency: triage?.urgency ?? 'unknown', feedback, previousDraft,
      }),
    }),
    send: {
      maxAttempts: 5, backoffMs: 2_000,
      run: async ({ ticket, reply, contentSha256 }: SendInput, ctx): Promise<Sent> => {
        const base = { reply, contentSha256, to: ticket.customer ?? 'the ticket requester', idempotencyKey: ctx.idempotencyKey };
        if (!ticket.ticketId) return { ...base, ticketId: null, delivery: 'none' };
        const result = await ctx.services.callTool('zendesk.reply', { ticketId: ticket.ticketId, body: reply, public: true }) as { local?: boolean };
        return { ...base, ticketId: ticket.ticketId, delivery: result.local ? 'local' : 'zendesk' };
      },
    },
  },
  reviews: {
    replyReview: { approvers: { groups: ['support-leads'] }, allowEdit: true, expiresInMs: 24 * 60 * 60_000, remindAtMs: [2 * 60 * 60_000] },
  },
});
