/**
 * One model call over the wire: Chat Completions with strict structured
 * output, through the openai SDK. Chat Completions rather than the Responses
 * API because every OpenAI-compatible server speaks it (Azure, Ollama, vLLM,
 * LM Studio). The SDK never retries (`maxRetries: 0`): the engine retries
 * steps, and the gateway counts calls, so retries cannot multiply
 * (RELIABILITY 72). Errors are thrown as the SDK raises them; classify.ts
 * says what they mean.
 */
import OpenAI from 'openai';
import type {
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionMessageParam,
} from 'openai/resources/chat/completions';
import type { ModelSettings } from './types.ts';
import type { JsonSchema, RawAnswer } from './schema.ts';

/** Everything one call needs; the gateway has already redacted and truncated the text. */
export interface ProviderCall {
  model: string;
  system: string;
  prompt: string;
  /** The previous answer and why it was invalid: set on the one corrective retry. */
  correction: { raw: string; reason: string } | null;
  schemaName: string;
  jsonSchema: JsonSchema;
  maxOutputTokens: number;
  signal: AbortSignal;
}

/** Sends one call and returns the provider's answer unvalidated. */
export type Transport = (call: ProviderCall) => Promise<RawAnswer>;

export function createOpenAITransport(settings: ModelSettings): Transport {
  const client = new OpenAI({
    // Local servers (Ollama, vLLM) need no key, but the SDK insists on one.
    apiKey: settings.apiKey ?? 'unused',
    baseURL: settings.baseUrl ?? undefined,
    maxRetries: 0,
    timeout: settings.callTimeoutMs,
  });
  // api.openai.com's reasoning models (o-series, gpt-5) refuse the older
  // `max_tokens`; compatible servers often know only `max_tokens`.
  const isOpenAI = settings.baseUrl === null;
  return async (call) => {
    const body: ChatCompletionCreateParamsNonStreaming = {
      model: call.model,
      messages: messagesFor(call),
      response_format: {
        type: 'json_schema',
        json_schema: { name: call.schemaName, schema: call.jsonSchema, strict: true },
      },
      ...(isOpenAI ? { max_completion_tokens: call.maxOutputTokens } : { max_tokens: call.maxOutputTokens }),
    };
    const completion = await client.chat.completions.create(body, {
      timeout: settings.callTimeoutMs,
      signal: call.signal,
    });
    const choice = completion.choices?.[0];
    const fn = choice?.message.tool_calls?.find((t) => t.type === 'function');
    return {
      content: choice?.message.content ?? null,
      refusal: choice?.message.refusal ?? null,
      finishReason: choice?.finish_reason ?? null,
      toolCall: fn ? { name: fn.function.name, arguments: fn.function.arguments } : null,
      usage: {
        inputTokens: completion.usage?.prompt_tokens ?? 0,
        outputTokens: completion.usage?.completion_tokens ?? 0,
      },
    };
  };
}

function messagesFor(call: ProviderCall): ChatCompletionMessageParam[] {
  const messages: ChatCompletionMessageParam[] = [
    { role: 'system', content: call.system },
    { role: 'user', content: call.prompt },
  ];
  if (call.correction) {
    messages.push(
      // Some servers reject an empty assistant turn.
      { role: 'assistant', content: call.correction.raw || '(empty answer)' },
      {
        role: 'user',
        content: `That answer was invalid: ${call.correction.reason}. Answer again with only a JSON object that matches the "${call.schemaName}" schema.`,
      },
    );
  }
  return messages;
}
