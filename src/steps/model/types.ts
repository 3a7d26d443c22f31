/**
 * The model gateway's contract: what a model step asks for and what it gets
 * back. The gateway (./gateway.ts) routes a request to a model (a route name
 * from config, or a model id), falls back down the route's list when a model
 * fails, validates the answer against the step's zod schema, records every
 * call in the ledger (src/store/ledger.ts), and turns provider failures into
 * the engine's error kinds (src/engine/flow.ts): `retryLater` for a 429,
 * `blockedError('quota')` for insufficient_quota, a retryable error for 5xx
 * and timeouts, `permanentError` for a request the provider refuses (400/401/404).
 */
import type { z } from 'zod';

export interface ModelRequest<T> {
  /** A route name from config (`cheap`, `strong`) or a model id. */
  route: string;
  /** The system message (instructions), already rendered. */
  system: string;
  /** The user message (the material), already rendered and truncated. */
  prompt: string;
  /** What the answer must be. Sent as a JSON schema (structured output) and checked with zod. */
  schema: z.ZodType<T>;
  /** Name of the schema for the provider (`^[a-zA-Z0-9_-]{1,64}$`). */
  schemaName: string;
  /** Cap on the answer's tokens. Default 1 024. */
  maxOutputTokens?: number;
}

/** Who is asking: the step job the call belongs to. */
export interface ModelScope {
  runId: string;
  /** The step's idempotency key (`<run>:<child>:<seq>`): calls are counted per key. */
  jobKey: string;
  attempt: number;
  signal: AbortSignal;
}

export interface ModelUsage {
  inputTokens: number;
  outputTokens: number;
}

export interface ModelResult<T> {
  /** The validated answer; null when it stayed invalid after the one retry. */
  value: T | null;
  /** Why the answer was not usable, and its raw text (untrusted: escape before display). */
  invalid?: { reason: string; raw: string };
  /** The model that produced this answer. */
  model: string;
  /** True when the built-in offline model answered (no key and no base URL configured). */
  offline: boolean;
  /** Usage and cost of all calls this generate() made (the retry included). */
  usage: ModelUsage;
  costUsd: number;
}

export interface ModelGateway {
  generate<T>(req: ModelRequest<T>, scope: ModelScope): Promise<ModelResult<T>>;
}

/** Price of a model per million tokens, in US dollars. */
export interface ModelPrice {
  inputPerMTok: number;
  outputPerMTok: number;
}

export interface ModelSettings {
  /** OPENAI_API_KEY; null with no base URL means the offline model. */
  apiKey: string | null;
  /** OPENAI_BASE_URL (OpenAI, Azure, Ollama, vLLM, LM Studio…); null means api.openai.com. */
  baseUrl: string | null;
  /** Route name → models to try in order (the first is the primary). Always has `cheap` and `strong`. */
  routes: Record<string, string[]>;
  /** Per-call timeout (MODEL_TIMEOUT_MS). Default 30 000. */
  callTimeoutMs: number;
  /** Most calls one step may make over all its attempts (MODEL_MAX_CALLS_PER_STEP). Default 16. */
  maxCallsPerStep: number;
  /** Model id → price; models not listed cost 0 and are logged once. */
  prices: Record<string, ModelPrice>;
  /** Regular expressions (source text) whose matches are replaced by `[redacted]` before sending. */
  redactPatterns: string[];
  /** Longest prompt, in characters, before truncation with a marker (MODEL_MAX_PROMPT_CHARS). Default 24 000. */
  maxPromptChars: number;
  /** Pacing: requests and tokens per minute (0 = unpaced). */
  requestsPerMinute: number;
  tokensPerMinute: number;
}
