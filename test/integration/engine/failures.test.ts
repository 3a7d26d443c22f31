/**
 * Step failure, operator actions and shutdown (RELIABILITY D39, D42, D44): a
 * step that keeps failing is retried with backoff and then fails its run with a
 * reason (no onError), `retry()` requeues it, a flow's onError handles a refused
 * step, `cancel()` takes open jobs and timers with it and a late step result is
 * ignored, and `stop()` hands in-flight jobs to another engine at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../../src/engine/engine.ts';
import { isSignoffError } from '../../../src/errors.ts';
import { useTestDb } from '../../helpers/db.ts';
import { waitUntil } from '../../helpers/engine-process.ts';
import { eventCount, executions, startTestEngine } from '../../helpers/engines.ts';
import { createStepLog } from '../../helpers/flows/test-flows.ts';

const db = useTestDb();
const stopDb = useTestDb();
const cancelDb = useTestDb();
let engine: Engine;
/** Steps of `engine` wait here (per run) when a test opens a gate for them. */
const gates = new Map<string, Promise<void>>();

beforeAll(async () => {
  await Promise.all([db, stopDb, cancelDb].map((d) => createStepLog(d.sql)));
  engine = await startTestEngine(db, {
    workerId: 'main',
    env: { gate: (_step, runId) => gates.get(runId) ?? Promise.resolve() },
  });
});
afterAll(async () => {
  await engine.stop(500);
});

async function jobs(runId: string) {
  return db.sql<
    { status: string; attempts: number; last_error: any }[]
  >`SELECT status, attempts, last_error FROM jobs WHERE run_id = ${runId} ORDER BY created_at`;
}

describe('a step that keeps failing', () => {
  it('is retried with backoff, then fails the run with a reason when the flow has no onError; retry() completes it', async () => {
    const { runId } = await engine.startRun('flaky', { failTimes: 3 });
    const failed = await engine.waitFor(runId, ['failed'], { timeoutMs: 5_000 });
    expect(failed.reason).toBe('step "work" failed: transient failure 3');
    expect(failed.state).toBe('working'); // kept for a retry

    const tries = await executions(db.sql, runId, 'work');
    expect(tries.map((t) => t.attempt)).toEqual([1, 2, 3]);
    const gaps = [tries[1]!.at.getTime() - tries[0]!.at.getTime(), tries[2]!.at.getTime() - tries[1]!.at.getTime()];
    expect(gaps[0]).toBeGreaterThanOrEqual(100); // backoffMs
    expect(gaps[1]).toBeGreaterThanOrEqual(200); // doubled
    expect(await jobs(runId)).toEqual([
      { status: 'failed', attempts: 3, last_error: { message: 'transient failure 3' } },
    ]);
    const timeline = await engine.timeline(runId);
    expect(timeline.map((e) => [e.kind, e.type])).toEqual([
      ['event', 'xstate.init'],
      ['note', 'step.failed'],
    ]);
    const run = await engine.getRun(runId);
    expect([run!.status, run!.status_reason]).toEqual(['failed', 'step "work" failed: transient failure 3']);
    const refused = await engine.send(runId, { type: 'anything' }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isSignoffError(refused, 'run_not_active')).toBe(true);

    await engine.retry(runId, { actor: 'ops' });
    const done = await engine.waitFor(runId, ['done'], { timeoutMs: 5_000 });
    expect(done.output).toEqual({ result: 'ok after 3 failures' });
    expect((await executions(db.sql, runId, 'work')).map((t) => t.attempt)).toEqual([1, 2, 3, 1]);
    expect(await jobs(runId)).toMatchObject([{ status: 'done', attempts: 1 }]);
    expect((await engine.timeline(runId)).map((e) => e.type)).toEqual([
      'xstate.init',
      'step.failed',
      'run.retried',
      'xstate.done.actor.work',
    ]);
    expect((await engine.getRun(runId))!.status_reason).toBeNull();

    const again = await engine.retry(runId).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isSignoffError(again, 'run_not_failed')).toBe(true);
  });

  it('recovers within its attempts without failing the run', async () => {
    const { runId } = await engine.startRun('flaky', { failTimes: 1 });
    const done = await engine.waitFor(runId, ['done'], { timeoutMs: 5_000 });
    expect(done.output).toEqual({ result: 'ok after 1 failures' });
    expect(await jobs(runId)).toMatchObject([{ status: 'done', attempts: 2 }]);
    expect((await engine.timeline(runId)).map((e) => e.type)).toEqual(['xstate.init', 'xstate.done.actor.work']);
  });

  it("that is refused for good is not retried, and the flow's onError handles it", async () => {
    const { runId } = await engine.startRun('guarded', { label: 'g' });
    const done = await engine.waitFor(runId, ['done'], { timeoutMs: 5_000 });
    expect([done.state, done.output]).toEqual(['handled', { error: 'upstream refused the request (400)' }]);
    expect(await executions(db.sql, runId, 'work')).toHaveLength(1);
    expect(await jobs(runId)).toMatchObject([{ status: 'failed', attempts: 1 }]);
    expect(await eventCount(db.sql, runId, 'xstate.error.actor.work')).toBe(1);
    expect((await engine.getRun(runId))!.status_reason).toBeNull();
  });
});

