/** The README's "Write a flow" (test/unit/readme.test.ts keeps the two identical; tsc checks it). */
import { z } from 'zod';
import { assign, defineFlow, modelStep, review, setup, toolStep } from '../../src/authoring/index.ts';

const Ticket = z.object({ ticketId: z.string(), subject: z.string(), body: z.string() });
type Ticket = z.infer<typeof Ticket>;
const replyCall = (t: Ticket, body: string) => ({ tool: 'zendesk.reply', input: { ticketId: t.ticketId, body, public: true } });

const draft = modelStep({ route: 'strong', prompt: new URL('./reply.md', import.meta.url), output: z.object({ reply: z.string() }),
  vars: (t: Ticket) => ({ subject: t.subject, body: t.body }) });
const replyReview = review<{ reply: string }>({ approvers: { groups: ['support-leads'] }, expiresInMs: 24 * 3_600_000 });
const send = toolStep('zendesk.reply', ({ ticket, reply }: { ticket: Ticket; reply: string }) => replyCall(ticket, reply).input);

const machine = setup({ types: {} as { input: Ticket; context: { ticket: Ticket; reply: string } }, actors: { draft, replyReview, send } })
  .createMachine({ id: 'reply', initial: 'drafting', context: ({ input }) => ({ ticket: input, reply: '' }), states: {
    drafting: { invoke: { src: 'draft', input: ({ context }) => context.ticket,
      onDone: { target: 'reviewing', actions: assign({ reply: ({ event }) => event.output.value?.reply ?? '' }) } } },
    reviewing: {
      invoke: { src: 'replyReview', input: ({ context }) => ({ title: context.ticket.subject, content: { reply: context.reply },
        proposedAction: replyCall(context.ticket, context.reply) }) },
      on: { 'review.approved': { target: 'sending', actions: assign({ reply: ({ event }) => event.content.reply }) },
            'review.rejected': 'closed', 'review.expired': 'closed' } },
    sending: { invoke: { src: 'send', input: ({ context }) => ({ ticket: context.ticket, reply: context.reply }), onDone: 'closed' } },
    closed: { type: 'final' } } });

export default defineFlow({ id: 'reply', title: 'Reply to a ticket', input: Ticket, triggers: [{ kind: 'command' }], tools: ['zendesk.reply'], machine });
