/**
 * Alerts (issue 15, part 5) end to end on real Postgres and the web chat's
 * real port: a cause posts once to SIGNOFF_ALERT_CHANNEL with what to do next,
 * a repeat of it only updates the count, and when the cause is gone one
 * "resolved" reply goes under the message. Sweeps are driven one at a time
 * (`tick()`) with an injected clock, so nothing waits on a timer; assertions
 * read the alerts rows and the console_messages rows the port wrote.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConsoleAdapter } from '../../../adapters/console/console-adapter.ts';
import type { Engine } from '../../../src/engine/engine.ts';
import { Alerter, type AlertSettings } from '../../../src/ops/alerts.ts';
import { createLogger } from '../../../src/ops/log.ts';
import { connect, type Sql } from '../../../src/store/client.ts';
import { consoleStore } from '../../../src/store/console.ts';
import { insertDeadLetter } from '../../../src/store/webhooks.ts';
import { CircuitBreaker } from '../../../src/steps/tools/circuit.ts';
import { useTestDb, type TestDb } from '../../helpers/db.ts';
import { startTestEngine } from '../../helpers/engines.ts';
import { createStepLog } from '../../helpers/flows/test-flows.ts';

const CHANNEL = 'support';
const SETTINGS: AlertSettings = {
  channel: CHANNEL,
  sweepMs: 15_000,
  deadLetterBurst: 5,
  deadLetterWindowMs: 10 * 60_000,
};

/** A controllable clock: starts at the real time, so rows the database stamps with now() fall in its windows. */
function testClock() {
  let at = Date.now();
  return { now: () => new Date(at), advance: (ms: number) => (at += ms) };
}

function alerterOn(sql: Sql, opts: Partial<ConstructorParameters<typeof Alerter>[0]> = {}) {
  return new Alerter({
    sql,
    port: createConsoleAdapter({ store: consoleStore(sql) }).port,
    settings: SETTINGS,
    processId: 'p1',
    ...opts,
  });
}

async function alerts(sql: Sql) {
  return sql<
    {
      id: number;
      cause: string;
      count: number;
      peak_count: number;
      cleared: boolean;
      posted_ref: string | null;
      resolved_ref: string | null;
      channel: string | null;
    }[]
  >`SELECT id, cause, count, peak_count, cleared_at IS NOT NULL AS cleared, posted_ref, resolved_ref, channel
    FROM alerts ORDER BY id`;
}

/** What the web chat shows in the alert channel: top-level posts and thread replies, in order. */
async function posted(sql: Sql) {
  return sql<{ id: string; parent: string | null; text: string; quote: string | null; key: string }[]>`
    SELECT id::text, parent_id::text AS parent, content->>'text' AS text, content->>'quote' AS quote,
           idempotency_key AS key
    FROM console_messages WHERE channel = ${CHANNEL} ORDER BY id`;
}

async function deadLetters(sql: Sql, source: string, n: number, from = 0) {
  for (let i = from; i < from + n; i++) {
    await insertDeadLetter(sql, {
      source,
      deliveryKey: `d-${i}`,
      event: 'ticket.created',
      flow: 'ticket-triage',
      bodySha256: 'ab'.repeat(32),
      payload: { id: i },
      reason: 'input does not match the flow: subject: Required',
    });
  }
}

