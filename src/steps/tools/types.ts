/**
 * The tool contract. A tool is typed (zod input and output) and declares how a
 * repeat is made safe, because the engine runs steps at least once:
 *
 *   idempotent    calling twice has the effect of calling once (a PUT of a value)
 *   keyed         the provider honours an Idempotency-Key; we pass the step's key
 *   reconcilable  a lookup tells whether an earlier attempt already happened
 *   unsafe        none of the above: an ambiguous outcome (timeout, dropped
 *                 connection after sending) goes to a person, never a blind retry
 *
 * Tools are called through the ToolBox (./toolbox.ts), which refuses a tool the
 * flow does not list, validates the input before anything is sent (model output
 * is untrusted), paces each host, and maps outcomes: 5xx and network errors are
 * retried with the same key; 400/422 surface their message and are not retried;
 * 409 for a duplicate key counts as success; an ambiguous outcome of an unsafe
 * tool blocks the run as `needs_human`.
 */
import type { z } from 'zod';

export type Safety = 'idempotent' | 'keyed' | 'reconcilable' | 'unsafe';

/** What a tool call gets besides its input. */
export interface ToolContext {
  /** The step's idempotency key (`<run>:<child>:<seq>`), the same on every retry. */
  idempotencyKey: string;
  /** 1 on the first try of the step. */
  attempt: number;
  signal: AbortSignal;
  /** HTTP with the egress guard; trusted base URLs (from config) pass, others must be allowlisted. */
  http: GuardedHttp;
  /** This connector's settings (base URL, token), from config; an empty base URL for the `http` tools, which need none. */
  settings: ConnectorSettings;
}

export interface ConnectorSettings {
  baseUrl: string;
  token: string | null;
  /**
   * Zendesk only: the agent's email when `token` is an API token, which Zendesk
   * takes as Basic auth `{email}/token:{token}`; absent or null when `token` is an
   * OAuth access token, sent as Bearer.
   */
  email?: string | null;
}

/** The tool box's slice of the config (src/config.ts fills it from the environment). */
export interface ToolSettings {
  /** Connector name → base URL and token. A connector missing here runs in local mode (nothing sent). */
  connectors: Record<string, ConnectorSettings>;
  /** Hosts (`host` or `host:port`) a model- or flow-supplied URL may reach (EGRESS_ALLOWLIST). */
  egressAllowlist: string[];
  /** Requests per minute to one tool host (TOOL_RPM, 0 = unpaced). Default 120. */
  perHostPerMinute: number;
  /** Per-call timeout (TOOL_TIMEOUT_MS). Default 15 000. */
  callTimeoutMs: number;
}

/** Exactly what a call will do, for the review card (RELIABILITY 61, 83). */
export interface ProposedCall {
  tool: string;
  method: string;
  host: string;
  fields: { name: string; old?: string; new: string }[];
}

export interface ToolDefinition<I = any, O = any> {
  /** `<connector>.<action>`, e.g. `zendesk.reply`. */
  name: string;
  /** Which connector's settings it uses (`zendesk`, `linear`, `hubspot`, `http`). */
  connector: string;
  description: string;
  input: z.ZodType<I>;
  output: z.ZodType<O>;
  safety: Safety;
  /** Changes something outside (a write): flows put it behind a review. */
  isWrite: boolean;
  call(input: I, ctx: ToolContext): Promise<O>;
  /** For `reconcilable` tools: the earlier attempt's result if it happened, else null. */
  reconcile?(input: I, ctx: ToolContext): Promise<O | null>;
  /**
   * For `keyed` tools: the output when the provider answers 409 (this key was
   * already used, so the earlier attempt happened). Parses the 409 body where
   * it carries the resource, else returns a minimal output. Without it (and
   * without `reconcile`) a 409 is a permanent error.
   */
  fromConflict?(input: I, res: HttpResponse): O;
  /**
   * Local mode: the output when the connector is not configured, so a flow
   * runs on a fresh machine without sending anything. Deterministic, shaped
   * like the real output, marked `local: true` where the schema allows.
   * Every tool whose connector comes from config has one; the generic `http`
   * tools do not (their input names the URL, and they always go through the
   * egress guard).
   */
  local?(input: I): O;
  /** Renders the call for the card, from the validated input and the connector's base URL (empty when not configured: local mode). */
  describe(input: I, settings: ConnectorSettings): ProposedCall;
}

/** Who is calling: the step, and the tools its flow may use. */
export interface ToolScope {
  runId: string;
  flowId: string;
  jobKey: string;
  attempt: number;
  signal: AbortSignal;
  /** The flow's `tools` list; anything else is refused (RELIABILITY 83). */
  allowed: readonly string[];
}

export interface ToolCaller {
  call(name: string, input: unknown, scope: ToolScope): Promise<unknown>;
}

export interface HttpRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  /** Sent as JSON; a URLSearchParams is sent form-encoded (Stripe's v1 API). */
  body?: unknown;
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  body: unknown;
  text: string;
}

/**
 * HTTP with the egress guard (RELIABILITY 84). A URL under a configured
 * connector base URL is trusted (the operator chose it, even on a private
 * address). Any other URL must be http(s), its host on the egress allowlist,
 * and every address it resolves to public: loopback, private, link-local
 * (169.254.0.0/16, the metadata address), CGNAT, multicast and their IPv6
 * forms are refused, checked at connect time (no DNS rebinding), and each
 * redirect hop is checked again. A refusal throws `tool_refused` and is logged.
 */
export interface GuardedHttp {
  request(req: HttpRequest): Promise<HttpResponse>;
}

/** The journal of `unsafe` calls: the store defines it (it is a table's contract), the tool box uses it. */
export type { ToolJournal } from '../../store/tool-calls.ts';
