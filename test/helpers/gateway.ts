/**
 * The model gateway against one fake OpenAI per test file, through the real
 * openai SDK and the ledger in the file's Postgres schema: the fake serves
 * OpenAI's model names (and llama3.1) and refuses any other key than `API_KEY`.
 * Register with `useGateways()` at the top of a test file.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { z } from 'zod';
import { DEFAULT_PRICES, DEFAULT_REDACT_PATTERNS } from '../../src/config.ts';
import { SignoffError } from '../../src/errors.ts';
import { silentLogger, type Logger } from '../../src/ops/log.ts';
import { Pacer } from '../../src/ops/pacing.ts';
import { createModelGateway } from '../../src/steps/model/gateway.ts';
import type { ModelRequest, ModelScope, ModelSettings } from '../../src/steps/model/types.ts';
import { OPENAI_MODELS, startFakeOpenAI, type FakeOpenAI } from '../fakes/openai-server.ts';
import { useTestDb } from './db.ts';

export const API_KEY = 'test-key-for-the-fake';
export const Reply = z.object({ reply: z.string().min(1), tone: z.enum(['friendly', 'formal']) });
export const PROMPT = 'Subject: Printer on fire\n\nThe office printer is on fire again.';

export function useGateways() {
  const db = useTestDb();
  const pacer = new Pacer();
  const state = { fake: null as unknown as FakeOpenAI };
  beforeAll(async () => {
    state.fake = await startFakeOpenAI({ apiKey: API_KEY, models: [...OPENAI_MODELS, 'llama3.1'] });
  });
  afterEach(() => state.fake.reset());
  afterAll(async () => {
    await state.fake.close();
    await pacer.stop();
  });
  const gateway = (overrides: Partial<ModelSettings> = {}, log: Logger = silentLogger) => {
    const settings: ModelSettings = {
      apiKey: API_KEY,
      baseUrl: state.fake.url,
      routes: { cheap: ['gpt-4.1-mini'], strong: ['gpt-4.1', 'gpt-4.1-mini'] },
      callTimeoutMs: 5_000,
      maxCallsPerStep: 6,
      prices: { ...DEFAULT_PRICES },
      redactPatterns: [...DEFAULT_REDACT_PATTERNS],
      maxPromptChars: 24_000,
      requestsPerMinute: 0,
      tokensPerMinute: 0,
      ...overrides,
    };
    return createModelGateway({ settings, sql: db.sql, log, pacer });
  };
  return { db, state, gateway };
}

export function modelRequest(route: string, prompt = PROMPT): ModelRequest<z.infer<typeof Reply>> {
  return { route, system: 'You draft replies to support tickets.', prompt, schema: Reply, schemaName: 'reply' };
}

export function modelScope(
  attempt = 1,
  runId = `run-${randomBytes(4).toString('hex')}`,
  jobKey = `${runId}:draft:1`,
): ModelScope {
  return { runId, jobKey, attempt, signal: new AbortController().signal };
}

/** The SignoffError a promise rejects with. */
export async function thrown(promise: Promise<unknown>): Promise<SignoffError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SignoffError);
  return err as SignoffError;
}
