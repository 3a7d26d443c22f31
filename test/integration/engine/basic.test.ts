import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../../src/engine/engine.ts';
import demo from '../../fixtures/flows/draft-approve.flow.ts';
import { useTestDb } from '../../helpers/db.ts';

const db = useTestDb();
let engine: Engine;

beforeAll(async () => {
  engine = new Engine({ sql: db.sql, schema: db.schema, flows: [demo], pollMs: 200 });
  await engine.start();
});
afterAll(async () => {
  await engine.stop(1_000);
});

describe('a run from start to finish', () => {
  it('drafts, waits for a decision, applies it, and records every transition', async () => {
    const { runId, isNew } = await engine.startRun('draft-approve', { subject: 'VAT', body: 'Missing VAT line' });
    expect(isNew).toBe(true);
    const waiting = await engine.waitFor(runId, ['waiting']);
    expect(waiting.state).toBe('awaitingDecision');

    await engine.send(runId, { type: 'review.approved', by: 'U1' }, { actor: 'U1', dedupeKey: 'decision' });
    const done = await engine.waitFor(runId, ['done']);
    expect(done.output).toEqual({ decision: 'review.approved', result: { sent: true } });

    const events = await engine.timeline(runId);
    expect(events.map((e) => [e.seq, e.type, e.state_after])).toEqual([
      [1, 'xstate.init', 'drafting'],
      [2, 'xstate.done.actor.draft', 'awaitingDecision'],
      [3, 'review.approved', 'applying'],
      [4, 'xstate.done.actor.apply', 'done'],
    ]);
    const jobs = await db.sql`SELECT name, status, attempts FROM jobs WHERE run_id = ${runId} ORDER BY created_at`;
    expect(jobs.map((j) => [j.name, j.status, j.attempts])).toEqual([
      ['draft', 'done', 1],
      ['apply', 'done', 1],
    ]);
  });

  it('applies a decision once when it is delivered twice', async () => {
    const { runId } = await engine.startRun('draft-approve', { subject: 'a', body: 'b' });
    await engine.waitFor(runId, ['waiting']);
    const first = await engine.send(runId, { type: 'review.approved', by: 'U1' }, { dedupeKey: 'd1' });
    const second = await engine.send(runId, { type: 'review.approved', by: 'U1' }, { dedupeKey: 'd1' });
    expect([first.duplicate, second.duplicate]).toEqual([false, true]);
    await engine.waitFor(runId, ['done']);
    const [row] = await db.sql<
      { n: number }[]
    >`SELECT count(*)::int AS n FROM run_events WHERE run_id = ${runId} AND type = 'review.approved'`;
    expect(row!.n).toBe(1);
  });
});
