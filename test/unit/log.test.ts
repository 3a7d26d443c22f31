/**
 * The logger (src/ops/log.ts) on its own: what reaches a line, in JSON and in
 * pretty mode. RELIABILITY 77 (no credential by key or by value), 78 (the
 * correlation id on every line of a context), 80 (CR/LF/ANSI and other controls
 * encoded, in both modes). Lines are captured through the logger's `write`.
 */
import { describe, expect, it } from 'vitest';
import { credentialValues, DEFAULT_REDACT_PATTERNS, readConfig } from '../../src/config.ts';
import { withCorrelation } from '../../src/ops/correlation.ts';
import { createLogger, encodeControls, type LogOptions } from '../../src/ops/log.ts';

function capture(options: LogOptions = {}, level: 'debug' | 'info' = 'debug') {
  const lines: string[] = [];
  return { lines, log: createLogger(level, (line) => lines.push(line), options) };
}

const BOT_TOKEN = 'xoxb-1111-2222-s3cretBotZq9f';
const KNOWN = 'plainS3cretWithoutAnyShape';
/** A terminal control sequence no pretty-printer colour uses: clear the screen, cursor home. */
const CLEAR_SCREEN = '\u001b[2J\u001b[H';
const HOSTILE = `refund\r\n{"level":"error","msg":"forged"}${CLEAR_SCREEN}\u001b[31mred\u009b2J\u2028\u202egnp.exe\u0000`;
/** Characters no line may carry raw: C0 but tab, DEL, C1, the Unicode line separators, bidi overrides. */
// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

describe('77: secrets never reach a log line', () => {
  const credentials = {
    authorization: 'Bearer abc.def.ghi',
    headers: { authorization: 'Basic dXNlcjpwYXNz', cookie: 'session=1', 'x-api-key': 'k-123456' },
    request: { headers: { 'proxy-authorization': 'Basic eHh4', 'set-cookie': ['sid=2'] } },
    a: { b: { c: { password: 'hunter2hunter2', token: 'tok-9f8e7d6c' } } },
    settings: { apiKey: 'key-abcdef', signingSecret: 'sig-abcdef', secret: 'whatever1' },
  };

  for (const format of ['json', 'pretty'] as const) {
    it(`censors credential keys at every depth named, known values and secret patterns in any string (${format})`, () => {
      const { lines, log } = capture({ format, secrets: [KNOWN], patterns: DEFAULT_REDACT_PATTERNS });
      log.debug('calling the api', credentials);
      log.error(`failed with ${KNOWN}`, {
        error: new Error(`401 for ${BOT_TOKEN}: sk-proj-s3cretOpenAIWu6c99a2`),
        detail: [`token=${KNOWN}`, { deep: { deeper: `whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw` } }],
      });
      const text = lines.join('\n');
      expect(lines).toHaveLength(2);
      for (const secret of [
        'abc.def.ghi',
        'dXNlcjpwYXNz',
        'session=1',
        'k-123456',
        'eHh4',
        'sid=2',
        'hunter2hunter2',
        'tok-9f8e7d6c',
        'key-abcdef',
        'sig-abcdef',
        'whatever1',
        KNOWN,
        BOT_TOKEN,
        'sk-proj-',
        'whsec_',
      ])
        expect(text, secret).not.toContain(secret);
      expect(text).toContain('[redacted]');
      expect(text).toContain('401 for'); // the message itself stays, only the secret goes
    });
  }

  it('knows every credential the config holds, so main.ts redacts them by value', () => {
    const env = {
      DATABASE_URL: 'postgres://signoff:pg%2Fpass%3Aword@db.internal:5432/signoff',
      OPENAI_API_KEY: 'sk-live-openai-key-123456',
      SLACK_BOT_TOKEN: BOT_TOKEN,
      SLACK_APP_TOKEN: 'xapp-1-A0-123-abcdef',
      SLACK_SIGNING_SECRET: 'signing-secret-1234',
      ZENDESK_URL: 'https://acme.zendesk.com',
      ZENDESK_EMAIL: 'agent@example.com',
      ZENDESK_TOKEN: 'zendesk-token-1234',
      LINEAR_TOKEN: 'lin_api_token_1234',
      WEBHOOK_STRIPE_SECRET: 'whsec_old1234,whsec_new5678',
    };
    expect(new Set(credentialValues(readConfig(env)))).toEqual(
      new Set([
        'pg%2Fpass%3Aword',
        'pg/pass:word',
        'sk-live-openai-key-123456',
        BOT_TOKEN,
        'xapp-1-A0-123-abcdef',
        'signing-secret-1234',
        'zendesk-token-1234',
        'lin_api_token_1234',
        'whsec_old1234',
        'whsec_new5678',
      ]),
    );
    const discord = readConfig({ DISCORD_TOKEN: 'MTIzNDU2Nzg5.discord-bot-token' });
    expect(credentialValues(discord)).toEqual(['MTIzNDU2Nzg5.discord-bot-token']);
  });

  it('LOG_FORMAT is json, pretty or auto (the default), and anything else is a config problem', () => {
    expect(readConfig({}).logFormat).toBe('auto');
    expect(readConfig({ LOG_FORMAT: 'pretty' }).logFormat).toBe('pretty');
    expect(() => readConfig({ LOG_FORMAT: 'xml' })).toThrow(/LOG_FORMAT must be json, pretty or auto \(got "xml"\)/);
  });

  it('drops lines below its level, so debug payloads cost nothing at info', () => {
    const { lines, log } = capture({}, 'info');
    log.debug('not written', { big: 'x' });
    log.info('written');
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(['written']);
  });
});

