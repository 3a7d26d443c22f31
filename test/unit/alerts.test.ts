/**
 * The words and grouping of alerts (src/ops/alert-text.ts), pure: which causes
 * the facts of one sweep open, and what each says; and their settings. The
 * integration tests in test/integration/ops/alerts*.test.ts post them through real ports.
 */
import { describe, expect, it } from 'vitest';
import { readConfig } from '../../src/config.ts';
import { draftAlerts, resolvedText, type AlertFacts } from '../../src/ops/alert-text.ts';
import type { AlertRow } from '../../src/store/alerts.ts';

const none: AlertFacts = { runs: [], budgets: [], deadLetters: [], circuits: [] };
const opts = { deadLetterBurst: 5, deadLetterWindowMs: 600_000, openCauses: new Set<string>() };

describe('draftAlerts', () => {
  it('opens a dead-letter burst at the threshold and keeps an open one while any letter is in the window', () => {
    const four = { ...none, deadLetters: [{ source: 'stripe', count: 4, latestReason: 'bad' }] };
    expect(draftAlerts(four, opts)).toEqual([]);
    const open = draftAlerts(four, { ...opts, openCauses: new Set(['dead-letters:stripe']) });
    expect(open.map((d) => [d.cause, d.count])).toEqual([['dead-letters:stripe', 4]]);
  });

  it('gathers quota pauses of every flow into one alert, and does not call them parked runs', () => {
    const facts: AlertFacts = {
      ...none,
      runs: [
        { flow: 'a', kind: 'quota', step: null, count: 2, latestRunId: 'r1', latestReason: 'blocked:quota: x' },
        { flow: 'b', kind: 'quota', step: null, count: 1, latestRunId: 'r2', latestReason: 'blocked:quota: x' },
      ],
    };
    const drafts = draftAlerts(facts, opts);
    expect(drafts.map((d) => [d.cause, d.count])).toEqual([['model-quota', 3]]);
    expect(drafts[0]!.message).toContain('3 runs are paused (a, b; latest `r1`)');
  });

  it('keys failed runs by flow and step, and quotes at most 300 characters of the reason', () => {
    const reason = `step "send" failed: ${'x'.repeat(400)}`;
    const facts: AlertFacts = {
      ...none,
      runs: [
        { flow: 'triage', kind: 'failed', step: 'send', count: 1, latestRunId: 'r9', latestReason: reason },
        { flow: 'triage', kind: 'failed', step: null, count: 2, latestRunId: 'r8', latestReason: 'flow failed: y' },
      ],
    };
    const [one, many] = draftAlerts(facts, opts);
    expect(one).toMatchObject({ cause: 'run-failed:triage:send', quote: reason.slice(0, 300) });
    expect(one!.message).toBe(
      'Run `r9` of triage failed at `send`. Next: fix what the error says, then `/signoff retry r9`, ' +
        'or `/signoff cancel r9` to give it up. Its error:',
    );
    expect(many).toMatchObject({ cause: 'run-failed:triage:-', count: 2 });
    expect(many!.message).toMatch(/^2 runs of triage failed \(latest `r8`\)\. Next: /);
  });
});

it('resolvedText says when, in UTC, and what is over', () => {
  const row = {
    kind: 'circuit',
    subject: { host: 'api.example.com' },
    peak_count: 1,
    cleared_at: new Date('2026-12-04T14:02:31Z'),
  } as unknown as AlertRow;
  expect(resolvedText(row)).toBe(
    'Resolved at 2026-12-04 14:02 UTC: no bot process sees the circuit to api.example.com open any more.',
  );
});

it('names the settings to fix when a tool host refused our credentials', () => {
  const reason =
    'step "send" failed: tool "zendesk.reply" was refused by acme.zendesk.com (401): Couldn\'t authenticate you';
  const [draft] = draftAlerts(
    {
      ...none,
      runs: [{ flow: 'triage', kind: 'failed', step: 'send', count: 1, latestRunId: 'r1', latestReason: reason }],
    },
    opts,
  );
  expect(draft!.message).toContain(
    "Next: acme.zendesk.com refused signoff's credentials (401): fix the ZENDESK_* settings (see .env.example) " +
      'and restart, then `/signoff retry r1`',
  );
});

describe('alert settings', () => {
  it('default to logging only, a 15 s sweep and 5 dead letters in 10 minutes', () => {
    expect(readConfig({}).alerts).toEqual({
      channel: null,
      sweepMs: 15_000,
      deadLetterBurst: 5,
      deadLetterWindowMs: 600_000,
    });
    expect(readConfig({ SIGNOFF_ALERT_CHANNEL: 'C0123ABCD' }).alerts.channel).toBe('C0123ABCD');
  });

  it('refuse a channel with spaces and a burst of 0, naming both', () => {
    expect(() => readConfig({ SIGNOFF_ALERT_CHANNEL: 'ops alerts', ALERT_DEAD_LETTER_BURST: '0' })).toThrow(
      /SIGNOFF_ALERT_CHANNEL must be a channel id or name without spaces[\s\S]*ALERT_DEAD_LETTER_BURST must be a whole number from 1/,
    );
  });
});
