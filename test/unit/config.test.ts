import { describe, expect, it } from 'vitest';
import { readConfig, redactUrl } from '../../src/config.ts';
import { isSignoffError } from '../../src/errors.ts';

describe('readConfig', () => {
  it('defaults to the embedded database, port 3000 and the signoff schema', () => {
    const c = readConfig({});
    expect(c.databaseUrl).toBeNull();
    expect([c.port, c.schema, c.poolSize, c.logLevel]).toEqual([3000, 'signoff', 10, 'info']);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('reports every problem in one message', () => {
    let error: unknown;
    try {
      readConfig({
        PORT: 'eighty',
        DATABASE_URL: 'mysql://x',
        SIGNOFF_SCHEMA: 'Bad-Name',
        LOG_LEVEL: 'loud',
        DB_POOL_SIZE: '0',
      });
    } catch (err) {
      error = err;
    }
    expect(isSignoffError(error, 'config_invalid')).toBe(true);
    const message = (error as Error).message;
    for (const name of ['PORT', 'DATABASE_URL', 'SIGNOFF_SCHEMA', 'LOG_LEVEL', 'DB_POOL_SIZE'])
      expect(message).toContain(name);
  });

  it('reads crash points as a set', () => {
    expect([...readConfig({ SIGNOFF_CRASHPOINTS: 'a, b,,' }).crashpoints]).toEqual(['a', 'b']);
  });

  it('reads admins as a set of user ids, nobody by default, and refuses a mention in their place', () => {
    expect([...readConfig({}).admins]).toEqual([]);
    expect([...readConfig({ SIGNOFF_ADMINS: 'U012AB3CD, boss,,' }).admins]).toEqual(['U012AB3CD', 'boss']);
    expect(() => readConfig({ SIGNOFF_ADMINS: 'U1,<@U2>' })).toThrow(
      /SIGNOFF_ADMINS must be comma-separated user ids.*got "<@U2>"/,
    );
  });

  it('redacts passwords from URLs it logs', () => {
    expect(redactUrl('postgres://postgres:s3cret@127.0.0.1:5432/db')).toBe('postgres://postgres:***@127.0.0.1:5432/db');
  });

  it('uses the offline model and local tools when nothing is set', () => {
    const c = readConfig({});
    expect([c.model.apiKey, c.model.baseUrl]).toEqual([null, null]);
    expect(c.model.routes).toEqual({ cheap: ['gpt-4.1-mini'], strong: ['gpt-4.1', 'gpt-4.1-mini'] });
    expect(c.tools.connectors).toEqual({});
    expect([c.runBudgetUsd, c.slack]).toEqual([1, null]);
  });

  it('reads model routes, prices, redaction patterns and connectors', () => {
    const c = readConfig({
      OPENAI_BASE_URL: 'http://127.0.0.1:11434/v1/',
      MODEL_STRONG: 'llama3.1, llama3.2',
      RUN_BUDGET_USD: '0.5',
      MODEL_PRICES: '{"llama3.1":{"inputPerMTok":0,"outputPerMTok":0}}',
      REDACT_PATTERNS: '["ACME-[0-9]{6}"]',
      ZENDESK_URL: 'https://acme.zendesk.com',
      ZENDESK_TOKEN: 'zd',
      ZENDESK_EMAIL: 'agent@acme.com',
      LINEAR_TOKEN: 'lin',
    });
    expect(c.model.baseUrl).toBe('http://127.0.0.1:11434/v1');
    expect(c.model.routes.strong).toEqual(['llama3.1', 'llama3.2']);
    expect(c.model.prices['llama3.1']).toEqual({ inputPerMTok: 0, outputPerMTok: 0 });
    expect(c.model.prices['gpt-4.1']).toBeDefined();
    expect(c.model.redactPatterns.at(-1)).toBe('ACME-[0-9]{6}');
    expect(c.tools.connectors).toEqual({
      zendesk: { baseUrl: 'https://acme.zendesk.com', token: 'zd', email: 'agent@acme.com' },
      linear: { baseUrl: 'https://api.linear.app', token: 'lin' },
    });
    expect(c.runBudgetUsd).toBe(0.5);
  });

  it('reports bad model, tool and Slack settings together', () => {
    let error: unknown;
    try {
      readConfig({
        OPENAI_BASE_URL: 'ftp://x',
        MODEL_PRICES: '{"m":{"inputPerMTok":-1}}',
        REDACT_PATTERNS: '["("]',
        ZENDESK_TOKEN: 'zd',
        RUN_BUDGET_USD: 'lots',
        SLACK_BOT_TOKEN: 'xoxb-1',
        SLACK_SIGNING_SECRET: '',
      });
    } catch (err) {
      error = err;
    }
    const message = (error as Error).message;
    for (const name of [
      'OPENAI_BASE_URL',
      'MODEL_PRICES',
      'REDACT_PATTERNS',
      'ZENDESK_URL',
      'RUN_BUDGET_USD',
      'SLACK_SIGNING_SECRET',
    ]) {
      expect(message).toContain(name);
    }
    expect(message).not.toContain('xoxb-1');
  });

  it('takes a Zendesk API token with its email, or an OAuth token alone', () => {
    expect(
      readConfig({ ZENDESK_URL: 'https://acme.zendesk.com', ZENDESK_OAUTH_TOKEN: 'oauth' }).tools.connectors.zendesk,
    ).toEqual({ baseUrl: 'https://acme.zendesk.com', token: 'oauth', email: null });
  });

  it.each([
    [
      { ZENDESK_TOKEN: 'zd' },
      /ZENDESK_TOKEN is an API token, which Zendesk accepts only with the agent's email: set ZENDESK_EMAIL/,
    ],
    [{ ZENDESK_TOKEN: 'zd', ZENDESK_OAUTH_TOKEN: 'o', ZENDESK_EMAIL: 'a@b.c' }, /not both/],
    [{ ZENDESK_EMAIL: 'a@b.c' }, /ZENDESK_EMAIL is set but ZENDESK_TOKEN/],
    [{ ZENDESK_TOKEN: 'zd', ZENDESK_EMAIL: 'agent' }, /ZENDESK_EMAIL must be an email address/],
    [{}, /ZENDESK_URL is set but no credentials: set ZENDESK_EMAIL and ZENDESK_TOKEN/],
  ])('refuses Zendesk credentials Zendesk would refuse: %j', (env, words) => {
    expect(() => readConfig({ ZENDESK_URL: 'https://acme.zendesk.com', ...env })).toThrow(words);
  });

  it('takes Slack in HTTP mode or Socket Mode', () => {
    expect(readConfig({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's' }).slack).toEqual({
      botToken: 'xoxb-1',
      signingSecret: 's',
      appToken: null,
      apiUrl: 'https://slack.com/api/',
    });
    expect(
      readConfig({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1', SLACK_API_URL: 'http://127.0.0.1:9/api' })
        .slack,
    ).toMatchObject({ appToken: 'xapp-1', apiUrl: 'http://127.0.0.1:9/api/' });
  });
});
