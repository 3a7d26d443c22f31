/**
 * The answer's shape, both ways: the step's zod schema turned into the JSON
 * schema a provider's strict structured output accepts, and the check of what
 * came back (RELIABILITY 70). Model output is untrusted input: it is parsed
 * and validated here before anything uses it.
 */
import { zodResponseFormat } from 'openai/helpers/zod';
import { z } from 'zod';
import { SignoffError } from '../../errors.ts';

export type JsonSchema = Record<string, unknown>;

/** What a provider sent back for one call, before validation. */
export interface RawAnswer {
  content: string | null;
  refusal: string | null;
  /** `stop`, `length`, `content_filter`, `tool_calls`… */
  finishReason: string | null;
  /** Set when the model called a function instead of answering. */
  toolCall: { name: string; arguments: string } | null;
  usage: { inputTokens: number; outputTokens: number };
}

export type CheckedAnswer<T> = { ok: true; value: T } | { ok: false; reason: string; raw: string };

/**
 * Keywords OpenAI's strict mode permits
 * (https://platform.openai.com/docs/guides/structured-outputs#supported-schemas):
 * the structure, plus `pattern`/`format` for strings, the bounds of numbers and
 * `minItems`/`maxItems`. Anything else (`minLength`, `maxLength`, `default`, …)
 * is answered 400 "'minLength' is not permitted", so it is left out of what is
 * sent; the zod schema still checks it on the answer (checkAnswer).
 */
const PERMITTED = new Set([
  'type',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'enum',
  'const',
  'anyOf',
  '$ref',
  '$defs',
  'definitions',
  'description',
  'title',
  'pattern',
  'format',
  'multipleOf',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'minItems',
  'maxItems',
]);
/** The `format` values strict mode knows (same page); zod's others (e.g. `cidrv4`) are left to zod. */
const FORMATS = new Set(['date-time', 'time', 'date', 'duration', 'email', 'hostname', 'ipv4', 'ipv6', 'uuid']);

/**
 * The JSON schema sent for a step's zod schema. The strict transform is the
 * openai SDK's own (`zodResponseFormat` from openai/helpers/zod: every object
 * closed, every property required, `.optional()` without `.nullable()`
 * refused, as the API refuses it); then the keywords the API does not permit
 * are dropped. A schema the API cannot take is a permanent step error naming it.
 */
export function toStrictJsonSchema(schema: z.ZodType, name: string): JsonSchema {
  let json: JsonSchema;
  try {
    json = zodResponseFormat(schema, name).json_schema.schema as JsonSchema;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new SignoffError('step_failed', `the "${name}" answer schema cannot be used for structured output: ${why}`, {
      cause: err,
      details: { retryable: false },
    });
  }
  return permittedOnly(json) as JsonSchema;
}

/**
 * The whole zod schema as JSON schema, every keyword kept: what the built-in
 * offline model fills in (it honours lengths the API schema cannot carry).
 */
export function fullJsonSchema(schema: z.ZodType): JsonSchema {
  const { $schema: _dialect, ...json } = z.toJSONSchema(schema) as JsonSchema;
  return json;
}

function permittedOnly(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(permittedOnly);
  if (!node || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (!PERMITTED.has(key) || (key === 'format' && !FORMATS.has(String(value)))) continue;
    // Under these keys the values are names → schemas, not schemas themselves.
    out[key] =
      key === 'properties' || key === '$defs' || key === 'definitions'
        ? Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, permittedOnly(v)]))
        : key === 'enum' || key === 'const' || key === 'required'
          ? value
          : permittedOnly(value);
  }
  return out;
}

/** Longest piece of model text quoted in a reason (the reason is shown to a reviewer and stored). */
const QUOTE_CHARS = 200;

/** Checks an answer; the reason is short and says what to fix, in words the model can act on. */
export function checkAnswer<T>(answer: RawAnswer, schema: z.ZodType<T>): CheckedAnswer<T> {
  const raw = answer.content ?? answer.refusal ?? answer.toolCall?.arguments ?? '';
  const invalid = (reason: string): CheckedAnswer<T> => ({ ok: false, reason, raw });
  if (answer.refusal) return invalid(`the model refused: ${quote(answer.refusal)}`);
  if (answer.finishReason === 'length') return invalid('the answer was cut off at the token limit');
  if (answer.finishReason === 'content_filter')
    return invalid("the answer was withheld by the provider's content filter");
  if (answer.toolCall && !answer.content)
    return invalid(`the model called a function (${quote(answer.toolCall.name)}) instead of answering`);
  if (!answer.content?.trim()) return invalid('the answer was empty');
  let parsed: unknown;
  try {
    parsed = JSON.parse(answer.content);
  } catch {
    return invalid('the answer is not valid JSON');
  }
  const result = schema.safeParse(parsed);
  if (result.success) return { ok: true, value: result.data };
  const issues = result.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  return invalid(`the answer does not match the schema: ${issues.join('; ')}`);
}

function quote(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > QUOTE_CHARS ? `${flat.slice(0, QUOTE_CHARS)}…` : flat;
}
