/**
 * The patterns teams compose, each a flow on the authoring module (src/authoring):
 *
 *   sequence   three steps, each given the one before's output
 *   fan-out    two steps at once (a parallel state), joined when both finish;
 *              one failing takes the flow to its `failed` path (the other is dropped)
 *   routing    guards on a model's classification pick the branch; the refund
 *              branch waits for a person's review before it acts
 *
 * Steps are bound to a process's `StepEnv` (they log each execution in
 * `step_log`), so the same flows run in a test and in test/helpers/engine-child.ts.
 * The machine configs are the same code in every process, so their versions match.
 */
import { z } from 'zod';
import {
  assign,
  defineFlow,
  modelStep,
  permanentError,
  review,
  setup,
  step,
  type Flow,
} from '../../../src/authoring/index.ts';
import type { StepContext } from '../../../src/engine/flow.ts';
import { logged, type StepEnv } from './test-flows.ts';

/** How long a fan-out step waits for its sibling to start, at most. */
const BARRIER_MS = 30_000;

export function sequenceFlow(env: StepEnv): Flow<{ text: string }> {
  const word = (suffix: string) =>
    step((text: string, ctx) => logged(env, suffix, ctx as StepContext, () => `${text}>${suffix}`));
  const machine = setup({
    types: {} as { input: { text: string }; context: { text: string } },
    actors: { first: word('first'), second: word('second'), third: word('third') },
  }).createMachine({
    id: 'sequence',
    context: ({ input }) => ({ text: input.text }),
    initial: 'first',
    states: {
      first: {
        invoke: {
          src: 'first',
          input: ({ context }) => context.text,
          onDone: { target: 'second', actions: assign({ text: ({ event }) => event.output }) },
        },
      },
      second: {
        invoke: {
          src: 'second',
          input: ({ context }) => context.text,
          onDone: { target: 'third', actions: assign({ text: ({ event }) => event.output }) },
        },
      },
      third: {
        invoke: {
          src: 'third',
          input: ({ context }) => context.text,
          onDone: { target: 'done', actions: assign({ text: ({ event }) => event.output }) },
        },
      },
      done: { type: 'final' },
    },
    output: ({ context }) => ({ text: context.text }),
  });
  return defineFlow({ id: 'sequence', title: 'Three steps in a row', input: z.object({ text: z.string() }), machine });
}

const FanOutInput = z.object({ topic: z.string(), failRight: z.boolean().default(false) });
type FanOutInput = z.infer<typeof FanOutInput>;

