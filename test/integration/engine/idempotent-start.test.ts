/**
 * Idempotent start (RELIABILITY invariant 1, D34): the same trigger key started
 * at the same moment from two engine processes makes one run, and both callers
 * are given its id. 25 keys are started by both processes at one wall-clock
 * instant, so the inserts really race.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDb } from '../../helpers/db.ts';
import { EngineProcess, killAllEngineProcesses, waitUntil } from '../../helpers/engine-process.ts';
import { startTestEngine } from '../../helpers/engines.ts';
import { createStepLog } from '../../helpers/flows/test-flows.ts';

const KEYS = 25;
const db = useTestDb();

beforeAll(async () => {
  await createStepLog(db.sql);
});
afterAll(async () => {
  await killAllEngineProcesses();
});

describe('starting a run with the same trigger key from two processes at once', () => {
  it('creates one run per key, and both callers get its id', async () => {
    const procs = await Promise.all(
      ['left', 'right'].map((workerId) => EngineProcess.spawn({ url: db.url, schema: db.schema, workerId })),
    );
    try {
      const runs = Array.from({ length: KEYS }, (_, i) => ({
        triggerKey: `slack:Ev${i}`,
        input: { subject: `s${i}`, body: 'b' },
      }));
      const at = Date.now() + 300;
      type Started = { runId: string; isNew: boolean }[];
      const [left, right] = await Promise.all(
        procs.map((p) => p.call<Started>('startMany', { flow: 'counted-approve', runs, at, parallel: KEYS })),
      );

      const stored = await db.sql<
        { id: string; trigger_key: string }[]
      >`SELECT id, trigger_key FROM runs ORDER BY trigger_key`;
      expect(stored).toHaveLength(KEYS);
      const idByKey = new Map(stored.map((r) => [r.trigger_key, r.id]));
      for (let i = 0; i < KEYS; i++) {
        const key = runs[i]!.triggerKey;
        expect([left![i]!.runId, right![i]!.runId]).toEqual([idByKey.get(key), idByKey.get(key)]);
        expect([left![i]!.isNew, right![i]!.isNew].filter(Boolean)).toHaveLength(1);
      }
      // The losers (and duplicates) changed nothing: one init event and one draft per run.
      await waitUntil(
        'every run drafted',
        async () => {
          const [row] = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM runs WHERE status = 'waiting'`;
          return row!.n === KEYS;
        },
        10_000,
        50,
      );
      const [counts] = await db.sql<{ inits: number; jobs: number; drafts: number }[]>`
        SELECT (SELECT count(*)::int FROM run_events WHERE type = 'xstate.init') AS inits,
               (SELECT count(*)::int FROM jobs) AS jobs,
               (SELECT count(*)::int FROM step_log WHERE step = 'draft' AND phase = 'started') AS drafts`;
      expect(counts).toEqual({ inits: KEYS, jobs: KEYS, drafts: KEYS });
    } finally {
      await killAllEngineProcesses();
    }
  });

  it('returns the existing run to a later duplicate start, in any process', async () => {
    const engine = await startTestEngine(db, { workerId: 'late' });
    try {
      const first = await engine.startRun(
        'counted-approve',
        { subject: 'x', body: 'y' },
        { triggerKey: 'webhook:dup-1' },
      );
      const again = await engine.startRun(
        'counted-approve',
        { subject: 'other', body: 'input' },
        { triggerKey: 'webhook:dup-1' },
      );
      expect(first.isNew).toBe(true);
      expect(again).toEqual({ runId: first.runId, isNew: false });
      const rows = await db.sql`SELECT id, input FROM runs WHERE trigger_key = 'webhook:dup-1'`;
      expect(rows).toEqual([{ id: first.runId, input: { subject: 'x', body: 'y' } }]);
    } finally {
      await engine.stop(500);
    }
  });
});
