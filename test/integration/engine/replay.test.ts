/**
 * Replay and flow versions (RELIABILITY D40, D41). Every run's stored events
 * (kind 'event', in seq order), fed through the engine's pure decider, reproduce
 * the recorded state sequence, the final snapshot and the job keys: the machine
 * is deterministic and the log is complete. And a deploy that changes a flow
 * never corrupts a run in flight: a run whose state still exists carries on in
 * the new machine; one whose state is gone is parked with the reason.
 */
import { assign, setup } from 'xstate';
import { z } from 'zod';
import { beforeAll, describe, expect, it } from 'vitest';
import { decideEvent, decideStart, type StoredSnapshot } from '../../../src/engine/decide.ts';
import type { Engine } from '../../../src/engine/engine.ts';
import { compileFlow as defineFlow, type Flow } from '../../../src/engine/flow.ts';
import { slot as step } from '../../helpers/flows/slot.ts';
import { isSignoffError } from '../../../src/errors.ts';
import { useTestDb } from '../../helpers/db.ts';
import { eventCount, startTestEngine } from '../../helpers/engines.ts';
import { createStepLog, testFlows } from '../../helpers/flows/test-flows.ts';

const db = useTestDb();
const versionDb = useTestDb();

beforeAll(async () => {
  await Promise.all([db, versionDb].map((d) => createStepLog(d.sql)));
});

describe('replaying stored events', () => {
  it("reproduces every run's recorded states, final snapshot and jobs", async () => {
    const engine = await startTestEngine(db, { workerId: 'recorder' });
    try {
      await Promise.all([
        (async () => {
          const { runId } = await engine.startRun('counted-approve', { subject: 'a', body: 'b' });
          await engine.waitFor(runId, ['waiting']);
          await engine.send(runId, { type: 'review.approved', by: 'U1' }, { actor: 'U1', dedupeKey: 'click-1' });
          await engine.waitFor(runId, ['done']);
        })(),
        (async () => {
          const { runId } = await engine.startRun('counted-approve', { subject: 'c', body: 'd' });
          await engine.waitFor(runId, ['waiting']);
          await engine.send(runId, { type: 'review.rejected', by: 'U2' }, { actor: 'U2' });
        })(),
        (async () => {
          const { runId } = await engine.startRun('timed', { topic: 'left to expire' });
          await engine.waitFor(runId, ['done'], { timeoutMs: 5_000 });
        })(),
        (async () => {
          const { runId } = await engine.startRun('timed', { topic: 'answered' });
          await engine.send(runId, { type: 'decide' });
        })(),
        (async () => {
          // Fails for good (notes in the log), then an operator retry completes it.
          const { runId } = await engine.startRun('flaky', { failTimes: 3 });
          await engine.waitFor(runId, ['failed'], { timeoutMs: 5_000 });
          await engine.retry(runId);
          await engine.waitFor(runId, ['done'], { timeoutMs: 5_000 });
        })(),
        (async () => {
          const { runId } = await engine.startRun('guarded', { label: 'g' });
          await engine.waitFor(runId, ['done'], { timeoutMs: 5_000 });
        })(),
        (async () => {
          const { runId } = await engine.startRun('relay', { n: 7, failFirst: true });
          await engine.waitFor(runId, ['done'], { timeoutMs: 5_000 });
        })(),
      ]);
    } finally {
      await engine.stop(500);
    }

    const flows = new Map(testFlows({ sql: db.sql, worker: 'replay' }).map((f) => [f.id, f]));
    const runs = await db.sql<{ id: string; flow: string; input: unknown; snapshot: StoredSnapshot; status: string }[]>`
      SELECT id, flow, input, snapshot, status FROM runs ORDER BY created_at`;
    expect(runs.map((r) => r.flow).sort()).toEqual([
      'counted-approve',
      'counted-approve',
      'flaky',
      'guarded',
      'relay',
      'timed',
      'timed',
    ]);
    expect(runs.every((r) => r.status === 'done')).toBe(true);
    let replayed = 0;
    for (const run of runs) {
      const flow = flows.get(run.flow)!;
      const events = await db.sql<
        { seq: number; type: string; event: any; state_before: unknown; state_after: unknown }[]
      >`
        SELECT seq, type, event, state_before, state_after FROM run_events WHERE run_id = ${run.id} AND kind = 'event' ORDER BY seq`;
      expect(events[0]).toMatchObject({ seq: 1, type: 'xstate.init', state_before: null });
      let dec = decideStart(flow, run.id, run.input);
      expect(dec.snapshot.value, `${run.id} seq 1`).toEqual(events[0]!.state_after);
      const jobKeys = dec.jobs.map((j) => j.key);
      for (const e of events.slice(1)) {
        const completed = /^xstate\.(?:done|error)\.actor\.(.+)$/.exec(e.type)?.[1];
        expect(dec.snapshot.value, `${run.id} seq ${e.seq} before`).toEqual(e.state_before);
        dec = decideEvent(flow, run.id, e.seq, dec.snapshot, e.event, completed);
        expect(dec.changed).toBe(true);
        expect(dec.snapshot.value, `${run.id} seq ${e.seq} (${e.type})`).toEqual(e.state_after);
        jobKeys.push(...dec.jobs.map((j) => j.key));
        replayed++;
      }
      expect(dec.snapshot).toEqual(run.snapshot);
      const stored = await db.sql<{ key: string }[]>`SELECT key FROM jobs WHERE run_id = ${run.id} ORDER BY key`;
      expect(jobKeys.sort()).toEqual(stored.map((j) => j.key));
    }
    expect(replayed).toBe(11); // every stored event after xstate.init
  });
});

