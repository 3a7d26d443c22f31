/**
 * XState's `setup`, with one addition: the events of every review in `actors`
 * join the machine's events, typed from that review's content, so a flow
 * author writes `on: { 'review.approved': … }` and reads `event.content.reply`
 * without declaring any event type. Everything else is XState's own `setup`.
 */
import {
  setup as xstateSetup,
  type AnyEventObject,
  type EventObject,
  type MachineContext,
  type MetaObject,
  type NonReducibleUnknown,
  type ParameterizedObject,
  type SetupReturn,
  type UnknownActorLogic,
} from 'xstate';
import type { Review, ReviewContent, ReviewEvent } from './review.ts';

/** The events of the reviews among `TActors` (never when there are none). */
export type ReviewEventsOf<TActors> = {
  [K in keyof TActors]: TActors[K] extends Review<infer C extends ReviewContent> ? ReviewEvent<C> : never;
}[keyof TActors];

/** The machine's events; with none declared and no reviews, any event (as XState's own `setup`). */
type MachineEvents<TEvent extends AnyEventObject, TActors> = [TEvent | ReviewEventsOf<TActors>] extends [never]
  ? AnyEventObject
  : TEvent | ReviewEventsOf<TActors>;

type Params = Record<string, ParameterizedObject['params'] | undefined>;

export function setup<
  TContext extends MachineContext,
  TEvent extends AnyEventObject = never,
  TActors extends Record<string, UnknownActorLogic> = {},
  TChildrenMap extends Record<string, string> = {},
  TActions extends Params = {},
  TGuards extends Params = {},
  TDelay extends string = never,
  TTag extends string = string,
  TInput = NonReducibleUnknown,
  TOutput extends NonReducibleUnknown = NonReducibleUnknown,
  TEmitted extends EventObject = EventObject,
  TStateMeta extends MetaObject = MetaObject,
>(
  config: Parameters<
    typeof xstateSetup<
      TContext,
      TEvent | ReviewEventsOf<TActors>,
      TActors,
      TChildrenMap,
      TActions,
      TGuards,
      TDelay,
      TTag,
      TInput,
      TOutput,
      TEmitted,
      TStateMeta
    >
  >[0],
): SetupReturn<
  TContext,
  MachineEvents<TEvent, TActors>,
  TActors,
  TChildrenMap,
  TActions,
  TGuards,
  TDelay,
  TTag,
  TInput,
  TOutput,
  TEmitted,
  TStateMeta
> {
  return xstateSetup(config as never) as never;
}
