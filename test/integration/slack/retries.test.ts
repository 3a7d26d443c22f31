/**
 * RELIABILITY A, cases 6–8 and 12: redeliveries and a failing database. Slack
 * retries events (over HTTP and Socket Mode) but never slash commands, so a
 * duplicate must be recognised across processes, a failed first attempt must
 * not count as seen, and a command must always get an answer. "Postgres down"
 * is real: the bot's postgres.js goes through a TCP proxy the test cuts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Sql } from '../../../src/store/client.ts';
import { until } from '../../contract/chat-port.contract.ts';
import { eventCallback, appMention } from '../../fakes/slack/requests.ts';
import { startFakeSlack, type FakeSlack } from '../../fakes/slack/web-api.ts';
import { useTestDb } from '../../helpers/db.ts';
import { startPgProxy, type PgProxy } from './pg-proxy.ts';
import {
  CHANNEL,
  countRuns,
  hasEventRow,
  mentionEvent,
  sendCommand,
  sendEvent,
  startSlackBot,
  type SlackBot,
} from './harness.ts';

describe('slack redeliveries and a failing database', () => {
  const db = useTestDb({ max: 20 });
  let fake: FakeSlack;
  let proxy: PgProxy;
  let proxiedSql: Sql;
  const bots: SlackBot[] = [];

  beforeAll(async () => {
    fake = await startFakeSlack({ channels: [CHANNEL] });
    proxy = await startPgProxy(db.url);
    proxiedSql = connect({ url: proxy.url, schema: db.schema, max: 10 });
  });
  afterAll(async () => {
    proxy?.setDown(false);
    proxy?.setLatency(0);
    for (const bot of bots) await bot.stop();
    await proxiedSql?.end({ timeout: 1 });
    await proxy?.close();
    await fake?.close();
  });

  async function bot(opts: Parameters<typeof startSlackBot>[2] = {}, sql = db.sql) {
    const started = await startSlackBot({ sql, schema: db.schema }, fake, opts);
    bots.push(started);
    return started;
  }

  function replies(text: string) {
    return fake.messages.filter((m) => m.threadTs !== null && m.text.includes(text));
  }

  it('6: the same event_id 4 times (retries 0..3), two at once on two processes: one run, all answered 200', async () => {
    const [a, b] = [await bot(), await bot()];
    const body = mentionEvent(fake, 'Ev6', 'run rv-anyone text="retry storm"');
    const first = await Promise.all([sendEvent(a, body, 0), sendEvent(b, body, 1, 'http_error')]);
    const later = [await sendEvent(a, body, 2, 'http_timeout'), await sendEvent(b, body, 3, 'http_timeout')];
    expect([...first, ...later].map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(await countRuns(db.sql, 'rv-anyone')).toBe(1);
    expect(replies('started rv-anyone')).toHaveLength(1);
  });

  it('7: a first delivery that meets Postgres down gets a 5xx Slack will retry; the retry succeeds; one run', async () => {
    const flaky = await bot({}, proxiedSql);
    const body = mentionEvent(fake, 'Ev7', 'run rv-leads text="after the outage"');
    proxy.setDown(true);
    const failed = await sendEvent(flaky, body);
    expect(failed.status).toBeGreaterThanOrEqual(500);
    expect(failed.headers.get('x-slack-no-retry')).toBeNull();
    proxy.setDown(false);
    const retried = await sendEvent(flaky, body, 1, 'http_error');
    expect(retried.status).toBe(200);
    expect(await hasEventRow(db.sql, 'Ev7')).toBe(true);
    expect(await countRuns(db.sql, 'rv-leads')).toBe(1);
  });

  it('8: a slash command while Postgres is down gets "try again" within 3 s and starts nothing', async () => {
    const flaky = await bot({}, proxiedSql);
    proxy.setDown(true);
    const reply = await sendCommand(flaky, fake, 'alice', 'run rv-quorum text="db is down"').finally(() =>
      proxy.setDown(false),
    );
    expect(reply.status).toBe(200);
    expect(reply.isTimedOut).toBe(false); // answered before Slack gave up waiting
    expect(reply.body.response_type).toBe('ephemeral');
    expect(reply.body.text).toMatch(/try again/i);
    expect(await countRuns(db.sql, 'rv-quorum')).toBe(0);
  });

  it('8b: a slash command while Postgres is slow (>2 s) is answered within 3 s; a run that lands later is announced once', async () => {
    const flaky = await bot({}, proxiedSql);
    await proxiedSql`SELECT 1`; // a warm connection, so the delay is the queries', not the login's
    proxy.setLatency(1_500);
    const reply = await sendCommand(flaky, fake, 'alice', 'run rv-short text="db is slow"').finally(() =>
      proxy.setLatency(0),
    );
    expect(reply.isTimedOut).toBe(false); // answered before Slack gave up waiting
    expect(reply.body.response_type).toBe('ephemeral');
    expect(reply.body.text).toMatch(/try again/i);
    // It was not half-created: it either never started, or it started whole and the person is told so.
    const late = await until(
      'the late answer',
      async () => fake.ephemerals.find((e) => e.url === reply.responseUrl),
      20_000,
    );
    expect(late.text).toMatch(/started rv-short/);
    expect(await countRuns(db.sql, 'rv-short')).toBe(1);
  }, 40_000);

  it('12: Socket Mode with two processes: an event delivered to both is handled once; both acknowledge', async () => {
    const [a, b] = [await bot({ mode: 'socket' }), await bot({ mode: 'socket' })];
    await fake.socket.waitForConnections(2);
    const payload = eventCallback({
      team: fake.teamId,
      eventId: 'Ev12',
      event: appMention({ channel: CHANNEL, user: 'bob', text: 'run rv-anyone text="two sockets"' }),
    });
    const envelope = fake.socket.send('events_api', payload, { to: 'all' });
    await until('both acks', async () => (fake.socket.acks.get(envelope)?.length ?? 0) >= 2);
    const retry = fake.socket.send('events_api', payload, { to: 1, retryAttempt: 1, retryReason: 'timeout' });
    expect(await fake.socket.ack(retry)).not.toBeNull();
    expect(
      (
        await db.sql`SELECT count(*)::int AS n FROM runs WHERE flow = 'rv-anyone' AND input->>'text' = 'two sockets'`
      )[0]!.n,
    ).toBe(1);
    expect(replies('started rv-anyone').filter((m) => m.text.includes('bob'))).toHaveLength(1);
    expect([a.adapter.mode, b.adapter.mode]).toEqual(['socket', 'socket']);
  });
});
