/**
 * Flows for the engine's integration tests. Every step records each execution
 * in `step_log` through its own connection (never the engine's transaction), so
 * a test can count executions per run and step and tell which process ran them.
 * The machines are module constants, so a flow has the same version in every
 * process; only the step bodies depend on the process's `StepEnv`.
 */
import { assign, setup } from 'xstate';
import { z } from 'zod';
import { compileFlow as defineFlow, permanentError, type Flow, type StepContext } from '../../../src/engine/flow.ts';
import { slot as step } from './slot.ts';
import type { Sql } from '../../../src/store/client.ts';

export interface StepEnv {
  /** Where steps record their executions: a connection of their own. */
  sql: Sql;
  /** Names this process in `step_log.worker`. */
  worker: string;
  /** Steps that, in this process, block after logging 'started' until aborted (killed mid-step). */
  hang?: ReadonlySet<string>;
  /** In-process hook: awaited after 'started' and before the step returns. */
  gate?: (step: string, runId: string) => Promise<void>;
  /** Time limit of the `one-step` flow's step (its lease is this plus 5 s). Default 1 000 ms. */
  timeoutMs?: number;
}

export const STEP_LOG_DDL = `
  CREATE TABLE IF NOT EXISTS step_log (
    id      bigserial PRIMARY KEY,
    run_id  text NOT NULL,
    step    text NOT NULL,
    key     text NOT NULL,
    attempt integer NOT NULL,
    worker  text NOT NULL,
    phase   text NOT NULL CHECK (phase IN ('started', 'finished')),
    at      timestamptz NOT NULL DEFAULT clock_timestamp()
  )`;

export async function createStepLog(sql: Sql): Promise<void> {
  await sql.unsafe(STEP_LOG_DDL);
}

async function record(env: StepEnv, name: string, ctx: StepContext, phase: 'started' | 'finished'): Promise<void> {
  await env.sql`INSERT INTO step_log (run_id, step, key, attempt, worker, phase)
                VALUES (${ctx.runId}, ${name}, ${ctx.idempotencyKey}, ${ctx.attempt}, ${env.worker}, ${phase})`;
}

/** Logs the execution, honours `hang` and `gate`, runs `body`, logs that it finished. */
export async function logged<O>(env: StepEnv, name: string, ctx: StepContext, body: () => Promise<O> | O): Promise<O> {
  await record(env, name, ctx, 'started');
  if (env.hang?.has(name)) await new Promise<never>(() => {}); // the engine's abort (or SIGKILL) ends it
  await env.gate?.(name, ctx.runId);
  const output = await body();
  await record(env, name, ctx, 'finished');
  return output;
}

