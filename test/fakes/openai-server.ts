/**
 * A fake OpenAI API: a real `node:http` server on 127.0.0.1 that speaks the
 * wire protocol the openai SDK expects, so tests run the real SDK against it.
 * It serves `POST /v1/chat/completions` and `POST /v1/responses`, answers
 * with usage numbers every time, and records every request for assertions.
 *
 *   const fake = await startFakeOpenAI();
 *   fake.next({ kind: 'status', status: 429, code: 'rate_limit_exceeded', retryAfter: 20 });
 *   fake.always({ kind: 'status', status: 503 });   // until fake.always(null)
 *   new OpenAI({ baseURL: fake.url, apiKey: 'test' });
 *
 * Without a scripted behaviour, a request with a json_schema response format
 * is answered with `fake.answer(body)` (settable; by default an object built
 * from the schema), and any other with a short text.
 *
 * Before any scripted behaviour it refuses what the API refuses, with the API's
 * error bodies (https://platform.openai.com/docs/guides/error-codes):
 * - a wrong or missing `Authorization: Bearer` key, when `apiKey` is given: 401 `invalid_api_key`;
 * - a model it does not serve (`models`, by default OpenAI's own ids): 404 `model_not_found`;
 * - a strict `json_schema` format outside structured outputs' rules (./openai-schema.ts): 400.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { strictSchemaProblem } from './openai-schema.ts';

/** Model ids the fake serves unless told otherwise: OpenAI's, as priced in src/config.ts. */
export const OPENAI_MODELS: readonly string[] = [
  'gpt-4.1',
  'gpt-4.1-mini',
  'gpt-4.1-nano',
  'gpt-4o',
  'gpt-4o-mini',
  'gpt-5',
  'gpt-5-mini',
];

export interface FakeOpenAIOptions {
  /** The one key accepted as `Authorization: Bearer <key>`; unset, any key (or none) is accepted. */
  apiKey?: string;
  /** Model ids it serves; others get 404 model_not_found. Default OPENAI_MODELS. */
  models?: readonly string[];
}

export type FakeBehaviour =
  | { kind: 'json'; value: unknown }
  | { kind: 'text'; text: string }
  | { kind: 'refusal'; text: string }
  /** A cut-off answer: half of the default content, finish_reason `length` (Responses: `incomplete`). */
  | { kind: 'truncated' }
  /** An error in OpenAI's shape; retryAfter in seconds (or an HTTP date), retryAfterMs as OpenAI's own header. */
  | {
      kind: 'status';
      status: number;
      code?: string;
      type?: string;
      message?: string;
      retryAfter?: number | string;
      retryAfterMs?: number;
    }
  /** Never answers; the socket is destroyed by fake.close(). */
  | { kind: 'hang' }
  | { kind: 'toolCall'; name: string; arguments: string | Record<string, unknown> }
  /** The default answer, reporting these token counts. */
  | { kind: 'usage'; prompt: number; completion: number };

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body (null when empty). */
  body: any;
  at: Date;
}

export interface FakeOpenAI {
  /** Base URL including `/v1`, for `new OpenAI({ baseURL })`. */
  url: string;
  requests: RecordedRequest[];
  /** Builds the structured answer of a request that has a json_schema format. */
  answer: (body: any) => unknown;
  /** Queues behaviours for the next requests, one each, before any `always`. */
  next(...behaviours: FakeBehaviour[]): void;
  /** Applies a behaviour to every request once the queue is empty; null restores the default. */
  always(behaviour: FakeBehaviour | null): void;
  /** Clears the queue, `always`, `answer` and the recorded requests. */
  reset(): void;
  /** Stops the server and destroys open sockets, hung ones included. */
  close(): Promise<void>;
}

interface Refusal {
  status: number;
  code: string | null;
  message: string;
  param?: string;
}

/** OpenAI shows a refused key by its first and last characters only. */
function masked(key: string): string {
  return key.length <= 8 ? '***' : `${key.slice(0, 3)}***${key.slice(-4)}`;
}

/** What one answer says, whichever API shape carries it. */
interface Reply {
  text: string | null;
  refusal: string | null;
  toolCall: { name: string; arguments: string } | null;
  isTruncated: boolean;
  usage: { prompt: number; completion: number };
}

/** The structured-output schema: Chat Completions' `response_format`, or the Responses API's `text.format`. */
const schemaOf = (body: any): unknown => body?.response_format?.json_schema?.schema ?? body?.text?.format?.schema;
const defaultAnswer = (body: any): unknown => sampleFromSchema(schemaOf(body));

