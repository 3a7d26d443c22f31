/**
 * The model gateway against a fake OpenAI server, through the real openai SDK,
 * with the ledger in real Postgres (RELIABILITY 69, 70, 72, 81, 86): provider
 * errors become the engine's error kinds, invalid answers get one corrective
 * retry, a step's calls are bounded over attempts, secrets and over-long
 * material never reach the provider, and every call is priced and recorded.
 */
import OpenAI from 'openai';
import { beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/ops/log.ts';
import { runCost } from '../../../src/store/ledger.ts';
import type { FakeOpenAI } from '../../fakes/openai-server.ts';
import { API_KEY, modelRequest, modelScope, PROMPT, thrown, useGateways } from '../../helpers/gateway.ts';

const { db, state, gateway } = useGateways();
const request = modelRequest;
const scope = modelScope;
let fake: FakeOpenAI;
beforeAll(() => {
  fake = state.fake;
});

async function ledger(jobKey: string) {
  return db.sql<
    {
      model: string;
      attempt: number;
      call_no: number;
      outcome: string;
      error: string | null;
      input_tokens: number;
      output_tokens: number;
      cost_usd: number;
      offline: boolean;
    }[]
  >`
    SELECT model, attempt, call_no, outcome, error, input_tokens, output_tokens, cost_usd::float8 AS cost_usd, offline
    FROM model_calls WHERE job_key = ${jobKey} ORDER BY id`;
}

const models = () => fake.requests.map((r) => r.body.model);

describe('provider errors (RELIABILITY 69)', () => {
  it('429 rate_limit_exceeded with Retry-After: 20 asks the engine to wait at least 20 s', async () => {
    fake.next({ kind: 'status', status: 429, code: 'rate_limit_exceeded', retryAfter: 20 });
    const s = scope();
    const err = await thrown(gateway().generate(request('strong'), s));
    expect(err.code).toBe('step_failed');
    expect(err.details).toMatchObject({ retryable: true, defer: true });
    expect(err.details!.retryAfterMs).toBeGreaterThanOrEqual(20_000);
    expect(fake.requests).toHaveLength(1);
    expect((await ledger(s.jobKey)).map((r) => r.outcome)).toEqual(['error']);
  });

  it('429 insufficient_quota blocks the run for quota, with no second call', async () => {
    fake.always({ kind: 'status', status: 429, code: 'insufficient_quota' });
    const err = await thrown(gateway().generate(request('strong'), scope()));
    expect(err.code).toBe('step_blocked');
    expect(err.details).toMatchObject({ block: 'quota', retryable: false });
    expect(err.message).toContain('insufficient_quota');
    expect(fake.requests).toHaveLength(1);
  });

  it('503 on the primary falls back to the next model within the same generate()', async () => {
    fake.next({ kind: 'status', status: 503 });
    const s = scope();
    const result = await gateway().generate(request('strong'), s);
    expect(result).toMatchObject({
      value: { reply: 'fake answer', tone: 'friendly' },
      model: 'gpt-4.1-mini',
      offline: false,
    });
    expect(models()).toEqual(['gpt-4.1', 'gpt-4.1-mini']);
    expect((await ledger(s.jobKey)).map((r) => [r.model, r.outcome, r.call_no])).toEqual([
      ['gpt-4.1', 'error', 1],
      ['gpt-4.1-mini', 'ok', 2],
    ]);
  });

  it('503 on every model is a retryable step failure naming the models and the status', async () => {
    fake.always({ kind: 'status', status: 503 });
    const err = await thrown(gateway().generate(request('strong'), scope()));
    expect(err.code).toBe('step_failed');
    expect(err.details).toMatchObject({ retryable: true });
    expect(err.message).toMatch(/"gpt-4\.1" returned 503.*"gpt-4\.1-mini" returned 503/);
    expect(fake.requests).toHaveLength(2);
  });

  it('a hung connection ends at the per-call timeout, not the SDK default, as a retryable failure', async () => {
    fake.always({ kind: 'hang' });
    const started = Date.now();
    const err = await thrown(gateway({ callTimeoutMs: 300 }).generate(request('cheap'), scope()));
    expect(Date.now() - started).toBeLessThan(5_000); // sanity bound, not a performance assertion
    expect(err.details).toMatchObject({ retryable: true });
    expect(err.message).toContain('timed out after 300 ms');
  });

  it('a step that is cancelled mid-call stops there: retryable, no fallback', async () => {
    fake.always({ kind: 'hang' });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const err = await thrown(gateway().generate(request('strong'), { ...scope(), signal: controller.signal }));
    expect(err.details).toMatchObject({ retryable: true });
    expect(err.message).toContain('was cancelled');
    expect(fake.requests).toHaveLength(1);
  });

  it('401 is permanent, and the message carries neither the key nor the prompt', async () => {
    fake.always({
      kind: 'status',
      status: 401,
      code: 'invalid_api_key',
      message: `Incorrect API key provided: ${API_KEY}`,
    });
    const err = await thrown(gateway().generate(request('strong'), scope()));
    expect(err.details).toMatchObject({ retryable: false });
    expect(err.message).toContain('the model provider refused the API key');
    expect(err.message).not.toContain(API_KEY);
    expect(err.message).not.toContain('Printer');
    expect(fake.requests).toHaveLength(1);
  });

  it('400 is permanent and quotes the provider, with secrets redacted', async () => {
    fake.always({
      kind: 'status',
      status: 400,
      message: `Invalid schema for response_format 'reply' (key ${API_KEY}, sk-abcdefghijklmnopqrstuvwx)`,
    });
    const err = await thrown(gateway().generate(request('cheap'), scope()));
    expect(err.details).toMatchObject({ retryable: false });
    expect(err.message).toContain('Invalid schema for response_format');
    expect(err.message).not.toContain(API_KEY);
    expect(err.message).not.toContain('sk-abcdefghijklmnopqrstuvwx');
  });
});

describe('invalid answers (RELIABILITY 70)', () => {
  it.each([
    [
      'schema-invalid JSON',
      { kind: 'json', value: { reply: '', tone: 'rude' } },
      'the answer does not match the schema',
    ],
    ['a refusal', { kind: 'refusal', text: 'I cannot help with that.' }, 'the model refused: I cannot help with that.'],
    ['a truncated answer', { kind: 'truncated' }, 'the answer was cut off at the token limit'],
  ] as const)('%s gets one retry that says why, then comes back as invalid', async (_name, behaviour, reason) => {
    fake.always(behaviour);
    const s = scope();
    const result = await gateway().generate(request('cheap'), s);
    expect(result.value).toBeNull();
    expect(result.invalid!.reason).toContain(reason);
    expect(fake.requests).toHaveLength(2);
    const retry = fake.requests[1]!.body.messages as { role: string; content: string }[];
    expect(retry.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user']);
    expect(retry[2]!.content).toBe(result.invalid!.raw || '(empty answer)');
    expect(retry[3]!.content).toContain(reason);
    expect((await ledger(s.jobKey)).map((r) => r.outcome)).toEqual(['invalid', 'invalid']);
  });

  it('a valid answer on the retry is returned, with the usage of both calls', async () => {
    fake.next({ kind: 'text', text: 'Sure! Here is your reply.' });
    const s = scope();
    const result = await gateway().generate(request('cheap'), s);
    expect(result.value).toEqual({ reply: 'fake answer', tone: 'friendly' });
    expect(result.invalid).toBeUndefined();
    expect(fake.requests[1]!.body.messages[3].content).toContain('the answer is not valid JSON');
    const rows = await ledger(s.jobKey);
    expect(rows.map((r) => r.outcome)).toEqual(['invalid', 'ok']);
    expect(result.usage.inputTokens).toBe(rows[0]!.input_tokens + rows[1]!.input_tokens);
  });
});

describe('retry amplification bound (RELIABILITY 72)', () => {
  it('engine attempts on one step make at most MODEL_MAX_CALLS_PER_STEP calls at the provider, then fail for good', async () => {
    fake.always({ kind: 'status', status: 503 });
    const gw = gateway({ maxCallsPerStep: 3 });
    const first = scope(1);
    const attempt = (n: number) => thrown(gw.generate(request('strong'), { ...first, attempt: n }));
    expect((await attempt(1)).details).toMatchObject({ retryable: true });
    const second = await attempt(2);
    expect(second.details).toMatchObject({ retryable: false });
    expect(second.message).toBe('model step made 3 calls, its limit (MODEL_MAX_CALLS_PER_STEP)');
    expect((await attempt(3)).details).toMatchObject({ retryable: false });
    expect(fake.requests).toHaveLength(3);
    expect((await ledger(first.jobKey)).map((r) => [r.attempt, r.call_no])).toEqual([
      [1, 1],
      [1, 2],
      [2, 3],
    ]);
  });
});

describe('what reaches the provider (RELIABILITY 81, 86)', () => {
  it('a strict json_schema request with the answer cap and the key only in the header', async () => {
    await gateway().generate(request('cheap'), scope());
    const { body, headers } = fake.requests[0]!;
    expect(headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(body).toMatchObject({ model: 'gpt-4.1-mini', max_tokens: 1024 });
    expect(body.response_format).toEqual({
      type: 'json_schema',
      json_schema: {
        name: 'reply',
        strict: true,
        schema: {
          type: 'object',
          additionalProperties: false,
          required: ['reply', 'tone'],
          // minLength is not permitted in strict mode: it is left to zod, which checks the answer.
          properties: { reply: { type: 'string' }, tone: { type: 'string', enum: ['friendly', 'formal'] } },
        },
      },
    });
  });

  it('known secrets in the material are redacted before sending', async () => {
    const secrets = ['sk-abcdefghijklmnopqrstuvwx', 'xoxb-123456789012-abcdefghijkl', 'hunter22'];
    const prompt = `${PROMPT}\nkey sk-abcdefghijklmnopqrstuvwx, bot xoxb-123456789012-abcdefghijkl\npassword: hunter22`;
    await gateway().generate(request('cheap', prompt), scope());
    const sent = JSON.stringify(fake.requests[0]!.body);
    for (const secret of secrets) expect(sent).not.toContain(secret);
    expect(fake.requests[0]!.body.messages[1].content).toBe(
      `${PROMPT}\nkey [redacted], bot [redacted]\npassword: [redacted]`,
    );
  });

  it('material longer than MODEL_MAX_PROMPT_CHARS is cut with an explicit marker', async () => {
    await gateway({ maxPromptChars: 500 }).generate(
      request('cheap', `${PROMPT}\n${'lorem ipsum '.repeat(200)}`),
      scope(),
    );
    const sent: string = fake.requests[0]!.body.messages[1].content;
    expect(sent.length).toBeLessThanOrEqual(500);
    expect(sent.startsWith(PROMPT)).toBe(true);
    expect(sent).toMatch(/\n…\[truncated: \d+ characters omitted\]$/);
  });
});

describe('cost and the ledger', () => {
  it('prices each call per million tokens, records it, and sums a run', async () => {
    const gw = gateway();
    const first = scope();
    fake.next({ kind: 'usage', prompt: 1000, completion: 500 }, { kind: 'usage', prompt: 1000, completion: 500 });
    const result = await gw.generate(request('gpt-4.1'), first);
    expect(result).toMatchObject({ model: 'gpt-4.1', usage: { inputTokens: 1000, outputTokens: 500 }, costUsd: 0.006 });
    expect(await ledger(first.jobKey)).toEqual([
      {
        model: 'gpt-4.1',
        attempt: 1,
        call_no: 1,
        outcome: 'ok',
        error: null,
        input_tokens: 1000,
        output_tokens: 500,
        cost_usd: 0.006,
        offline: false,
      },
    ]);
    await gw.generate(request('gpt-4.1'), scope(1, first.runId, `${first.runId}:classify:2`));
    expect(await runCost(db.sql, first.runId)).toEqual({
      calls: 2,
      inputTokens: 2000,
      outputTokens: 1000,
      costUsd: 0.012,
      offline: false,
      models: ['gpt-4.1'],
    });
  });

  it('a model without a price costs 0 and is reported once', async () => {
    const lines: string[] = [];
    const gw = gateway(
      {},
      createLogger('debug', (line) => lines.push(line)),
    );
    for (let i = 0; i < 2; i++) expect((await gw.generate(request('llama3.1'), scope())).costUsd).toBe(0);
    expect(lines.filter((l) => l.includes('has no price'))).toHaveLength(1);
  });
});

describe('offline model', () => {
  it('answers with no key and no base URL, without the network, recorded and bounded like any model', async () => {
    const gw = gateway({ apiKey: null, baseUrl: null, maxCallsPerStep: 1 });
    const s = scope();
    const result = await gw.generate(request('strong'), s);
    expect(result).toMatchObject({ model: 'offline', offline: true, costUsd: 0, value: { tone: 'friendly' } });
    expect(result.value!.reply).toContain('Printer on fire');
    expect(await ledger(s.jobKey)).toMatchObject([{ model: 'offline', offline: true, outcome: 'ok' }]);
    const err = await thrown(gw.generate(request('strong'), { ...s, attempt: 2 }));
    expect(err.details).toMatchObject({ retryable: false });
    expect(fake.requests).toHaveLength(0);
  });
});

describe('the fake server', () => {
  it('answers the Responses API in a shape the SDK reads', async () => {
    const client = new OpenAI({ apiKey: API_KEY, baseURL: fake.url, maxRetries: 0 });
    const schema = {
      type: 'object',
      properties: { ok: { type: 'boolean' } },
      required: ['ok'],
      additionalProperties: false,
    };
    const res = await client.responses.create({
      model: 'gpt-4.1',
      input: 'hi',
      text: { format: { type: 'json_schema', name: 'answer', schema, strict: true } },
    });
    expect(JSON.parse(res.output_text)).toEqual({ ok: false });
    expect(res.usage!.input_tokens).toBeGreaterThan(0);
    expect(fake.requests.map((r) => [r.method, r.path])).toEqual([['POST', '/v1/responses']]);
  });
});
