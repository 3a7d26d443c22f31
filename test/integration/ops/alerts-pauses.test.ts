/**
 * Alerts for runs that wait on a person, through the real engine, review desk
 * and web chat (the chat-port contract's deployment): a step the model's quota
 * stopped (`blocked:quota`), a run parked because an unsafe call's outcome is
 * unknown (`blocked:needs_human`), and a run over its model budget (ticket-triage
 * against the fake OpenAI server) each post one alert in the alert channel, with
 * what to do, and resolve when a person acted (`/signoff retry`, the budget card's
 * Approve). Sweeps are driven with `tick()`; assertions read rows.
 */
import { setup, assign } from 'xstate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import ticketTriage from '../../../flows/ticket-triage.flow.ts';
import { readConfig } from '../../../src/config.ts';
import { compileFlow as defineFlow } from '../../../src/engine/flow.ts';
import { blockedError } from '../../../src/errors.ts';
import { Alerter } from '../../../src/ops/alerts.ts';
import { silentLogger } from '../../../src/ops/log.ts';
import { createStepRuntime, type StepRuntime } from '../../../src/steps/runtime.ts';
import { deploy, until, type Deployment, type PlatformDriver } from '../../contract/chat-port.contract.ts';
import { makeConsoleDriver } from '../../contract/console-driver.ts';
import { startFakeOpenAI, type FakeOpenAI } from '../../fakes/openai-server.ts';
import { useTestDb } from '../../helpers/db.ts';
import { slot as step } from '../../helpers/flows/slot.ts';

const ALERTS = 'general';
const OPENAI_KEY = 'sk-test-not-a-real-key-000000';
/** Per run label: the errors its step throws, in order; then it succeeds. */
const script = new Map<string, Error[]>();

const pausing = defineFlow({
  id: 'pausing',
  title: 'a step that pauses for a person',
  input: z.object({ label: z.string() }),
  machine: setup({
    types: {} as { input: { label: string }; context: { label: string; result?: string } },
    actors: { work: step<{ label: string }, string>() },
  }).createMachine({
    id: 'pausing',
    context: ({ input }) => ({ label: input.label }),
    initial: 'working',
    states: {
      working: {
        invoke: {
          src: 'work',
          id: 'work',
          input: ({ context }) => ({ label: context.label }),
          onDone: { target: 'done', actions: assign({ result: ({ event }) => event.output }) },
        },
      },
      done: { type: 'final' },
    },
  }),
  steps: {
    work: {
      maxAttempts: 1,
      run: async ({ label }: { label: string }) => {
        const next = script.get(label)?.shift();
        if (next) throw next;
        return 'done';
      },
    },
  },
});

const db = useTestDb({ max: 20 });
let model: FakeOpenAI;
let driver: PlatformDriver;
let steps: StepRuntime;
let app: Deployment;
let alerter: Alerter;

beforeAll(async () => {
  model = await startFakeOpenAI({ apiKey: OPENAI_KEY, models: ['test-cheap', 'test-strong'] });
  driver = await makeConsoleDriver(db);
  const config = readConfig({
    OPENAI_API_KEY: OPENAI_KEY,
    OPENAI_BASE_URL: model.url,
    MODEL_CHEAP: 'test-cheap',
    MODEL_STRONG: 'test-strong',
    MODEL_PRICES: JSON.stringify({ 'test-cheap': { inputPerMTok: 0.4, outputPerMTok: 1.6 } }),
    MODEL_RPM: '0',
    MODEL_TPM: '0',
    RUN_BUDGET_USD: '0.001',
    SIGNOFF_ALERT_CHANNEL: ALERTS,
  });
  steps = createStepRuntime({ config, sql: db.sql, log: silentLogger });
  app = await deploy(db, driver, { flows: [pausing, ticketTriage], services: steps.services });
  alerter = new Alerter({
    sql: db.sql,
    port: driver.port,
    settings: config.alerts,
    processId: 'p',
    openCircuits: () => steps.openCircuits(),
  });
});
afterAll(async () => {
  await app?.stop();
  await steps?.stop();
  await driver?.close();
  await model?.close();
});

async function startPausing(label: string, errors: Error[]): Promise<string> {
  script.set(label, errors);
  const trigger = { source: driver.port.platform, actor: 'alice', channel: driver.channel, tenant: driver.tenant };
  return (await app.engine.startRun('pausing', { label }, { trigger })).runId;
}

