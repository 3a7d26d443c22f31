/**
 * `defineFlow`: a flow file's default export. The machine names everything
 * once: its steps and reviews are the actors of `setup({ actors })` (made by
 * ./steps.ts and ./review.ts), its effects the actions made by `effect()`.
 * This reads them back from the machine and hands the engine its spec.
 *
 *   export default defineFlow({ id: 'ticket-triage', title: '…', input: Ticket,
 *                               triggers: [{ kind: 'command' }], tools: ['zendesk.reply'], machine });
 */
import type { AnyActorLogic, AnyStateMachine } from 'xstate';
import type { z } from 'zod';
import { compileFlow, type Flow, type StepOptions, type TriggerSpec } from '../engine/flow.ts';
import { SignoffError } from '../errors.ts';
import { schedulesOf, type ScheduleTrigger } from '../triggers/schedules.ts';
import { reviewPolicy } from './review.ts';
import { stepImplementation, type StepContext, type StepLimits } from './steps.ts';

export interface FlowDefinition<I> {
  /** kebab-case, stable: it is stored on every run, and names the file (`<id>.flow.ts`). */
  id: string;
  /** One line, shown by `/signoff help`. */
  title: string;
  /** The run's input, checked before a run starts. */
  input: z.ZodType<I>;
  /** What starts it (`{ kind: 'command' }`: `/signoff run <id>`). A trigger not listed is refused. */
  triggers?: FlowTrigger[];
  /** The machine, from this module's `setup`; its actors are the flow's steps and reviews. */
  machine: AnyStateMachine;
  /** The tools its steps may call (`zendesk.reply`, …); any other is refused (RELIABILITY 83). */
  tools?: string[];
  /** Most its model calls may cost per run, in US dollars, before a person must allow more. Default RUN_BUDGET_USD. */
  budgetUsd?: number;
}

/** What may start a flow; a schedule also says its zone, its run's input, and where it posts. */
export type FlowTrigger = Exclude<TriggerSpec, { kind: 'schedule' }> | ScheduleTrigger;

const effects = new WeakMap<object, StepOptions>();

/**
 * A named action of the machine that does I/O: XState sees a no-op, and the
 * engine runs `run` as an at-least-once job after the transition commits.
 */
export function effect<P = unknown>(
  run: (params: P, ctx: StepContext) => Promise<unknown>,
  limits: StepLimits = {},
): () => void {
  const action = () => {};
  effects.set(action, { ...limits, run: run as StepOptions['run'] });
  return action;
}

export function defineFlow<I>(def: FlowDefinition<I>): Flow<I> {
  const steps: Record<string, StepOptions> = {};
  const reviews: Record<string, unknown> = {};
  for (const [name, entry] of Object.entries(def.machine.implementations.actors)) {
    const logic = ('src' in entry ? entry.src : entry) as AnyActorLogic;
    const impl = stepImplementation(logic);
    const policy = reviewPolicy(logic);
    if (impl) steps[name] = impl;
    else if (policy) reviews[name] = policy;
    else
      throw invalid(
        def.id,
        `actor "${name}" is not a step or a review; make it with step(), modelStep(), toolStep() or review()`,
      );
  }
  const named: Record<string, StepOptions> = {};
  for (const [name, action] of Object.entries(def.machine.implementations.actions)) {
    const impl = typeof action === 'function' ? effects.get(action) : undefined;
    if (impl) named[name] = impl;
  }
  // A bad cron expression or zone is refused when the flow loads, not at its first tick.
  schedulesOf([{ id: def.id, triggers: def.triggers ?? [] }]);
  return compileFlow({ ...def, steps, reviews, effects: named });
}

function invalid(flowId: string, message: string): SignoffError {
  return new SignoffError('flow_invalid', `flow "${flowId}": ${message}`);
}
