/**
 * draft-approve: the smallest complete review loop, and the engine's demo.
 * Started by `/signoff run draft-approve subject=... body=...` (or the API).
 * Drafts a reply, waits durably for a person's decision (no timeout), then
 * applies it. A rejection ends the run; the review issue adds cards and policy.
 */
import { assign, setup } from 'xstate';
import { z } from 'zod';
import { defineFlow, step } from '../src/engine/flow.ts';

const Input = z.object({
  subject: z.string().min(1).max(200),
  body: z.string().min(1).max(10_000),
});
type Input = z.infer<typeof Input>;

interface Draft { text: string }
type Decision = { type: 'review.approved'; by: string; editedText?: string } | { type: 'review.rejected'; by: string; reason?: string };

const machine = setup({
  types: {} as {
    input: Input;
    context: { request: Input; draft?: Draft; decision?: Decision; result?: unknown };
    events: Decision;
  },
  actors: {
    draft: step<Input, Draft>(),
    apply: step<{ draft: Draft; decision: Decision }, { sent: boolean }>(),
  },
}).createMachine({
  id: 'draft-approve',
  context: ({ input }) => ({ request: input }),
  initial: 'drafting',
  states: {
    drafting: {
      invoke: {
        src: 'draft', id: 'draft', input: ({ context }) => context.request,
        onDone: { target: 'awaitingDecision', actions: assign({ draft: ({ event }) => event.output }) },
      },
    },
    awaitingDecision: {
      on: {
        'review.approved': { target: 'applying', actions: assign({ decision: ({ event }) => event }) },
        'review.rejected': { target: 'rejected', actions: assign({ decision: ({ event }) => event }) },
      },
    },
    applying: {
      invoke: {
        src: 'apply', id: 'apply', input: ({ context }) => ({ draft: context.draft!, decision: context.decision! }),
        onDone: { target: 'done', actions: assign({ result: ({ event }) => event.output }) },
      },
    },
    done: { type: 'final' },
    rejected: { type: 'final' },
  },
  output: ({ context }) => ({ decision: context.decision?.type, result: context.result ?? null }),
});

export default defineFlow({
  id: 'draft-approve',
  title: 'Draft a reply and apply it after approval',
  input: Input,
  triggers: [{ kind: 'command' }],
  machine,
  steps: {
    draft: async (request: Input) => ({ text: `Hello! About "${request.subject}": thanks for writing, we are on it.` }),
    apply: async ({ decision }: { decision: Decision }) => ({ sent: decision.type === 'review.approved' }),
  },
});
