/**
 * The authoring module (src/authoring): a step or review is declared once, as
 * the machine's actor, and defineFlow finds it there; invoke ids are their
 * src; review events are typed from the review's content (checked by tsc:
 * the `@ts-expect-error` lines fail the type check if the typing loosens).
 */
import { describe, expect, it } from 'vitest';
import { fromPromise } from 'xstate';
import { z } from 'zod';
import { assign, defineFlow, effect, review, setup, step } from '../../src/authoring/index.ts';
import { isSignoffError } from '../../src/errors.ts';

const input = z.object({ text: z.string() });
const draft = step(async (i: { text: string }) => `re: ${i.text}`, { maxAttempts: 4 });
const check = review<{ reply: string }>({ approvers: { groups: ['leads'] }, expiresInMs: 60_000 });

function machineWith(invoke: Record<string, unknown>) {
  return setup({ actors: { draft } }).createMachine({
    id: 'm',
    initial: 'a',
    states: { a: { invoke: invoke as never }, b: { type: 'final' } },
  });
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('defineFlow', () => {
  it('finds steps and reviews in the machine, with their options and policies, and fills invoke ids from src', () => {
    const machine = setup({
      types: {} as { input: { text: string }; context: { text: string; reply: string } },
      actors: { draft, check },
      actions: { notify: effect(async () => 'told') },
    }).createMachine({
      id: 'once',
      context: ({ input }) => ({ text: input.text, reply: '' }),
      initial: 'drafting',
      states: {
        drafting: {
          invoke: {
            src: 'draft',
            input: ({ context }) => ({ text: context.text }),
            onDone: { target: 'checking', actions: assign({ reply: ({ event }) => event.output }) },
          },
        },
        checking: {
          invoke: { src: 'check', input: ({ context }) => ({ title: 'Check', content: { reply: context.reply } }) },
          on: {
            'review.approved': { target: 'done', actions: assign({ reply: ({ event }) => event.content.reply }) },
            // @ts-expect-error: the review's content has no `nope`
            'review.rejected': { target: 'done', actions: assign({ reply: ({ event }) => event.content.nope }) },
          },
        },
        done: { type: 'final', entry: 'notify' },
      },
    });
    const flow = defineFlow({ id: 'once', title: 'Declared once', input, machine });
    expect([...flow.stepOptions.keys()].sort()).toEqual(['check', 'draft', 'notify']);
    expect(flow.stepOptions.get('draft')).toMatchObject({ maxAttempts: 4, timeoutMs: 60_000, backoffMs: 1_000 });
    expect(flow.reviewPolicies.get('check')).toMatchObject({
      approvers: { groups: ['leads'] },
      expiresInMs: 60_000,
      quorum: 1,
    });
    expect(Object.keys(flow.effects ?? {})).toEqual(['notify']);
    expect(flow.machine.root.states.drafting!.invoke.map((i) => i.id)).toEqual(['draft']);
    expect(flow.triggers).toEqual([]);
  });

  it('refuses an invoke whose id is not its src', () => {
    const err = thrown(() =>
      defineFlow({ id: 'bad-id', title: 'x', input, machine: machineWith({ src: 'draft', id: 'other' }) }),
    );
    expect(isSignoffError(err, 'flow_invalid') && err.message).toBe(
      'flow "bad-id": state "a" invokes "draft" with id "other"; leave the id out (it is the src)',
    );
  });

  it('refuses an actor that is not a step or a review', () => {
    const machine = setup({ actors: { stray: fromPromise(async () => 1) } }).createMachine({
      id: 'm',
      initial: 'a',
      states: { a: { invoke: { src: 'stray' } } },
    });
    const err = thrown(() => defineFlow({ id: 'stray', title: 'x', input, machine }));
    expect(isSignoffError(err, 'flow_invalid') && err.message).toMatch(
      /^flow "stray": actor "stray" is not a step or a review/,
    );
  });

  it('refuses a bad review policy when the review is declared', () => {
    const err = thrown(() => review({ remindAtMs: [1_000] }));
    expect(isSignoffError(err, 'flow_invalid')).toBe(true);
  });
});
