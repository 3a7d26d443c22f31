/** The weekly digest's machine through the engine's pure decider: one channel or many, no clock read, no I/O. */
import { describe, expect, it } from 'vitest';
import { decideEvent, decideStart } from '../../src/engine/decide.ts';
import flow from '../../flows/weekly-digest.flow.ts';

const endAt = '2026-11-30T08:00:00.000Z';
const done = (src: string, output: unknown) => ({ type: `xstate.done.actor.${src}`, output }) as any;
const target = (channel: string) => ({ tenant: 'T1', platform: 'console', channel });
const digestOf = (channel: string) => ({ scope: { channel }, rejectionReasons: { this: [], prev: [] } });
const words = {
  value: { summary: ['a.', 'b.', 'c.'], reasonLabels: [] },
  model: 'offline',
  offline: true,
  usage: { inputTokens: 1, outputTokens: 1 },
  costUsd: 0,
};

describe('weekly-digest', () => {
  it('starts by finding its channels, with the slot time from the input (the default zone UTC)', () => {
    // The engine parses the input before the machine sees it (the zone defaults there).
    const d = decideStart(flow, 'r1', flow.input.parse({ endAt }));
    expect(d.snapshot.value).toBe('findingChannels');
    expect(d.jobs).toEqual([
      { key: 'r1:targets:1', kind: 'step', name: 'targets', childId: 'targets', input: { endAt, timezone: 'UTC' } },
    ]);
  });

  it('collects, summarizes and posts each channel in turn, then ends with the channels posted', () => {
    let d = decideStart(flow, 'r1', { endAt, timezone: 'Europe/Berlin' });
    let seq = 2;
    const next = (src: string, output: unknown) =>
      (d = decideEvent(flow, 'r1', seq++, d.snapshot, done(src, output), src));
    next('targets', [target('general'), target('support')]);
    expect(d.jobs.map((j) => [j.name, j.input])).toEqual([
      ['collect', { target: target('general'), endAt, timezone: 'Europe/Berlin' }],
    ]);
    next('collect', digestOf('general'));
    expect(d.jobs.map((j) => j.name)).toEqual(['summarize']);
    next('summarize', words);
    expect(d.jobs.map((j) => [j.name, j.input])).toEqual([
      ['post', { digest: digestOf('general'), words, previewFor: undefined }],
    ]);
    next('post', { channel: 'general', posted: true });
    expect(d.jobs.map((j) => [j.name, (j.input as any).target?.channel])).toEqual([['collect', 'support']]);
    next('collect', digestOf('support'));
    next('summarize', words);
    next('post', { channel: 'support', posted: true });
    expect([d.status, d.output]).toEqual(['done', { posted: ['general', 'support'] }]);
  });

  it('ends at once when no channel had review activity', () => {
    const start = decideStart(flow, 'r1', { endAt });
    const d = decideEvent(flow, 'r1', 2, start.snapshot, done('targets', []), 'targets');
    expect([d.status, d.jobs.length, d.output]).toEqual(['done', 0, { posted: [] }]);
  });

  it('a preview names its one channel and who sees it', () => {
    const start = decideStart(flow, 'r1', { endAt, target: target('general'), previewFor: 'alice' });
    expect(start.jobs[0]!.input).toMatchObject({ target: target('general'), previewFor: 'alice' });
  });

  it('refuses an input without a time, so a run never reads the clock for one', () => {
    expect(flow.input.safeParse({}).success).toBe(false);
    expect(flow.input.safeParse({ endAt: 'last monday' }).success).toBe(false);
  });

  it('is started by its schedule only: Mondays 09:00 Europe/Berlin, the slot as the end of the week', () => {
    expect(flow.triggers.map((t) => t.kind)).toEqual(['schedule']);
    const schedule = flow.triggers[0] as any;
    expect([schedule.cron, schedule.timezone]).toEqual(['0 9 * * MON', 'Europe/Berlin']);
    expect(schedule.input({ scheduleId: 'weekly-digest', slotAt: endAt, isLate: false })).toEqual({
      endAt,
      timezone: 'Europe/Berlin',
    });
  });
});
