/**
 * Approve clicks are acknowledged once recorded and decided just after
 * (adapters/slack/slack-listeners.ts). The inbox is what makes that safe: a
 * redelivery is recognised, and a click whose process died between the ack and
 * the decision is decided by any process's replay, once (RELIABILITY I1).
 */
import { describe, expect, it } from 'vitest';
import { slackStore } from '../../../src/store/slack.ts';
import { useTestDb } from '../../helpers/db.ts';

const db = useTestDb();

describe('the recorded-click inbox', () => {
  it('records a click once, in batches, and tells a redelivery apart', async () => {
    const store = slackStore(db.sql);
    const keys = Array.from({ length: 50 }, (_v, i) => `T-batch-${i}`);
    const fresh = await Promise.all(keys.map((k) => store.recordClick(k, { action: { deliveryId: k } })));
    expect(fresh.every(Boolean)).toBe(true);
    expect(await store.recordClick('T-batch-7', { action: { deliveryId: 'T-batch-7' } })).toBe(false);
    const [row] = await db.sql<
      { n: number }[]
    >`SELECT count(*)::int AS n FROM inbox WHERE source = 'slack:click' AND key LIKE 'T-batch-%'`;
    expect(row!.n).toBe(50);
    await Promise.all(keys.map((k) => store.finishClick(k)));
  });

  it('replays clicks a dead process left undecided, each once, even with two replaying at the same time', async () => {
    const store = slackStore(db.sql);
    for (const key of ['T-r1', 'T-r2', 'T-r3']) await store.recordClick(key, { key });
    await store.finishClick('T-r2'); // decided by its own process
    const seen: string[] = [];
    const work = async (payload: unknown) => {
      seen.push((payload as { key: string }).key);
      await new Promise((r) => setTimeout(r, 50));
    };
    const [a, b] = await Promise.all([store.replayClicks(0, 50, work), store.replayClicks(0, 50, work)]);
    // Exactly the two undecided clicks, each by one replayer: a third would be a double decision.
    expect(a + b).toBe(2);
    expect(seen.sort()).toEqual(['T-r1', 'T-r3']);
    expect(await store.replayClicks(0, 50, work)).toBe(0);
  });

  it('keeps a click whose decision failed, for the next replay', async () => {
    const store = slackStore(db.sql);
    await store.recordClick('T-fail', { key: 'T-fail' });
    await expect(
      store.replayClicks(0, 50, async () => {
        throw new Error('database went away');
      }),
    ).rejects.toThrow('database went away');
    const later: string[] = [];
    await store.replayClicks(0, 50, async (p) => void later.push((p as { key: string }).key));
    expect(later).toContain('T-fail');
  });

  it('leaves young clicks to the process deciding them', async () => {
    const store = slackStore(db.sql);
    await store.recordClick('T-young', { key: 'T-young' });
    const seen: string[] = [];
    await store.replayClicks(60_000, 50, async (p) => void seen.push((p as { key: string }).key));
    expect(seen).not.toContain('T-young');
  });
});
