/**
 * The model gateway against a fake OpenAI that refuses what OpenAI refuses
 * (a wrong key, a model it does not serve, a strict json_schema outside the
 * structured-outputs rules), through the real openai SDK; and what the gateway
 * sends passes those rules, since it uses the SDK's own strict transform.
 */
import OpenAI from 'openai';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { FakeOpenAI } from '../../fakes/openai-server.ts';
import { API_KEY, modelRequest, modelScope, thrown, useGateways } from '../../helpers/gateway.ts';
import { strictSchemaProblem } from '../../fakes/openai-schema.ts';
import { toStrictJsonSchema } from '../../../src/steps/model/schema.ts';

const { state, gateway } = useGateways();
const request = modelRequest;
const scope = modelScope;
let fake: FakeOpenAI;
beforeAll(() => {
  fake = state.fake;
});

const models = () => fake.requests.map((r) => r.body.model);

describe('the provider refuses what OpenAI refuses', () => {
  it('a wrong key: 401 invalid_api_key, permanent, one request', async () => {
    const err = await thrown(gateway({ apiKey: 'sk-wrong-key-0000000000000' }).generate(request('strong'), scope()));
    expect(err.details).toMatchObject({ retryable: false });
    expect(err.message).toContain('the model provider refused the API key (401)');
    expect(fake.requests).toHaveLength(1);
  });

  it('a model it does not serve: 404 model_not_found, and the route falls back to the next model', async () => {
    const result = await gateway({ routes: { strong: ['gpt-9-imaginary', 'gpt-4.1-mini'] } }).generate(
      request('strong'),
      scope(),
    );
    expect(result.model).toBe('gpt-4.1-mini');
    expect(models()).toEqual(['gpt-9-imaginary', 'gpt-4.1-mini']);
  });

  it("a schema with an optional field is refused by the SDK's helper before anything is sent, as the API would", async () => {
    const Loose = z.object({ reply: z.string(), note: z.string().optional() });
    const err = await thrown(gateway().generate({ ...request('cheap'), schema: Loose }, scope()));
    expect(err.details).toMatchObject({ retryable: false });
    expect(err.message).toMatch(
      /"reply" answer schema cannot be used for structured output: .*uses `\.optional\(\)` without `\.nullable\(\)`/,
    );
    expect(fake.requests).toHaveLength(0);
  });

  it.each([
    [
      'a keyword strict mode does not permit',
      {
        type: 'object',
        properties: { a: { type: 'string', minLength: 1 } },
        required: ['a'],
        additionalProperties: false,
      },
      "Invalid schema for response_format 'answer': In context=('properties', 'a'), 'minLength' is not permitted.",
    ],
    [
      'a property left out of required',
      {
        type: 'object',
        properties: { a: { type: 'string' }, b: { type: 'string' } },
        required: ['a'],
        additionalProperties: false,
      },
      "Invalid schema for response_format 'answer': In context=(), 'required' is required to be supplied and to be an array including every key in properties. Missing 'b'.",
    ],
    [
      'an open object',
      {
        type: 'object',
        properties: { a: { type: 'object', properties: {}, required: [] } },
        required: ['a'],
        additionalProperties: false,
      },
      "Invalid schema for response_format 'answer': In context=('properties', 'a'), 'additionalProperties' is required to be supplied and to be false.",
    ],
  ])("the fake answers %s with OpenAI's 400", async (_what, schema, message) => {
    const client = new OpenAI({ apiKey: API_KEY, baseURL: fake.url, maxRetries: 0 });
    const err = await client.chat.completions
      .create({
        model: 'gpt-4.1',
        messages: [{ role: 'user', content: 'hi' }],
        response_format: { type: 'json_schema', json_schema: { name: 'answer', schema, strict: true } },
      })
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).error).toEqual({
      message,
      type: 'invalid_request_error',
      param: 'response_format',
      code: null,
    });
  });

  it('what the gateway sends for nested, nullable, bounded and enum schemas passes the same check', () => {
    const Rich = z.object({
      category: z.enum(['billing', 'bug']),
      score: z.number().int().min(1).max(5),
      title: z.string().min(3).max(80),
      tags: z.array(z.string().max(20)).max(5),
      owner: z.object({ team: z.string(), next: z.string().nullable() }),
      ref: z.union([z.null(), z.literal('T-1')]),
      email: z.email(),
      when: z.iso.datetime(),
    });
    expect(strictSchemaProblem('rich', toStrictJsonSchema(Rich, 'rich'))).toBeNull();
  });
});
