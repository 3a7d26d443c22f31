/**
 * The scheduler on real Postgres (RELIABILITY 38): each (schedule, slot) is
 * claimed by its schedule_fires row in the transaction that starts its run, so
 * two processes ticking at once start one run per slot; catch-up after
 * downtime fires the latest missed slot once, late, within the window; DST
 * rules hold through the ticker. Time is injected: each test moves a clock.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../../src/engine/engine.ts';
import type { Logger } from '../../../src/ops/log.ts';
import { Scheduler, type ScheduleTrigger } from '../../../src/triggers/schedules.ts';
import demo from '../../fixtures/flows/draft-approve.flow.ts';
import { useTestDb } from '../../helpers/db.ts';

const db = useTestDb({ max: 20 });
let engines: Engine[] = [];

beforeAll(async () => {
  // Three engines on one database: three bot processes as far as claims go (RELIABILITY 38 names three).
  engines = ['p1', 'p2', 'p3'].map(
    (workerId) => new Engine({ sql: db.sql, schema: db.schema, flows: [demo], pollMs: 60_000, workerId }),
  );
  await Promise.all(engines.map((e) => e.start()));
});
afterAll(async () => {
  await Promise.all(engines.map((e) => e.stop(1_000)));
});

/** A clock the test moves. */
function testClock(startIso: string) {
  let now = new Date(startIso).getTime();
  return {
    now: () => new Date(now),
    set: (iso: string) => (now = new Date(iso).getTime()),
    advance: (ms: number) => (now += ms),
  };
}

/** A logger that keeps its info lines. */
function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const keep = (msg: string, fields?: Record<string, unknown>) => lines.push(`${msg} ${JSON.stringify(fields ?? {})}`);
  return { lines, debug() {}, info: keep, warn: keep, error: keep };
}

function scheduler(
  engine: Engine,
  trigger: Omit<ScheduleTrigger, 'kind'>,
  clock: { now: () => Date },
  extra: { tickMs?: number; log?: Logger } = {},
) {
  return new Scheduler({
    transaction: (fn) => engine.transaction(fn),
    sql: db.sql,
    clock: clock.now,
    tickMs: extra.tickMs ?? 1_000,
    catchupHours: 6,
    flows: [{ id: 'draft-approve', triggers: [{ kind: 'schedule', ...trigger } as ScheduleTrigger] }],
    defaults: { channel: 'general', tenant: 'local' },
    ...(extra.log ? { log: extra.log } : {}),
  });
}

const input = (slot: { slotAt: string }) => ({ subject: `slot ${slot.slotAt}`, body: 'scheduled' });

async function firesOf(name: string) {
  return db.sql<{ slot_at: Date; run_id: string; is_late: boolean; trigger_key: string; subject: string }[]>`
    SELECT f.slot_at, f.run_id, f.is_late, r.trigger_key, r.input->>'subject' AS subject
    FROM schedule_fires f JOIN runs r ON r.id = f.run_id WHERE f.schedule_id = ${name} ORDER BY f.slot_at`;
}

describe('RELIABILITY 38: each slot fires once across processes', () => {
  it('three processes ticking together on a schedule every second: 10 slots, 10 runs, one each', async () => {
    const clock = testClock('2026-12-01T10:00:00.400Z');
    const pair = engines.map((e) => scheduler(e, { name: 'every-second', cron: '* * * * * *', input }, clock));
    await Promise.all(pair.map((s) => s.tick())); // first tick: catch-up of 10:00:00
    for (let i = 0; i < 9; i++) {
      clock.advance(1_000);
      await Promise.all(pair.map((s) => s.tick()));
    }
    const fires = await firesOf('every-second');
    expect(fires.map((f) => f.slot_at.toISOString())).toEqual(
      Array.from({ length: 10 }, (_, i) => `2026-12-01T10:00:0${i}.000Z`),
    );
    expect(fires.every((f) => f.trigger_key === `schedule:every-second:${f.slot_at.toISOString()}`)).toBe(true);
    expect(fires.every((f) => f.subject === `slot ${f.slot_at.toISOString()}`)).toBe(true);
    const [runs] = await db.sql<
      { n: number }[]
    >`SELECT count(*)::int AS n FROM runs WHERE trigger_key LIKE 'schedule:every-second:%'`;
    expect(runs!.n).toBe(10);
  });

  it('three processes on the real clock, ticking every 100 ms: every slot of 10 seconds starts exactly one run', async () => {
    const real = { now: () => new Date() };
    const pair = engines.map((e) =>
      scheduler(e, { name: 'real-second', cron: '* * * * * *', input }, real, { tickMs: 100 }),
    );
    pair.forEach((s) => s.start());
    const deadline = Date.now() + 30_000;
    let fires = await firesOf('real-second');
    while (fires.length < 11 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      fires = await firesOf('real-second');
    }
    await Promise.all(pair.map((s) => s.stop()));
    fires = await firesOf('real-second');
    expect(fires.length).toBeGreaterThanOrEqual(11);
    // Consecutive seconds, none missing, none twice (the primary key), each with its own run.
    const seconds = fires.map((f) => f.slot_at.getTime() / 1_000);
    expect(seconds).toEqual(seconds.map((_, i) => seconds[0]! + i));
    const runIds = await db.sql<{ id: string }[]>`SELECT id FROM runs WHERE trigger_key LIKE 'schedule:real-second:%'`;
    expect(new Set(runIds.map((r) => r.id))).toEqual(new Set(fires.map((f) => f.run_id)));
  });
});