// The same flow id in two deploys. v2 adds `confirming` after approval and drops `escalated`.
const Input = z.object({ hold: z.boolean().default(false) });
const v1Machine = setup({
  types: {} as { input: z.infer<typeof Input>; context: { hold: boolean; draft?: string } },
  actors: { draft: step<{ hold: boolean }, string>() },
}).createMachine({
  id: 'evolving',
  context: ({ input }) => ({ hold: input.hold }),
  initial: 'drafting',
  states: {
    drafting: {
      invoke: {
        src: 'draft',
        id: 'draft',
        input: ({ context }) => ({ hold: context.hold }),
        onDone: { target: 'awaiting', actions: assign({ draft: ({ event }) => event.output }) },
      },
    },
    awaiting: { on: { approve: 'done', escalate: 'escalated' } },
    escalated: { on: { resolve: 'done' } },
    done: { type: 'final' },
  },
});
const v2Machine = setup({
  types: {} as { input: z.infer<typeof Input>; context: { hold: boolean; draft?: string } },
  actors: { draft: step<{ hold: boolean }, string>() },
}).createMachine({
  id: 'evolving',
  context: ({ input }) => ({ hold: input.hold }),
  initial: 'drafting',
  states: {
    drafting: {
      invoke: {
        src: 'draft',
        id: 'draft',
        input: ({ context }) => ({ hold: context.hold }),
        onDone: { target: 'awaiting', actions: assign({ draft: ({ event }) => event.output }) },
      },
    },
    awaiting: { on: { approve: 'confirming' } },
    confirming: { on: { confirm: 'done' } },
    done: { type: 'final' },
  },
});

function evolving(machine: typeof v1Machine | typeof v2Machine, label: string): Flow<any> {
  return defineFlow({
    id: 'evolving',
    title: `Evolving (${label})`,
    input: Input,
    machine,
    steps: {
      draft: {
        run: async ({ hold }: { hold: boolean }) => {
          if (hold && label === 'v1') await new Promise<never>(() => {}); // in flight until the deploy stops v1's engine
          return `drafted by ${label}`;
        },
        timeoutMs: 10_000,
      },
    },
  });
}

describe('a changed flow with runs in flight', () => {
  it('lets runs whose state still exists carry on, and parks the ones whose state is gone', async () => {
    const v1 = evolving(v1Machine, 'v1');
    const v2 = evolving(v2Machine, 'v2');
    expect(v2.version).not.toBe(v1.version);

    let engine: Engine = await startTestEngine(versionDb, { workerId: 'deploy-1', flows: [v1] });
    const started: Record<string, string> = {};
    try {
      for (const name of ['waiting', 'parkedByEvent', 'parkedBySweep', 'untouched']) {
        started[name] = (await engine.startRun('evolving', {})).runId;
        await engine.waitFor(started[name]!, ['waiting']);
      }
      for (const name of ['parkedByEvent', 'parkedBySweep']) await engine.send(started[name]!, { type: 'escalate' });
      started.inFlight = (await engine.startRun('evolving', { hold: true })).runId;
    } finally {
      await engine.stop(100); // the deploy: the held draft is handed back
    }

    engine = await startTestEngine(versionDb, { workerId: 'deploy-2', flows: [v2] });
    try {
      // State still exists: continues through the state v2 added.
      await engine.send(started.waiting!, { type: 'approve' });
      expect((await engine.getRun(started.waiting!))!.snapshot.value).toBe('confirming');
      await engine.send(started.waiting!, { type: 'confirm' });
      const done = await engine.getRun(started.waiting!);
      expect([done!.status, done!.flow_version]).toEqual(['done', v1.version]);

      // A step in flight at the deploy finishes under v2, into a state that exists in both.
      const inFlight = await engine.waitFor(started.inFlight!, ['waiting'], { timeoutMs: 5_000 });
      expect([inFlight.state, (inFlight.context as { draft: string }).draft]).toEqual(['awaiting', 'drafted by v2']);
      expect(await eventCount(versionDb.sql, started.inFlight!, 'xstate.done.actor.draft')).toBe(1);

      // State gone: an event parks the run and is refused with the reason.
      const id = started.parkedByEvent!;
      const before = (await engine.getRun(id))!;
      const err = await engine.send(id, { type: 'resolve' }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(isSignoffError(err, 'run_not_active')).toBe(true);
      expect((err as Error).message).toMatch(/is parked: .*state "escalated" no longer exists/);
      const parked = (await engine.getRun(id))!;
      expect(parked.status).toBe('parked');
      expect(parked.status_reason).toBe(
        'flow "evolving" changed since this run started: its state "escalated" no longer exists; migrate or cancel the run',
      );
      expect(parked.snapshot).toEqual(before.snapshot);
      expect(parked.version).toBe(before.version + 1);
      expect((await engine.timeline(id)).map((e) => [e.kind, e.type]).slice(-1)).toEqual([['note', 'run.parked']]);

      // The sweep after a deploy parks exactly the orphans.
      expect(await engine.parkOrphanedRuns()).toEqual([started.parkedBySweep]);
      expect((await engine.getRun(started.parkedBySweep!))!.status_reason).toMatch(
        /state "escalated" no longer exists/,
      );
      expect((await engine.getRun(started.untouched!))!.status).toBe('waiting');
      expect(await engine.parkOrphanedRuns()).toEqual([]);
    } finally {
      await engine.stop(500);
    }
  });
});
