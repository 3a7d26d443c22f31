/**
 * The pure half of the engine: given a flow, a stored snapshot and an event,
 * compute the next stored snapshot and the durable work the transition asks for
 * (DESIGN §2). No I/O, no clock: the store commits what this returns.
 *
 * XState's `resolveState` drops a snapshot's children, so the stored snapshot
 * keeps its own `children` map ({ id: { src, job } }): the step jobs that are
 * current for the run. A step result is accepted only from the job named there.
 */
import { initialTransition, transition, type AnyMachineSnapshot, type EventObject } from 'xstate';
import { SignoffError } from '../errors.ts';
import type { Flow } from './flow.ts';

export type RunStatus = 'running' | 'waiting' | 'done' | 'failed' | 'cancelled' | 'parked';

/** A running child: a step job, or a review waiting for people (`isReview`). */
export interface StoredChild {
  src: string;
  job: string;
  isReview?: boolean;
}

/** The JSON stored in runs.snapshot. */
export interface StoredSnapshot {
  status: 'active' | 'done' | 'error' | 'stopped';
  value: unknown;
  context: unknown;
  historyValue?: unknown;
  output?: unknown;
  error?: unknown;
  children: Record<string, StoredChild>;
}

export interface JobSpec {
  key: string;
  kind: 'step' | 'effect' | 'review';
  name: string;
  childId: string | null;
  input: unknown;
}
export interface TimerSpec {
  sendId: string;
  event: EventObject;
  delayMs: number;
}

export interface Decision {
  snapshot: StoredSnapshot;
  status: RunStatus;
  output: unknown;
  jobs: JobSpec[];
  timers: TimerSpec[];
  cancelTimers: string[];
  /** Keys of step jobs no longer current (their state was left, or re-invoked): cancel if open. */
  cancelJobs: string[];
  /** False when the current state ignored the event: nothing to commit. */
  changed: boolean;
  /** The unhandled error when a step failure took the machine to status `error`. */
  machineError: unknown;
}

const IGNORED_ACTIONS = new Set(['xstate.log', 'xstate.emit', 'xstate.assign']);

/** The first transition of a new run. `seq` is the version the run is created at (1). */
export function decideStart(flow: Flow, runId: string, input: unknown): Decision {
  const [next, actions] = initialTransition(flow.machine, input);
  return finish(flow, runId, 1, {}, next, actions);
}

/**
 * The next transition of a run at version `seq - 1`. `completedChild` names the
 * step whose result `event` is: it is no longer running, whatever the machine does.
 */
export function decideEvent(
  flow: Flow,
  runId: string,
  seq: number,
  stored: StoredSnapshot,
  event: EventObject,
  completedChild?: string,
): Decision {
  const current = restore(flow, stored);
  const [next, actions] = transition(flow.machine, current, event);
  if (next === current) {
    return { ...emptyDecision(stored), changed: false };
  }
  const children = { ...stored.children };
  if (completedChild) delete children[completedChild];
  return finish(flow, runId, seq, children, next, actions);
}

/** Rebuilds an XState snapshot from stored JSON; throws when its state no longer exists. */
export function restore(flow: Flow, stored: StoredSnapshot): AnyMachineSnapshot {
  return flow.machine.resolveState({
    value: stored.value as never,
    context: stored.context as never,
    historyValue: stored.historyValue as never,
    status: stored.status,
    output: stored.output as never,
    error: stored.error,
  });
}

function emptyDecision(stored: StoredSnapshot): Omit<Decision, 'changed'> {
  return {
    snapshot: stored,
    status: 'waiting',
    output: undefined,
    jobs: [],
    timers: [],
    cancelTimers: [],
    cancelJobs: [],
    machineError: undefined,
  };
}

function finish(
  flow: Flow,
  runId: string,
  seq: number,
  prevChildren: Record<string, StoredChild>,
  next: AnyMachineSnapshot,
  actions: readonly { type: string; params?: unknown }[],
): Decision {
  const children = { ...prevChildren };
  const persisted = flow.machine.getPersistedSnapshot(next) as unknown as Omit<StoredSnapshot, 'children'>;
  const d: Decision = { ...emptyDecision({ ...persisted, children }), changed: true };
  actions.forEach((action, index) => collect(flow, runId, seq, index, action, children, d));
  // stopChild names no child after resolveState (it has none), so drop the
  // children whose invoking state is no longer active ourselves.
  const invoked = new Set(next._nodes.flatMap((node) => node.invoke.map((inv) => inv.id)));
  for (const [id, child] of Object.entries(children)) {
    if (invoked.has(id)) continue;
    d.cancelJobs.push(child.job);
    delete children[id];
  }
  d.status = statusOf(next.status, children);
  d.output = next.status === 'done' ? next.output : undefined;
  d.machineError = next.status === 'error' ? next.error : undefined;
  return d;
}

function collect(
  flow: Flow,
  runId: string,
  seq: number,
  index: number,
  action: { type: string; params?: unknown },
  children: Record<string, StoredChild>,
  d: Decision,
): void {
  const p = (action.params ?? {}) as Record<string, any>;
  switch (action.type) {
    case 'xstate.spawnChild': {
      const src = p.src;
      if (typeof src !== 'string') throw invalid(flow, `an inline actor was spawned; name a step instead`);
      const key = `${runId}:${p.id}:${seq}`;
      const isReview = flow.reviewPolicies.has(src);
      if (children[p.id]) d.cancelJobs.push(children[p.id]!.job);
      children[p.id] = isReview ? { src, job: key, isReview } : { src, job: key };
      d.jobs.push({ key, kind: isReview ? 'review' : 'step', name: src, childId: p.id, input: p.input ?? null });
      return;
    }
    case 'xstate.stopChild':
      return; // handled from the active state nodes in finish()
    case 'xstate.raise':
      if (p.delay !== undefined) d.timers.push({ sendId: p.id ?? p.event.type, event: p.event, delayMs: p.delay });
      return;
    case 'xstate.cancel':
      d.cancelTimers.push(p.sendId);
      return;
    case 'xstate.sendTo':
    case 'xstate.sendParent':
      throw invalid(flow, `sendTo/sendParent are not supported; model the message as a step or an effect`);
    default:
      if (IGNORED_ACTIONS.has(action.type)) return;
      if (!flow.effects?.[action.type]) {
        throw invalid(
          flow,
          `action "${action.type}" is not a registered effect (machines do no I/O; declare it in effects)`,
        );
      }
      d.jobs.push({
        key: `${runId}:fx-${action.type}:${seq}:${index}`,
        kind: 'effect',
        name: action.type,
        childId: null,
        input: action.params ?? null,
      });
  }
}

function statusOf(machineStatus: string, children: Record<string, StoredChild>): RunStatus {
  if (machineStatus === 'done') return 'done';
  if (machineStatus === 'error') return 'failed';
  return activeStatus(children);
}

/** `running` while a step is in flight; `waiting` when only people (reviews) or events are awaited. */
export function activeStatus(children: Record<string, StoredChild>): 'running' | 'waiting' {
  return Object.values(children).some((child) => !child.isReview) ? 'running' : 'waiting';
}

function invalid(flow: Flow, message: string): SignoffError {
  return new SignoffError('flow_invalid', `flow "${flow.id}": ${message}`);
}
