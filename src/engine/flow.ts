/**
 * What a flow is: an XState machine that decides, plus the named steps and
 * effects the engine runs on its behalf. A flow file does no I/O; its machine
 * only names steps (`invoke: { src: 'draft' }`) and effects (`entry: 'notify'`),
 * and the engine turns those names into durable jobs.
 *
 *   export default defineFlow({
 *     id: 'ticket-triage', title: 'Triage a ticket', input: z.object({ ... }),
 *     machine: setup({ actors: { draft: step<Ticket, Draft>() } }).createMachine({ ... }),
 *     steps: { draft: async (ticket, ctx) => ... },
 *   });
 */
import { createHash } from 'node:crypto';
import { fromPromise, type AnyStateMachine, type AnyStateNode, type PromiseActorLogic } from 'xstate';
import type { z } from 'zod';
import { SignoffError } from '../errors.ts';

export { blockedError, retryLater, type BlockReason } from '../errors.ts';
import { parsePolicy, type ReviewPolicy, type ReviewPolicyInput } from '../review/policy.ts';
import type { ModelRequest, ModelResult } from '../steps/model/types.ts';

/** What a step function is given besides its input. */
export interface StepContext {
  runId: string;
  flowId: string;
  /** Stable across retries of this invocation: `<run>:<child>:<seq>`. Pass it to tools as Idempotency-Key. */
  idempotencyKey: string;
  /** 1 on the first try. */
  attempt: number;
  /** Aborted when the step times out or the worker shuts down. */
  signal: AbortSignal;
  /** Models and tools, scoped to this step or effect: calls are counted, priced, paced and checked against the flow's `tools`. */
  services: StepServices;
}

/** What a step may call outside the engine (src/steps wires the real ones). */
export interface StepServices {
  /** Asks a model for a structured answer (src/steps/model). */
  generate<T>(req: ModelRequest<T>): Promise<ModelResult<T>>;
  /** Calls a tool the flow lists in `tools` (src/steps/tools); its input is validated first. */
  callTool(name: string, input: unknown): Promise<unknown>;
}

export type StepFn<I = any, O = unknown> = (input: I, ctx: StepContext) => Promise<O>;

export interface StepOptions<I = any, O = unknown> {
  run: StepFn<I, O>;
  /** Per-attempt time limit. Default 60 000 ms. The lease is this plus a margin. */
  timeoutMs?: number;
  /** Attempts before the error is fed to the flow. Default 3. */
  maxAttempts?: number;
  /** First retry delay, doubled each attempt, capped at 5 min. Default 1 000 ms. */
  backoffMs?: number;
}

export type StepDefinition = StepFn | StepOptions;

/** What starts a flow. Later issues wire each kind to its trigger source. */
export type TriggerSpec =
  | { kind: 'command'; name?: string }
  | { kind: 'webhook'; provider: string; event?: string }
  | { kind: 'schedule'; cron: string; timezone?: string };

export interface FlowConfig<I> {
  /** kebab-case, stable: it is stored on every run. */
  id: string;
  title: string;
  input: z.ZodType<I>;
  triggers?: TriggerSpec[];
  machine: AnyStateMachine;
  steps: Record<string, StepDefinition>;
  /** Named actions of the machine, run as at-least-once jobs after the transition commits. */
  effects?: Record<string, StepDefinition>;
  /**
   * Named human reviews and their policies. A state requests one by invoking it
   * (`invoke: { src: 'replyReview', input: ({ context }) => ({ title, content }) }`)
   * and leaves on `review.approved` / `review.rejected` / `review.expired`.
   */
  reviews?: Record<string, ReviewPolicyInput>;
  /** The tools its steps may call (`zendesk.reply`, …); any other is refused by code (RELIABILITY 83). */
  tools?: string[];
  /** Most its model calls may cost per run, in US dollars, before a person must allow more. Default RUN_BUDGET_USD. */
  budgetUsd?: number;
}

export interface Flow<I = unknown> extends Readonly<FlowConfig<I>> {
  /** Hash of the machine definition; runs are pinned to the version they started on. */
  readonly version: string;
  readonly stepOptions: ReadonlyMap<string, Required<StepOptions>>;
  /** Each review's policy, validated when the flow is defined. */
  readonly reviewPolicies: ReadonlyMap<string, ReviewPolicy>;
}