/** Waits until both fan-out steps of the run have started: proof that they are in flight at once. */
async function barrier(env: StepEnv, runId: string): Promise<void> {
  const deadline = Date.now() + BARRIER_MS;
  for (;;) {
    const [row] = await env.sql<{ n: number }[]>`
      SELECT count(DISTINCT step)::int AS n FROM step_log WHERE run_id = ${runId} AND step IN ('left', 'right') AND phase = 'started'`;
    if (row!.n === 2) return;
    if (Date.now() > deadline)
      throw new Error(`the other fan-out step of ${runId} did not start within ${BARRIER_MS} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function fanOutFlow(env: StepEnv): Flow<FanOutInput> {
  const side = (name: 'left' | 'right') =>
    step(
      async (input: FanOutInput, ctx) =>
        logged(env, name, ctx as StepContext, async () => {
          await barrier(env, ctx.runId);
          if (name === 'right' && input.failRight)
            throw permanentError('the right-hand service refused the request (400)');
          return `${name}:${input.topic}`;
        }),
      { timeoutMs: 2_000, maxAttempts: 3, backoffMs: 100 },
    );

  const machine = setup({
    types: {} as { input: FanOutInput; context: { input: FanOutInput; left: string; right: string; error: string } },
    actors: { left: side('left'), right: side('right') },
  }).createMachine({
    id: 'fan-out',
    context: ({ input }) => ({ input, left: '', right: '', error: '' }),
    initial: 'gathering',
    states: {
      gathering: {
        type: 'parallel',
        states: {
          left: {
            initial: 'working',
            states: {
              working: {
                invoke: {
                  src: 'left',
                  input: ({ context }) => context.input,
                  onDone: { target: 'finished', actions: assign({ left: ({ event }) => event.output }) },
                },
              },
              finished: { type: 'final' },
            },
          },
          right: {
            initial: 'working',
            states: {
              working: {
                invoke: {
                  src: 'right',
                  input: ({ context }) => context.input,
                  onDone: { target: 'finished', actions: assign({ right: ({ event }) => event.output }) },
                  onError: {
                    target: '#fan-out.failed',
                    actions: assign({ error: ({ event }) => String((event.error as Error | undefined)?.message) }),
                  },
                },
              },
              finished: { type: 'final' },
            },
          },
        },
        onDone: 'joined',
      },
      joined: { type: 'final' },
      failed: { type: 'final' },
    },
    output: ({ context }) => ({ left: context.left, right: context.right, error: context.error }),
  });
  return defineFlow({ id: 'fan-out', title: 'Two steps at once, joined', input: FanOutInput, machine });
}

const Ticket = z.object({ subject: z.string(), body: z.string() });
type Ticket = z.infer<typeof Ticket>;
const Category = z.object({ category: z.enum(['refund', 'bug', 'other']) });
type Category = z.infer<typeof Category>;

export function routingFlow(env: StepEnv): Flow<Ticket> {
  const classify = modelStep({
    route: 'cheap',
    prompt: new URL('../../fixtures/prompts/summarize.md', import.meta.url),
    output: Category,
    vars: (t: Ticket) => ({ text: `${t.subject}\n${t.body}` }),
  });
  const act = (name: string) =>
    step((note: string, ctx) => logged(env, name, ctx as StepContext, () => `${name}: ${note}`));
  const refundReview = review<{ note: string }>({ approvers: { groups: ['billing-leads'] } });

  const machine = setup({
    types: {} as {
      input: Ticket;
      context: { ticket: Ticket; category: Category['category'] | 'unknown'; note: string; result: string };
    },
    actors: { classify, refundReview, refund: act('refund'), fileBug: act('fileBug') },
  }).createMachine({
    id: 'routing',
    context: ({ input }) => ({ ticket: input, category: 'unknown', note: '', result: '' }),
    initial: 'classifying',
    states: {
      classifying: {
        invoke: {
          src: 'classify',
          input: ({ context }) => context.ticket,
          onDone: [
            {
              guard: ({ event }) => event.output.value?.category === 'refund',
              target: 'awaitingRefundReview',
              actions: assign({ category: 'refund', note: ({ context }) => `refund for "${context.ticket.subject}"` }),
            },
            {
              guard: ({ event }) => event.output.value?.category === 'bug',
              target: 'filingBug',
              actions: assign({ category: 'bug', note: ({ context }) => context.ticket.body }),
            },
            { target: 'answered', actions: assign({ category: 'other' }) },
          ],
        },
      },
      awaitingRefundReview: {
        invoke: {
          src: 'refundReview',
          input: ({ context }) => ({ title: `Refund: ${context.ticket.subject}`, content: { note: context.note } }),
        },
        on: {
          'review.approved': { target: 'refunding', actions: assign({ note: ({ event }) => event.content.note }) },
          'review.rejected': 'answered',
          'review.expired': 'answered',
        },
      },
      refunding: {
        invoke: {
          src: 'refund',
          input: ({ context }) => context.note,
          onDone: { target: 'done', actions: assign({ result: ({ event }) => event.output }) },
        },
      },
      filingBug: {
        invoke: {
          src: 'fileBug',
          input: ({ context }) => context.note,
          onDone: { target: 'done', actions: assign({ result: ({ event }) => event.output }) },
        },
      },
      answered: { type: 'final' },
      done: { type: 'final' },
    },
    output: ({ context }) => ({ category: context.category, result: context.result }),
  });
  return defineFlow({ id: 'routing', title: 'Route a ticket by its model classification', input: Ticket, machine });
}

export function patternFlows(env: StepEnv): Flow<any>[] {
  return [sequenceFlow(env), fanOutFlow(env), routingFlow(env)];
}
