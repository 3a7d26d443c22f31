/**
 * Durable timers (RELIABILITY D37): an `after` timer is a row with the fire time
 * the transition computed on the DB clock. With every process down past that
 * time, the next engine fires it at once (not a full delay after restart, as an
 * in-memory XState actor would) and exactly once. A timer whose state was left
 * is deleted in that same transition and never fires.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { Engine } from '../../../src/engine/engine.ts';
import { useTestDb } from '../../helpers/db.ts';
import { EngineProcess, killAllEngineProcesses, waitUntil } from '../../helpers/engine-process.ts';
import { eventCount, startTestEngine } from '../../helpers/engines.ts';
import { createStepLog } from '../../helpers/flows/test-flows.ts';

const AFTER_EVENT = 'xstate.after.2000.timed.waiting';

const restartDb = useTestDb();
const cancelDb = useTestDb();

beforeAll(async () => {
  await Promise.all([restartDb, cancelDb].map((db) => createStepLog(db.sql)));
});
afterAll(async () => {
  await killAllEngineProcesses();
});

describe.concurrent('an after timer', () => {
  it('fires once, promptly, when an engine starts after its fire time passed while all processes were down', async ({
    expect,
  }) => {
    const db = restartDb;
    const child = await EngineProcess.spawn({ url: db.url, schema: db.schema, workerId: 'doomed' });
    let engine: Engine | undefined;
    try {
      const { runId } = await child.call<{ runId: string }>('start', {
        flow: 'timed',
        run: { input: { topic: 'expiry' } },
      });
      await child.kill();
      const [timer] = await db.sql<{ send_id: string; fire_at: Date; due_at: Date; lease_owner: string | null }[]>`
        SELECT send_id, fire_at, due_at, lease_owner FROM timers WHERE run_id = ${runId}`;
      expect(timer).toMatchObject({ send_id: AFTER_EVENT, lease_owner: null });
      // Every process is down until well past the fire time (DB clock).
      await waitUntil(
        'the fire time has passed',
        async () => {
          const [row] = await db.sql<
            { past: boolean }[]
          >`SELECT now() > ${timer!.fire_at}::timestamptz + interval '500 ms' AS past`;
          return row!.past;
        },
        10_000,
        50,
      );
      expect((await db.sql`SELECT status FROM runs WHERE id = ${runId}`)[0]!.status).toBe('waiting');

      const [{ restartAt }] = await db.sql<[{ restartAt: Date }]>`SELECT now() AS "restartAt"`;
      engine = await startTestEngine(db, { workerId: 'second' });
      const expired = await engine.waitFor(runId, (r) => r.status === 'done', { timeoutMs: 5_000, pollMs: 20 });
      expect(expired.state).toBe('expired');

      expect(await eventCount(db.sql, runId, AFTER_EVENT)).toBe(1);
      const [fired] = await db.sql<
        { at: Date; actor: string }[]
      >`SELECT at, actor FROM run_events WHERE run_id = ${runId} AND type = ${AFTER_EVENT}`;
      expect(fired!.actor).toBe('timer');
      expect(fired!.at.getTime()).toBeGreaterThanOrEqual(timer!.fire_at.getTime());
      // On the DB clock: fired before a 2 s delay counted from the restart could have ended, so it kept its time.
      expect(fired!.at.getTime()).toBeLessThan(restartAt.getTime() + 2_000);
      // Nothing left that could fire again: the timer row went in the transition that fired it.
      const [timers] = await db.sql`SELECT count(*)::int AS n FROM timers`;
      expect(timers!.n).toBe(0);
    } finally {
      await child.kill();
      await engine?.stop(500);
    }
  });

  it('never fires once a state exit cancelled it', async ({ expect }) => {
    const db = cancelDb;
    const engine = await startTestEngine(db, { workerId: 'solo' });
    try {
      const { runId } = await engine.startRun('timed', { topic: 'answered' });
      const [before] = await db.sql`SELECT count(*)::int AS n FROM timers WHERE run_id = ${runId}`;
      expect(before!.n).toBe(1);
      await engine.send(runId, { type: 'decide' }, { actor: 'U1' });
      const [after] = await db.sql`SELECT count(*)::int AS n FROM timers WHERE run_id = ${runId}`;
      expect(after!.n).toBe(0); // deleted in the same transaction as the exit

      // The marker that the sweeper went past the cancelled fire time: a timer due later (started now) fired.
      const { runId: sentinel } = await engine.startRun('timed', { topic: 'sentinel' });
      const swept = await engine.waitFor(sentinel, (r) => r.status === 'done', { timeoutMs: 10_000, pollMs: 20 });
      expect(swept.state).toBe('expired');
      const run = await engine.getRun(runId);
      expect([run!.status, run!.snapshot.value, run!.version]).toEqual(['done', 'decided', 2]);
      expect(await eventCount(db.sql, runId, AFTER_EVENT)).toBe(0);
      const timeline = await engine.timeline(runId);
      expect(timeline.map((e) => e.type)).toEqual(['xstate.init', 'decide']);
    } finally {
      await engine.stop(500);
    }
  });
});
