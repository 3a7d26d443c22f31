/**
 * The built-in offline model: what answers when no API key and no base URL
 * are configured, so `npm start` runs every flow end to end with no account.
 * It is deterministic and does no I/O: the same prompt and schema always give
 * the same answer, an object that satisfies the schema.
 *
 * It knows just enough to make the ticket-triage demo read well: a `reply`
 * property gets a polite support reply naming the ticket's `Subject:` line,
 * and a redraft acknowledges the `Reviewer feedback:` it was given, so it
 * differs from the first draft. Other strings echo the prompt's topic.
 */
import type { ModelUsage } from './types.ts';
import type { JsonSchema } from './schema.ts';

export interface OfflineAnswer {
  /** The answer as JSON text, as a provider would send it. */
  text: string;
  usage: ModelUsage;
}

/** What the answer draws on, read from the prompt. */
interface Material {
  /** The `Subject:` line, else the prompt's first line. */
  topic: string;
  hasSubject: boolean;
  feedback: string | null;
}

/** Rough tokens per character for English text: the usual rule of thumb (OpenAI's tokenizer docs). */
const CHARS_PER_TOKEN = 4;
const TOPIC_CHARS = 120;
const FEEDBACK_CHARS = 300;

export function answerOffline(input: { system: string; prompt: string; schema: JsonSchema }): OfflineAnswer {
  const value = build(input.schema, '', readMaterial(input.prompt), input.schema);
  const text = JSON.stringify(value);
  return {
    text,
    usage: {
      inputTokens: Math.ceil((input.system.length + input.prompt.length) / CHARS_PER_TOKEN),
      outputTokens: Math.ceil(text.length / CHARS_PER_TOKEN),
    },
  };
}

function readMaterial(prompt: string): Material {
  const subject = /^[ \t]*Subject:[ \t]*(\S.*)$/m.exec(prompt)?.[1];
  const firstLine = prompt
    .split('\n')
    .map((l) => l.replace(/^#+\s*/, '').trim())
    .find((l) => l.length > 0);
  // The feedback is the rest of its line (or the next line): prompts go on with instructions after it.
  const feedback = /Reviewer feedback:[ \t]*(?:\n[ \t]*)?(\S[^\n]*)/.exec(prompt)?.[1];
  return {
    topic: clip(subject ?? firstLine ?? 'your request', TOPIC_CHARS),
    hasSubject: subject !== undefined,
    feedback: feedback ? clip(feedback, FEEDBACK_CHARS) : null,
  };
}

function build(schema: JsonSchema, key: string, m: Material, root: JsonSchema): unknown {
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.enum)) return schema.enum[0];
  const options = (schema.anyOf ?? schema.oneOf) as JsonSchema[] | undefined;
  if (Array.isArray(options)) return build(options.find((o) => o.type !== 'null') ?? options[0] ?? {}, key, m, root);
  if (typeof schema.$ref === 'string') return build(resolveRef(schema.$ref, root), key, m, root);
  const type = Array.isArray(schema.type) ? (schema.type.find((t) => t !== 'null') ?? 'null') : schema.type;
  switch (type) {
    case 'object': {
      const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
      return Object.fromEntries(Object.entries(properties).map(([k, s]) => [k, build(s, k, m, root)]));
    }
    case 'array':
      return Array.from({ length: Number(schema.minItems ?? 0) }, () =>
        build((schema.items ?? {}) as JsonSchema, key, m, root),
      );
    case 'string':
      return fitLength(key === 'reply' ? supportReply(m) : `${words(key)}: ${m.topic}`, schema);
    case 'integer':
    case 'number':
      return numberWithin(schema, type === 'integer');
    case 'boolean':
      return false;
    default:
      return null;
  }
}

/** zod puts recursive and shared schemas under `$defs` and points at them. */
function resolveRef(ref: string, root: JsonSchema): JsonSchema {
  const name = /^#\/(?:\$defs|definitions)\/(.+)$/.exec(ref)?.[1];
  const defs = (root.$defs ?? root.definitions ?? {}) as Record<string, JsonSchema>;
  return ref === '#' ? root : (name && defs[name]) || {};
}

function supportReply(m: Material): string {
  const about = m.hasSubject ? `about "${m.topic}"` : 'about your request';
  return [
    'Hello,',
    '',
    `Thank you for contacting us ${about}. We are sorry for the trouble and are looking into it now; we will update you as soon as we know more.`,
    ...(m.feedback ? ['', `Revised to address the reviewer's feedback: "${m.feedback}"`] : []),
    '',
    'Best regards,',
    'The support team',
  ].join('\n');
}

/** 0 unless the schema's bounds exclude it. */
function numberWithin(schema: JsonSchema, isInteger: boolean): number {
  const min = typeof schema.minimum === 'number' ? schema.minimum : -Infinity;
  const max = typeof schema.maximum === 'number' ? schema.maximum : Infinity;
  const n = Math.min(Math.max(0, min), max);
  // Away from 0 so a fractional bound stays respected: above a positive minimum, below a negative maximum.
  return isInteger ? (n > 0 ? Math.ceil(n) : Math.floor(n)) : n;
}

function fitLength(text: string, schema: JsonSchema): string {
  const min = Number(schema.minLength ?? 0);
  const max = Number(schema.maxLength ?? Infinity);
  const padded = text.length >= min ? text : text.padEnd(min, '.');
  return padded.slice(0, max);
}

/** `nextStep` / `next_step` → `next step`. */
function words(key: string): string {
  const spaced = key
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .replace(/[_-]+/g, ' ')
    .trim()
    .toLowerCase();
  return spaced || 'answer';
}

function clip(text: string, maxChars: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > maxChars ? `${flat.slice(0, maxChars)}…` : flat;
}