async function executionsSoFar(env: StepEnv, name: string, runId: string): Promise<number> {
  const [row] = await env.sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM step_log WHERE run_id = ${runId} AND step = ${name} AND phase = 'started'`;
  return row!.n;
}

// counted-approve: draft, wait for a person's decision, apply it.
const ApproveInput = z.object({ subject: z.string().min(1).max(200), body: z.string().min(1) });
type ApproveInput = z.infer<typeof ApproveInput>;
type Decision = { type: 'review.approved'; by: string } | { type: 'review.rejected'; by: string };

const approveMachine = setup({
  types: {} as {
    input: ApproveInput;
    context: { request: ApproveInput; draft?: string; applied?: boolean };
    events: Decision;
  },
  actors: { draft: step<ApproveInput, string>(), apply: step<{ draft: string }, boolean>() },
}).createMachine({
  id: 'counted-approve',
  context: ({ input }) => ({ request: input }),
  initial: 'drafting',
  states: {
    drafting: {
      invoke: {
        src: 'draft',
        id: 'draft',
        input: ({ context }) => context.request,
        onDone: { target: 'awaitingDecision', actions: assign({ draft: ({ event }) => event.output }) },
      },
    },
    awaitingDecision: {
      on: { 'review.approved': 'applying', 'review.rejected': 'rejected' },
    },
    applying: {
      invoke: {
        src: 'apply',
        id: 'apply',
        input: ({ context }) => ({ draft: context.draft! }),
        onDone: { target: 'done', actions: assign({ applied: ({ event }) => event.output }) },
      },
    },
    done: { type: 'final' },
    rejected: { type: 'final' },
  },
  output: ({ context }) => ({ draft: context.draft ?? null, applied: context.applied ?? false }),
});

// one-step: one step under a 60 s deadline timer, then done.
const OneStepInput = z.object({ label: z.string().default('x') });
const oneStepMachine = setup({
  types: {} as { input: z.infer<typeof OneStepInput>; context: { label: string; result?: string } },
  actors: { work: step<{ label: string }, string>() },
}).createMachine({
  id: 'one-step',
  context: ({ input }) => ({ label: input.label }),
  initial: 'working',
  states: {
    working: {
      invoke: {
        src: 'work',
        id: 'work',
        input: ({ context }) => ({ label: context.label }),
        onDone: { target: 'done', actions: assign({ result: ({ event }) => event.output }) },
      },
      after: { 60_000: 'timedOut' },
    },
    done: { type: 'final' },
    timedOut: { type: 'final' },
  },
  output: ({ context }) => ({ result: context.result ?? null }),
});

// relay: a short timer, then one step (whose first attempt fails when asked), then done.
const RelayInput = z.object({ n: z.number().int(), failFirst: z.boolean().default(false) });
type RelayInput = z.infer<typeof RelayInput>;
const relayMachine = setup({
  types: {} as { input: RelayInput; context: RelayInput & { drafted?: number } },
  actors: { draft: step<RelayInput, number>() },
}).createMachine({
  id: 'relay',
  context: ({ input }) => ({ ...input }),
  initial: 'queued',
  states: {
    queued: { after: { 100: 'drafting' } },
    drafting: {
      invoke: {
        src: 'draft',
        id: 'draft',
        input: ({ context }) => ({ n: context.n, failFirst: context.failFirst }),
        onDone: { target: 'done', actions: assign({ drafted: ({ event }) => event.output }) },
      },
    },
    done: { type: 'final' },
  },
  output: ({ context }) => ({ drafted: context.drafted ?? null }),
});

// timed: waits for a decision, expires after 2 s.
const timedMachine = setup({
  types: {} as { input: { topic: string }; context: { topic: string }; events: { type: 'decide' } },
}).createMachine({
  id: 'timed',
  context: ({ input }) => ({ topic: input.topic }),
  initial: 'waiting',
  states: {
    waiting: { after: { 2000: 'expired' }, on: { decide: 'decided' } },
    expired: { type: 'final' },
    decided: { type: 'final' },
  },
});

// flaky: one step that fails its first `failTimes` executions; no onError.
const FlakyInput = z.object({ failTimes: z.number().int().min(0) });
const flakyMachine = setup({
  types: {} as { input: z.infer<typeof FlakyInput>; context: { failTimes: number; result?: string } },
  actors: { work: step<{ failTimes: number }, string>() },
}).createMachine({
  id: 'flaky',
  context: ({ input }) => ({ failTimes: input.failTimes }),
  initial: 'working',
  states: {
    working: {
      invoke: {
        src: 'work',
        id: 'work',
        input: ({ context }) => ({ failTimes: context.failTimes }),
        onDone: { target: 'done', actions: assign({ result: ({ event }) => event.output }) },
      },
    },
    done: { type: 'final' },
  },
  output: ({ context }) => ({ result: context.result ?? null }),
});

// guarded: one step that is refused for good; the flow handles the error.
const guardedMachine = setup({
  types: {} as { input: { label: string }; context: { label: string; error?: string } },
  actors: { work: step<{ label: string }, string>() },
}).createMachine({
  id: 'guarded',
  context: ({ input }) => ({ label: input.label }),
  initial: 'working',
  states: {
    working: {
      invoke: {
        src: 'work',
        id: 'work',
        input: ({ context }) => ({ label: context.label }),
        onDone: 'done',
        onError: {
          target: 'handled',
          actions: assign({
            error: ({ event }) => (event.error as { message?: string } | undefined)?.message ?? 'unknown',
          }),
        },
      },
    },
    done: { type: 'final' },
    handled: { type: 'final' },
  },
  output: ({ context }) => ({ error: context.error ?? null }),
});

/** Every test flow, with steps bound to this process's `env`. */
export function testFlows(env: StepEnv): Flow<any>[] {
  return [
    defineFlow({
      id: 'counted-approve',
      triggers: [{ kind: 'command' }],
      title: 'Draft, decide, apply (counted)',
      input: ApproveInput,
      machine: approveMachine,
      steps: {
        draft: (req: ApproveInput, ctx) => logged(env, 'draft', ctx, () => `Re: ${req.subject}`),
        apply: (_: { draft: string }, ctx) => logged(env, 'apply', ctx, () => true),
      },
    }),
    defineFlow({
      id: 'one-step',
      triggers: [{ kind: 'command' }],
      title: 'One step (counted)',
      input: OneStepInput,
      machine: oneStepMachine,
      steps: {
        work: {
          run: (input: { label: string }, ctx) => logged(env, 'work', ctx, () => `worked:${input.label}:${env.worker}`),
          timeoutMs: env.timeoutMs ?? 1_000,
          maxAttempts: 3,
          backoffMs: 100,
        },
      },
    }),
    defineFlow({
      id: 'relay',
      title: 'Timer, then one step (counted)',
      input: RelayInput,
      machine: relayMachine,
      steps: {
        draft: {
          run: (input: RelayInput, ctx) =>
            logged(env, 'draft', ctx, () => {
              if (input.failFirst && ctx.attempt === 1) throw new Error('transient failure on the first attempt');
              return input.n;
            }),
          timeoutMs: 10_000,
          maxAttempts: 3,
          backoffMs: 50,
        },
      },
    }),
    defineFlow({
      id: 'timed',
      title: 'Expires after 2 s',
      input: z.object({ topic: z.string() }),
      machine: timedMachine,
      steps: {},
    }),
    defineFlow({
      id: 'flaky',
      triggers: [{ kind: 'command' }],
      title: 'Fails its first N executions',
      input: FlakyInput,
      machine: flakyMachine,
      steps: {
        work: {
          run: (input: { failTimes: number }, ctx) =>
            logged(env, 'work', ctx, async () => {
              const n = await executionsSoFar(env, 'work', ctx.runId);
              if (n <= input.failTimes) throw new Error(`transient failure ${n}`);
              return `ok after ${n - 1} failures`;
            }),
          maxAttempts: 3,
          backoffMs: 100,
        },
      },
    }),
    defineFlow({
      id: 'guarded',
      title: 'A refused step handled by onError',
      input: z.object({ label: z.string() }),
      machine: guardedMachine,
      steps: {
        work: {
          run: (_: { label: string }, ctx) =>
            logged(env, 'work', ctx, () => {
              throw permanentError('upstream refused the request (400)');
            }),
          maxAttempts: 3,
          backoffMs: 100,
        },
      },
    }),
  ];
}
