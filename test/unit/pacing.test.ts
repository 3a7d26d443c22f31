/**
 * The pacer holds calls to a key's limits, and a call that would wait past
 * its bound is handed back as `retryLater` (rescheduled in Postgres) instead
 * of waiting in memory; it never runs afterwards.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { isSignoffError } from '../../src/errors.ts';
import { Pacer } from '../../src/ops/pacing.ts';

let pacer: Pacer;
afterEach(async () => {
  await pacer?.stop();
});

describe('Pacer', () => {
  it('lets calls through up to the per-minute limit, then hands the next back as retryLater', async () => {
    pacer = new Pacer(100);
    const ran: number[] = [];
    const call = (n: number) => pacer.schedule('tool:crm.example', { perMinute: 2 }, async () => void ran.push(n));
    await call(1);
    await call(2);
    const third = await call(3).catch((err: unknown) => err);
    expect(isSignoffError(third, 'step_failed') && third.details).toMatchObject({
      retryable: true,
      defer: true,
      retryAfterMs: 100,
    });
    await new Promise((r) => setTimeout(r, 150));
    expect(ran).toEqual([1, 2]); // the abandoned call never ran
  });

  it('counts weight against the weight limit, and keys are independent', async () => {
    pacer = new Pacer(100);
    await pacer.schedule('model', { weightPerMinute: 1_000 }, async () => 'a', 800);
    const heavy = await pacer
      .schedule('model', { weightPerMinute: 1_000 }, async () => 'b', 300)
      .catch((err: unknown) => err);
    expect(isSignoffError(heavy, 'step_failed')).toBe(true);
    expect(await pacer.schedule('other', { weightPerMinute: 1_000 }, async () => 'd', 900)).toBe('d');
  });

  it('runs unpaced when the spec sets no limit: all 50 calls at once, none held back', async () => {
    pacer = new Pacer(100);
    let active = 0;
    let mostAtOnce = 0;
    const results = await Promise.all(
      Array.from({ length: 50 }, (_v, i) =>
        pacer.schedule('free', {}, async () => {
          active += 1;
          mostAtOnce = Math.max(mostAtOnce, active);
          await new Promise((r) => setImmediate(r)); // every call has started before any finishes, unless one was held
          active -= 1;
          return i;
        }),
      ),
    );
    expect(results).toEqual(Array.from({ length: 50 }, (_v, i) => i));
    expect(mostAtOnce).toBe(50);
  });
});
