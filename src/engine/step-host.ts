/**
 * What a worker hands a step besides its input, and what it asks of the
 * review desk when a step must wait for a person: the seams between the
 * engine and src/steps (models, tools) and src/review (notices, budget reviews).
 */
import { SignoffError } from '../errors.ts';
import type { Sql } from '../store/client.ts';
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

/** What the engine asks of the review desk when a step pauses for a person. */
export interface PauseHost {
  /** Queues a message to the people of the run (its channel), inside `tx`. */
  tellRun(tx: Sql, runId: string, text: string): Promise<void>;
  /** Asks a person whether the run may spend more; the job waits until they decide. */
  requestBudgetReview(job: ClaimedJob, spent: { spentUsd: number; budgetUsd: number; baseUsd: number }): Promise<void>;
}

const NO_SERVICES: StepServices = {
  generate: async () => {
    throw new SignoffError('step_failed', 'this engine was started without model services', { details: { retryable: false } });
  },
  callTool: async () => {
    throw new SignoffError('step_failed', 'this engine was started without tool services', { details: { retryable: false } });
  },
};

/** The services of one step or effect job, scoped to its run, key, flow tools and budget. */
export function servicesFor(
  factory: ServicesFactory | null, flows: ReadonlyMap<string, Flow<any>>, job: ClaimedJob, signal: AbortSignal,
): StepServices {
  if (!factory || (job.kind !== 'step' && job.kind !== 'effect')) return NO_SERVICES;
  const flow = flows.get(job.flow);
  return factory({
    runId: job.run_id, flowId: job.flow, jobKey: job.key, attempt: job.attempts, signal,
    tools: flow?.tools ?? [], budgetUsd: flow?.budgetUsd,
  });
}
