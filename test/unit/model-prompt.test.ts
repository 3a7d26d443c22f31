/**
 * Prompt files and the text rules applied before anything reaches a model:
 * redaction of known secrets (RELIABILITY 86), truncation with a marker (81),
 * and `{{placeholders}}` that fail loudly when misspelt.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_REDACT_PATTERNS } from '../../src/config.ts';
import { isSignoffError } from '../../src/errors.ts';
import { loadPrompt, parsePrompt, redact, renderPrompt, truncateForModel } from '../../src/steps/model/prompt.ts';

describe('redact', () => {
  it.each([
    ['an OpenAI key', 'key sk-abcdefghijklmnopqrstuvwx here', 'key [redacted] here'],
    ['a Slack bot token', 'xoxb-123456789012-abcdefghijkl', '[redacted]'],
    ['a password value, keeping its label', 'password: hunter22, ok', 'password: [redacted], ok'],
    ['a bearer token', 'Authorization: Bearer abcdefghijklmnopqrstu', 'Authorization: Bearer [redacted]'],
    ['an AWS key id', 'AKIAABCDEFGHIJKLMNOP', '[redacted]'],
    ['a Salesforce access token', 'sid 00D5e000000KQ2e!AQ4AQFakeAccessToken.x1y2z3 ok', 'sid [redacted] ok'],
    ['every occurrence', 'sk-aaaaaaaaaaaaaaaaaaaa and sk-bbbbbbbbbbbbbbbbbbbb', '[redacted] and [redacted]'],
  ])('replaces %s', (_name, text, expected) => {
    expect(redact(text, DEFAULT_REDACT_PATTERNS)).toBe(expected);
  });

  it('leaves ordinary text alone', () => {
    const text = 'The printer in room 4 (ask Sam) is on fire; the password reset page works.';
    expect(redact(text, DEFAULT_REDACT_PATTERNS)).toBe(text);
  });
});

describe('truncateForModel', () => {
  it('returns text within the limit unchanged', () => {
    expect(truncateForModel('short', 10)).toBe('short');
    expect(truncateForModel('x'.repeat(10), 10)).toBe('x'.repeat(10));
  });

  it('cuts longer text to the limit, marker included, and says how much is missing', () => {
    const text = 'a'.repeat(5_000);
    const cut = truncateForModel(text, 1_000);
    expect(cut.length).toBeLessThanOrEqual(1_000);
    const [, kept, omitted] = /^(a+)\n…\[truncated: (\d+) characters omitted\]$/.exec(cut)!;
    expect(kept!.length + Number(omitted)).toBe(5_000);
  });

  it('never splits a surrogate pair', () => {
    const text = `${'a'.repeat(9)}😀${'b'.repeat(100)}`;
    const keepWouldSplit = 10 + '\n…[truncated: 111 characters omitted]'.length;
    const cut = truncateForModel(text, keepWouldSplit);
    expect(cut.startsWith('a'.repeat(9) + '\n')).toBe(true);
    expect(cut).toContain('[truncated: 102 characters omitted]');
  });
});

describe('prompt files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'signoff-prompts-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const TEXT = [
    '# Ticket reply (a comment: ignored)',
    '## system',
    'You are a support agent.',
    '',
    '## user',
    'Subject: {{subject}}',
    '{{ body }}',
    '',
    '{{#feedback}}',
    'Reviewer feedback: {{feedback}}',
    '{{/feedback}}',
  ].join('\n');

  it('splits a file into its system and user sections and caches it by path', async () => {
    const path = join(dir, 'reply.md');
    await writeFile(path, TEXT);
    const template = await loadPrompt(path);
    expect(template).toEqual({
      path,
      system: 'You are a support agent.',
      user: expect.stringMatching(/^Subject: \{\{subject\}\}/),
    });
    await rm(path);
    expect(await loadPrompt(path)).toBe(template);
  });

  it('refuses a file without both sections', () => {
    let error: unknown;
    try {
      parsePrompt('bad.md', '## system\nOnly instructions.');
    } catch (err) {
      error = err;
    }
    expect(isSignoffError(error, 'flow_invalid')).toBe(true);
    expect((error as Error).message).toContain('bad.md');
  });

  it('fills placeholders and renders a block only when its value is a non-empty string', () => {
    const template = parsePrompt('reply.md', TEXT);
    const vars = { subject: 'Printer on fire', body: 'It is on fire.' };
    expect(renderPrompt(template, { ...vars, feedback: undefined })).toEqual({
      system: 'You are a support agent.',
      prompt: 'Subject: Printer on fire\nIt is on fire.',
    });
    expect(renderPrompt(template, { ...vars, feedback: '' }).prompt).toBe('Subject: Printer on fire\nIt is on fire.');
    expect(renderPrompt(template, { ...vars, feedback: 'Be shorter.' }).prompt).toBe(
      'Subject: Printer on fire\nIt is on fire.\n\nReviewer feedback: Be shorter.',
    );
  });

  it('does not read template syntax inside values', () => {
    const template = parsePrompt('reply.md', TEXT);
    const rendered = renderPrompt(template, { subject: '{{body}}', body: '{{#feedback}}x', feedback: undefined });
    expect(rendered.prompt).toBe('Subject: {{body}}\n{{#feedback}}x');
  });

  it('throws a clear error for an unknown placeholder or an unclosed block', () => {
    const unknown = parsePrompt('typo.md', '## system\nHi\n## user\nSubject: {{subjetc}}');
    expect(() => renderPrompt(unknown, { subject: 'x' })).toThrow(
      'prompt typo.md uses {{subjetc}}, but no value named "subjetc" was given',
    );
    const unclosed = parsePrompt('open.md', '## system\nHi\n## user\n{{#feedback}}Feedback: {{feedback}}');
    expect(() => renderPrompt(unclosed, { feedback: 'x' })).toThrow('block "feedback" is not closed');
  });
});
