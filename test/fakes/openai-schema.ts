/**
 * What OpenAI's strict structured outputs accept, as the fake OpenAI server
 * checks it. The rules are OpenAI's "Supported schemas" section
 * (https://platform.openai.com/docs/guides/structured-outputs#supported-schemas):
 *
 * - the root is an object, not `anyOf`;
 * - every object has `additionalProperties: false` and lists every key of
 *   `properties` in `required` (optional fields are a `null` type instead);
 * - only the documented keywords appear: structure, `description`/`title`,
 *   `pattern` and `format` (a fixed list) for strings, `multipleOf`,
 *   `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum` for numbers,
 *   `minItems`/`maxItems` for arrays; others (`minLength`, `default`, …) are
 *   "not permitted";
 * - at most 5000 properties, 10 levels of nesting, 1000 enum values;
 * - the format name is 1–64 of a-z, A-Z, 0-9, `_` and `-`
 *   (https://platform.openai.com/docs/api-reference/chat/create#chat-create-response_format).
 *
 * Messages follow the API's own 400s, e.g. `Invalid schema for response_format
 * 'reply': In context=('properties', 'reply'), 'minLength' is not permitted.`
 */

const STRUCTURE = [
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
];
const TYPE_KEYWORDS = [
  'pattern',
  'format',
  'multipleOf',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'minItems',
  'maxItems',
];
const PERMITTED = new Set([...STRUCTURE, ...TYPE_KEYWORDS]);
const FORMATS = new Set(['date-time', 'time', 'date', 'duration', 'email', 'hostname', 'ipv4', 'ipv6', 'uuid']);
const TYPES = new Set(['string', 'number', 'integer', 'boolean', 'object', 'array', 'null']);
const MAX_PROPERTIES = 5000;
const MAX_DEPTH = 10;
const MAX_ENUM_VALUES = 1000;
const NAME = /^[a-zA-Z0-9_-]{1,64}$/;

/** The first rule a strict `json_schema` format breaks, in OpenAI's words; null when the API would take it. */
export function strictSchemaProblem(name: unknown, schema: unknown): string | null {
  if (typeof name !== 'string' || !NAME.test(name)) {
    return `Invalid 'response_format.json_schema.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.`;
  }
  const state = { properties: 0 };
  const problem = check(schema, [], 1, state, true);
  return problem === null ? null : `Invalid schema for response_format '${name}': ${problem}`;
}

/** Python's tuple repr, as the API prints the path: (), ('properties',), ('properties', 'a'). */
function context(path: string[]): string {
  const items = path.map((p) => `'${p}'`);
  return `In context=(${items.join(', ')}${items.length === 1 ? ',' : ''})`;
}

function check(
  node: unknown,
  path: string[],
  depth: number,
  state: { properties: number },
  isRoot = false,
): string | null {
  const at = context(path);
  if (!node || typeof node !== 'object' || Array.isArray(node)) return `${at}, schema must be a JSON Schema object.`;
  const schema = node as Record<string, unknown>;
  if (isRoot && schema.type !== 'object')
    return `${at}, schema must be a JSON Schema of 'type: "object"', got 'type: "${String(schema.type)}"'.`;
  if (depth > MAX_DEPTH) return `${at}, schema has more than ${MAX_DEPTH} levels of nesting.`;
  for (const key of Object.keys(schema)) {
    if (!PERMITTED.has(key) && !(isRoot && key === '$schema')) return `${at}, '${key}' is not permitted.`;
  }
  if (schema.format !== undefined && !FORMATS.has(String(schema.format)))
    return `${at}, '${String(schema.format)}' is not a permitted format.`;
  const types = schema.type === undefined ? [] : Array.isArray(schema.type) ? schema.type : [schema.type];
  for (const t of types) if (!TYPES.has(String(t))) return `${at}, '${String(t)}' is not a permitted type.`;
  if (Array.isArray(schema.enum) && schema.enum.length > MAX_ENUM_VALUES)
    return `${at}, enum has more than ${MAX_ENUM_VALUES} values.`;
  return checkObject(schema, path, depth, state) ?? checkChildren(schema, path, depth, state);
}

function checkObject(
  schema: Record<string, unknown>,
  path: string[],
  depth: number,
  state: { properties: number },
): string | null {
  const isObject = schema.type === 'object' || (Array.isArray(schema.type) && schema.type.includes('object'));
  if (!isObject) return null;
  const at = context(path);
  if (schema.additionalProperties !== false)
    return `${at}, 'additionalProperties' is required to be supplied and to be false.`;
  const properties = (schema.properties ?? {}) as Record<string, unknown>;
  const required = Array.isArray(schema.required) ? schema.required : null;
  const missing = Object.keys(properties).filter((k) => !required?.includes(k));
  if (required === null || missing.length > 0) {
    return `${at}, 'required' is required to be supplied and to be an array including every key in properties.${missing.length ? ` Missing '${missing[0]}'.` : ''}`;
  }
  state.properties += Object.keys(properties).length;
  if (state.properties > MAX_PROPERTIES)
    return `${at}, the schema has more than ${MAX_PROPERTIES} object properties in total.`;
  for (const [key, value] of Object.entries(properties)) {
    const problem = check(value, [...path, 'properties', key], depth + 1, state);
    if (problem) return problem;
  }
  return null;
}

function checkChildren(
  schema: Record<string, unknown>,
  path: string[],
  depth: number,
  state: { properties: number },
): string | null {
  if (schema.items !== undefined) {
    const problem = check(schema.items, [...path, 'items'], depth + 1, state);
    if (problem) return problem;
  }
  if (Array.isArray(schema.anyOf)) {
    for (const [i, variant] of schema.anyOf.entries()) {
      const problem = check(variant, [...path, 'anyOf', String(i)], depth, state);
      if (problem) return problem;
    }
  }
  for (const defsKey of ['$defs', 'definitions'] as const) {
    for (const [key, value] of Object.entries((schema[defsKey] ?? {}) as Record<string, unknown>)) {
      const problem = check(value, [...path, defsKey, key], 1, state);
      if (problem) return problem;
    }
  }
  return null;
}
