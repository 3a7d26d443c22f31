/**
 * The composition patterns (test/helpers/flows/pattern-flows.ts) on a real
 * engine and Postgres. A parallel state's two steps are two durable jobs, in
 * flight at once: each fan-out step waits (a barrier on `step_log`) until the
 * other has started, so the run could not finish were they run one after the
 * other. One failing takes the flow's failed path. And a SIGKILL between them
 * (one finished, the other in flight) loses neither: the finished one is not
 * run again, the other is reclaimed when its lease expires and the run joins.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../../src/engine/engine.ts';
import { useTestDb } from '../../helpers/db.ts';
import { EngineProcess, killAllEngineProcesses, waitUntil } from '../../helpers/engine-process.ts';
import { executions, startTestEngine } from '../../helpers/engines.ts';
import { patternFlows } from '../../helpers/flows/pattern-flows.ts';
import { createStepLog } from '../../helpers/flows/test-flows.ts';

const db = useTestDb();
const restartDb = useTestDb();
let engine: Engine;

beforeAll(async () => {
  await Promise.all([createStepLog(db.sql), createStepLog(restartDb.sql)]);
  engine = await startTestEngine(db, { flows: patternFlows({ sql: db.sql, worker: 'in-process' }) });
});
afterAll(async () => {
  await engine?.stop(1_000);
  await killAllEngineProcesses();
});

async function stepJobs(sql: typeof db.sql, runId: string) {
  return sql<
    { name: string; key: string; status: string }[]
  >`SELECT name, key, status FROM jobs WHERE run_id = ${runId} AND kind = 'step' ORDER BY name`;
}

/** step_log rows of a run, in the order they were written. */
async function log(sql: typeof db.sql, runId: string) {
  return sql<
    { step: string; phase: string; worker: string }[]
  >`SELECT step, phase, worker FROM step_log WHERE run_id = ${runId} ORDER BY id`;
}

describe('patterns on the engine', () => {
  it('sequence: runs three steps one after another, each once', async () => {
    const { runId } = await engine.startRun('sequence', { text: 'a' });
    const done = await engine.waitFor(runId, ['done']);
    expect(done.output).toEqual({ text: 'a>first>second>third' });
    expect((await log(db.sql, runId)).map((r) => `${r.step}:${r.phase}`)).toEqual([
      'first:started',
      'first:finished',
      'second:started',
      'second:finished',
      'third:started',
      'third:finished',
    ]);
  });

  it('fan-out: two job rows in flight at once, joined when both finish', async () => {
    const { runId } = await engine.startRun('fan-out', { topic: 't' });
    const done = await engine.waitFor(runId, ['done']);
    expect([done.state, done.output]).toEqual(['joined', { left: 'left:t', right: 'right:t', error: '' }]);
    expect(await stepJobs(db.sql, runId)).toEqual([
      { name: 'left', key: `${runId}:left:1`, status: 'done' },
      { name: 'right', key: `${runId}:right:1`, status: 'done' },
    ]);
    // Both started before either finished: each waited at the barrier for the other.
    const phases = (await log(db.sql, runId)).map((r) => r.phase);
    expect(phases.slice(0, 2)).toEqual(['started', 'started']);
    expect(phases.slice(2)).toEqual(['finished', 'finished']);
  });

  it('fan-out: one step refused takes the failed path; the run ends there, with its reason', async () => {
    const { runId } = await engine.startRun('fan-out', { topic: 't', failRight: true });
    const done = await engine.waitFor(runId, ['done']);
    const output = done.output as { left: string; right: string; error: string };
    expect([done.state, output.right, output.error]).toEqual([
      'failed',
      '',
      'the right-hand service refused the request (400)',
    ]);
    // Left ran at the same time: its result counts if it committed before right's failure, else it is ignored.
    expect(['', 'left:t']).toContain(output.left);
    const jobs = await stepJobs(db.sql, runId);
    expect(jobs.find((j) => j.name === 'right')?.status).toBe('failed');
    // The left job was left behind by the state change: cancelled if still open, else finished with its result ignored.
    expect(['cancelled', 'done']).toContain(jobs.find((j) => j.name === 'left')?.status);
  });
});

describe('fan-out across a SIGKILL', () => {
  it('one step finished, the other in flight: after the restart the finished one is not run again and the run joins', async () => {
    const first = await EngineProcess.spawn({
      url: restartDb.url,
      schema: restartDb.schema,
      workerId: 'first',
      hang: ['right'],
    });
    let second: Engine | undefined;
    try {
      const { runId } = await first.call<{ runId: string }>('start', {
        flow: 'fan-out',
        run: { input: { topic: 'k' } },
      });
      // Left is done and recorded (the barrier saw right start); right hangs in `first`.
      await waitUntil('left recorded as done', async () =>
        (await stepJobs(restartDb.sql, runId)).find((j) => j.name === 'left' && j.status === 'done'),
      );
      expect((await stepJobs(restartDb.sql, runId)).find((j) => j.name === 'right')?.status).toBe('running');
      await first.kill();

      second = await startTestEngine(restartDb, {
        workerId: 'second',
        flows: patternFlows({ sql: restartDb.sql, worker: 'second' }),
      });
      const done = await second.waitFor(runId, ['done'], { timeoutMs: 20_000 });
      expect([done.state, done.output]).toEqual(['joined', { left: 'left:k', right: 'right:k', error: '' }]);
      expect((await executions(restartDb.sql, runId, 'left')).map((e) => e.worker)).toEqual(['first']);
      expect((await executions(restartDb.sql, runId, 'right')).map((e) => e.worker)).toEqual(['first', 'second']);
      expect((await stepJobs(restartDb.sql, runId)).map((j) => j.status)).toEqual(['done', 'done']);
    } finally {
      await second?.stop(1_000);
      await first.kill();
    }
  });
});
