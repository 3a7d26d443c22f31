/**
 * The composition patterns (test/helpers/flows/pattern-flows.ts) through the
 * engine's pure decider, no database: which step jobs each transition asks
 * for, which it cancels, and where the run ends. test/integration/engine/
 * patterns.test.ts runs the same flows on a real engine.
 */
import { describe, expect, it } from 'vitest';
import type { EventObject } from 'xstate';
import { decideEvent, decideStart, type Decision } from '../../src/engine/decide.ts';
import type { Flow } from '../../src/engine/flow.ts';
import { fanOutFlow, routingFlow, sequenceFlow } from '../helpers/flows/pattern-flows.ts';
import type { StepEnv } from '../helpers/flows/test-flows.ts';

// The decider never runs a step, so the steps' connection is never used.
const env = { sql: undefined, worker: 'decider' } as unknown as StepEnv;

/** Drives a run through events, each applied to the snapshot the previous decision stored. */
function drive(flow: Flow<any>, input: unknown, ...events: [EventObject, string?][]): Decision[] {
  const decisions = [decideStart(flow, 'r', input)];
  for (const [event, child] of events)
    decisions.push(decideEvent(flow, 'r', decisions.length + 1, decisions.at(-1)!.snapshot, event, child));
  return decisions;
}
const done = (id: string, output: unknown): [EventObject, string] => [
  { type: `xstate.done.actor.${id}`, output } as EventObject,
  id,
];
const failed = (id: string, message: string): [EventObject, string] => [
  { type: `xstate.error.actor.${id}`, error: { message } } as EventObject,
  id,
];
const jobsOf = (d: Decision) => d.jobs.map((j) => [j.kind, j.name, j.input]);
const category = (c: string) => ({
  value: { category: c },
  model: 'cheap',
  offline: false,
  usage: { inputTokens: 1, outputTokens: 1 },
  costUsd: 0,
});

describe('sequence', () => {
  it('runs each step after the one before, with its output', () => {
    const d = drive(
      sequenceFlow(env),
      { text: 'a' },
      done('first', 'a>first'),
      done('second', 'a>first>second'),
      done('third', 'a>first>second>third'),
    );
    expect(d.map(jobsOf)).toEqual([
      [['step', 'first', 'a']],
      [['step', 'second', 'a>first']],
      [['step', 'third', 'a>first>second']],
      [],
    ]);
    expect([d[3]!.status, d[3]!.output]).toEqual(['done', { text: 'a>first>second>third' }]);
  });
});

describe('fan-out (parallel state)', () => {
  const flow = fanOutFlow(env);
  const input = { topic: 't', failRight: false };

  it('asks for both steps in one transition, as two jobs with their own keys', () => {
    const [start] = drive(flow, input);
    expect(start!.jobs.map((j) => [j.key, j.name])).toEqual([
      ['r:left:1', 'left'],
      ['r:right:1', 'right'],
    ]);
    expect(start!.snapshot.children).toEqual({
      left: { src: 'left', job: 'r:left:1' },
      right: { src: 'right', job: 'r:right:1' },
    });
  });

  it('joins when both have finished, in either order', () => {
    for (const order of [
      ['left', 'right'],
      ['right', 'left'],
    ] as const) {
      const d = drive(flow, input, ...order.map((side) => done(side, `${side}:t`)));
      expect([d[1]!.status, d[1]!.snapshot.value]).toEqual([
        'running',
        {
          gathering: {
            left: order[0] === 'left' ? 'finished' : 'working',
            right: order[0] === 'right' ? 'finished' : 'working',
          },
        },
      ]);
      expect([d[2]!.status, d[2]!.snapshot.value, d[2]!.output]).toEqual([
        'done',
        'joined',
        { left: 'left:t', right: 'right:t', error: '' },
      ]);
    }
  });

  it('takes the failed path when one fails, and cancels the other job', () => {
    const d = drive(flow, { ...input, failRight: true }, failed('right', 'refused (400)'));
    expect([d[1]!.status, d[1]!.snapshot.value, d[1]!.cancelJobs]).toEqual(['done', 'failed', ['r:left:1']]);
    expect(d[1]!.output).toEqual({ left: '', right: '', error: 'refused (400)' });
  });
});

describe('routing with a review', () => {
  const flow = routingFlow(env);
  const ticket = { subject: 'Charged twice', body: 'twice in May' };

  it('routes a refund to a person first, and refunds what they approved', () => {
    const d = drive(flow, ticket, done('classify', category('refund')), [
      {
        type: 'review.approved',
        reviewId: 'rv',
        by: ['bob'],
        content: { note: 'refund $10' },
        contentSha256: 'h',
        version: 2,
        decidedAt: null,
      } as EventObject,
    ]);
    expect(jobsOf(d[1]!)).toEqual([
      ['review', 'refundReview', { title: 'Refund: Charged twice', content: { note: 'refund for "Charged twice"' } }],
    ]);
    expect(d[1]!.status).toBe('waiting');
    expect(jobsOf(d[2]!)).toEqual([['step', 'refund', 'refund $10']]);
  });

  it('sends a bug straight to its step, and anything else to the end', () => {
    expect(jobsOf(drive(flow, ticket, done('classify', category('bug')))[1]!)).toEqual([
      ['step', 'fileBug', 'twice in May'],
    ]);
    const other = drive(flow, ticket, done('classify', category('other')))[1]!;
    expect([other.status, other.snapshot.value, other.output]).toEqual([
      'done',
      'answered',
      { category: 'other', result: '' },
    ]);
  });
});
