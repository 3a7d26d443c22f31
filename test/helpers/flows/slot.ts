/**
 * A typed stand-in actor for engine tests that pass their steps to the
 * engine's `compileFlow` separately (their step bodies depend on the process,
 * while the machine must be the same module constant in every process). Flow
 * files use src/authoring instead, where a step is declared once.
 */
import { fromPromise, type PromiseActorLogic } from 'xstate';

export function slot<I = unknown, O = unknown>(): PromiseActorLogic<O, I> {
  return fromPromise<O, I>(async () => {
    throw new Error('signoff steps run as engine jobs, not inside an XState actor');
  });
}
