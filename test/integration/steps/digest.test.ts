/**
 * The weekly digest on real parts: two weeks of seeded decisions, every figure
 * read back exactly through src/store/digest.ts; then the flow on the engine
 * with the offline model, posting to the web chat: the message carries every
 * section, rule-written words labelled so, and a PNG chart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import weeklyDigest from '../../../flows/weekly-digest.flow.ts';
import { readConfig } from '../../../src/config.ts';
import { silentLogger } from '../../../src/ops/log.ts';
import { decideEvent, decideStart, type StoredSnapshot } from '../../../src/engine/decide.ts';
import { readDigest, readDigestScopes } from '../../../src/store/digest.ts';
import { buildDigest } from '../../../src/steps/digest/figures.ts';
import { createStepRuntime, type StepRuntime } from '../../../src/steps/runtime.ts';
import { deploy, type Deployment, type PlatformDriver } from '../../contract/chat-port.contract.ts';
import { makeConsoleDriver } from '../../contract/console-driver.ts';
import { startFakeOpenAI, type FakeOpenAI } from '../../fakes/openai-server.ts';
import { useTestDb } from '../../helpers/db.ts';
import { SEED, seedDigest } from '../../helpers/digest-seed.ts';

const db = useTestDb({ max: 20 });
const target = { tenant: SEED.tenant, platform: SEED.platform, channel: SEED.channel };

beforeAll(async () => {
  await seedDigest(db.sql);
});

describe('the figures, exactly as seeded (test/helpers/digest-seed.ts)', () => {
  async function digest() {
    const scope = { tenant: SEED.tenant, channel: SEED.channel, endAt: new Date(SEED.endAt), timezone: SEED.timezone };
    return buildDigest(await readDigest(db.sql, scope), { ...scope, platform: SEED.platform });
  }

  it("runs started per flow, this week against the one before (the week's first instant in, its end out)", async () => {
    const d = await digest();
    expect(d.runsByFlow).toEqual([
      { flow: 'refund', runs: { this: 3, prev: 0 } },
      { flow: 'ticket-triage', runs: { this: 5, prev: 4 } },
    ]);
    expect(d.runsTotal).toEqual({ this: 8, prev: 4 });
  });

  it('reviews decided by outcome, approved after an edit, and escalated', async () => {
    expect((await digest()).outcomes).toEqual({
      approved: { this: 3, prev: 1 },
      approvedEdited: { this: 1, prev: 0 },
      rejected: { this: 2, prev: 1 },
      expired: { this: 1, prev: 0 },
      escalated: { this: 1, prev: 0 },
    });
  });

  it('time to decision per flow: median and p90 (percentile_cont) of the decided ones', async () => {
    expect((await digest()).timeToDecision).toEqual([
      { flow: 'refund', this: { decided: 2, medianS: 2_700, p90S: 3_420 }, prev: null },
      {
        flow: 'ticket-triage',
        this: { decided: 3, medianS: 1_800, p90S: 3_240 },
        prev: { decided: 2, medianS: 4_200, p90S: 6_600 },
      },
    ]);
  });

  it('the oldest pending reviews, each with its run to open', async () => {
    const { pending } = await digest();
    expect(pending.total).toBe(2);
    expect(pending.oldest.map((p) => [p.reviewId, p.runId, p.createdAt])).toEqual([
      ['P1', 'run-P1', '2026-11-20T08:00:00.000Z'],
      ['P2', 'run-P2', '2026-11-29T10:00:00.000Z'],
    ]);
  });

  it('decisions per person, and outside working hours in Berlin (Mon–Fri 09–18)', async () => {
    const d = await digest();
    expect(d.people).toEqual([
      { actor: 'alice', decisions: { this: 2, prev: 2 }, offHours: { this: 0, prev: 0 } },
      { actor: 'bob', decisions: { this: 2, prev: 0 }, offHours: { this: 1, prev: 0 } },
      { actor: 'carol', decisions: { this: 1, prev: 0 }, offHours: { this: 1, prev: 0 } },
    ]);
    expect(d.offHoursTotal).toEqual({ this: 2, prev: 0 });
  });

  it('rejection reasons, edits before approval and how much they changed', async () => {
    const d = await digest();
    expect(d.rejectionReasons).toEqual({
      this: ['The tone is too harsh', 'Wrong amount in the refund'],
      prev: ['Missing the order number'],
    });
    // "soon" became "today": 1 of 7 words.
    expect(d.edits).toEqual({
      approved: { this: 3, prev: 1 },
      edited: { this: 1, prev: 0 },
      meanChangedShare: { this: 1 / 7, prev: null },
    });
  });

  it('policy refusals by code, and model spend per flow and per approved item', async () => {
    const d = await digest();
    expect(d.refusals).toEqual([
      { code: 'self_approval', n: { this: 1, prev: 0 } },
      { code: 'not_allowed', n: { this: 0, prev: 1 } },
      { code: 'stale_version', n: { this: 2, prev: 0 } },
    ]);
    expect(
      d.spend.map((s) => [s.flow, s.usd.this, s.usd.prev, s.calls.this, s.perApprovedUsd.this, s.perApprovedUsd.prev]),
    ).toEqual([
      ['refund', 0.005, 0, 1, 0.005, null],
      ['ticket-triage', 0.03, 0.03, 2, 0.015, 0.03],
    ]);
    expect(d.spendTotalUsd).toEqual({ this: 0.035, prev: 0.03 });
  });

  it("the chart's days: every local day the week touches, decisions by outcome, the day's median", async () => {
    const { days } = await digest();
    expect(days.map((x) => [x.day, x.approved, x.rejected, x.expired, x.medianS])).toEqual([
      ['2026-11-23', 0, 0, 0, null],
      ['2026-11-24', 1, 0, 1, 600],
      ['2026-11-25', 1, 0, 0, 1_800],
      ['2026-11-26', 0, 1, 0, 3_600],
      ['2026-11-27', 0, 1, 0, 1_800],
      ['2026-11-28', 1, 0, 0, 3_600],
      ['2026-11-29', 0, 0, 0, null],
      ['2026-11-30', 0, 0, 0, null],
    ]);
  });

  it('the channels a scheduled digest covers: each with review activity in the two weeks', async () => {
    expect(await readDigestScopes(db.sql, new Date(SEED.endAt))).toEqual([
      { tenant: 'local', platform: 'console', channel: 'general' },
      { tenant: 'local', platform: 'console', channel: 'support' },
      { tenant: 'other', platform: 'console', channel: 'general' },
    ]);
  });
});

describe('the flow, posting to the web chat with the offline model', () => {
  let driver: PlatformDriver;
  let steps: StepRuntime;
  let app: Deployment;

  beforeAll(async () => {
    driver = await makeConsoleDriver(db);
    steps = createStepRuntime({
      config: readConfig({}),
      sql: db.sql,
      log: silentLogger,
      ports: new Map([[driver.port.platform, driver.port]]),
    });
    app = await deploy(db, driver, { flows: [weeklyDigest], services: steps.services });
  });
  afterAll(async () => {
    await app?.stop();
    await steps?.stop();
    await driver?.close();
  });

  async function postedIn(channel: string) {
    return db.sql<
      { id: string; content: any }[]
    >`SELECT id::text, content FROM console_messages WHERE channel = ${channel} AND kind = 'text' ORDER BY id`;
  }

  it("posts every section with its figures and a PNG chart; the words are the offline rules', labelled", async () => {
    const { runId } = await app.engine.startRun('weekly-digest', {
      endAt: SEED.endAt,
      timezone: SEED.timezone,
      target,
    });
    const run = await app.engine.waitFor(runId, ['done', 'failed'], { timeoutMs: 30_000 });
    expect(run.status).toBe('done');
    const [message, ...others] = await postedIn('general');
    expect(others).toEqual([]);
    const text: string = message!.content.text;
    for (const line of [
      'Weekly digest · general · 2026-11-23 to 2026-11-30, against the 7 days before',
      'Runs started: 8 (+4)',
      '  refund: 3 (+3)',
      '  ticket-triage: 5 (+1)',
      'Reviews decided: approved 3 (+2) · approved after an edit 1 (+1) · rejected 2 (+1) · expired 1 (+1) · escalated 1 (+1)',
      '  refund: 45m / 57m over 2 decisions (last week -)',
      '  ticket-triage: 30m / 54m over 3 decisions (last week 1h 10m / 1h 50m)',
      'Oldest pending reviews (2 waiting):',
      '  ticket-triage · "Reply for P1" · waiting since 2026-11-20 08:00 UTC · open: /signoff status run-P1',
      '  <@alice>: 2 (=), outside working hours 0 (=)',
      '  <@bob>: 2 (+2), outside working hours 1 (+1)',
      'Decisions outside working hours (Mon–Fri 09:00–18:00 Europe/Berlin): 2 (+2)',
      'Rejection reasons (grouped by plain rules (offline model)): tone 1 (+1) · wrong facts 1 (+1) · missing information 0 (−1)',
      'Edited before approval: 1 of 3 approvals, 14% of words changed on average (last week 0 of 1, -)',
      'Policy refusals: self approval 1 (+1) · not allowed 0 (−1) · stale version 2 (+2)',
      'Model spend: $0.0350 (+$0.0050)',
      '  ticket-triage: $0.0300 (=) in 2 calls, per approved item $0.0150',
    ])
      expect(text.split('\n')).toContain(line);
    expect(text.split('\n')[1]).toBe(
      'Summary (offline: no model is configured, so rules wrote these sentences): ' +
        '6 (+4) reviews were decided: 3 approved, 2 rejected, 1 expired. The median time to decision was refund 45m, ticket-triage 30m. ' +
        '2 reviews are waiting, the oldest since 2026-11-20.',
    );
    const png = Buffer.from(message!.content.image.pngBase64, 'base64');
    expect(png.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a'); // the PNG signature
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([800, 400]); // IHDR width and height
    expect(message!.content.image.fallbackText.split('\n')).toHaveLength(8);
  });

  it('replays: the stored events of each digest run, fed through the decider, give its states, snapshot and jobs', async () => {
    const runs = await db.sql<
      { id: string; input: unknown; snapshot: StoredSnapshot }[]
    >`SELECT id, input, snapshot FROM runs WHERE flow = 'weekly-digest'`;
    expect(runs.length).toBeGreaterThan(0);
    for (const run of runs) {
      const events = await db.sql<{ seq: number; type: string; event: any; state_after: unknown }[]>`
        SELECT seq, type, event, state_after FROM run_events WHERE run_id = ${run.id} AND kind = 'event' ORDER BY seq`;
      let dec = decideStart(weeklyDigest, run.id, run.input);
      const keys = dec.jobs.map((j) => j.key);
      for (const e of events.slice(1)) {
        dec = decideEvent(
          weeklyDigest,
          run.id,
          e.seq,
          dec.snapshot,
          e.event,
          /^xstate\.(?:done|error)\.actor\.(.+)$/.exec(e.type)?.[1],
        );
        expect(dec.snapshot.value).toEqual(e.state_after);
        keys.push(...dec.jobs.map((j) => j.key));
      }
      expect(dec.snapshot).toEqual(run.snapshot);
      const stored = await db.sql<{ key: string }[]>`SELECT key FROM jobs WHERE run_id = ${run.id} ORDER BY key`;
      expect(keys.sort()).toEqual(stored.map((j) => j.key));
    }
  });

  it('a preview goes only to the requester, as a direct message', async () => {
    const { runId } = await app.engine.startRun('weekly-digest', {
      endAt: SEED.endAt,
      timezone: SEED.timezone,
      target,
      previewFor: 'alice',
    });
    expect((await app.engine.waitFor(runId, ['done', 'failed'], { timeoutMs: 30_000 })).status).toBe('done');
    const dms = await postedIn('@alice');
    expect(dms).toHaveLength(1);
    expect(dms[0]!.content.text).toContain('Weekly digest · general');
    expect(await postedIn('general')).toHaveLength(1); // still only the first test's post
  });
});

describe('the flow with a model: its summary at the top, its labels group the reasons', () => {
  let driver: PlatformDriver;
  let steps: StepRuntime;
  let app: Deployment;
  let model: FakeOpenAI;

  beforeAll(async () => {
    model = await startFakeOpenAI({ apiKey: 'sk-test-not-a-real-key-000000', models: ['test-cheap'] });
    driver = await makeConsoleDriver(db);
    const config = readConfig({
      OPENAI_API_KEY: 'sk-test-not-a-real-key-000000',
      OPENAI_BASE_URL: model.url,
      MODEL_CHEAP: 'test-cheap',
      MODEL_RPM: '0',
      MODEL_TPM: '0',
    });
    steps = createStepRuntime({
      config,
      sql: db.sql,
      log: silentLogger,
      ports: new Map([[driver.port.platform, driver.port]]),
    });
    app = await deploy(db, driver, { flows: [weeklyDigest], services: steps.services });
  });
  afterAll(async () => {
    await app?.stop();
    await steps?.stop();
    await driver?.close();
    await model?.close();
  });

  it("shows the model's three sentences (no mention can slip in) and counts its labels; the numbers it saw came from SQL", async () => {
    model.answer = () => ({
      summary: ['Decisions rose to six.', 'Refunds took longest <@U123>.', 'Two reviews still wait.'],
      reasonLabels: ['Tone', 'facts', 'facts'],
    });
    const { runId } = await app.engine.startRun('weekly-digest', {
      endAt: SEED.endAt,
      timezone: SEED.timezone,
      target,
    });
    expect((await app.engine.waitFor(runId, ['done', 'failed'], { timeoutMs: 30_000 })).status).toBe('done');
    const [message] = await db.sql<
      { content: any }[]
    >`SELECT content FROM console_messages WHERE channel = 'general' AND kind = 'text' ORDER BY id DESC LIMIT 1`;
    const lines: string[] = message!.content.text.split('\n');
    expect(lines[1]).toBe(
      'Summary (test-cheap): Decisions rose to six. Refunds took longest ‹@U123›. Two reviews still wait.',
    );
    // One label per reason, this week's then last week's; we count them.
    expect(lines).toContain('Rejection reasons (grouped by test-cheap): facts 1 (=) · tone 1 (+1)');
    const prompt: string = model.requests.at(-1)!.body.messages.at(-1).content;
    expect(prompt).toContain('"runsTotal":{"this":8,"prev":4}');
    expect(prompt).toContain('1. The tone is too harsh\n2. Wrong amount in the refund\n3. Missing the order number');
  });
});
