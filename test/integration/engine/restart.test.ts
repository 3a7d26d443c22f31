/**
 * Crash and restart (RELIABILITY D29, D39): an engine in a child process is
 * SIGKILLed and a new engine on the same schema carries on from what Postgres
 * holds. A waiting run is just a row; a step that was in flight is claimed again
 * once its lease (the step's timeoutMs + 5 s) expires and runs again exactly
 * once; its result is recorded once; a step that kills its worker every time
 * parks its run after maxRecoveries. The four scenarios wait on real leases, so
 * they run concurrently, each on a schema of its own.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { Engine } from '../../../src/engine/engine.ts';
import type { RunView } from '../../../src/engine/waiters.ts';
import { useTestDb, type TestDb } from '../../helpers/db.ts';
import { EngineProcess, killAllEngineProcesses, waitUntil } from '../../helpers/engine-process.ts';
import { eventCount, executions, startTestEngine } from '../../helpers/engines.ts';
import { createStepLog } from '../../helpers/flows/test-flows.ts';

const waitingDb = useTestDb();
const halfwayDb = useTestDb();
const crashpointDb = useTestDb();
const loopDb = useTestDb();

beforeAll(async () => {
  await Promise.all([waitingDb, halfwayDb, crashpointDb, loopDb].map((db) => createStepLog(db.sql)));
});
afterAll(async () => {
  await killAllEngineProcesses();
});

async function jobOf(db: TestDb, runId: string) {
  const rows = await db.sql<
    { key: string; status: string; attempts: number; recoveries: number; lease_owner: string | null; due_at: Date }[]
  >`
    SELECT key, status, attempts, recoveries, lease_owner, due_at FROM jobs WHERE run_id = ${runId}`;
  if (rows.length !== 1) throw new Error(`expected one job for ${runId}, found ${rows.length}`);
  return rows[0]!;
}

describe.concurrent('after kill -9', () => {
  it('a run waiting for a decision survives, and its draft step is not run again', async ({ expect }) => {
    const db = waitingDb;
    const child = await EngineProcess.spawn({ url: db.url, schema: db.schema, workerId: 'first' });
    let engine: Engine | undefined;
    try {
      const { runId } = await child.call<{ runId: string }>('start', {
        flow: 'counted-approve',
        run: { input: { subject: 'VAT', body: 'Missing VAT line' } },
      });
      const waiting = await child.call<RunView>('waitFor', { runId, status: ['waiting'] });
      expect(waiting.state).toBe('awaitingDecision');
      await child.kill();

      engine = await startTestEngine(db, { workerId: 'second' });
      await engine.send(runId, { type: 'review.approved', by: 'U1' }, { actor: 'U1' });
      const done = await engine.waitFor(runId, ['done'], { timeoutMs: 10_000 });
      expect(done.output).toEqual({ draft: 'Re: VAT', applied: true });

      expect((await executions(db.sql, runId, 'draft')).map((e) => e.worker)).toEqual(['first']);
      expect((await executions(db.sql, runId, 'apply')).map((e) => e.worker)).toEqual(['second']);
      const timeline = await engine.timeline(runId);
      expect(timeline.map((e) => [e.type, e.actor, e.state_after])).toEqual([
        ['xstate.init', null, 'drafting'],
        ['xstate.done.actor.draft', null, 'awaitingDecision'],
        ['review.approved', 'U1', 'applying'],
        ['xstate.done.actor.apply', null, 'done'],
      ]);
      const jobs = await db.sql`SELECT name, status FROM jobs WHERE run_id = ${runId} ORDER BY created_at`;
      expect(jobs.map((j) => [j.name, j.status])).toEqual([
        ['draft', 'done'],
        ['apply', 'done'],
      ]);
    } finally {
      await child.kill();
      await engine?.stop(500);
    }
  });

  it('a step killed half-way runs again exactly once after its lease expires, and its result is recorded once', async ({
    expect,
  }) => {
    const db = halfwayDb;
    const runId = 'halfway-1';
    // The step hangs in this process; its 2 s limit gives a 7 s lease.
    const child = await EngineProcess.spawn({
      url: db.url,
      schema: db.schema,
      workerId: 'doomed',
      hang: ['work'],
      stepTimeoutMs: 2_000,
    });
    let engine: Engine | undefined;
    try {
      await child.call('start', { flow: 'one-step', run: { runId, input: { label: 'a' } } });
      await waitUntil(
        'the step started in the child',
        async () => (await executions(db.sql, runId, 'work')).length === 1,
        5_000,
        10,
      );
      await child.kill();
      const before = await jobOf(db, runId);
      expect(before).toMatchObject({ status: 'running', attempts: 1, recoveries: 0, lease_owner: 'doomed' });

      engine = await startTestEngine(db, { workerId: 'rescuer', env: { timeoutMs: 2_000 } });
      const done = await engine.waitFor(runId, ['done'], { timeoutMs: 15_000 });
      expect(done.output).toEqual({ result: 'worked:a:rescuer' });

      const runs = await executions(db.sql, runId, 'work');
      expect(runs.map((r) => [r.worker, r.attempt])).toEqual([
        ['doomed', 1],
        ['rescuer', 2],
      ]);
      expect(runs[1]!.key).toBe(runs[0]!.key); // same idempotency key for the tool
      // Not re-run before the dead worker's lease (DB clock) ran out.
      expect(runs[1]!.at.getTime()).toBeGreaterThanOrEqual(before.due_at.getTime());
      expect(await jobOf(db, runId)).toMatchObject({ status: 'done', attempts: 2, recoveries: 1, lease_owner: null });
      expect(await eventCount(db.sql, runId, 'xstate.done.actor.work')).toBe(1);
      const [timers] = await db.sql`SELECT count(*)::int AS n FROM timers WHERE run_id = ${runId}`;
      expect(timers!.n).toBe(0); // the state's deadline went with it
    } finally {
      await child.kill();
      await engine?.stop(500);
    }
  });

  it('a step whose worker dies after the step returned (crash point after-step) is re-run once and recorded once', async ({
    expect,
  }) => {
    const db = crashpointDb;
    const runId = 'crashpoint-1';
    const child = await EngineProcess.spawn({
      url: db.url,
      schema: db.schema,
      workerId: 'crasher',
      crashpoints: ['after-step:work'],
      stepTimeoutMs: 300,
    });
    let engine: Engine | undefined;
    try {
      // The process may die before it answers: the step runs as soon as the run commits.
      child.call('start', { flow: 'one-step', run: { runId, input: { label: 'c' } } }).catch(() => undefined);
      expect((await child.waitForExit(10_000)).signal).toBe('SIGKILL');
      const finishedInChild = await db.sql`SELECT worker FROM step_log WHERE run_id = ${runId} AND phase = 'finished'`;
      expect(finishedInChild.map((r) => r.worker)).toEqual(['crasher']); // the side effect happened...
      expect(await eventCount(db.sql, runId, 'xstate.done.actor.work')).toBe(0); // ...its result was never recorded
      expect(await jobOf(db, runId)).toMatchObject({ status: 'running', attempts: 1, lease_owner: 'crasher' });

      engine = await startTestEngine(db, { workerId: 'rescuer', env: { timeoutMs: 300 } });
      const done = await engine.waitFor(runId, ['done'], { timeoutMs: 15_000 });
      expect(done.output).toEqual({ result: 'worked:c:rescuer' });

      const runs = await executions(db.sql, runId, 'work');
      expect(runs.map((r) => [r.worker, r.attempt])).toEqual([
        ['crasher', 1],
        ['rescuer', 2],
      ]);
      expect(new Set(runs.map((r) => r.key)).size).toBe(1);
      expect(await jobOf(db, runId)).toMatchObject({ status: 'done', attempts: 2, recoveries: 1 });
      expect(await eventCount(db.sql, runId, 'xstate.done.actor.work')).toBe(1);
      const [run] =
        await db.sql`SELECT version, (SELECT max(seq) FROM run_events WHERE run_id = ${runId}) AS last FROM runs WHERE id = ${runId}`;
      expect(run!.version).toBe(run!.last);
    } finally {
      await child.kill();
      await engine?.stop(500);
    }
  });

  it('a step that kills its worker every time parks its run after maxRecoveries; other runs keep flowing; retry() revives it', async ({
    expect,
  }) => {
    const db = loopDb;
    const runId = 'crashloop-1';
    const crashing = {
      url: db.url,
      schema: db.schema,
      crashpoints: ['after-step:work'],
      stepTimeoutMs: 300,
      maxRecoveries: 1,
    };
    const procs: EngineProcess[] = [];
    let engine: Engine | undefined;
    try {
      const first = await EngineProcess.spawn({ ...crashing, workerId: 'loop-1' });
      procs.push(first);
      first.call('start', { flow: 'one-step', run: { runId, input: { label: 'p' } } }).catch(() => undefined);
      expect((await first.waitForExit(10_000)).signal).toBe('SIGKILL');
      // The next process claims the job once the lease expires (recovery 1 of 1 allowed), and dies the same way.
      const second = await EngineProcess.spawn({ ...crashing, workerId: 'loop-2' });
      procs.push(second);
      expect((await second.waitForExit(15_000)).signal).toBe('SIGKILL');
      expect(await jobOf(db, runId)).toMatchObject({ status: 'running', recoveries: 1, lease_owner: 'loop-2' });

      engine = await startTestEngine(db, { workerId: 'survivor', maxRecoveries: 1, env: { timeoutMs: 300 } });
      const parked = await engine.waitFor(runId, ['parked'], { timeoutMs: 15_000 });
      expect(parked.reason).toBe('step "work" crashed its worker 2 times');
      expect((await executions(db.sql, runId, 'work')).map((r) => r.worker)).toEqual(['loop-1', 'loop-2']);
      expect(await jobOf(db, runId)).toMatchObject({ status: 'failed', recoveries: 2, lease_owner: null });
      expect(await eventCount(db.sql, runId, 'run.parked')).toBe(1);

      const other = await engine.startRun('one-step', { label: 'other' });
      expect((await engine.waitFor(other.runId, ['done'], { timeoutMs: 5_000 })).output).toEqual({
        result: 'worked:other:survivor',
      });

      await engine.retry(runId, { actor: 'ops' });
      const done = await engine.waitFor(runId, ['done'], { timeoutMs: 5_000 });
      expect(done.output).toEqual({ result: 'worked:p:survivor' });
      expect((await executions(db.sql, runId, 'work')).map((r) => r.worker)).toEqual(['loop-1', 'loop-2', 'survivor']);
      expect(await eventCount(db.sql, runId, 'xstate.done.actor.work')).toBe(1);
    } finally {
      await Promise.all(procs.map((p) => p.kill())); // only ours: the other scenarios run alongside
      await engine?.stop(500);
    }
  });
});