/**
 * An error a step throws when trying again cannot help (a 400, a refused request):
 * the engine feeds it to the flow at once instead of retrying.
 */
export function permanentError(message: string, cause?: unknown): SignoffError {
  return new SignoffError('step_failed', message, { cause, details: { retryable: false } });
}

const FLOW_ID = /^[a-z][a-z0-9-]{0,62}$/;

/**
 * A placeholder actor for `setup({ actors })`, so the machine is typed and its
 * `invoke.src` names resolve. The engine never runs it: it runs the step of the
 * same name from `defineFlow({ steps })` as a job.
 */
export function step<I = unknown, O = unknown>(): PromiseActorLogic<O, I> {
  return fromPromise<O, I>(async () => {
    throw new Error('signoff steps run as engine jobs, not inside an XState actor');
  });
}

/**
 * A placeholder actor for a named review, so `invoke: { src }` resolves. The
 * engine asks the review desk to post the card and waits for the decision.
 */
export function review<I = ReviewInput>(): PromiseActorLogic<unknown, I> {
  return fromPromise<unknown, I>(async () => {
    throw new Error('signoff reviews are decided by people, not inside an XState actor');
  });
}

/** What a review child is invoked with; src/review/card.ts `reviewRequestSchema` checks it. */
export interface ReviewInput {
  title: string;
  fields?: { label: string; value: string }[];
  content: Record<string, string>;
  proposedAction?: { tool: string; method: string; host: string; fields: { name: string; old?: string; new: string }[] };
  costLabel?: string;
  channel?: string;
}

/** How the job that requests a review and later hands over its outcome is run. */
const REVIEW_JOB: Omit<Required<StepOptions>, 'run'> = { timeoutMs: 30_000, maxAttempts: 10, backoffMs: 1_000 };

export function defineFlow<I>(config: FlowConfig<I>): Flow<I> {
  if (!FLOW_ID.test(config.id)) {
    throw new SignoffError('flow_invalid', `flow id "${config.id}" must be kebab-case (a-z, 0-9, -)`);
  }
  const stepOptions = new Map<string, Required<StepOptions>>();
  for (const [name, def] of Object.entries({ ...config.steps, ...config.effects })) {
    stepOptions.set(name, normalizeStep(def));
  }
  const reviewPolicies = new Map<string, ReviewPolicy>();
  for (const [name, policy] of Object.entries(config.reviews ?? {})) {
    if (stepOptions.has(name)) throw new SignoffError('flow_invalid', `flow "${config.id}": "${name}" is both a step and a review`);
    reviewPolicies.set(name, parsePolicy(policy));
    stepOptions.set(name, { ...REVIEW_JOB, run: reviewRunsInTheDesk });
  }
  for (const src of invokedSources(config.machine.root)) {
    if (!config.steps[src] && !reviewPolicies.has(src)) {
      throw new SignoffError('flow_invalid', `flow "${config.id}" invokes "${src}", which is not in its steps or reviews`);
    }
  }
  return Object.freeze({ ...config, version: hashMachine(config.machine), stepOptions, reviewPolicies });
}

async function reviewRunsInTheDesk(): Promise<never> {
  throw new SignoffError('step_not_found', 'reviews need the review desk; start the engine with one');
}

export function normalizeStep(def: StepDefinition): Required<StepOptions> {
  const opts = typeof def === 'function' ? { run: def } : def;
  return { timeoutMs: 60_000, maxAttempts: 3, backoffMs: 1_000, ...opts };
}

function invokedSources(node: AnyStateNode): string[] {
  const own = node.invoke.map((inv) => {
    if (typeof inv.src !== 'string') {
      throw new SignoffError('flow_invalid', `state "${node.id}" invokes an inline actor; name a step instead`);
    }
    return inv.src;
  });
  return own.concat(Object.values(node.states).flatMap((child) => invokedSources(child)));
}

/**
 * A stable hash of the machine config. Functions (guards, assigns, inputs) are
 * hashed by their source text, so editing one changes the version.
 */
export function hashMachine(machine: AnyStateMachine): string {
  const text = JSON.stringify(machine.config, (_key, value: unknown) => {
    if (typeof value === 'function') return `fn:${value.toString()}`;
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      return Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return value;
  });
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}
