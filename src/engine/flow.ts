/**
 * What the engine knows of a flow: an XState machine that decides, the named
 * steps and effects it runs on the machine's behalf as durable jobs, and the
 * names of its reviews (their policies are opaque here: the review desk reads
 * them). Flow authors do not call `compileFlow`: they write
 * `defineFlow` from src/authoring, which builds the spec from the machine.
 * This module imports nothing from src/steps or src/review.
 */
import { createHash } from 'node:crypto';
import { createMachine, type AnyStateMachine, type AnyStateNode } from 'xstate';
import type { z } from 'zod';
import { SignoffError } from '../errors.ts';

export { blockedError, retryLater, type BlockReason } from '../errors.ts';

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

/**
 * What a step may call outside the engine. The engine only passes it through:
 * src/steps/services.ts builds it (with typed requests), src/authoring gives flow
 * authors that typed view. Declared as methods, so the typed version fits.
 */
export interface StepServices {
  /** Asks a model for a structured answer. */
  generate(req: unknown): Promise<unknown>;
  /** Calls a tool the flow lists in `tools`; its input is validated first. */
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

/** What starts a flow: `command` (src/triggers/commands.ts), `webhook` (src/triggers/webhooks/ingress.ts), `schedule`. */
export type TriggerSpec = CommandTrigger | WebhookTrigger | { kind: 'schedule'; cron: string; timezone?: string };

/**
 * `/signoff run <flow> key=value …`. `fields` are the input keys a person may type
 * (default: every key of the flow's input). A key only another trigger sets (ticket-triage's
 * `readFrom`, which makes the run read a ticket from the helpdesk) is left out, so nobody in
 * chat can point the bot at a record they name.
 */
export interface CommandTrigger {
  kind: 'command';
  name?: string;
  fields?: readonly string[];
}

/**
 * A verified webhook starts the flow: `POST /webhooks/<source>` with one of
 * `events` (as the source's preset names them: `ticket.created`,
 * `contact.creation`, `charge.dispute.created`; docs/webhooks.md). `input` maps
 * the event's payload to the flow's input, which is then checked against the
 * flow's schema; a payload it cannot map (throws, or fails the schema) is
 * dead-lettered. Keep it pure: it runs on the ingress, before the run exists.
 */
export interface WebhookTrigger {
  kind: 'webhook';
  /** A source name (`zendesk_eu`) or a preset name (`zendesk`: every source using that preset). */
  source: string;
  events: readonly string[];
  input: (payload: any) => unknown;
}

/** What `compileFlow` checks and freezes. */
export interface FlowSpec<I> {
  /** kebab-case, stable: it is stored on every run. */
  id: string;
  title: string;
  input: z.ZodType<I>;
  /** What starts it; a trigger kind the flow does not list refuses to start it. Default none. */
  triggers?: readonly TriggerSpec[];
  machine: AnyStateMachine;
  steps: Record<string, StepDefinition>;
  /** Named actions of the machine, run as at-least-once jobs after the transition commits. */
  effects?: Record<string, StepDefinition>;
  /** Named human reviews, by the `src` that invokes them, with their policies (opaque to the engine). */
  reviews?: Record<string, unknown>;
  /** The tools its steps may call (`zendesk.reply`, …); any other is refused by code (RELIABILITY 83). */
  tools?: string[];
  /** Most its model calls may cost per run, in US dollars, before a person must allow more. Default RUN_BUDGET_USD. */
  budgetUsd?: number;
}

export interface Flow<I = unknown> extends Readonly<Omit<FlowSpec<I>, 'reviews' | 'triggers'>> {
  readonly triggers: readonly TriggerSpec[];
  /** Hash of the machine definition; runs are pinned to the version they started on. */
  readonly version: string;
  readonly stepOptions: ReadonlyMap<string, Required<StepOptions>>;
  /** Each review's policy by name, as the flow's author module parsed it; the review desk reads it. */
  readonly reviewPolicies: ReadonlyMap<string, unknown>;
}

/**
 * An error a step throws when trying again cannot help (a 400, a refused request):
 * the engine feeds it to the flow at once instead of retrying.
 */
export function permanentError(message: string, cause?: unknown): SignoffError {
  return new SignoffError('step_failed', message, { cause, details: { retryable: false } });
}

const FLOW_ID = /^[a-z][a-z0-9-]{0,62}$/;

/** How the job that requests a review and later hands over its outcome is run. */
const REVIEW_JOB: Omit<Required<StepOptions>, 'run'> = { timeoutMs: 30_000, maxAttempts: 10, backoffMs: 1_000 };

/**
 * Checks a flow and freezes it: a kebab-case id, every invoked `src` a step or
 * a review, every invoke's id its `src` (filled in when left out), and the version hash.
 */
export function compileFlow<I>(spec: FlowSpec<I>): Flow<I> {
  if (!FLOW_ID.test(spec.id)) {
    throw new SignoffError('flow_invalid', `flow id "${spec.id}" must be kebab-case (a-z, 0-9, -)`);
  }
  const stepOptions = new Map<string, Required<StepOptions>>();
  for (const [name, def] of Object.entries({ ...spec.steps, ...spec.effects })) {
    stepOptions.set(name, normalizeStep(def));
  }
  const reviewPolicies = new Map<string, unknown>();
  for (const [name, policy] of Object.entries(spec.reviews ?? {})) {
    if (stepOptions.has(name))
      throw new SignoffError('flow_invalid', `flow "${spec.id}": "${name}" is both a step and a review`);
    reviewPolicies.set(name, policy);
    stepOptions.set(name, { ...REVIEW_JOB, run: reviewRunsInTheDesk });
  }
  const machine = withInvokeIds(spec.id, spec.machine);
  for (const src of invokedSources(machine.root)) {
    if (!spec.steps[src] && !reviewPolicies.has(src)) {
      throw new SignoffError(
        'flow_invalid',
        `flow "${spec.id}" invokes "${src}", which is not in its steps or reviews`,
      );
    }
  }
  const { reviews: _reviews, ...rest } = spec;
  return Object.freeze({
    ...rest,
    triggers: Object.freeze([...(spec.triggers ?? [])]),
    machine,
    version: hashMachine(machine),
    stepOptions,
    reviewPolicies,
  });
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

type ConfigNode = { invoke?: unknown; states?: Record<string, ConfigNode> } & Record<string, unknown>;

/**
 * The engine keys a step's job and its result event by the invoke's id, so the
 * id is the `src` (XState would otherwise make one up from the state path). An
 * id left out is filled in; one that differs is refused, so each step is named once.
 */
function withInvokeIds(flowId: string, machine: AnyStateMachine): AnyStateMachine {
  let filled = false;
  const visit = (node: ConfigNode, path: string): ConfigNode => {
    const copy: ConfigNode = { ...node };
    if (node.invoke !== undefined) {
      const list = (Array.isArray(node.invoke) ? node.invoke : [node.invoke]) as Record<string, unknown>[];
      const withIds = list.map((inv) => {
        if (typeof inv.src !== 'string') return inv;
        if (inv.id === undefined) {
          filled = true;
          return { ...inv, id: inv.src };
        }
        if (inv.id !== inv.src) {
          throw new SignoffError(
            'flow_invalid',
            `flow "${flowId}": state "${path}" invokes "${inv.src}" with id "${String(inv.id)}"; leave the id out (it is the src)`,
          );
        }
        return inv;
      });
      copy.invoke = Array.isArray(node.invoke) ? withIds : withIds[0];
    }
    if (node.states) {
      copy.states = Object.fromEntries(
        Object.entries(node.states).map(([key, child]) => [key, visit(child, path ? `${path}.${key}` : key)]),
      );
    }
    return copy;
  };
  const config = visit(machine.config as unknown as ConfigNode, '');
  return filled ? createMachine(config as never, machine.implementations as never) : machine;
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
