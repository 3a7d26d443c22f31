/** The neutral message model's helpers: message refs round-trip, and truncation is marked. */
import { describe, expect, it } from 'vitest';
import { makeMessageRef, parseMessageRef, TRUNCATION_MARKER, truncateForDisplay } from '../../src/chat/messages.ts';
import { isSignoffError } from '../../src/errors.ts';
import { consoleRefParts } from '../../adapters/console/console-inbound.ts';
import { slackRefParts } from '../../adapters/slack/slack-inbound.ts';

describe('MessageRef', () => {
  it('is the platform prefix and parts, and parses back', () => {
    const ref = makeMessageRef('slack', 'C123', '1712.0001');
    expect(ref).toBe('slack:C123:1712.0001');
    expect(parseMessageRef(ref)).toEqual({ platform: 'slack', parts: ['C123', '1712.0001'] });
  });

  it('round-trips parts that contain the separator or the escape', () => {
    const parts = ['room:general', '100%', '%3A'];
    const ref = makeMessageRef('console', ...parts);
    expect(ref).toBe('console:room%3Ageneral:100%25:%253A');
    expect(parseMessageRef(ref)).toEqual({ platform: 'console', parts });
  });

  it('refuses what is not a ref, without echoing it', () => {
    for (const bad of ['', 'slack', 'Slack:C1:2', '1x:C1', ':C1', 'slack::1', 'slack:C1:50%', 'slack:%3a']) {
      try {
        parseMessageRef(bad);
        expect.unreachable(bad);
      } catch (err) {
        expect(isSignoffError(err, 'event_invalid')).toBe(true);
        expect((err as Error).message).toBe('not a message reference');
      }
    }
    expect(() => makeMessageRef('slack')).toThrow(/at least one non-empty part/);
    expect(() => makeMessageRef('slack', 'C1', '')).toThrow(/at least one non-empty part/);
    expect(() => makeMessageRef('sl:ack', 'C1')).toThrow(/lower-case letters and digits/);
  });

  it('takes any platform an adapter declares; each adapter reads only its own refs', () => {
    // The core lists no platforms: a new adapter (Discord) needs no change in src/chat.
    const ref = makeMessageRef('discord', '123', '456');
    expect(parseMessageRef(ref)).toEqual({ platform: 'discord', parts: ['123', '456'] });
    expect(slackRefParts(ref)).toBeNull();
    expect(consoleRefParts('discord:general:1')).toBeNull();
    expect(slackRefParts('slack:C1:1712.0001')).toEqual({ channel: 'C1', ts: '1712.0001', threadTs: '1712.0001' });
    expect(consoleRefParts('console:general:1')).toEqual({ channel: 'general', id: '1' });
  });
});

describe('truncateForDisplay', () => {
  it('leaves text that fits alone', () => {
    expect(truncateForDisplay('hello', 20)).toEqual({ text: 'hello', isTruncated: false });
    expect(truncateForDisplay('x'.repeat(20), 20)).toEqual({ text: 'x'.repeat(20), isTruncated: false });
  });

  it('cuts to the limit including an explicit marker', () => {
    const result = truncateForDisplay('x'.repeat(10_000), 3000);
    expect(result.isTruncated).toBe(true);
    expect(result.text).toHaveLength(3000);
    expect(result.text).toBe('x'.repeat(3000 - TRUNCATION_MARKER.length) + '… [truncated]');
  });

  it('never splits an emoji in half', () => {
    const limit = TRUNCATION_MARKER.length + 3;
    // 'ab' then an emoji (two UTF-16 units) straddling the cut at 3.
    const result = truncateForDisplay('ab😀cdefghijklmnop', limit);
    expect(result).toEqual({ text: 'ab' + TRUNCATION_MARKER, isTruncated: true });
  });

  it('refuses a limit too small to hold the marker', () => {
    expect(() => truncateForDisplay('hello', 3)).toThrow(/at least 13/);
  });
});
