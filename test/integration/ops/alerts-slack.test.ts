/**
 * Alerts on Slack, through the real adapter (Bolt's WebClient) against the fake
 * Slack Web API: the alert is one chat.postMessage in SIGNOFF_ALERT_CHANNEL and
 * its resolution one reply in its thread; a post whose answer is lost (the
 * connection cut after Slack accepted it) is retried under the same key and the
 * adapter's post ledger finds the first message, so Slack shows one; a channel
 * Slack does not know is given up with a log line saying what to fix.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSlackAdapter } from '../../../adapters/slack/slack-adapter.ts';
import type { ChatPort } from '../../../src/chat/port.ts';
import { Alerter, type AlertSettings } from '../../../src/ops/alerts.ts';
import { createLogger } from '../../../src/ops/log.ts';
import type { Sql } from '../../../src/store/client.ts';
import { slackStore } from '../../../src/store/slack.ts';
import { insertDeadLetter } from '../../../src/store/webhooks.ts';
import { until } from '../../contract/chat-port.contract.ts';
import { startFakeSlack, type FakeSlack } from '../../fakes/slack/web-api.ts';
import { useTestDb } from '../../helpers/db.ts';

const ALERTS = 'C0ALERTS';
/** Short sweeps, so a failed post's back-off (a few sweeps) passes within the test. */
const SETTINGS: AlertSettings = { channel: ALERTS, sweepMs: 50, deadLetterBurst: 2, deadLetterWindowMs: 60_000 };

let fake: FakeSlack;

beforeAll(async () => {
  fake = await startFakeSlack({ channels: [ALERTS] });
});
afterAll(async () => {
  await fake?.close();
});

/** The Slack adapter's port on `sql`'s post ledger. */
function slackPort(sql: Sql): ChatPort {
  return createSlackAdapter({
    settings: { botToken: fake.botToken, apiUrl: fake.apiUrl, signingSecret: 'test-signing-secret', appToken: null },
    store: slackStore(sql),
    channelIntervalMs: 0,
    isTierPaced: false,
  }).port;
}

async function burst(sql: Sql, source: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await insertDeadLetter(sql, {
      source,
      deliveryKey: `${source}-${i}`,
      event: 'issue.created',
      flow: 'triage',
      bodySha256: 'cd'.repeat(32),
      payload: { i },
      reason: 'input does not match the flow',
    });
  }
}

const alertRow = async (sql: Sql, cause: string) =>
  (await sql`SELECT * FROM alerts WHERE cause = ${cause}`)[0] as Record<string, any> | undefined;

describe('alerts on Slack', () => {
  const db = useTestDb();

  it('post once in the channel and resolve in its thread, even when the answer to the post was lost', async () => {
    let at = Date.now();
    const alerter = new Alerter({
      sql: db.sql,
      port: slackPort(db.sql),
      settings: SETTINGS,
      processId: 'p',
      clock: () => new Date(at),
    });
    fake.faults.dropAfterAccept.set('chat.postMessage', 1);
    await burst(db.sql, 'github', 2);
    await until('the alert posted', async () => {
      await alerter.tick();
      return (await alertRow(db.sql, 'dead-letters:github'))?.posted_ref;
    });
    const row = (await alertRow(db.sql, 'dead-letters:github'))!;
    expect(row.last_error).toBeTruthy(); // the first try's answer was lost
    const posts = fake.messages.filter((m) => m.channel === ALERTS);
    expect(posts).toHaveLength(1);
    expect(posts[0]!.text).toContain('2 webhook deliveries from github could not start a flow');
    expect(row.posted_ref).toBe(`slack:${ALERTS}:${posts[0]!.ts}`);

    at += 61_000;
    await until('the alert resolved', async () => {
      await alerter.tick();
      return (await alertRow(db.sql, 'dead-letters:github'))?.resolved_ref;
    });
    await alerter.tick();
    const shown = fake.messages.filter((m) => m.channel === ALERTS);
    expect(shown).toHaveLength(2);
    expect(shown[1]).toMatchObject({ threadTs: posts[0]!.ts });
    expect(shown[1]!.text).toContain('Resolved at');
  });
});

describe('an alert channel Slack does not know', () => {
  const db = useTestDb();

  it('is given up after one try, with a log line that says what to fix', async () => {
    const lines: Record<string, any>[] = [];
    const alerter = new Alerter({
      sql: db.sql,
      port: slackPort(db.sql),
      settings: { ...SETTINGS, channel: 'C0NOSUCH' },
      processId: 'p',
      log: createLogger('info', (line) => lines.push(JSON.parse(line))),
    });
    const before = fake.calls.filter((c) => c.method === 'chat.postMessage').length;
    await burst(db.sql, 'linear', 2);
    await alerter.tick();
    const row = (await alertRow(db.sql, 'dead-letters:linear'))!;
    expect(row.delivery_error).toMatch(/channel/);
    expect(row.posted_ref).toBeNull();
    await new Promise((r) => setTimeout(r, 200)); // past any back-off: a given-up alert is not tried again
    await alerter.tick();
    expect(fake.calls.filter((c) => c.method === 'chat.postMessage').length - before).toBe(1);
    expect(lines.find((l) => l.msg === 'alert could not be posted; giving up')).toMatchObject({
      cause: 'dead-letters:linear',
      fix: expect.stringContaining('SIGNOFF_ALERT_CHANNEL'),
    });
  });
});