describe('catch-up after downtime', () => {
  it('fires the latest missed slot once, marked late, and logs the older ones as skipped', async () => {
    const clock = testClock('2026-12-01T08:00:00.500Z');
    const before = scheduler(engines[0]!, { name: 'hourly', cron: '0 * * * *', input }, clock);
    await before.tick();
    expect((await firesOf('hourly')).map((f) => [f.slot_at.toISOString(), f.is_late])).toEqual([
      ['2026-12-01T08:00:00.000Z', false],
    ]);
    // Down from 08:00 to 11:20: 09:00, 10:00 and 11:00 were missed.
    clock.set('2026-12-01T11:20:00Z');
    const log = recordingLogger();
    const pair = engines.map((e) => scheduler(e, { name: 'hourly', cron: '0 * * * *', input }, clock, { log }));
    await Promise.all(pair.map((s) => s.tick()));
    expect((await firesOf('hourly')).map((f) => [f.slot_at.toISOString(), f.is_late])).toEqual([
      ['2026-12-01T08:00:00.000Z', false],
      ['2026-12-01T11:00:00.000Z', true],
    ]);
    expect(
      log.lines.some(
        (l) =>
          l.startsWith('schedule: skipping missed slots older than the latest one') &&
          l.includes('"after":"2026-12-01T08:00:00.000Z"') &&
          l.includes('"before":"2026-12-01T11:00:00.000Z"'),
      ),
    ).toBe(true);
    // The next ticks go on from there: 12:00 fires on time, once.
    clock.set('2026-12-01T12:00:00.500Z');
    await Promise.all(pair.map((s) => s.tick()));
    expect((await firesOf('hourly')).map((f) => [f.slot_at.toISOString(), f.is_late]).at(-1)).toEqual([
      '2026-12-01T12:00:00.000Z',
      false,
    ]);
    expect(await firesOf('hourly')).toHaveLength(3);
  });

  it('skips a missed slot older than the window (6 h) with a log line, and fires nothing', async () => {
    const clock = testClock('2026-12-01T09:00:05Z');
    await scheduler(engines[0]!, { name: 'daily', cron: '0 9 * * *', input }, clock).tick();
    clock.set('2026-12-02T15:30:00Z'); // the 09:00 slot of the 2nd is 6.5 h old
    const log = recordingLogger();
    const fired = await scheduler(engines[1]!, { name: 'daily', cron: '0 9 * * *', input }, clock, { log }).tick();
    expect(fired).toEqual([]);
    expect((await firesOf('daily')).map((f) => f.slot_at.toISOString())).toEqual(['2026-12-01T09:00:00.000Z']);
    expect(
      log.lines.some(
        (l) =>
          l.startsWith('schedule: skipping a missed slot older than the catch-up window') &&
          l.includes('"slot":"2026-12-02T09:00:00.000Z"') &&
          l.includes('"ageHours":6.5'),
      ),
    ).toBe(true);
  });
});

describe('DST and zones through the ticker (Europe/Berlin)', () => {
  async function tickThrough(name: string, cron: string, fromIso: string, toIso: string) {
    const clock = testClock(fromIso);
    const s = scheduler(engines[0]!, { name, cron, timezone: 'Europe/Berlin', input }, clock);
    while (clock.now().toISOString() < toIso) {
      await s.tick();
      clock.advance(10 * 60_000);
    }
    return (await firesOf(name)).map((f) => f.slot_at.toISOString());
  }

  it('the spring-forward night: 02:30 does not exist on 2026-03-29 and is skipped', async () => {
    expect(await tickThrough('gap', '30 2 * * *', '2026-03-28T00:00:00Z', '2026-03-30T03:00:00Z')).toEqual([
      '2026-03-28T01:30:00.000Z',
      '2026-03-30T00:30:00.000Z',
    ]);
  });

  it('the fall-back night: 02:00 and 02:30 happen twice on 2026-10-25 and fire once each', async () => {
    expect(await tickThrough('overlap', '*/30 2 * * *', '2026-10-24T23:50:00Z', '2026-10-25T03:00:00Z')).toEqual([
      '2026-10-25T00:00:00.000Z',
      '2026-10-25T00:30:00.000Z',
    ]);
  });

  it("Monday 09:00 Berlin is 08:00 UTC in winter, and the run gets the schedule's channel and tenant", async () => {
    const clock = testClock('2026-11-30T07:59:50Z');
    const s = scheduler(
      engines[0]!,
      { name: 'monday', cron: '0 9 * * MON', timezone: 'Europe/Berlin', channel: 'ops', input },
      clock,
    );
    await s.tick();
    clock.set('2026-11-30T08:00:20Z');
    const [fired] = await s.tick();
    expect(fired?.slotAt.toISOString()).toBe('2026-11-30T08:00:00.000Z');
    const [run] = await db.sql`SELECT trigger FROM runs WHERE id = ${fired!.runId}`;
    expect(run!.trigger).toEqual({ source: 'schedule', channel: 'ops', tenant: 'local' });
    const [status] = await s.list();
    expect([status!.nextLocal, status!.lastFired?.run_id]).toEqual(['2026-12-07 09:00:00', fired!.runId]);
  });
});
