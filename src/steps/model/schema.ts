/**
 * The answer's shape, both ways: the step's zod schema turned into the JSON
 * schema a provider's strict structured output accepts, and the check of what
 * came back (RELIABILITY 70). Model output is untrusted input: it is parsed
 * and validated here before anything uses it.
 */
import { z } from 'zod';

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
 * `z.toJSONSchema` made strict-compatible: OpenAI's strict mode wants every
 * object closed (`additionalProperties: false`) and every property required.
 * An optional zod field becomes required here, which zod still accepts.
 */
export function toStrictJsonSchema(schema: z.ZodType): JsonSchema {
  const json = z.toJSONSchema(schema) as JsonSchema;
  delete json.$schema;
  return closeObjects(json) as JsonSchema;
}

function closeObjects(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(closeObjects);
  if (!node || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    // Under these keys the values are names → schemas, not schemas themselves.
    out[key] = key === 'properties' || key === '$defs' || key === 'definitions'
      ? Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, closeObjects(v)]))
      : closeObjects(value);
  }
  if (out.properties && typeof out.properties === 'object') {
    out.additionalProperties = false;
    out.required = Object.keys(out.properties);
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
  if (answer.finishReason === 'content_filter') return invalid("the answer was withheld by the provider's content filter");
  if (answer.toolCall && !answer.content) return invalid(`the model called a function (${quote(answer.toolCall.name)}) instead of answering`);
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