describe('a failed run', () => {
  const db = useTestDb();
  let engine: Engine;
  beforeAll(async () => {
    await createStepLog(db.sql);
    engine = await startTestEngine(db, { workerId: 'alerts' });
  });
  afterAll(async () => {
    await engine.stop(500);
  });

  it('posts one alert with next steps, counts a second failure without posting, and is resolved once by retries', async () => {
    const clock = testClock();
    const alerter = alerterOn(db.sql, { clock: clock.now });
    const first = await engine.startRun('flaky', { failTimes: 3 });
    await engine.waitFor(first.runId, ['failed'], { timeoutMs: 10_000 });
    await alerter.tick();

    const [opened] = await alerts(db.sql);
    expect(opened).toMatchObject({ cause: 'run-failed:flaky:work', count: 1, cleared: false, channel: CHANNEL });
    const [post] = await posted(db.sql);
    expect(post).toMatchObject({
      parent: null,
      key: `alert:${opened!.id}`,
      quote: 'step "work" failed: transient failure 3',
    });
    expect(post!.text).toContain(`Run \`${first.runId}\` of flaky failed at \`work\`.`);
    expect(post!.text).toContain(`/signoff retry ${first.runId}`);
    expect(opened!.posted_ref).toBe(`console:${CHANNEL}:${post!.id}`);

    const second = await engine.startRun('flaky', { failTimes: 3 });
    await engine.waitFor(second.runId, ['failed'], { timeoutMs: 10_000 });
    clock.advance(15_000);
    await alerter.tick();
    expect(await alerts(db.sql)).toMatchObject([{ id: opened!.id, count: 2, peak_count: 2, cleared: false }]);
    expect(await posted(db.sql)).toHaveLength(1);

    await engine.retry(first.runId);
    await engine.waitFor(first.runId, ['done'], { timeoutMs: 10_000 });
    await alerter.tick();
    expect(await alerts(db.sql)).toMatchObject([{ count: 1, cleared: false, resolved_ref: null }]);

    await engine.retry(second.runId);
    await engine.waitFor(second.runId, ['done'], { timeoutMs: 10_000 });
    clock.advance(15_000);
    await alerter.tick();
    await alerter.tick();
    const [resolved] = await alerts(db.sql);
    expect(resolved).toMatchObject({ cleared: true });
    const messages = await posted(db.sql);
    expect(messages).toHaveLength(2);
    expect(messages[1]).toMatchObject({ parent: post!.id, key: `alert:${opened!.id}:resolved` });
    expect(messages[1]!.text).toMatch(
      /^Resolved at \d{4}-\d\d-\d\d \d\d:\d\d UTC: no run of flaky is failed at `work`/,
    );
    expect(resolved!.resolved_ref).toBe(`console:${CHANNEL}:${messages[1]!.id}`);
  });
});

