/**
 * What a worker hands a step besides its input, and what it asks of the
 * review desk when a run or a step waits for a person: the seams between the
 * engine and src/steps (models, tools) and src/review (reviews, notices).
 */
import { SignoffError } from '../errors.ts';
import type { Db } from '../store/client.ts';
import type { ClaimedJob } from '../store/jobs.ts';
import type { Flow, StepServices } from './flow.ts';

/** What a step job may call, scoped to it (src/steps/services.ts builds the real one). */
export type ServicesFactory = (scope: StepScope) => StepServices;

export interface StepScope {
  runId: string;
  flowId: string;
  jobKey: string;
  attempt: number;
  signal: AbortSignal;
  /** The flow's `tools`. */
  tools: readonly string[];
  /** The flow's `budgetUsd`, when it sets one. */
  budgetUsd: number | undefined;
}

/** What a transaction opened with `Engine.transaction` may do to runs; it all commits together. */
export interface RunTx {
  /** The transaction itself, for the caller's own writes. */
  readonly sql: Db;
  /**
   * Delivers `event` to a run under its row lock. `waitKey` names the wait (a
   * review child, by the job key it was invoked with) that the event ends; a run
   * that has left that wait takes nothing. `dedupeKey` makes a second delivery a no-op.
   */
  deliver(
    runId: string,
    event: { type: string } & Record<string, unknown>,
    opts: DeliverOptions,
  ): Promise<{ status: string; duplicate: boolean }>;
  /**
   * Starts a run with the transaction: a webhook delivery or a schedule slot is
   * recorded and its run created together, or neither (`triggerKey` dedupes).
   * Invalid input throws `input_invalid` (the caller decides whether to roll back).
   */
  start(flowId: string, input: unknown, opts?: StartInTxOptions): Promise<{ runId: string; isNew: boolean }>;
  /** A step job that paused for a person runs again (at once); false when it was not waiting. */
  resumeJob(jobKey: string): Promise<boolean>;
}

export interface DeliverOptions {
  waitKey?: string;
  dedupeKey?: string;
  actor?: string;
}

export interface StartInTxOptions {
  runId?: string;
  triggerKey?: string;
  /** Who and where started it: `source`, `actor`, `channel`, `tenant` (engine/commit.ts `Trigger`). */
  trigger?: { source?: string; actor?: string; channel?: string; tenant?: string };
}

/** The engine as the review desk sees it: transactions that can move runs on. */
export interface RunGateway {
  transaction<T>(fn: (rt: RunTx) => Promise<T>): Promise<T>;
}

/**
 * Whoever asks people on the engine's behalf (the review desk). The engine
 * knows waits only by name: a flow's state invokes one, the engine runs its
 * opening job here, and the run waits, with no job, until `RunTx.deliver` ends
 * it inside the transaction that recorded the decision.
 */
export interface WaitHost {
  /** Called once by the engine this host serves. */
  attach(runs: RunGateway): void;
  /** A run invoked a wait (`job.name` is its name, `job.key` the key its outcome must name): ask people. */
  openWait(job: ClaimedJob): Promise<void>;
  /** A step paused itself for a person (`personNeeded`): ask `question`, inside `tx`, which also sets the job waiting. */
  askAboutJob(tx: Db, job: ClaimedJob, question: { kind: string } & Record<string, unknown>): Promise<void>;
  /** Queues a message to the people of the run (its channel), inside `tx`. */
  tellRun(tx: Db, runId: string, text: string): Promise<void>;
}

const NO_SERVICES: StepServices = {
  generate: async () => {
    throw new SignoffError('step_failed', 'this engine was started without model services', {
      details: { retryable: false },
    });
  },
  callTool: async () => {
    throw new SignoffError('step_failed', 'this engine was started without tool services', {
      details: { retryable: false },
    });
  },
};

/** The services of one step or effect job, scoped to its run, key, flow tools and budget. */
export function servicesFor(
  factory: ServicesFactory | null,
  flows: ReadonlyMap<string, Flow<any>>,
  job: ClaimedJob,
  signal: AbortSignal,
): StepServices {
  if (!factory || (job.kind !== 'step' && job.kind !== 'effect')) return NO_SERVICES;
  const flow = flows.get(job.flow);
  return factory({
    runId: job.run_id,
    flowId: job.flow,
    jobKey: job.key,
    attempt: job.attempts,
    signal,
    tools: flow?.tools ?? [],
    budgetUsd: flow?.budgetUsd,
  });
}
