/** The demo flow's machine through the engine's pure decider: no database. */
import { describe, expect, it } from 'vitest';
import { decideEvent, decideStart } from '../../src/engine/decide.ts';
import flow from '../fixtures/flows/draft-approve.flow.ts';

const input = { subject: 'VAT', body: 'Missing VAT line' };

describe('draft-approve', () => {
  it('starts by invoking the draft step with the request', () => {
    const d = decideStart(flow, 'r1', input);
    expect(d.snapshot.value).toBe('drafting');
    expect(d.status).toBe('running');
    expect(d.jobs).toEqual([{ key: 'r1:draft:1', kind: 'step', name: 'draft', childId: 'draft', input }]);
    expect(d.snapshot.children).toEqual({ draft: { src: 'draft', job: 'r1:draft:1' } });
  });

  it('waits for a decision once the draft is done, with no job left', () => {
    const start = decideStart(flow, 'r1', input);
    const d = decideEvent(
      flow,
      'r1',
      2,
      start.snapshot,
      { type: 'xstate.done.actor.draft', output: { text: 'hi' } } as any,
      'draft',
    );
    expect([d.snapshot.value, d.status, d.jobs.length]).toEqual(['awaitingDecision', 'waiting', 0]);
    expect(d.snapshot.children).toEqual({});
    expect((d.snapshot.context as any).draft).toEqual({ text: 'hi' });
  });

  it('applies an approval and ignores events the state does not take', () => {
    const start = decideStart(flow, 'r1', input);
    const waiting = decideEvent(
      flow,
      'r1',
      2,
      start.snapshot,
      { type: 'xstate.done.actor.draft', output: { text: 'hi' } } as any,
      'draft',
    );
    expect(decideEvent(flow, 'r1', 3, waiting.snapshot, { type: 'ticket.updated' }).changed).toBe(false);
    const approved = decideEvent(flow, 'r1', 3, waiting.snapshot, { type: 'review.approved', by: 'U1' } as any);
    expect(approved.snapshot.value).toBe('applying');
    expect(approved.jobs.map((j) => j.key)).toEqual(['r1:apply:3']);
  });

  it('ends rejected without applying anything', () => {
    const start = decideStart(flow, 'r1', input);
    const waiting = decideEvent(
      flow,
      'r1',
      2,
      start.snapshot,
      { type: 'xstate.done.actor.draft', output: { text: 'hi' } } as any,
      'draft',
    );
    const rejected = decideEvent(flow, 'r1', 3, waiting.snapshot, {
      type: 'review.rejected',
      by: 'U2',
      reason: 'tone',
    } as any);
    expect([rejected.status, rejected.jobs.length, rejected.output]).toEqual([
      'done',
      0,
      { decision: 'review.rejected', result: null },
    ]);
  });
});
