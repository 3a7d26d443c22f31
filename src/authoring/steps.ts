/**
 * Steps as flow authors declare them: once, as a value that is both the XState
 * actor logic `setup({ actors })` types the machine with and the code the
 * engine runs as a durable job. `defineFlow` finds the code again from
 * `machine.implementations.actors`. The actor itself never runs: the engine
 * runs steps as jobs, never inside an XState actor.
 *
 *   const draft = modelStep({ route: 'strong', prompt: new URL('./prompts/draft.md', import.meta.url),
 *                             output: Draft, vars: (i: DraftInput) => ({ subject: i.subject }) });
 *   const send = toolStep('zendesk.reply', (i: SendInput) => ({ ticketId: i.ticketId, body: i.reply }));
 *   const note = step(async (input: { text: string }, ctx) => ..., { maxAttempts: 5 });
 */
import { fileURLToPath } from 'node:url';
import { fromPromise, type AnyActorLogic, type PromiseActorLogic } from 'xstate';
import type { z } from 'zod';
import type { StepContext as EngineStepContext, StepOptions } from '../engine/flow.ts';
import { loadPrompt, renderPrompt } from '../steps/model/prompt.ts';
import type { ModelResult } from '../steps/model/types.ts';
import type { FlowServices } from '../steps/services.ts';

/** What a step is given besides its input: the engine's context, with typed model and tool calls. */
export interface StepContext extends Omit<EngineStepContext, 'services'> {
  services: FlowServices;
}

/** How often and how long a step is tried. */
export interface StepLimits {
  /** Per-attempt time limit. Default 60 000 ms. */
  timeoutMs?: number;
  /** Attempts before the error is fed to the flow (`onError`). Default 3. */
  maxAttempts?: number;
  /** First retry delay, doubled each attempt. Default 1 000 ms. */
  backoffMs?: number;
}

/** A step: typed actor logic for `setup({ actors })` that carries the code the engine runs. */
export type Step<I, O> = PromiseActorLogic<O, I>;

const implementations = new WeakMap<AnyActorLogic, StepOptions>();

/** A step running `run` as a durable job (retried on failure; its result recorded once). */
export function step<I, O>(run: (input: I, ctx: StepContext) => Promise<O>, limits: StepLimits = {}): Step<I, O> {
  const logic = fromPromise<O, I>(async () => {
    throw new Error('signoff steps run as engine jobs, not inside an XState actor');
  });
  implementations.set(logic, { ...limits, run: run as StepOptions['run'] });
  return logic;
}

/** The code and limits of a step made by this module; undefined for any other actor logic. */
export function stepImplementation(logic: AnyActorLogic): StepOptions | undefined {
  return implementations.get(logic);
}

export interface ModelStepOptions<I, T> {
  /** `cheap` (classification), `strong` (drafting), another configured route, or a model id. */
  route: string;
  /** The prompt file (`## system` and `## user` sections with {{vars}}), beside the flow. */
  prompt: URL;
  /** The structured answer; a schema-invalid answer is retried once, then returned as `invalid`. */
  output: z.ZodType<T>;
  /** The prompt's variables, from the step's input. */
  vars: (input: I) => Record<string, string | undefined>;
  maxOutputTokens?: number;
  /** Per-attempt limit for the whole step (all its calls). Default 90 000 ms. */
  timeoutMs?: number;
  /**
   * Engine attempts. Default 8 (backoff 2 s doubling: about four minutes of a
   * provider outage is waited out); MODEL_MAX_CALLS_PER_STEP bounds the calls over all of them.
   */
  maxAttempts?: number;
  backoffMs?: number;
}

/** What a model step outputs: the validated answer (or why there is none), and what it cost. */
export type ModelStepOutput<T> = ModelResult<T>;

/** A step that asks a model for a structured answer, from a prompt file beside the flow. */
export function modelStep<I, T>(o: ModelStepOptions<I, T>): Step<I, ModelStepOutput<T>> {
  const path = fileURLToPath(o.prompt);
  const schemaName = path
    .replace(/^.*\//, '')
    .replace(/\.md$/, '')
    .replace(/[^a-zA-Z0-9_-]/g, '_')
    .slice(0, 64);
  return step<I, ModelStepOutput<T>>(
    async (input, ctx) => {
      const { system, prompt } = renderPrompt(await loadPrompt(path), o.vars(input));
      return ctx.services.generate({
        route: o.route,
        system,
        prompt,
        schema: o.output,
        schemaName,
        ...(o.maxOutputTokens ? { maxOutputTokens: o.maxOutputTokens } : {}),
      });
    },
    { timeoutMs: o.timeoutMs ?? 90_000, maxAttempts: o.maxAttempts ?? 8, backoffMs: o.backoffMs ?? 2_000 },
  );
}

/** A step that calls one tool (which the flow must list in `tools`) with arguments built from its input. */
export function toolStep<I, O = unknown>(
  tool: string,
  args: (input: I) => unknown,
  limits: StepLimits = {},
): Step<I, O> {
  return step<I, O>(async (input, ctx) => (await ctx.services.callTool(tool, args(input))) as O, {
    timeoutMs: limits.timeoutMs ?? 60_000,
    maxAttempts: limits.maxAttempts ?? 5,
    backoffMs: limits.backoffMs ?? 2_000,
  });
}
