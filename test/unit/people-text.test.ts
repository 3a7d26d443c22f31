/**
 * People's words (issue 16), as the pure parts handle them: broken Unicode is refused
 * before it can become a key, bidirectional controls are shown as markers by both
 * renderers, names cannot read like someone else's, card times carry their date when it
 * is not today, and a NUL in a Slack command reaches the parser (which says what is wrong).
 */
import { describe, expect, it } from 'vitest';
import { commandBody, parseRequest, submissionBody } from '../../adapters/console/console-inbound.ts';
import { renderCard as renderConsoleCard, renderNotice } from '../../adapters/console/console-render.ts';
import { toInboundCommand, unstorableFields } from '../../adapters/slack/slack-inbound.ts';
import { renderCard as renderSlackCard } from '../../adapters/slack/slack-render.ts';
import type { ReviewCard } from '../../src/chat/messages.ts';
import { impersonationRefusal, isWellFormedText, neutraliseBidi } from '../../src/chat/text.ts';
import { clockUtc } from '../../src/review/card.ts';
import { parseCommand } from '../../src/triggers/command-parse.ts';
import { unknownKeyProblem } from '../../src/triggers/input-keys.ts';

const SPOOF = 'Refund \u202Egnp.exe\u202C';

const card: ReviewCard = {
  title: SPOOF,
  fields: [{ label: 'File', value: SPOOF }],
  body: `Send ${SPOOF}`,
  status: { kind: 'pending', text: 'Waiting for review' },
  actions: ['approve'],
  reviewRef: 'rev-1',
  version: 1,
  runId: 'run-1',
  costLabel: '$0.0000',
};

describe('well-formed text', () => {
  it('tells lone surrogates from pairs', () => {
    expect(isWellFormedText('emoji 😀 ok')).toBe(true);
    expect(isWellFormedText('a\uD800b')).toBe(false);
    expect(isWellFormedText('a\uDC00')).toBe(false);
  });

  it('the web chat refuses a lone surrogate in an id or a field with a clear reason', () => {
    const ids = ['d-\uD800', 'd-\uD801'].map((deliveryId) =>
      parseRequest(commandBody, { user: 'alice', channel: 'general', text: 'help', deliveryId }),
    );
    for (const parsed of ids)
      expect(parsed).toEqual({
        ok: false,
        error: 'deliveryId has a broken character (an unpaired UTF-16 surrogate); retype it',
      });
    const fields = parseRequest(submissionBody, {
      user: 'bob',
      purpose: 'reject',
      reviewRef: 'r',
      version: 1,
      deliveryId: 'd',
      fields: { reason: 'no \uDFFF' },
    });
    expect(fields).toEqual({
      ok: false,
      error: 'fields.reason has a broken character (an unpaired UTF-16 surrogate); retype it',
    });
  });

  it('a NUL in a Slack command reaches the parser, whose answer says what is wrong', () => {
    const cmd = toInboundCommand({
      team_id: 'T1',
      channel_id: 'C1',
      user_id: 'U1',
      trigger_id: 't1',
      text: 'run a x=\u0000',
    });
    expect(cmd?.text).toBe('run a x=\u0000');
    expect(() => parseCommand(cmd!.text)).toThrow(/contains a NUL character/);
  });

  it('a Slack form field that cannot be stored is named, with what to do', () => {
    expect(unstorableFields({ reason: 'a\u0000', body: 'ok', note: 'x\uD800' })).toEqual({
      reason: 'This contains a NUL character (\\0), which cannot be stored; remove it.',
      note: 'This contains a broken character (an unpaired UTF-16 surrogate); retype it.',
    });
  });
});

describe('bidirectional controls', () => {
  it('are shown as markers, so the text reads in its real order', () => {
    expect(neutraliseBidi(SPOOF)).toBe('Refund [U+202E]gnp.exe[U+202C]');
    expect(neutraliseBidi('\u2066a\u2069\u200E\u200F\u061C')).toBe('[U+2066]a[U+2069][U+200E][U+200F][U+061C]');
  });

  it('on the web chat card and notice', () => {
    const view = renderConsoleCard(card, () => undefined);
    expect([view.title, view.fields[0]!.value, view.body.text]).toEqual([
      'Refund [U+202E]gnp.exe[U+202C]',
      'Refund [U+202E]gnp.exe[U+202C]',
      'Send Refund [U+202E]gnp.exe[U+202C]',
    ]);
    expect(renderNotice({ text: 'x', quote: SPOOF }, () => undefined).quote).toBe('Refund [U+202E]gnp.exe[U+202C]');
  });

  it('on the Slack card', () => {
    const rendered = JSON.stringify(renderSlackCard(card));
    expect(rendered).not.toMatch(/[\u202A-\u202E]/);
    expect(rendered).toContain('Refund [U+202E]gnp.exe[U+202C]');
  });
});

describe('names', () => {
  const people = [
    { id: 'bob', displayName: 'Bob Brown' },
    { id: 'carol', displayName: 'Carol Chen' },
  ];
  it("refuses a display name that reads like another person's name or id, and the bot's", () => {
    for (const displayName of [
      'Bob Brown',
      ' bob  BROWN',
      '@carol',
      'Ｂｏｂ Ｂｒｏｗｎ',
      'Bob\u200B Brown',
      'signoff',
    ]) {
      expect(impersonationRefusal({ id: 'mallory', displayName }, people), displayName).not.toBeNull();
    }
    expect(impersonationRefusal({ id: 'bob', displayName: 'Bob B.' }, people)).toBeNull();
    expect(impersonationRefusal({ id: 'mallory', displayName: 'Mallory' }, people)).toBeNull();
  });
});

describe('card times', () => {
  const now = new Date('2026-12-02T10:00:00Z');
  it('say the time zone, and the date when it is not today', () => {
    expect(clockUtc(new Date('2026-12-02T15:15:00Z'), now)).toBe('15:15 UTC');
    expect(clockUtc(new Date('2026-12-03T15:15:00Z'), now)).toBe('3 Dec 15:15 UTC');
    expect(clockUtc(new Date('2027-01-01T00:05:00Z'), now)).toBe('1 Jan 2027 00:05 UTC');
  });
});

describe('run keys', () => {
  it('names an unknown key and its near miss', () => {
    expect(unknownKeyProblem(['subject', 'customer'], ['subject', 'custmer'])).toBe(
      'unknown field "custmer"; did you mean "customer"?',
    );
    expect(unknownKeyProblem(['subject'], ['zzz'])).toBe('unknown field "zzz"; this flow takes "subject"');
    expect(unknownKeyProblem(['subject'], ['subject'])).toBeNull();
  });

  it('typographic quotes quote values like plain ones', () => {
    expect(parseCommand('run f a=“two words” b=‘it’s’ c=”x”')).toEqual({
      kind: 'run',
      flowId: 'f',
      input: { a: 'two words', b: 'it’s', c: 'x' },
    });
  });
});
