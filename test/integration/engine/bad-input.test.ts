/**
 * Bad input is refused with a typed SignoffError and a message a person can act
 * on, and it changes nothing: row counts of every engine table and the runs'
 * versions are the same before and after.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../../src/engine/engine.ts';
import { isSignoffError, type ErrorCode } from '../../../src/errors.ts';
import { useTestDb } from '../../helpers/db.ts';
import { startTestEngine, tableCounts } from '../../helpers/engines.ts';
import { createStepLog } from '../../helpers/flows/test-flows.ts';

const db = useTestDb();
let engine: Engine;
let waitingRun: string;
let doneRun: string;

beforeAll(async () => {
  await createStepLog(db.sql);
  engine = await startTestEngine(db, { workerId: 'gate' });
  waitingRun = (await engine.startRun('counted-approve', { subject: 'VAT', body: 'b' })).runId;
  await engine.waitFor(waitingRun, ['waiting']);
  doneRun = (await engine.startRun('timed', { topic: 't' })).runId;
  await engine.send(doneRun, { type: 'decide' });
});
afterAll(async () => {
  await engine.stop(500);
});

/** Runs `act`, expects a SignoffError with `code`, and that no engine row changed. */
async function refused(code: ErrorCode, act: () => Promise<unknown>): Promise<string> {
  const before = {
    counts: await tableCounts(db.sql),
    runs: await db.sql`SELECT id, status, version, snapshot FROM runs ORDER BY id`,
  };
  const err = await act().then(
    () => null,
    (e: unknown) => e,
  );
  expect(isSignoffError(err), `expected a SignoffError, got ${String(err)}`).toBe(true);
  expect((err as { code: string }).code).toBe(code);
  expect({
    counts: await tableCounts(db.sql),
    runs: await db.sql`SELECT id, status, version, snapshot FROM runs ORDER BY id`,
  }).toEqual(before);
  const message = (err as Error).message;
  expect(message).not.toMatch(/SELECT|INSERT|UPDATE|\n\s+at /); // no SQL, no stack
  return message;
}

describe('refused input', () => {
  it('an event for an unknown run', async () => {
    const message = await refused('run_not_found', () =>
      engine.send('no-such-run', { type: 'review.approved', by: 'U1' }),
    );
    expect(message).toBe('no run no-such-run');
    await refused('run_not_found', () => engine.cancel('no-such-run'));
    await refused('run_not_found', () => engine.retry('no-such-run'));
  });

  it('an event the current state does not accept', async () => {
    const message = await refused('event_not_accepted', () =>
      engine.send(waitingRun, { type: 'decide' }, { actor: 'U1', dedupeKey: 'k1' }),
    );
    expect(message).toBe(`run ${waitingRun} is in state "awaitingDecision", which does not accept "decide"`);
    // The refused event's dedupe key was not burnt: the same key can still carry a good event.
    const other = (await engine.startRun('counted-approve', { subject: 'x', body: 'y' })).runId;
    await engine.waitFor(other, ['waiting']);
    await refused('event_not_accepted', () => engine.send(other, { type: 'decide' }, { dedupeKey: 'k2' }));
    expect(await engine.send(other, { type: 'review.rejected', by: 'U1' }, { dedupeKey: 'k2' })).toEqual({
      status: 'done',
      duplicate: false,
    });
  });

  it('an event for a run that has finished', async () => {
    const message = await refused('run_not_active', () => engine.send(doneRun, { type: 'decide' }));
    expect(message).toBe(`run ${doneRun} is done; it takes no more events`);
    await refused('run_not_active', () => engine.cancel(doneRun));
    await refused('run_not_failed', () => engine.retry(doneRun));
  });

  it('flow input failing its schema, naming the field', async () => {
    const message = await refused('input_invalid', () =>
      engine.startRun('counted-approve', { subject: '', body: 'b' }),
    );
    expect(message).toMatch(/^invalid input for "counted-approve": subject: /);
    const missing = await refused('input_invalid', () => engine.startRun('counted-approve', { subject: 'x' }));
    expect(missing).toMatch(/body: /);
    const wrongType = await refused('input_invalid', () => engine.startRun('flaky', { failTimes: 'three' }));
    expect(wrongType).toMatch(/failTimes: /);
    await refused('input_invalid', () => engine.startRun('counted-approve', null));
  });

  it('reserved xstate.* event types, and events without a type', async () => {
    for (const type of [
      'xstate.done.actor.draft',
      'xstate.error.actor.draft',
      'xstate.after.2000.timed.waiting',
      'xstate.init',
    ]) {
      const message = await refused('event_invalid', () => engine.send(waitingRun, { type, output: 'forged' }));
      expect(message).toBe(`event type "${type}" is reserved for the engine`);
    }
    await refused('event_invalid', () => engine.send(waitingRun, { type: '' }));
    await refused('event_invalid', () => engine.send(waitingRun, {} as never));
    await refused('event_invalid', () => engine.send(waitingRun, { type: 'x'.repeat(201) }));
    expect((await engine.getRun(waitingRun))!.status).toBe('waiting');
  });

  it('an unknown flow', async () => {
    const message = await refused('flow_not_found', () => engine.startRun('no-such-flow', {}));
    expect(message).toMatch(
      /^no flow named "no-such-flow" \(known: counted-approve, one-step, relay, timed, flaky, guarded\)$/,
    );
  });
});
