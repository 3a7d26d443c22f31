/**
 * Schedule slots (src/triggers/cron.ts): croner in an IANA zone, with our DST
 * rules on top (docs/schedules.md): a wall-clock time that does not exist is
 * skipped, one that exists twice fires once (at its first occurrence).
 */
import { describe, expect, it } from 'vitest';
import { compileCron, latestSlotAtOrBefore, nextSlotAfter, slotsBetween, wallClock } from '../../src/triggers/cron.ts';

const iso = (dates: Date[]) => dates.map((d) => d.toISOString());
const between = (expr: string, tz: string, from: string, to: string) =>
  iso(slotsBetween(compileCron(expr, tz), new Date(from), new Date(to)));

describe('time zones', () => {
  it('reads 09:00 on Mondays in the zone given: 08:00 UTC in winter, 07:00 UTC in summer (Berlin)', () => {
    expect(between('0 9 * * MON', 'Europe/Berlin', '2026-11-29T00:00:00Z', '2026-12-08T00:00:00Z')).toEqual([
      '2026-11-30T08:00:00.000Z',
      '2026-12-07T08:00:00.000Z',
    ]);
    expect(between('0 9 * * MON', 'Europe/Berlin', '2026-06-01T00:00:00Z', '2026-06-02T00:00:00Z')).toEqual([
      '2026-06-01T07:00:00.000Z',
    ]);
  });

  it('reads the same expression in another zone (New York, UTC by default)', () => {
    expect(between('0 9 * * MON', 'America/New_York', '2026-11-29T00:00:00Z', '2026-12-01T00:00:00Z')).toEqual([
      '2026-11-30T14:00:00.000Z',
    ]);
    expect(
      iso(slotsBetween(compileCron('0 9 * * MON'), new Date('2026-11-29T00:00:00Z'), new Date('2026-12-01T00:00:00Z'))),
    ).toEqual(['2026-11-30T09:00:00.000Z']);
  });

  it('gives the next slot and its local time', () => {
    const spec = compileCron('0 9 * * MON', 'Europe/Berlin');
    const next = nextSlotAfter(spec, new Date('2026-12-03T12:00:00Z'))!;
    expect([next.toISOString(), wallClock(next, 'Europe/Berlin')]).toEqual([
      '2026-12-07T08:00:00.000Z',
      '2026-12-07 09:00:00',
    ]);
  });

  it('refuses an unknown zone and a malformed expression, saying which', () => {
    expect(() => compileCron('0 9 * * MON', 'Europe/Atlantis')).toThrow(/unknown time zone "Europe\/Atlantis"/);
    expect(() => compileCron('every monday', 'UTC')).toThrow(/invalid cron expression "every monday"/);
  });
});

describe('DST rules', () => {
  it('skips a slot whose time does not exist (Berlin, 2026-03-29: 02:00 → 03:00), where croner would run it at 03:00', () => {
    expect(between('30 2 * * *', 'Europe/Berlin', '2026-03-28T00:00:00Z', '2026-03-31T00:00:00Z')).toEqual([
      '2026-03-28T01:30:00.000Z',
      '2026-03-30T00:30:00.000Z',
    ]);
  });

  it('skips the missing slots of an interval schedule in the gap, keeping the ones around it', () => {
    expect(between('0 * * * *', 'Europe/Berlin', '2026-03-28T23:30:00Z', '2026-03-29T02:30:00Z'))
      // 01:00 CET, (02:00 does not exist), 03:00 CEST, 04:00 CEST
      .toEqual(['2026-03-29T00:00:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-29T02:00:00.000Z']);
  });

  it('fires a time that exists twice once, at its first occurrence (Berlin, 2026-10-25: 03:00 → 02:00)', () => {
    // */30 in hour 2: croner gives 02:00 and 02:30 twice each; we keep the CEST ones.
    expect(between('*/30 2 * * *', 'Europe/Berlin', '2026-10-24T23:00:00Z', '2026-10-25T03:00:00Z')).toEqual([
      '2026-10-25T00:00:00.000Z',
      '2026-10-25T00:30:00.000Z',
    ]);
    expect(between('30 2 * * *', 'Europe/Berlin', '2026-10-24T00:00:00Z', '2026-10-27T00:00:00Z')).toEqual([
      '2026-10-24T00:30:00.000Z',
      '2026-10-25T00:30:00.000Z',
      '2026-10-26T01:30:00.000Z',
    ]);
  });

  it('finds the latest slot before a time across both rules', () => {
    const overlap = compileCron('*/30 2 * * *', 'Europe/Berlin');
    // 02:30 CET (01:30Z) is the repeat: the latest slot at it is 02:30 CEST.
    expect(latestSlotAtOrBefore(overlap, new Date('2026-10-25T01:30:00Z'))?.toISOString()).toBe(
      '2026-10-25T00:30:00.000Z',
    );
    const gap = compileCron('30 2 * * *', 'Europe/Berlin');
    expect(latestSlotAtOrBefore(gap, new Date('2026-03-29T12:00:00Z'))?.toISOString()).toBe('2026-03-28T01:30:00.000Z');
  });

  it('keeps every second of a seconds schedule', () => {
    expect(between('* * * * * *', 'UTC', '2026-01-01T00:00:00Z', '2026-01-01T00:00:03Z')).toEqual([
      '2026-01-01T00:00:01.000Z',
      '2026-01-01T00:00:02.000Z',
      '2026-01-01T00:00:03.000Z',
    ]);
  });
});
