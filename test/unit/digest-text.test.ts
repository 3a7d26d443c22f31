/** The digest's pure parts: changes, durations, how much a draft changed, reason rules, the bars fallback, a schedule refused at load. */
import { describe, expect, it } from 'vitest';
import { defineFlow, setup } from '../../src/authoring/index.ts';
import { chartText } from '../../src/steps/digest/chart.ts';
import { changedShare } from '../../src/steps/digest/figures.ts';
import { formatDuration, ruleLabel, withChange } from '../../src/steps/digest/text.ts';
import { z } from 'zod';

describe('figures in words', () => {
  it('shows each figure with its change', () => {
    expect([
      withChange({ this: 12, prev: 9 }),
      withChange({ this: 4, prev: 6 }),
      withChange({ this: 7, prev: 7 }),
    ]).toEqual(['12 (+3)', '4 (−2)', '7 (=)']);
    expect(withChange({ this: 0.035, prev: 0.03 }, (n) => `$${n.toFixed(4)}`)).toBe('$0.0350 (+$0.0050)');
  });

  it('writes durations the way people read them', () => {
    expect([45, 600, 3_000, 3_900, 90_000].map(formatDuration)).toEqual(['45s', '10m', '50m', '1h 05m', '1d 1h']);
  });
});

describe('how much a draft changed', () => {
  it('is the word-level edit distance over the longer text', () => {
    expect(changedShare({ reply: 'we will refund you soon' }, { reply: 'we will refund you today' })).toBe(1 / 5);
    expect(changedShare({ reply: 'a b c' }, { reply: 'a b c' })).toBe(0);
    expect(changedShare({ reply: 'old words' }, { reply: 'entirely new text here' })).toBe(1);
    expect(changedShare({}, {})).toBe(0);
  });
});

describe('rejection reasons by plain rules', () => {
  it('puts each reason under the first rule its words match, else "other"', () => {
    expect(
      [
        'The tone is too harsh',
        'Missing the order number',
        'Wrong amount',
        'Against our refund policy',
        'Way too long',
        'nope',
      ].map(ruleLabel),
    ).toEqual(['tone', 'missing information', 'wrong facts', 'policy', 'too long', 'other']);
  });
});

describe('the chart as text', () => {
  it('draws one bar per day scaled to the busiest, with counts and the median', () => {
    const text = chartText(
      [
        { day: '2026-11-24', approved: 2, rejected: 0, expired: 0, medianS: 600 },
        { day: '2026-11-25', approved: 0, rejected: 0, expired: 0, medianS: null },
      ],
      formatDuration,
    );
    expect(text.split('\n')).toEqual([
      `11-24 ${'█'.repeat(20)} 2 (2 approved, 0 rejected, 0 expired, median 10m)`,
      `11-25 ${'·'.padEnd(20)} 0 (0 approved, 0 rejected, 0 expired)`,
    ]);
  });
});

describe('a schedule in a flow file', () => {
  const machine = setup({}).createMachine({ id: 'x', initial: 'a', states: { a: { type: 'final' } } });
  it('refuses a bad cron expression or zone when the flow loads', () => {
    expect(() =>
      defineFlow({
        id: 'x',
        title: 'x',
        input: z.object({}),
        machine,
        triggers: [{ kind: 'schedule', cron: '61 * * * *' }],
      }),
    ).toThrow(/invalid cron expression "61 \* \* \* \*"/);
    expect(() =>
      defineFlow({
        id: 'x',
        title: 'x',
        input: z.object({}),
        machine,
        triggers: [{ kind: 'schedule', cron: '0 9 * * MON', timezone: 'Mars/Olympus' }],
      }),
    ).toThrow(/unknown time zone "Mars\/Olympus"/);
  });
});
