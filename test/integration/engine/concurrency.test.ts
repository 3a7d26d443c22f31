/**
 * Two engine processes on one schema (RELIABILITY D32, D33). 1,000 runs, each a
 * timer then a step (every tenth step fails its first attempt and is retried
 * from the queue), claimed by whichever process gets there first: every timer
 * fires once and every step result is recorded exactly once. Then the fence: a
 * worker whose lease expired and was re-claimed cannot commit, deterministically,
 * through the store functions and through the Committer a zombie would use.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Committer } from '../../../src/engine/commit.ts';
import { decideEvent, decideStart } from '../../../src/engine/decide.ts';
import type { Flow } from '../../../src/engine/flow.ts';
import { silentLogger } from '../../../src/ops/log.ts';
import { claimJobs, finishJob, rescheduleJob } from '../../../src/store/jobs.ts';
import { commitTransition, readRunHead, type TransitionCommit } from '../../../src/store/runs.ts';
import { useTestDb, type TestDb } from '../../helpers/db.ts';
import { EngineProcess, killAllEngineProcesses, waitUntil } from '../../helpers/engine-process.ts';
import { tableCounts } from '../../helpers/engines.ts';
import { createStepLog, testFlows } from '../../helpers/flows/test-flows.ts';

const RUNS = 1_000;
const db = useTestDb();
const fenceDb = useTestDb();

beforeAll(async () => {
  await Promise.all([db, fenceDb].map((d) => createStepLog(d.sql)));
});
afterAll(async () => {
  await killAllEngineProcesses();
});

describe('two engine processes on one schema', () => {
  it(`record each of ${RUNS} runs' timer and step result exactly once`, async () => {
    const procs = await Promise.all(
      ['alpha', 'beta'].map((workerId) =>
        EngineProcess.spawn({ url: db.url, schema: db.schema, workerId, pollMs: 100 }),
      ),
    );
    try {
      // Both processes take triggers at once: 500 runs each, started together.
      const at = Date.now() + 200;
      await Promise.all(
        procs.map((p, half) => {
          const runs = Array.from({ length: RUNS / 2 }, (_, i) => {
            const n = half * (RUNS / 2) + i;
            return { runId: `c-${String(n).padStart(4, '0')}`, input: { n, failFirst: n % 10 === 0 } };
          });
          return p.call('startMany', { flow: 'relay', runs, at, parallel: 10 }, 30_000);
        }),
      );
      await waitUntil(
        `all ${RUNS} runs are done`,
        async () => {
          const [row] = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM runs WHERE status = 'done'`;
          return row!.n === RUNS;
        },
        40_000,
        200,
      );

      // Per run: one timer event, one recorded step result, the output of its own step.
      const wrong = await db.sql`
        SELECT r.id,
          (SELECT count(*) FROM run_events e WHERE e.run_id = r.id AND e.type = 'xstate.after.100.relay.queued') AS fired,
          (SELECT count(*) FROM run_events e WHERE e.run_id = r.id AND e.type = 'xstate.done.actor.draft') AS results,
          (SELECT count(*) FROM step_log s WHERE s.run_id = r.id AND s.phase = 'finished') AS succeeded,
          (SELECT count(*) FROM step_log s WHERE s.run_id = r.id AND s.phase = 'started') AS executions
        FROM runs r
        WHERE r.output->>'drafted' IS DISTINCT FROM (r.input->>'n')
           OR r.version <> (SELECT max(seq) FROM run_events e WHERE e.run_id = r.id)
           OR (SELECT count(*) FROM run_events e WHERE e.run_id = r.id) <> 3
           OR (SELECT count(*) FROM run_events e WHERE e.run_id = r.id AND e.type = 'xstate.after.100.relay.queued') <> 1
           OR (SELECT count(*) FROM run_events e WHERE e.run_id = r.id AND e.type = 'xstate.done.actor.draft') <> 1
           OR (SELECT count(*) FROM step_log s WHERE s.run_id = r.id AND s.phase = 'finished') <> 1
           OR (SELECT count(*) FROM step_log s WHERE s.run_id = r.id AND s.phase = 'started')
              <> CASE WHEN (r.input->>'failFirst')::boolean THEN 2 ELSE 1 END`;
      expect(wrong).toEqual([]);

      const jobs = await db.sql<{ status: string; attempts: number; n: number }[]>`
        SELECT status, attempts, count(*)::int AS n FROM jobs GROUP BY status, attempts ORDER BY attempts`;
      expect(jobs).toEqual([
        { status: 'done', attempts: 1, n: 900 },
        { status: 'done', attempts: 2, n: 100 },
      ]);
      expect((await tableCounts(db.sql)).timers).toBe(0);

      // Both processes did work: nothing starved, nothing was done twice.
      const byWorker = await db.sql<{ worker: string; n: number }[]>`
        SELECT worker, count(*)::int AS n FROM step_log WHERE phase = 'finished' GROUP BY worker ORDER BY worker`;
      expect(byWorker.map((w) => w.worker)).toEqual(['alpha', 'beta']);
      expect(byWorker.every((w) => w.n > 0)).toBe(true);
      expect(byWorker.reduce((sum, w) => sum + w.n, 0)).toBe(RUNS);
    } finally {
      await killAllEngineProcesses();
    }
  }, 60_000);
});

describe('the version fence', () => {
  const flow = testFlows({ sql: null as never, worker: 'unused' }).find((f) => f.id === 'one-step')! as Flow<any>;
  const flows = new Map([[flow.id, flow]]);

  /** A one-step run whose step job was leased to a worker that died; A claims it, A's lease expires, B claims it. */
  async function zombieSetup(d: TestDb, runId: string) {
    const starter = new Committer({
      sql: d.sql,
      owner: 'starter',
      flows,
      log: silentLogger,
      onCommit: () => {},
      onWork: () => {},
    });
    await starter.insert(flow, runId, { label: 'z' }, decideStart(flow, runId, { label: 'z' }), {});
    await d.sql`UPDATE jobs SET due_at = now() - interval '1 second' WHERE run_id = ${runId}`;
    const [a] = await claimJobs(d.sql, 'A', 10);
    expect(a).toMatchObject({ run_id: runId, attempts: 2 });
    await d.sql`UPDATE jobs SET due_at = now() - interval '1 second' WHERE run_id = ${runId}`;
    const [b] = await claimJobs(d.sql, 'B', 10);
    expect(b).toMatchObject({ run_id: runId, attempts: 3 });
    return { key: a!.key, a: a!, b: b! };
  }

  async function rowsOf(d: TestDb, runId: string) {
    return {
      run: await d.sql`SELECT status, version, snapshot, output FROM runs WHERE id = ${runId}`,
      events: await d.sql`SELECT seq, type FROM run_events WHERE run_id = ${runId} ORDER BY seq`,
      jobs: await d.sql`SELECT key, status, attempts, lease_owner, due_at, last_error FROM jobs WHERE run_id = ${runId}`,
      timers: await d.sql`SELECT send_id, fire_at, lease_owner FROM timers WHERE run_id = ${runId}`,
    };
  }

  async function resultCommit(
    d: TestDb,
    runId: string,
    owner: string,
    attempt: number,
    key: string,
  ): Promise<TransitionCommit> {
    const head = (await readRunHead(d.sql, runId, null))!;
    const event = { type: 'xstate.done.actor.work', output: `from ${owner}` };
    const dec = decideEvent(flow, runId, head.version + 1, head.snapshot, event, 'work');
    return {
      runId,
      flow: flow.id,
      seq: head.version + 1,
      snapshot: dec.snapshot,
      status: dec.status,
      reason: null,
      output: dec.output,
      event: {
        kind: 'event',
        type: event.type,
        event,
        actor: null,
        stateBefore: head.snapshot.value,
        stateAfter: dec.snapshot.value,
        dedupeKey: null,
      },
      plan: { jobs: [], timers: [], cancelJobs: dec.cancelJobs, cancelTimers: dec.cancelTimers },
      owner,
      timerSendId: null,
      job: { key, attempt, outcome: 'done', error: null },
    };
  }

  it('refuses every write of a worker whose lease expired and was re-claimed, and accepts the new holder', async () => {
    const runId = 'fenced-1';
    const { key, a, b } = await zombieSetup(fenceDb, runId);
    const before = await rowsOf(fenceDb, runId);

    // A's commit is for the right run version; only its claim is gone.
    expect(await commitTransition(fenceDb.sql, await resultCommit(fenceDb, runId, 'A', a.attempts, key))).toBe(false);
    expect(await finishJob(fenceDb.sql, key, 'A', a.attempts, 'done', null)).toBe(false);
    expect(await rescheduleJob(fenceDb.sql, key, 'A', a.attempts, 10, { message: 'x' })).toBe(false);
    expect(await rowsOf(fenceDb, runId)).toEqual(before);

    expect(await commitTransition(fenceDb.sql, await resultCommit(fenceDb, runId, 'B', b.attempts, key))).toBe(true);
    const after = await rowsOf(fenceDb, runId);
    expect(after.run[0]).toMatchObject({ status: 'done', version: 2, output: { result: 'from B' } });
    expect(after.events.map((e) => e.type)).toEqual(['xstate.init', 'xstate.done.actor.work']);
    expect(after.jobs[0]).toMatchObject({ status: 'done', lease_owner: null });
    expect(after.timers).toEqual([]);

    // A late retry by A, now also a version behind, still changes nothing.
    const stale = await resultCommit(fenceDb, runId, 'A', a.attempts, key);
    expect(await commitTransition(fenceDb.sql, { ...stale, seq: 2 })).toBe(false);
    expect(await rowsOf(fenceDb, runId)).toEqual(after);
  });

  it("makes a zombie's Committer give the result up without changing anything", async () => {
    const runId = 'fenced-2';
    const { key, a, b } = await zombieSetup(fenceDb, runId);
    const before = await rowsOf(fenceDb, runId);
    const zombie = new Committer({
      sql: fenceDb.sql,
      owner: 'A',
      flows,
      log: silentLogger,
      onCommit: () => {},
      onWork: () => {},
    });
    const ctx = (attempt: number) => ({
      actor: null,
      dedupeKey: null,
      timerSendId: null,
      job: { key, attempt, childId: 'work' },
    });
    const event = { type: 'xstate.done.actor.work', output: 'from A' };

    // It gives up at once (its claim is gone), rather than re-deciding until "too busy".
    expect(await zombie.apply(runId, event, ctx(a.attempts))).toEqual({ status: 'running', duplicate: false });
    expect(await rowsOf(fenceDb, runId)).toEqual(before);

    const holder = new Committer({
      sql: fenceDb.sql,
      owner: 'B',
      flows,
      log: silentLogger,
      onCommit: () => {},
      onWork: () => {},
    });
    const fromB = { type: 'xstate.done.actor.work', output: 'from B' };
    expect(await holder.apply(runId, fromB, ctx(b.attempts))).toEqual({ status: 'done', duplicate: false });
    const after = await rowsOf(fenceDb, runId);
    expect(after.run[0]).toMatchObject({ status: 'done', output: { result: 'from B' } });

    await zombie.apply(runId, event, ctx(a.attempts)); // after B committed: discarded
    expect(await rowsOf(fenceDb, runId)).toEqual(after);
  });
});