describe('78: the correlation id is on every line of its request or job', () => {
  it('stamps lines inside withCorrelation, the innermost context winning, and none outside', async () => {
    const { lines, log } = capture();
    log.info('outside');
    await withCorrelation('req-1', async () => {
      log.info('in the request');
      await new Promise((r) => setImmediate(r));
      log.warn('after an await');
      withCorrelation('Ev0123', () => log.info('in a nested delivery'));
      log.error('back in the request', { correlationId: 'req-1' });
    });
    expect(lines.map((l) => [JSON.parse(l).msg, JSON.parse(l).correlationId])).toEqual([
      ['outside', undefined],
      ['in the request', 'req-1'],
      ['after an await', 'req-1'],
      ['in a nested delivery', 'Ev0123'],
      ['back in the request', 'req-1'],
    ]);
    // No key twice: a field of the same name does not duplicate it.
    expect(lines[4]!.match(/"correlationId"/g)).toHaveLength(1);
  });

  it('replaces an id of unsafe shape with a generated one', () => {
    const { lines, log } = capture();
    withCorrelation('evil\r\nid <b>', () => log.info('x'));
    expect(JSON.parse(lines[0]!).correlationId).toMatch(/^[0-9a-f]{12}$/);
  });
});

describe('80: CR/LF/ANSI and other control characters are encoded in logs', () => {
  it('JSON: one line per entry, nothing raw, and the text round-trips exactly', () => {
    const { lines, log } = capture({ format: 'json' });
    log.info(`command from chat: ${HOSTILE}`, { text: HOSTILE, nested: { [HOSTILE]: [HOSTILE] } });
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toMatch(RAW_CONTROL);
    expect(lines[0]).toContain('\\r\\n');
    expect(lines[0]).toContain('\\u001b[2J');
    const entry = JSON.parse(lines[0]!);
    expect(entry.text).toBe(HOSTILE);
    expect(entry.msg).toBe(`command from chat: ${HOSTILE}`);
    expect(entry.nested[HOSTILE]).toEqual([HOSTILE]);
  });

  for (const isColored of [false, true]) {
    it(`pretty${isColored ? ' with colours' : ''}: the message and fields show visible escapes, never the raw characters`, () => {
      const { lines, log } = capture({ format: 'pretty', isColored });
      log.warn(`webhook text: ${HOSTILE}`, { text: HOSTILE });
      expect(lines).toHaveLength(1);
      const out = lines[0]!;
      // The only raw escapes are pino-pretty's own colours (ESC [ digits m); the line breaks are its layout.
      // eslint-disable-next-line no-control-regex
      const withoutOwnColours = out.replace(/\u001b\[\d+(;\d+)*m/g, '').replace(/\n {4}/g, ' ');
      expect(withoutOwnColours).not.toMatch(RAW_CONTROL);
      expect(out).not.toContain(CLEAR_SCREEN);
      expect(out).not.toContain('\r');
      expect(out.split('\n')[0]).toContain('webhook text: refund\\r\\n{"level":"error","msg":"forged"}\\u001b[2J');
      expect(out).toContain('\\u202egnp.exe');
      if (!isColored) expect(out).not.toContain('\u001b');
    });
  }

  it('encodeControls names CR, LF and tab and writes the rest as \\uXXXX', () => {
    expect(encodeControls('a\r\nb\tc\u001b[0m\u0085\u2029')).toBe('a\\r\\nb\\tc\\u001b[0m\\u0085\\u2029');
    expect(encodeControls('plain text, ünïcode 😀')).toBe('plain text, ünïcode 😀');
  });
});
