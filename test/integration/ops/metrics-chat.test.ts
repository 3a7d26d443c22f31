/**
 * The chat platforms' 429s in GET /metrics: the real Slack and Discord adapters
 * (Bolt's WebClient, discord.js REST) against the fake platforms, each handed
 * the `Metrics` main.ts would hand it. A scripted 429 must show as one
 * `signoff_provider_rate_limited_total{provider}` and as the retry it becomes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDiscordAdapter } from '../../../adapters/discord/discord-adapter.ts';
import { createSlackAdapter } from '../../../adapters/slack/slack-adapter.ts';
import { isSignoffError } from '../../../src/errors.ts';
import { startHttpServer, type HttpServer } from '../../../src/ops/http.ts';
import { metricsRoute } from '../../../src/ops/metrics-route.ts';
import { Metrics } from '../../../src/ops/metrics.ts';
import { discordStore } from '../../../src/store/discord.ts';
import { slackStore } from '../../../src/store/slack.ts';
import { startFakeDiscord, type FakeDiscord } from '../../fakes/discord/rest.ts';
import { startFakeSlack, type FakeSlack } from '../../fakes/slack/web-api.ts';
import { useTestDb } from '../../helpers/db.ts';
import { scrape, valueOf } from './metrics-scrape.ts';

const db = useTestDb();
const CHANNEL = 'C0SUPPORT';
let slack: FakeSlack;
let discord: FakeDiscord;
let metrics: Metrics;
let http: HttpServer;

beforeAll(async () => {
  [slack, discord] = await Promise.all([startFakeSlack({ channels: [CHANNEL] }), startFakeDiscord()]);
  metrics = new Metrics();
  http = await startHttpServer({
    port: 0,
    host: '127.0.0.1',
    sql: db.sql,
    routes: [metricsRoute(metrics, { token: null, isServed: true })],
  });
});
afterAll(async () => {
  await http?.close();
  await Promise.all([slack?.close(), discord?.close()]);
});

const read = () => scrape(`http://127.0.0.1:${http.port}/metrics`);
const rejection = (p: Promise<unknown>) =>
  p.then(
    () => null,
    (err: unknown) => err,
  );

describe('chat platforms rate limiting', () => {
  it('a Slack 429 is counted once for slack, with its retry', async () => {
    const adapter = createSlackAdapter({
      settings: { botToken: slack.botToken, apiUrl: slack.apiUrl, signingSecret: 'metrics-secret', appToken: null },
      store: slackStore(db.sql),
      channelIntervalMs: 0,
      isTierPaced: false,
      metrics,
    });
    slack.faults.rateLimit.set('chat.postMessage', { count: 1, retryAfterSec: 1 });
    const before = await read();
    const err = await rejection(adapter.port.postMessage(CHANNEL, { text: 'limited' }, { idempotencyKey: 'm-1' }));
    expect(isSignoffError(err) && err.details).toMatchObject({ defer: true });
    const after = await read();
    const delta = (name: string, labels: Record<string, string>) =>
      valueOf(after, name, labels) - valueOf(before, name, labels);
    expect(slack.countCalls('chat.postMessage', 429)).toBe(1);
    expect(delta('signoff_provider_rate_limited_total', { provider: 'slack' })).toBe(1);
    expect(delta('signoff_provider_retries_total', { provider: 'slack', reason: 'rate_limited' })).toBe(1);
    expect(delta('signoff_provider_rate_limited_total', {})).toBe(1);
  });

  it('a Discord 429 is counted for discord, and the rate-limit error it becomes as a retry', async () => {
    const adapter = createDiscordAdapter({
      settings: {
        token: discord.botToken,
        apiUrl: discord.apiUrl,
        publicKey: 'ab'.repeat(32),
        applicationId: null,
        guildId: null,
      },
      store: discordStore(db.sql),
      metrics,
    });
    discord.faults.rateLimits.push({ scope: 'user', retryAfterSeconds: 7, pathIncludes: '/messages' });
    const before = await read();
    const err = await rejection(
      adapter.port.postMessage('400000000000000001', { text: 'limited' }, { idempotencyKey: 'd-1' }),
    );
    expect(isSignoffError(err) && err.details).toMatchObject({ defer: true });
    const after = await read();
    const delta = (name: string, labels: Record<string, string>) =>
      valueOf(after, name, labels) - valueOf(before, name, labels);
    expect(discord.faults.rateLimits).toEqual([]);
    expect(delta('signoff_provider_rate_limited_total', { provider: 'discord' })).toBe(1);
    expect(delta('signoff_provider_retries_total', { provider: 'discord', reason: 'rate_limited' })).toBe(1);
  });
});