/** Tokens are counted like the real thing roughly does for English: 4 characters each. */
const tokens = (text: string): number => Math.ceil(text.length / 4);

export async function startFakeOpenAI(o: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  const models = new Set(o.models ?? OPENAI_MODELS);
  const queue: FakeBehaviour[] = [];
  let persistent: FakeBehaviour | null = null;
  let ids = 0;
  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => sendError(res, 500, `fake failed: ${String(err)}`, 'server_error'));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const path = (req.url ?? '/').split('?')[0]!;
    let body: any;
    try {
      body = raw ? JSON.parse(raw) : null;
    } catch {
      return sendError(res, 400, 'We could not parse the JSON body of your request.', 'invalid_request_error');
    }
    fake.requests.push({ method: req.method ?? 'GET', path, headers: req.headers, body, at: new Date() });
    // List models (platform.openai.com/docs/api-reference/models/list): the key is checked as for any call.
    if (req.method === 'GET' && path === '/v1/models') {
      const refused = refuse(req.headers.authorization, { model: [...models][0] }, true);
      if (refused) return sendError(res, refused.status, refused.message, 'invalid_request_error', refused.code);
      const data = [...models].map((id) => ({ id, object: 'model', created: 0, owned_by: 'fake' }));
      return sendJson(res, 200, { object: 'list', data });
    }
    const isChat = path === '/v1/chat/completions';
    if (req.method !== 'POST' || (!isChat && path !== '/v1/responses')) {
      return sendError(res, 404, `Invalid URL (${req.method} ${path})`, 'invalid_request_error');
    }
    const refusal = refuse(req.headers.authorization, body, isChat);
    if (refusal)
      return sendError(res, refusal.status, refusal.message, 'invalid_request_error', refusal.code, {}, refusal.param);
    const behaviour = queue.shift() ?? persistent;
    if (behaviour?.kind === 'hang') return;
    if (behaviour?.kind === 'status') return sendStatus(res, behaviour);
    const reply = replyFor(behaviour, body);
    ids += 1;
    sendJson(res, 200, isChat ? chatCompletion(body, reply, ids) : response(body, reply, ids));
  }

  /** What the API refuses whatever the scripted behaviour: the key, the model, the schema. */
  function refuse(authorization: string | undefined, body: any, isChat: boolean): Refusal | null {
    if (o.apiKey !== undefined) {
      const key = /^Bearer (.+)$/.exec(authorization ?? '')?.[1];
      if (!key) {
        return {
          status: 401,
          code: null,
          message:
            "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        };
      }
      if (key !== o.apiKey) {
        return {
          status: 401,
          code: 'invalid_api_key',
          message: `Incorrect API key provided: ${masked(key)}. You can find your API key at https://platform.openai.com/account/api-keys.`,
        };
      }
    }
    if (!models.has(body?.model)) {
      return {
        status: 404,
        code: 'model_not_found',
        message: `The model \`${String(body?.model)}\` does not exist or you do not have access to it.`,
      };
    }
    const format = isChat ? body?.response_format?.json_schema : body?.text?.format;
    const isStrict = (isChat ? body?.response_format?.type : format?.type) === 'json_schema' && format?.strict === true;
    const problem = isStrict ? strictSchemaProblem(format.name, format.schema) : null;
    return problem
      ? { status: 400, code: null, message: problem, param: isChat ? 'response_format' : 'text.format.schema' }
      : null;
  }

  function replyFor(b: FakeBehaviour | null, body: any): Reply {
    const fallback = schemaOf(body) ? JSON.stringify(fake.answer(body)) : 'Hello from the fake OpenAI server.';
    const toolCall =
      b?.kind === 'toolCall'
        ? { name: b.name, arguments: typeof b.arguments === 'string' ? b.arguments : JSON.stringify(b.arguments) }
        : null;
    const refusal = b?.kind === 'refusal' ? b.text : null;
    const text =
      b?.kind === 'json'
        ? JSON.stringify(b.value)
        : b?.kind === 'text'
          ? b.text
          : b?.kind === 'truncated'
            ? fallback.slice(0, Math.ceil(fallback.length / 2))
            : refusal || toolCall
              ? null
              : fallback;
    const out = text ?? refusal ?? toolCall?.arguments ?? '';
    const usage =
      b?.kind === 'usage'
        ? { prompt: b.prompt, completion: b.completion }
        : { prompt: tokens(JSON.stringify(body?.messages ?? body?.input ?? '')), completion: tokens(out) };
    return { text, refusal, toolCall, isTruncated: b?.kind === 'truncated', usage };
  }

  const fake: FakeOpenAI = {
    url: '',
    requests: [],
    answer: defaultAnswer,
    next: (...behaviours) => void queue.push(...behaviours),
    always: (behaviour) => void (persistent = behaviour),
    reset() {
      queue.length = 0;
      persistent = null;
      fake.requests = [];
      fake.answer = defaultAnswer;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  return fake;
}

function chatCompletion(body: any, r: Reply, id: number): unknown {
  const toolCalls = r.toolCall ? [{ id: `call_fake_${id}`, type: 'function', function: r.toolCall }] : undefined;
  return {
    id: `chatcmpl-fake-${id}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: body?.model ?? 'fake',
    choices: [
      {
        index: 0,
        logprobs: null,
        finish_reason: r.isTruncated ? 'length' : r.toolCall ? 'tool_calls' : 'stop',
        message: {
          role: 'assistant',
          content: r.text,
          refusal: r.refusal,
          annotations: [],
          ...(toolCalls ? { tool_calls: toolCalls } : {}),
        },
      },
    ],
    usage: {
      prompt_tokens: r.usage.prompt,
      completion_tokens: r.usage.completion,
      total_tokens: r.usage.prompt + r.usage.completion,
    },
  };
}

/** A minimal but complete Responses API object (the SDK derives `output_text` from `output`). */
function response(body: any, r: Reply, id: number): unknown {
  const output = r.toolCall
    ? [{ type: 'function_call', id: `fc_fake_${id}`, call_id: `call_fake_${id}`, status: 'completed', ...r.toolCall }]
    : [
        {
          type: 'message',
          id: `msg_fake_${id}`,
          status: 'completed',
          role: 'assistant',
          content: [
            r.refusal !== null
              ? { type: 'refusal', refusal: r.refusal }
              : { type: 'output_text', text: r.text ?? '', annotations: [] },
          ],
        },
      ];
  return {
    id: `resp_fake_${id}`,
    object: 'response',
    created_at: Math.floor(Date.now() / 1000),
    model: body?.model ?? 'fake',
    status: r.isTruncated ? 'incomplete' : 'completed',
    incomplete_details: r.isTruncated ? { reason: 'max_output_tokens' } : null,
    error: null,
    instructions: body?.instructions ?? null,
    metadata: {},
    output,
    parallel_tool_calls: true,
    temperature: 1,
    top_p: 1,
    tool_choice: 'auto',
    tools: [],
    text: body?.text ?? { format: { type: 'text' } },
    usage: {
      input_tokens: r.usage.prompt,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: r.usage.completion,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: r.usage.prompt + r.usage.completion,
    },
  };
}

function sendStatus(res: ServerResponse, b: Extract<FakeBehaviour, { kind: 'status' }>): void {
  const type =
    b.type ??
    (b.code === 'insufficient_quota'
      ? 'insufficient_quota'
      : b.status === 429
        ? 'requests'
        : b.status >= 500
          ? 'server_error'
          : 'invalid_request_error');
  const headers: Record<string, string> = {};
  if (b.retryAfter !== undefined) headers['retry-after'] = String(b.retryAfter);
  if (b.retryAfterMs !== undefined) headers['retry-after-ms'] = String(b.retryAfterMs);
  sendError(res, b.status, b.message ?? `fake ${b.status}${b.code ? ` ${b.code}` : ''}`, type, b.code ?? null, headers);
}

function sendError(
  res: ServerResponse,
  status: number,
  message: string,
  type: string,
  code: string | null = null,
  headers: Record<string, string> = {},
  param: string | null = null,
): void {
  sendJson(res, status, { error: { message, type, code, param } }, headers);
}

function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(value);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-request-id': `req_fake_${Date.now()}`,
    ...headers,
  });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The simplest value a JSON schema accepts: first enum value, 0, false, [], objects filled in. */
export function sampleFromSchema(schema: any): unknown {
  if (!schema || typeof schema !== 'object') return null;
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.enum)) return schema.enum[0];
  const options = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(options)) return sampleFromSchema(options[0]);
  switch (Array.isArray(schema.type) ? schema.type[0] : schema.type) {
    case 'object':
      return Object.fromEntries(Object.entries(schema.properties ?? {}).map(([k, v]) => [k, sampleFromSchema(v)]));
    case 'array':
      return [];
    case 'string':
      return 'fake answer';
    case 'number':
    case 'integer':
      return 0;
    case 'boolean':
      return false;
    default:
      return null;
  }
}
