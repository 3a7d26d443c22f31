/**
 * signoff's adapter for the HITL workload (/work/shared/WORKLOAD.md, "Adapter
 * interface"). Owns the `hitl-signoff` flow: step `draft` -> durable wait for
 * `review.decided` -> step `apply` -> final state whose output is apply's
 * result, wired to the harness's two functions, and drives it through the
 * public Engine API only. Any harness can import it with `node --import tsx`.
 */
import { z } from 'zod';
import { Engine } from '../src/engine/engine.ts';
import { assign, defineFlow, setup, step, type Flow } from '../src/authoring/index.ts';
import { createLogger } from '../src/ops/log.ts';
import { connect, type Sql } from '../src/store/client.ts';
import { migrate } from '../src/store/migrate.ts';
import type { Decision, Draft, Ticket } from './workload.ts';

export interface AdapterOptions {
  /** A fresh database; the adapter creates its schema. */
  databaseUrl: string;
  draft: (ticket: Ticket) => Promise<Draft>;
  apply: (runId: string, draft: Draft, decision: Decision) => Promise<unknown>;
}

export interface HitlAdapter {
  name: string;
  init(): Promise<void>;
  start(runId: string, ticket: Ticket): Promise<void>;
  deliver(runId: string, decision: Decision): Promise<unknown>;
  verify(prefix: string): Promise<Record<string, number>>;
  close(): Promise<void>;
}

export const FLOW_ID = 'hitl-signoff';
const SCHEMA = 'signoff';
const EVENT = 'review.decided';
/** The harness's steps never fail; these are the options a real deployment would pick. */
const STEP_OPTIONS = { timeoutMs: 10_000, maxAttempts: 3, backoffMs: 200 } as const;
/** Generous: under Phase B at C=32 a single run completes in milliseconds. */
const WAIT_MS = 120_000;

/** Cheap validation: the ticket must be an object with a string id; the rest passes through. */
const TicketInput = z.looseObject({ ticketId: z.string().min(1).max(64) });

type DecidedEvent = { type: typeof EVENT } & Decision;

export function hitlFlow(opts: Pick<AdapterOptions, 'draft' | 'apply'>): Flow<any> {
  const machine = setup({
    types: {} as {
      input: Ticket;
      // The ticket lives in runs.input; once drafted, the snapshot keeps only what apply needs.
      context: { ticket?: Ticket; draft?: Draft; decision?: Decision; result?: unknown };
      events: DecidedEvent;
    },
    actors: {
      draft: step((ticket: Ticket) => opts.draft(ticket), STEP_OPTIONS),
      apply: step(
        ({ draft, decision }: { draft: Draft; decision: Decision }, ctx) => opts.apply(ctx.runId, draft, decision),
        STEP_OPTIONS,
      ),
    },
  }).createMachine({
    id: FLOW_ID,
    context: ({ input }) => ({ ticket: input }),
    initial: 'drafting',
    states: {
      drafting: {
        invoke: {
          src: 'draft',
          input: ({ context }) => context.ticket!,
          onDone: {
            target: 'awaitingReview',
            actions: assign({ ticket: undefined, draft: ({ event }) => event.output }),
          },
        },
      },
      awaitingReview: {
        on: {
          [EVENT]: {
            target: 'applying',
            actions: assign({
              decision: ({ event }) => ({ decision: event.decision, editedText: event.editedText, by: event.by }),
            }),
          },
        },
      },
      applying: {
        invoke: {
          src: 'apply',
          input: ({ context }) => ({ draft: context.draft!, decision: context.decision! }),
          onDone: { target: 'done', actions: assign({ result: ({ event }) => event.output }) },
        },
      },
      done: { type: 'final' },
    },
    output: ({ context }) => context.result,
  });

  return defineFlow({
    id: FLOW_ID,
    title: 'HITL benchmark: draft, wait for a review decision, apply it',
    input: TicketInput as unknown as z.ZodType<Ticket>,
    machine,
  });
}

export default async function create(opts: AdapterOptions): Promise<HitlAdapter> {
  const flow = hitlFlow(opts);
  let sql: Sql | null = null;
  let engine: Engine | null = null;
  const live = (): Engine => {
    if (!engine) throw new Error('hitl adapter: call init() first');
    return engine;
  };

  return {
    name: 'signoff',
    async init() {
      sql = connect({ url: opts.databaseUrl, schema: SCHEMA, max: Number(process.env.POOL_SIZE ?? 10) });
      await migrate(sql, SCHEMA);
      engine = new Engine({ sql, schema: SCHEMA, flows: [flow], log: createLogger('warn') });
      await engine.start();
    },
    async start(runId, ticket) {
      const e = live();
      await e.startRun(FLOW_ID, ticket, { runId });
      // Resolves once draft's result and the waiting state are committed.
      const run = await e.waitFor(runId, ['waiting', 'failed', 'parked', 'cancelled'], { timeoutMs: WAIT_MS });
      if (run.status !== 'waiting') throw new Error(`run ${runId} is ${run.status}: ${run.reason ?? ''}`);
    },
    async deliver(runId, decision) {
      const e = live();
      await e.send(runId, { type: EVENT, ...decision }, { dedupeKey: 'decision' });
      const run = await e.waitFor(runId, ['done', 'failed', 'parked', 'cancelled'], { timeoutMs: WAIT_MS });
      if (run.status !== 'done') throw new Error(`run ${runId} is ${run.status}: ${run.reason ?? ''}`);
      return run.output;
    },
    async verify(prefix) {
      return live().countByStatus(prefix);
    },
    async close() {
      await engine?.stop(5_000);
      await sql?.end({ timeout: 5 });
      engine = null;
      sql = null;
    },
  };
}
