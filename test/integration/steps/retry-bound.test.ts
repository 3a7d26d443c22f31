/**
 * RELIABILITY 72: SDK retries × engine attempts × processes stays within the
 * configured most calls per step, counted at the fake. Two engines share the
 * database; the model answers 503 to everything; the step may try 10 times,
 * with two models per try, but MODEL_MAX_CALLS_PER_STEP is 4.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { z } from 'zod';
import { readConfig } from '../../../src/config.ts';
import { Engine } from '../../../src/engine/engine.ts';
import { defineFlow, modelStep, setup } from '../../../src/authoring/index.ts';
import { silentLogger } from '../../../src/ops/log.ts';
import { createStepRuntime, type StepRuntime } from '../../../src/steps/runtime.ts';
import { startFakeOpenAI, type FakeOpenAI } from '../../fakes/openai-server.ts';
import { useTestDb } from '../../helpers/db.ts';

const Summary = z.object({ summary: z.string() });

const summarizeStep = modelStep<{ text: string }, z.infer<typeof Summary>>({
  route: 'strong',
  prompt: new URL('../../fixtures/prompts/summarize.md', import.meta.url),
  output: Summary,
  vars: () => ({}),
  maxAttempts: 10,
  backoffMs: 20,
});

const summarize = defineFlow({
  id: 'summarize',
  title: 'one model step',
  input: z.object({ text: z.string() }),
  machine: setup({ types: {} as { input: { text: string } }, actors: { summarize: summarizeStep } }).createMachine({
    id: 'summarize',
    initial: 'working',
    states: {
      working: { invoke: { src: 'summarize', input: ({ event }) => (event as any).input, onDone: 'done' } },
      done: { type: 'final' },
    },
  }),
});

const db = useTestDb();
let fake: FakeOpenAI;
const engines: Engine[] = [];
const runtimes: StepRuntime[] = [];

beforeAll(async () => {
  fake = await startFakeOpenAI({ apiKey: 'sk-test-not-a-real-key-000000', models: ['primary', 'fallback'] });
  fake.always({ kind: 'status', status: 503 });
  const config = readConfig({
    OPENAI_API_KEY: 'sk-test-not-a-real-key-000000',
    OPENAI_BASE_URL: fake.url,
    MODEL_STRONG: 'primary,fallback',
    MODEL_MAX_CALLS_PER_STEP: '4',
    MODEL_RPM: '0',
    MODEL_TPM: '0',
  });
  for (const name of ['a', 'b']) {
    const steps = createStepRuntime({ config, sql: db.sql, log: silentLogger });
    const engine = new Engine({
      sql: db.sql,
      schema: db.schema,
      flows: [summarize],
      services: steps.services,
      workerId: name,
      pollMs: 50,
    });
    await engine.start();
    engines.push(engine);
    runtimes.push(steps);
  }
});
afterAll(async () => {
  for (const e of engines) await e.stop(1_000);
  for (const r of runtimes) await r.stop();
  await fake?.close();
});

it('72: at most MODEL_MAX_CALLS_PER_STEP calls reach the provider, however many attempts and processes', async () => {
  const { runId } = await engines[0]!.startRun('summarize', { text: 'x' });
  const run = await engines[1]!.waitFor(runId, ['failed'], { timeoutMs: 20_000 });
  expect(run.reason).toMatch(/made 4 calls, its limit \(MODEL_MAX_CALLS_PER_STEP\)/);
  expect(fake.requests).toHaveLength(4);
  expect(fake.requests.map((r) => r.body.model)).toEqual(['primary', 'fallback', 'primary', 'fallback']);
  const rows = await db.sql`SELECT count(*)::int AS n FROM model_calls WHERE run_id = ${runId}`;
  expect(rows[0]!.n).toBe(4);
});
