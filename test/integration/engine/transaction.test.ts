/**
 * `Engine.transaction`: what a caller writes and the runs it starts or moves on
 * commit together or not at all (a webhook delivery and its run, a schedule
 * slot and its run, a decision and its transition), and the work they create
 * starts once COMMIT returns, with no poll (the engine here polls once a minute).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Engine } from '../../../src/engine/engine.ts';
import demo from '../../fixtures/flows/draft-approve.flow.ts';
import { useTestDb } from '../../helpers/db.ts';

const db = useTestDb();
let engine: Engine;

beforeAll(async () => {
  await db.sql`CREATE TABLE deliveries (id text PRIMARY KEY)`;
  engine = new Engine({ sql: db.sql, schema: db.schema, flows: [demo], pollMs: 60_000 });
  await engine.start();
});
afterAll(async () => {
  await engine.stop(1_000);
});

it("starts a run with the caller's own write; its first step runs once COMMIT returns", async () => {
  const { runId } = await engine.transaction(async (rt) => {
    await rt.sql`INSERT INTO deliveries (id) VALUES ('d-1')`;
    return rt.start(
      'draft-approve',
      { subject: 'VAT', body: 'Missing VAT line' },
      { triggerKey: 'hook:d-1', trigger: { source: 'webhook:test' } },
    );
  });
  const waiting = await engine.waitFor(runId, ['waiting'], { timeoutMs: 10_000 });
  expect(waiting.state).toBe('awaitingDecision');
  const [run] = await db.sql`SELECT trigger_key, trigger FROM runs WHERE id = ${runId}`;
  expect(run).toMatchObject({ trigger_key: 'hook:d-1', trigger: { source: 'webhook:test' } });
});

it('rolls back with the caller: neither the write nor the run exists', async () => {
  await expect(
    engine.transaction(async (rt) => {
      await rt.sql`INSERT INTO deliveries (id) VALUES ('d-2')`;
      await rt.start('draft-approve', { subject: 'a', body: 'b' }, { triggerKey: 'hook:d-2' });
      throw new Error('the caller changed its mind');
    }),
  ).rejects.toThrow('changed its mind');
  expect(await db.sql`SELECT 1 FROM deliveries WHERE id = 'd-2'`).toHaveLength(0);
  expect(await db.sql`SELECT 1 FROM runs WHERE trigger_key = 'hook:d-2'`).toHaveLength(0);
  expect(
    await db.sql`SELECT 1 FROM jobs j JOIN runs r ON r.id = j.run_id WHERE r.trigger_key = 'hook:d-2'`,
  ).toHaveLength(0);
});

it('a second start with the same trigger key returns the first run', async () => {
  const first = await engine.transaction((rt) =>
    rt.start('draft-approve', { subject: 'c', body: 'd' }, { triggerKey: 'hook:d-3' }),
  );
  const second = await engine.transaction((rt) =>
    rt.start('draft-approve', { subject: 'c', body: 'd' }, { triggerKey: 'hook:d-3' }),
  );
  expect(second).toEqual({ runId: first.runId, isNew: false });
});

it('refuses invalid input by throwing, so the caller can record why', async () => {
  await expect(engine.transaction((rt) => rt.start('draft-approve', { subject: 42 }))).rejects.toMatchObject({
    code: 'input_invalid',
  });
});