describe('cancel()', () => {
  it('cancels open jobs and timers from another process, and the step result that arrives late is ignored', async () => {
    // Its own schema and engine, so stopping that engine can mark the late result as offered.
    const cdb = cancelDb;
    let open!: () => void;
    const runId = 'cancel-1';
    const gate = new Promise<void>((r) => (open = r));
    const stepping = await startTestEngine(cdb, { workerId: 'stepping', env: { gate: () => gate } });
    const ops = await startTestEngine(cdb, { workerId: 'ops', start: false });
    const cjobs = () => cdb.sql<{ status: string }[]>`SELECT status FROM jobs WHERE run_id = ${runId}`;
    try {
      await stepping.startRun('one-step', { label: 'late' }, { runId });
      await waitUntil('the step started', async () => (await executions(cdb.sql, runId, 'work')).length === 1, 5_000);
      const [timers] = await cdb.sql`SELECT count(*)::int AS n FROM timers WHERE run_id = ${runId}`;
      expect(timers!.n).toBe(1);

      // An operator in another process (an engine that claims nothing) cancels it; the
      // stepping engine still holds the run in its cache of runs with steps in flight.
      await ops.cancel(runId, { actor: 'U9' });
      const cancelled = (await ops.getRun(runId))!;
      expect([cancelled.status, cancelled.status_reason]).toEqual(['cancelled', 'cancelled by U9']);
      expect(await cjobs()).toMatchObject([{ status: 'cancelled' }]);
      const [left] = await cdb.sql`SELECT count(*)::int AS n FROM timers WHERE run_id = ${runId}`;
      expect(left!.n).toBe(0);

      open(); // the step finishes after all
      // stop() waits for the step in flight and for its result to be offered to the run: the marker.
      await stepping.stop(5_000);
      expect(await cdb.sql`SELECT 1 FROM step_log WHERE run_id = ${runId} AND phase = 'finished'`).toHaveLength(1);
      const after = (await ops.getRun(runId))!;
      expect([after.status, after.version, after.snapshot]).toEqual([
        'cancelled',
        cancelled.version,
        cancelled.snapshot,
      ]);
      expect(await eventCount(cdb.sql, runId, 'xstate.done.actor.work')).toBe(0);
      expect(await cjobs()).toMatchObject([{ status: 'cancelled' }]);
      expect((await ops.timeline(runId)).map((e) => [e.type, e.actor])).toEqual([
        ['xstate.init', null],
        ['run.cancelled', 'U9'],
      ]);

      const twice = await ops.cancel(runId).then(
        () => null,
        (e: unknown) => e,
      );
      expect(isSignoffError(twice, 'run_not_active')).toBe(true);
    } finally {
      await stepping.stop(100);
      await ops.stop(100);
    }
  });

  it('cancels a failed run', async () => {
    const { runId } = await engine.startRun('flaky', { failTimes: 5 });
    await engine.waitFor(runId, ['failed'], { timeoutMs: 5_000 });
    await engine.cancel(runId, { reason: 'not needed any more' });
    const run = (await engine.getRun(runId))!;
    expect([run.status, run.status_reason]).toEqual(['cancelled', 'not needed any more']);
    expect(await jobs(runId)).toMatchObject([{ status: 'failed' }]);
  });
});

describe('stop()', () => {
  it('hands the steps in flight back at once, and another engine completes them', async () => {
    // Both engines run on their own schema; `leaving`'s step blocks until it is aborted.
    const staying = await startTestEngine(stopDb, { workerId: 'staying', env: { timeoutMs: 10_000 } });
    const leaving = await startTestEngine(stopDb, {
      workerId: 'leaving',
      env: { timeoutMs: 10_000, hang: new Set(['work']) },
    });
    try {
      const { runId } = await leaving.startRun('one-step', { label: 's' });
      await waitUntil(
        'the step started',
        async () => (await executions(stopDb.sql, runId, 'work')).length === 1,
        5_000,
      );

      await leaving.stop(200);
      // Handed back, not left to its 15 s lease: the moment stop() returns, `leaving` holds no lease on it.
      const [released] = await stopDb.sql<
        { lease_owner: string | null }[]
      >`SELECT lease_owner FROM jobs WHERE run_id = ${runId}`;
      expect(released!.lease_owner).not.toBe('leaving');
      const done = await staying.waitFor(runId, ['done'], { timeoutMs: 5_000, pollMs: 20 });
      expect(done.output).toEqual({ result: 'worked:s:staying' });
      expect((await executions(stopDb.sql, runId, 'work')).map((e) => [e.worker, e.attempt])).toEqual([
        ['leaving', 1],
        ['staying', 1],
      ]);
      const [job] = await stopDb.sql`SELECT status, attempts, recoveries FROM jobs WHERE run_id = ${runId}`;
      // A release is not a failed attempt, and not a recovery: a reclaim after the lease ran out would count one.
      expect(job).toEqual({ status: 'done', attempts: 1, recoveries: 0 });
      expect(await eventCount(stopDb.sql, runId, 'xstate.done.actor.work')).toBe(1);

      // The stopped engine claims nothing more.
      const next = await staying.startRun('one-step', { label: 't' });
      await staying.waitFor(next.runId, ['done'], { timeoutMs: 5_000 });
      expect((await executions(stopDb.sql, next.runId, 'work')).map((e) => e.worker)).toEqual(['staying']);
    } finally {
      await leaving.stop(100);
      await staying.stop(500);
    }
  });
});