/** The alert of `cause` and what the alert channel shows of it: its post and the replies under it. */
async function alertOf(cause: string) {
  const [row] = await db.sql<{ id: number; cleared: boolean; posted_ref: string | null; count: number }[]>`
    SELECT id, cleared_at IS NOT NULL AS cleared, posted_ref, count FROM alerts WHERE cause = ${cause}`;
  if (!row) return null;
  const messages = await db.sql<{ text: string; quote: string | null; parent: string | null }[]>`
    SELECT content->>'text' AS text, content->>'quote' AS quote, parent_id::text AS parent FROM console_messages
    WHERE channel = ${ALERTS} AND idempotency_key LIKE ${`alert:${row.id}%`} ORDER BY id`;
  return { ...row, messages };
}

async function retry(runId: string): Promise<void> {
  const reply = await driver.command('alice', driver.channel, `retry ${runId}`);
  expect(JSON.stringify(reply)).toMatch(/retried/);
  await app.engine.waitFor(runId, ['done'], { timeoutMs: 10_000 });
}

describe('alerts for runs waiting on a person', () => {
  it("the model's quota: one alert for every paused run, resolved once they are retried", async () => {
    const quota = () => blockedError('quota', 'the model provider says the account has no quota left');
    const runs = [await startPausing('q1', [quota()]), await startPausing('q2', [quota()])];
    for (const id of runs) await app.engine.waitFor(id, ['parked'], { timeoutMs: 10_000 });
    await alerter.tick();
    const open = (await alertOf('model-quota'))!;
    expect(open).toMatchObject({ cleared: false, count: 2 });
    expect(open.messages).toHaveLength(1);
    expect(open.messages[0]!.text).toContain('no quota left: 2 runs are paused');
    expect(open.messages[0]!.text).toContain('change OPENAI_API_KEY, then `/signoff retry <run>`');
    expect(await alertOf('run-parked:pausing')).toBeNull(); // a quota pause is not also a parked-run alert

    for (const id of runs) await retry(id);
    await alerter.tick();
    const resolved = (await alertOf('model-quota'))!;
    expect(resolved.cleared).toBe(true);
    expect(resolved.messages.map((m) => m.parent !== null)).toEqual([false, true]);
    expect(resolved.messages[1]!.text).toContain('no run is paused for the model quota any more');
  });

  it('a parked run: the alert quotes why and says how to go on; a retry resolves it', async () => {
    const runId = await startPausing('unsafe', [
      blockedError('needs_human', 'zendesk.reply timed out; whether the reply was sent is unknown'),
    ]);
    await app.engine.waitFor(runId, ['parked'], { timeoutMs: 10_000 });
    await alerter.tick();
    const open = (await alertOf('run-parked:pausing'))!;
    expect(open.messages[0]!.text).toContain(`Run \`${runId}\` of pausing is parked`);
    expect(open.messages[0]!.text).toContain(`/signoff retry ${runId}`);
    expect(open.messages[0]!.quote).toContain('whether the reply was sent is unknown');
    await retry(runId);
    await alerter.tick();
    expect(await alertOf('run-parked:pausing')).toMatchObject({ cleared: true });
    expect((await alertOf('run-parked:pausing'))!.messages).toHaveLength(2);
  });

  it('a run over its model budget: one alert until a person approves the budget card', async () => {
    model.answer = (body: any) =>
      body.response_format.json_schema.name.endsWith('classify')
        ? { category: 'billing', urgency: 'high' }
        : { reply: 'Hello, we refunded the duplicate charge.' };
    model.always({ kind: 'usage', prompt: 1000, completion: 500 });
    const { runId } = await app.engine.startRun(
      'ticket-triage',
      { subject: 'Over budget', body: 'Charged twice.', customer: 'ACME', ticketId: '7' },
      { trigger: { source: driver.port.platform, actor: 'alice', channel: driver.channel, tenant: driver.tenant } },
    );
    const card = await until(
      'the budget card',
      async () => (await driver.cards(driver.channel)).find((c) => c.runId === runId && c.allText.includes('Budget:')),
      20_000,
    );
    await alerter.tick();
    await alerter.tick();
    const open = (await alertOf('budget:ticket-triage'))!;
    expect(open).toMatchObject({ cleared: false, count: 1 });
    expect(open.messages).toHaveLength(1);
    expect(open.messages[0]!.text).toContain(`Run \`${runId}\` of ticket-triage has spent its model budget`);
    expect(open.messages[0]!.text).toContain('approve or reject the budget card');

    expect(await driver.click('bob', card, 'approve')).toMatchObject({ kind: 'ok' });
    await alerter.tick();
    const resolved = (await alertOf('budget:ticket-triage'))!;
    expect(resolved.cleared).toBe(true);
    expect(resolved.messages[1]!.text).toContain('no run of ticket-triage waits for a budget decision any more');
  });
});
