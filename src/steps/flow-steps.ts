/**
 * Model and tool steps for flow files. Each returns the step options a flow
 * puts in `steps`; the work happens through `ctx.services` when the engine
 * runs the job, so flow files stay free of I/O and credentials.
 *
 *   steps: {
 *     draft: modelStep({ route: 'strong', prompt: new URL('./prompts/draft.md', import.meta.url),
 *                        output: Draft, vars: (i) => ({ subject: i.ticket.subject }) }),
 *     send: toolStep('zendesk.reply', (i) => ({ ticketId: i.ticketId, body: i.reply })),
 *   }
 */
import { fileURLToPath } from 'node:url';
import type { z } from 'zod';
import type { StepOptions } from '../engine/flow.ts';
import { loadPrompt, renderPrompt } from './model/prompt.ts';
import type { ModelResult } from './model/types.ts';

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

export function modelStep<I, T>(o: ModelStepOptions<I, T>): StepOptions<I, ModelStepOutput<T>> {
  const path = fileURLToPath(o.prompt);
  const schemaName = path.replace(/^.*\//, '').replace(/\.md$/, '').replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 64);
  return {
    timeoutMs: o.timeoutMs ?? 90_000,
    maxAttempts: o.maxAttempts ?? 8,
    backoffMs: o.backoffMs ?? 2_000,
    run: async (input, ctx) => {
      const { system, prompt } = renderPrompt(await loadPrompt(path), o.vars(input));
      return ctx.services.generate({
        route: o.route, system, prompt, schema: o.output, schemaName, ...(o.maxOutputTokens ? { maxOutputTokens: o.maxOutputTokens } : {}),
      });
    },
  };
}

export interface ToolStepOptions { timeoutMs?: number; maxAttempts?: number; backoffMs?: number }

/** A step that calls one tool (which the flow must list in `tools`) with arguments built from its input. */
export function toolStep<I, O = unknown>(tool: string, args: (input: I) => unknown, o: ToolStepOptions = {}): StepOptions<I, O> {
  return {
    timeoutMs: o.timeoutMs ?? 60_000,
    maxAttempts: o.maxAttempts ?? 5,
    backoffMs: o.backoffMs ?? 2_000,
    run: async (input, ctx) => (await ctx.services.callTool(tool, args(input))) as O,
  };
}