describe('a burst of failed runs', () => {
  const db = useTestDb();
  let engine: Engine;
  beforeAll(async () => {
    await createStepLog(db.sql);
    engine = await startTestEngine(db, { workerId: 'burst' });
  });
  afterAll(async () => {
    await engine.stop(500);
  });

  it('is one alert that counts them, not one post per run', async () => {
    const alerter = alerterOn(db.sql);
    const runs = await Promise.all([1, 2, 3, 4, 5, 6].map(() => engine.startRun('flaky', { failTimes: 3 })));
    for (const { runId } of runs) await engine.waitFor(runId, ['failed'], { timeoutMs: 15_000 });
    await alerter.tick();
    await alerter.tick();
    expect(await alerts(db.sql)).toMatchObject([{ cause: 'run-failed:flaky:work', count: 6 }]);
    const messages = await posted(db.sql);
    expect(messages).toHaveLength(1);
    expect(messages[0]!.text).toMatch(/^6 runs of flaky failed at `work` \(latest `[^`]+`\)\. Next: /);
    expect(messages[0]!.text).toContain('`/signoff retry <run>` for each');
  });
});

describe('a dead-letter burst', () => {
  const db = useTestDb();

  it('posts once at the threshold, stays open while letters arrive, and resolves after a window with none', async () => {
    const clock = testClock();
    const alerter = alerterOn(db.sql, { clock: clock.now });
    await deadLetters(db.sql, 'zendesk', 4);
    await alerter.tick();
    expect(await alerts(db.sql)).toEqual([]);

    await deadLetters(db.sql, 'zendesk', 2, 4);
    await alerter.tick();
    await alerter.tick();
    const [open] = await alerts(db.sql);
    expect(open).toMatchObject({ cause: 'dead-letters:zendesk', count: 6, cleared: false });
    const [post] = await posted(db.sql);
    expect(post!.text).toContain('6 webhook deliveries from zendesk could not start a flow in the last 10 minutes');
    expect(post!.text).toContain('/signoff deadletters replay <id>');
    expect(post!.quote).toBe('input does not match the flow: subject: Required');

    // Nine minutes on, the six are still in the window: still open, nothing new posted.
    clock.advance(9 * 60_000);
    await alerter.tick();
    expect(await alerts(db.sql)).toMatchObject([{ cleared: false }]);
    clock.advance(2 * 60_000);
    await alerter.tick();
    await alerter.tick();
    expect(await alerts(db.sql)).toMatchObject([{ id: open!.id, cleared: true, peak_count: 6 }]);
    const messages = await posted(db.sql);
    expect(messages.map((m) => m.parent)).toEqual([null, post!.id]);
    expect(messages[1]!.text).toContain('no new dead letter from zendesk for a whole window');
  });
});

describe('an open circuit', () => {
  const db = useTestDb();

  it('alerts once while a process sees it open, and resolves when a call closes it', async () => {
    let at = Date.now();
    const breaker = new CircuitBreaker({ failureThreshold: 2, coolOffMs: 30_000, now: () => at });
    const clock = testClock();
    const alerter = alerterOn(db.sql, { clock: clock.now, openCircuits: () => breaker.openHosts() });
    breaker.record('api.zendesk.test', 'failure');
    await alerter.tick();
    expect(await alerts(db.sql)).toEqual([]);

    breaker.record('api.zendesk.test', 'failure');
    await alerter.tick();
    at += 31_000; // half-open: still failing until a trial succeeds
    await alerter.tick();
    expect(await alerts(db.sql)).toMatchObject([{ cause: 'circuit:api.zendesk.test', count: 1, cleared: false }]);
    const [post] = await posted(db.sql);
    expect(post!.text).toContain('Calls to api.zendesk.test keep failing: its circuit is open in 1 bot process');

    breaker.admit('api.zendesk.test');
    breaker.record('api.zendesk.test', 'success');
    await alerter.tick();
    expect(await alerts(db.sql)).toMatchObject([{ cleared: true }]);
    const messages = await posted(db.sql);
    expect(messages).toHaveLength(2);
    expect(messages[1]!.text).toContain('no bot process sees the circuit to api.zendesk.test open any more');
    expect(await db.sql`SELECT * FROM alert_observations`).toHaveLength(0);
  });
});

describe('two bot processes on one schema', () => {
  const db = useTestDb();
  let other: Sql;
  beforeAll(() => {
    other = connect({ url: db.url, schema: db.schema, max: 4 });
  });
  afterAll(async () => {
    await other.end({ timeout: 5 });
  });

  it('post a cause once however their sweeps interleave, and one open circuit is not cleared by the other', async () => {
    const clock = testClock();
    const breaker = new CircuitBreaker({ failureThreshold: 1 });
    const a = alerterOn(db.sql, { clock: clock.now, processId: 'a', openCircuits: () => breaker.openHosts() });
    const b = alerterOn(other, { clock: clock.now, processId: 'b', openCircuits: () => [] });
    await deadLetters(db.sql, 'stripe', 5);
    breaker.record('api.stripe.test', 'failure');
    for (let round = 0; round < 4; round++) await Promise.all([a.tick(), b.tick(), a.tick(), b.tick()]);

    const rows = await alerts(db.sql);
    expect(rows.map((r) => [r.cause, r.cleared])).toEqual(
      expect.arrayContaining([
        ['dead-letters:stripe', false],
        ['circuit:api.stripe.test', false],
      ]),
    );
    expect(rows).toHaveLength(2);
    const messages = await posted(db.sql);
    expect(messages.map((m) => m.key).sort()).toEqual(rows.map((r) => `alert:${r.id}`).sort());

    // Process a stops: its circuits go with it, and b's next sweep resolves the alert once.
    await a.stop();
    await Promise.all([b.tick(), b.tick()]);
    expect((await alerts(db.sql)).find((r) => r.cause.startsWith('circuit:'))).toMatchObject({ cleared: true });
    expect((await posted(db.sql)).filter((m) => m.parent !== null)).toHaveLength(1);
  });
});

describe('without SIGNOFF_ALERT_CHANNEL', () => {
  const db: TestDb = useTestDb();

  it('posts nothing and logs the alert and its resolution', async () => {
    const lines: Record<string, unknown>[] = [];
    const log = createLogger('info', (line) => lines.push(JSON.parse(line) as Record<string, unknown>));
    const clock = testClock();
    const alerter = alerterOn(db.sql, { clock: clock.now, settings: { ...SETTINGS, channel: null }, log });
    await deadLetters(db.sql, 'linear', 5);
    await alerter.tick();
    await alerter.tick();
    expect(await alerts(db.sql)).toMatchObject([{ cause: 'dead-letters:linear', channel: null, posted_ref: null }]);
    clock.advance(11 * 60_000);
    await alerter.tick();
    expect(await alerts(db.sql)).toMatchObject([{ cleared: true, resolved_ref: null }]);
    expect(await posted(db.sql)).toEqual([]);
    const said = lines.filter((l) => l.alert === true).map((l) => [l.level, l.msg, l.cause]);
    expect(said).toEqual([
      ['warn', 'alert (SIGNOFF_ALERT_CHANNEL is not set, so it is only logged)', 'dead-letters:linear'],
      ['info', 'alert resolved', 'dead-letters:linear'],
    ]);
  });
});
