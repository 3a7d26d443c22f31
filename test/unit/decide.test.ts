/** The decider's mapping of XState actions to durable work, on small machines. */
import { setup } from 'xstate';
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { decideEvent, decideStart } from '../../src/engine/decide.ts';
import { compileFlow as defineFlow, hashMachine } from '../../src/engine/flow.ts';
import { slot as step } from '../helpers/flows/slot.ts';
import { isSignoffError } from '../../src/errors.ts';

const noop = async () => null;

function timedFlow() {
  const machine = setup({ actors: { work: step() } }).createMachine({
    id: 'timed',
    initial: 'waiting',
    states: {
      waiting: { after: { 5000: 'expired' }, on: { go: 'working' } },
      working: {
        invoke: { src: 'work', id: 'work' },
        after: { 1000: 'expired' },
        on: { again: { target: 'working', reenter: true } },
      },
      expired: { type: 'final' },
    },
  });
  return defineFlow({ id: 'timed', title: 't', input: z.object({}), machine, steps: { work: noop } });
}

describe('decide', () => {
  it('turns an `after` into a timer and cancels it when the state is left', () => {
    const flow = timedFlow();
    const start = decideStart(flow, 'r', {});
    expect(start.timers).toEqual([
      { sendId: 'xstate.after.5000.timed.waiting', event: { type: 'xstate.after.5000.timed.waiting' }, delayMs: 5000 },
    ]);
    const go = decideEvent(flow, 'r', 2, start.snapshot, { type: 'go' });
    expect(go.cancelTimers).toEqual(['xstate.after.5000.timed.waiting']);
    expect(go.jobs.map((j) => j.key)).toEqual(['r:work:2']);
  });

  it('cancels the old job when a step is re-invoked, and a pending one when its state times out', () => {
    const flow = timedFlow();
    const working = decideEvent(flow, 'r', 2, decideStart(flow, 'r', {}).snapshot, { type: 'go' });
    const again = decideEvent(flow, 'r', 3, working.snapshot, { type: 'again' });
    expect(again.cancelJobs).toEqual(['r:work:2']);
    expect(again.snapshot.children).toEqual({ work: { src: 'work', job: 'r:work:3' } });
    const expired = decideEvent(flow, 'r', 4, again.snapshot, { type: 'xstate.after.1000.timed.working' });
    expect([expired.status, expired.cancelJobs, expired.snapshot.children]).toEqual(['done', ['r:work:3'], {}]);
  });

  it('runs named actions as effect jobs and refuses unregistered ones', () => {
    const machine = setup({ actions: { notify: () => {} } }).createMachine({
      id: 'fx',
      initial: 'a',
      states: { a: { entry: 'notify' } },
    });
    const withEffect = defineFlow({
      id: 'fx',
      title: 'fx',
      input: z.object({}),
      machine,
      steps: {},
      effects: { notify: noop },
    });
    expect(decideStart(withEffect, 'r', {}).jobs).toEqual([
      { key: 'r:fx-notify:1:0', kind: 'effect', name: 'notify', childId: null, input: null },
    ]);
    const without = defineFlow({ id: 'fx', title: 'fx', input: z.object({}), machine, steps: {} });
    expect(() => decideStart(without, 'r', {})).toThrow(/not a registered effect/);
  });

  it('refuses a flow that invokes a step it does not define', () => {
    const machine = setup({ actors: { ghost: step() } }).createMachine({
      id: 'g',
      initial: 'a',
      states: { a: { invoke: { src: 'ghost' } } },
    });
    try {
      defineFlow({ id: 'g', title: 'g', input: z.object({}), machine, steps: {} });
      expect.unreachable();
    } catch (err) {
      expect(isSignoffError(err, 'flow_invalid')).toBe(true);
    }
  });

  it('versions a flow by its machine: editing a guard changes the hash', () => {
    const make = (limit: number) =>
      setup({}).createMachine({
        id: 'v',
        initial: 'a',
        context: { n: 0 },
        states: { a: { on: { go: { target: 'b', guard: ({ context }) => context.n < limit } } }, b: {} },
      });
    expect(hashMachine(make(1))).toBe(hashMachine(make(1)));
    expect(hashMachine(timedFlow().machine)).not.toBe(hashMachine(make(1)));
  });
});
