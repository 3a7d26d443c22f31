/**
 * The model gateway against a fake OpenAI that refuses what OpenAI refuses
 * (a wrong key, a model it does not serve, a strict json_schema outside the
 * structured-outputs rules), through the real openai SDK; and what the gateway
 * sends passes those rules, since it uses the SDK's own strict transform.
 */
import { randomBytes } from 'node:crypto';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DEFAULT_PRICES, DEFAULT_REDACT_PATTERNS } from '../../../src/config.ts';
import { SignoffError } from '../../../src/errors.ts';
import { silentLogger, type Logger } from '../../../src/ops/log.ts';
import { createModelGateway } from '../../../src/steps/model/gateway.ts';
import type { ModelRequest, ModelScope, ModelSettings } from '../../../src/steps/model/types.ts';
import { Pacer } from '../../../src/ops/pacing.ts';
import { OPENAI_MODELS, startFakeOpenAI, type FakeOpenAI } from '../../fakes/openai-server.ts';
import { useTestDb } from '../../helpers/db.ts';
import { strictSchemaProblem } from '../../fakes/openai-schema.ts';
import { toStrictJsonSchema } from '../../../src/steps/model/schema.ts';

const db = useTestDb();
const pacer = new Pacer();
let fake: FakeOpenAI;
const API_KEY = 'test-key-for-the-fake';

beforeAll(async () => {
  fake = await startFakeOpenAI({ apiKey: API_KEY, models: [...OPENAI_MODELS, 'llama3.1'] });
});
afterEach(() => fake.reset());
afterAll(async () => {
  await fake.close();
  await pacer.stop();
});

const Reply = z.object({ reply: z.string().min(1), tone: z.enum(['friendly', 'formal']) });
const PROMPT = 'Subject: Printer on fire\n\nThe office printer is on fire again.';

function gateway(overrides: Partial<ModelSettings> = {}, log: Logger = silentLogger) {
  const settings: ModelSettings = {
    apiKey: API_KEY, baseUrl: fake.url,
    routes: { cheap: ['gpt-4.1-mini'], strong: ['gpt-4.1', 'gpt-4.1-mini'] },
    callTimeoutMs: 5_000, maxCallsPerStep: 6, prices: { ...DEFAULT_PRICES }, redactPatterns: [...DEFAULT_REDACT_PATTERNS],
    maxPromptChars: 24_000, requestsPerMinute: 0, tokensPerMinute: 0, ...overrides,
  };
  return createModelGateway({ settings, sql: db.sql, log, pacer });
}

function request(route: string, prompt = PROMPT): ModelRequest<z.infer<typeof Reply>> {
  return { route, system: 'You draft replies to support tickets.', prompt, schema: Reply, schemaName: 'reply' };
}

function scope(attempt = 1, runId = `run-${randomBytes(4).toString('hex')}`, jobKey = `${runId}:draft:1`): ModelScope {
  return { runId, jobKey, attempt, signal: new AbortController().signal };
}

async function thrown(promise: Promise<unknown>): Promise<SignoffError> {
  const err = await promise.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(SignoffError);
  return err as SignoffError;
}

const models = () => fake.requests.map((r) => r.body.model);

describe('the provider refuses what OpenAI refuses', () => {
  it('a wrong key: 401 invalid_api_key, permanent, one request', async () => {
    const err = await thrown(gateway({ apiKey: 'sk-wrong-key-0000000000000' }).generate(request('strong'), scope()));
    expect(err.details).toMatchObject({ retryable: false });
    expect(err.message).toContain('the model provider refused the API key (401)');
    expect(fake.requests).toHaveLength(1);
  });

  it('a model it does not serve: 404 model_not_found, and the route falls back to the next model', async () => {
    const result = await gateway({ routes: { strong: ['gpt-9-imaginary', 'gpt-4.1-mini'] } }).generate(request('strong'), scope());
    expect(result.model).toBe('gpt-4.1-mini');
    expect(models()).toEqual(['gpt-9-imaginary', 'gpt-4.1-mini']);
  });

  it('a schema with an optional field is refused by the SDK\'s helper before anything is sent, as the API would', async () => {
    const Loose = z.object({ reply: z.string(), note: z.string().optional() });
    const err = await thrown(gateway().generate({ ...request('cheap'), schema: Loose }, scope()));
    expect(err.details).toMatchObject({ retryable: false });
    expect(err.message).toMatch(/"reply" answer schema cannot be used for structured output: .*uses `\.optional\(\)` without `\.nullable\(\)`/);
    expect(fake.requests).toHaveLength(0);
  });

  it.each([
    ['a keyword strict mode does not permit', { type: 'object', properties: { a: { type: 'string', minLength: 1 } }, required: ['a'], additionalProperties: false },
      "Invalid schema for response_format 'answer': In context=('properties', 'a'), 'minLength' is not permitted."],
    ['a property left out of required', { type: 'object', properties: { a: { type: 'string' }, b: { type: 'string' } }, required: ['a'], additionalProperties: false },
      "Invalid schema for response_format 'answer': In context=(), 'required' is required to be supplied and to be an array including every key in properties. Missing 'b'."],
    ['an open object', { type: 'object', properties: { a: { type: 'object', properties: {}, required: [] } }, required: ['a'], additionalProperties: false },
      "Invalid schema for response_format 'answer': In context=('properties', 'a'), 'additionalProperties' is required to be supplied and to be false."],
  ])('the fake answers %s with OpenAI\'s 400', async (_what, schema, message) => {
    const client = new OpenAI({ apiKey: API_KEY, baseURL: fake.url, maxRetries: 0 });
    const err = await client.chat.completions.create({
      model: 'gpt-4.1', messages: [{ role: 'user', content: 'hi' }],
      response_format: { type: 'json_schema', json_schema: { name: 'answer', schema, strict: true } },
    }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).error).toEqual({ message, type: 'invalid_request_error', param: 'response_format', code: null });
  });

  it('what the gateway sends for nested, nullable, bounded and enum schemas passes the same check', () => {
    const Rich = z.object({
      category: z.enum(['billing', 'bug']), score: z.number().int().min(1).max(5), title: z.string().min(3).max(80),
      tags: z.array(z.string().max(20)).max(5), owner: z.object({ team: z.string(), next: z.string().nullable() }),
      ref: z.union([z.null(), z.literal('T-1')]), email: z.email(), when: z.iso.datetime(),
    });
    expect(strictSchemaProblem('rich', toStrictJsonSchema(Rich, 'rich'))).toBeNull();
  });
});

