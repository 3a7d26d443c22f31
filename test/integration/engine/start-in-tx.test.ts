/**
 * `Engine.transaction(rt => rt.start(…))`: a run started inside a caller's
 * transaction commits with the caller's own writes or not at all (webhook
 * ingress records its inbox row in the same transaction), and its first step
 * runs only after COMMIT.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../../src/engine/engine.ts';
import { isSignoffError } from '../../../src/errors.ts';
import { useTestDb } from '../../helpers/db.ts';
import { executions, startTestEngine } from '../../helpers/engines.ts';
import { createStepLog } from '../../helpers/flows/test-flows.ts';

const db = useTestDb();
let engine: Engine;

beforeAll(async () => {
  await createStepLog(db.sql);
  engine = await startTestEngine(db);
});
afterAll(async () => {
  await engine?.stop(1_000);
});

describe('starting a run inside a transaction', () => {
  it('commits the run with the caller\'s row, then runs its first step', async () => {
    const runId = await engine.transaction(async (rt) => {
      await rt.sql`INSERT INTO inbox (source, key) VALUES ('test', 'k1')`;
      return (await rt.start('counted-approve', { subject: 's', body: 'b' }, { triggerKey: 'test:k1' })).runId;
    });
    await engine.waitFor(runId, ['waiting'], { timeoutMs: 10_000 });
    expect(await executions(db.sql, runId, 'draft')).toHaveLength(1);
    const [inbox] = await db.sql`SELECT count(*)::int AS n FROM inbox WHERE source = 'test' AND key = 'k1'`;
    expect(inbox!.n).toBe(1);
  });

  it('leaves no run, no job and no caller row when the transaction rolls back', async () => {
    const boom = new Error('caller failed after starting');
    await expect(engine.transaction(async (rt) => {
      await rt.sql`INSERT INTO inbox (source, key) VALUES ('test', 'k2')`;
      await rt.start('counted-approve', { subject: 's', body: 'b' }, { triggerKey: 'test:k2', runId: 'rolled-back' });
      throw boom;
    })).rejects.toBe(boom);
    const [counts] = await db.sql`
      SELECT (SELECT count(*)::int FROM runs WHERE id = 'rolled-back') AS runs,
             (SELECT count(*)::int FROM jobs WHERE run_id = 'rolled-back') AS jobs,
             (SELECT count(*)::int FROM inbox WHERE key = 'k2') AS inbox`;
    expect(counts).toEqual({ runs: 0, jobs: 0, inbox: 0 });
  });

  it('returns the existing run for a trigger key already used, and refuses bad input before writing', async () => {
    const first = await engine.transaction((rt) => rt.start('counted-approve', { subject: 's', body: 'b' }, { triggerKey: 'test:k3' }));
    const again = await engine.transaction((rt) => rt.start('counted-approve', { subject: 's', body: 'b' }, { triggerKey: 'test:k3' }));
    expect(again).toEqual({ runId: first.runId, isNew: false });
    const refused = await engine.transaction((rt) => rt.start('counted-approve', { subject: 42 }, { triggerKey: 'test:k4' })).catch((e: unknown) => e);
    expect(isSignoffError(refused, 'input_invalid')).toBe(true);
    const [row] = await db.sql`SELECT count(*)::int AS n FROM runs WHERE trigger_key = 'test:k4'`;
    expect(row!.n).toBe(0);
  });
});
