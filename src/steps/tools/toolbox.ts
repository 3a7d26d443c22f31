/**
 * The ToolBox: the one way a step calls a tool. In order, it
 *   1. refuses a tool the flow does not list (RELIABILITY 83), before anything is sent;
 *   2. validates the input with the tool's schema (model output is untrusted, RELIABILITY 70);
 *   3. answers locally when the tool's connector is not configured (nothing sent);
 *   4. for a `reconcilable` tool on a retry, asks whether the earlier attempt happened;
 *   5. sends through the egress guard, paced per host and behind a circuit breaker
 *      (RELIABILITY 73), with `Idempotency-Key: <job key>` on a `keyed` tool's writes;
 *   6. maps the outcome to the engine's error kinds (RELIABILITY 71) and checks the output;
 *   7. redacts every error it throws (connector tokens, the Authorization values the call
 *      sent, REDACT_PATTERNS): its message reaches run rows, logs and chat (RELIABILITY 77, 78).
 *
 * It holds no state that matters across restarts: the job key carries
 * idempotency, and the circuit and pacing are per-process optimisations.
 */
import { permanentError } from '../../engine/flow.ts';
import { blockedError, isSignoffError, retryLater, SignoffError } from '../../errors.ts';
import type { Logger } from '../../ops/log.ts';
import type { Metrics } from '../../ops/metrics.ts';
import { authorizationSecrets, redactSecrets } from '../../ops/redact.ts';
import type { Pacer } from '../../ops/pacing.ts';
import { CircuitBreaker, type CallOutcome, type CircuitOptions } from './circuit.ts';
import { createGuardedHttp, HttpStatusError, TransportError } from './http.ts';
import type {
  ConnectorSettings,
  GuardedHttp,
  HttpResponse,
  ProposedCall,
  ToolCaller,
  ToolContext,
  ToolDefinition,
  ToolJournal,
  ToolScope,
  ToolSettings,
} from './types.ts';

export interface ToolBoxOptions {
  tools: ToolDefinition[];
  settings: ToolSettings;
  pacer: Pacer;
  log: Logger;
  /** Told of every refused call: a tool the flow does not list, or a URL the egress guard refused. */
  onRefusal?: (scope: ToolScope, detail: { tool: string; reason: string }) => void;
  /** Default: the egress guard trusting the configured connectors' base URLs. */
  http?: GuardedHttp;
  /** Circuit breaker per host. Default: open after 5 failures in a row, for 30 s. */
  circuit?: CircuitOptions;
  /** Journal of unsafe calls, so a call cut off by a crash is never repeated blindly. */
  journal?: ToolJournal;
  /** Secret patterns redacted from every error (the model's REDACT_PATTERNS and defaults). Default none. */
  redactPatterns?: readonly string[];
  /** Counts 429s and paced calls by provider (the connector a host belongs to, else `http`). Default: not counted. */
  metrics?: Metrics;
}

/** Settings handed to tools that need none (the generic `http` tools: the URL is in the input). */
const NO_CONNECTOR: ConnectorSettings = Object.freeze({ baseUrl: '', token: null });
/** When a 429 carries no usable Retry-After. */
const DEFAULT_RETRY_AFTER_MS = 30_000;
/** Provider messages are surfaced to users and run records; keep them short. */
const MAX_PROVIDER_MESSAGE = 300;

export class ToolBox implements ToolCaller {
  private readonly tools = new Map<string, ToolDefinition>();
  private readonly http: GuardedHttp;
  private readonly circuit: CircuitBreaker;

  constructor(private readonly o: ToolBoxOptions) {
    for (const tool of o.tools) {
      if (this.tools.has(tool.name)) throw new SignoffError('flow_invalid', `tool "${tool.name}" is registered twice`);
      this.tools.set(tool.name, tool);
    }
    this.http =
      o.http ??
      createGuardedHttp({
        trustedBaseUrls: Object.values(o.settings.connectors).map((c) => c.baseUrl),
        allowlist: o.settings.egressAllowlist,
        log: o.log,
        timeoutMs: o.settings.callTimeoutMs,
      });
    this.circuit = new CircuitBreaker(o.circuit);
  }

  /** Tool hosts whose circuit is open in this process, for alerts. */
  openCircuits(): string[] {
    return this.circuit.openHosts();
  }

  async call(name: string, input: unknown, scope: ToolScope): Promise<unknown> {
    const sent = new Set<string>();
    try {
      return await this.callOnce(name, input, scope, sent);
    } catch (err) {
      throw this.redacted(err, sent);
    }
  }

  /** The error with every known secret and pattern match taken out of its message (and its cause's). */
  private redacted(err: unknown, sent: Set<string>): unknown {
    const secrets = [...sent, ...Object.values(this.o.settings.connectors).flatMap((c) => (c.token ? [c.token] : []))];
    const clean = (text: string) => redactSecrets(text, secrets, this.o.redactPatterns ?? []);
    if (!(err instanceof Error)) return err;
    // The cause may carry the provider's whole answer (HttpStatusError.response): only its redacted words are kept.
    const cause = err.cause instanceof Error ? new Error(clean(err.cause.message)) : undefined;
    if (err instanceof SignoffError)
      return new SignoffError(err.code, clean(err.message), {
        cause,
        details: err.details ? { ...err.details } : undefined,
      });
    return new Error(clean(err.message), cause ? { cause } : undefined);
  }

  private async callOnce(name: string, input: unknown, scope: ToolScope, sent: Set<string>): Promise<unknown> {
    const tool = this.permitted(name, scope);
    const args = this.validInput(tool, input, scope);
    const settings = this.o.settings.connectors[tool.connector];
    if (!settings && tool.local) return this.answerLocally(tool, args, scope);
    const ctx: ToolContext = {
      idempotencyKey: scope.jobKey,
      attempt: scope.attempt,
      signal: scope.signal,
      http: this.httpFor(tool, scope, sent),
      settings: settings ?? NO_CONNECTOR,
    };
    const journal = tool.safety === 'unsafe' ? this.o.journal : undefined;
    if (!journal)
      return this.validOutput(
        tool,
        await this.attempt(tool, args, ctx, scope).catch((err: unknown) => this.settle(tool, args, ctx, scope, err)),
      );
    const earlier = await journal.earlier(scope.jobKey);
    if (earlier?.kind === 'done') {
      this.o.log.info('an earlier attempt made this call; using its answer', { runId: scope.runId, tool: tool.name });
      return this.validOutput(tool, earlier.output);
    }
    if (earlier?.kind === 'unknown') {
      this.o.log.warn('an earlier unsafe call has an unknown outcome; asking a person', {
        runId: scope.runId,
        tool: tool.name,
      });
      throw blockedError(
        'needs_human',
        `tool "${tool.name}" may already have run: an earlier attempt was cut off before its answer arrived. Check ${tool.connector}, then retry the run to call it again, or cancel it`,
      );
    }
    await journal.begin(scope.jobKey, scope.attempt, tool.name);
    let output: unknown;
    try {
      output = await this.attempt(tool, args, ctx, scope).catch((err: unknown) =>
        this.settle(tool, args, ctx, scope, err),
      );
    } catch (err) {
      await journal.end(scope.jobKey, scope.attempt, isSignoffError(err, 'step_blocked') ? 'ambiguous' : 'failed');
      throw err;
    }
    const valid = this.validOutput(tool, output);
    await journal.end(scope.jobKey, scope.attempt, 'done', valid);
    return valid;
  }

  /** The exact call a tool would make, for a review card; validates the input the same way `call` does. */
  describe(name: string, input: unknown): ProposedCall {
    const tool = this.tools.get(name);
    if (!tool) throw new SignoffError('tool_refused', `there is no tool "${name}"`, { details: { retryable: false } });
    const parsed = tool.input.safeParse(input);
    if (!parsed.success)
      throw permanentError(`tool "${name}" was given invalid input: ${listProblems(parsed.error.issues)}`);
    return tool.describe(parsed.data, this.o.settings.connectors[tool.connector] ?? NO_CONNECTOR);
  }

  private permitted(name: string, scope: ToolScope): ToolDefinition {
    const tool = this.tools.get(name);
    if (tool && scope.allowed.includes(name)) return tool;
    const reason = tool
      ? `flow "${scope.flowId}" may not call tool "${name}" (not in its tools list)`
      : `flow "${scope.flowId}" asked for tool "${name}", which does not exist`;
    this.reportRefusal(scope, name, reason);
    throw new SignoffError('tool_refused', reason, { details: { retryable: false } });
  }

  private reportRefusal(scope: ToolScope, tool: string, reason: string): void {
    this.o.log.warn('tool call refused', { runId: scope.runId, flowId: scope.flowId, tool, reason });
    this.o.onRefusal?.(scope, { tool, reason });
  }

  private validInput(tool: ToolDefinition, input: unknown, scope: ToolScope): unknown {
    const parsed = tool.input.safeParse(input);
    if (parsed.success) return parsed.data;
    const problems = listProblems(parsed.error.issues);
    this.o.log.warn('tool input invalid; not sent', { runId: scope.runId, tool: tool.name, problems });
    throw permanentError(`tool "${tool.name}" was given invalid input: ${problems}`);
  }

  private validOutput(tool: ToolDefinition, output: unknown): unknown {
    const parsed = tool.output.safeParse(output);
    if (parsed.success) return parsed.data;
    throw permanentError(`tool "${tool.name}" answered in an unexpected shape: ${listProblems(parsed.error.issues)}`);
  }

  private answerLocally(tool: ToolDefinition, args: unknown, scope: ToolScope): unknown {
    const env = tool.connector.toUpperCase();
    this.o.log.info(`not sent: ${tool.connector} is not configured (set ${env}_URL and ${env}_TOKEN)`, {
      runId: scope.runId,
      tool: tool.name,
    });
    return this.validOutput(tool, tool.local!(args));
  }

  private async attempt(tool: ToolDefinition, args: unknown, ctx: ToolContext, scope: ToolScope): Promise<unknown> {
    if (tool.safety === 'reconcilable' && tool.reconcile && ctx.attempt > 1) {
      const found = await tool.reconcile(args, ctx);
      if (found !== null) {
        this.o.log.info('earlier attempt found; not calling again', { runId: scope.runId, tool: tool.name });
        return found;
      }
    }
    return tool.call(args, ctx);
  }

  /**
   * The tool's HTTP for one call: pacing and the circuit per host, the
   * idempotency key on keyed writes, the call's timeout and signal, and a
   * thrown HttpStatusError for any status of 400 and up.
   */
  private httpFor(tool: ToolDefinition, scope: ToolScope, sent: Set<string>): GuardedHttp {
    return {
      request: async (req) => {
        const host = hostOf(req.url);
        const headers = { ...req.headers };
        for (const [header, value] of Object.entries(headers)) {
          if (header.toLowerCase() === 'authorization')
            for (const secret of authorizationSecrets(value)) sent.add(secret);
        }
        if (tool.safety === 'keyed' && req.method !== 'GET') headers['idempotency-key'] = scope.jobKey;
        this.circuit.admit(host);
        let outcome: CallOutcome = 'neutral';
        try {
          const pace = { perMinute: this.o.settings.perHostPerMinute, provider: this.providerOf(host) };
          const res = await this.o.pacer.schedule(`tool:${host}`, pace, () =>
            this.http.request({
              ...req,
              headers,
              timeoutMs: req.timeoutMs ?? this.o.settings.callTimeoutMs,
              signal: req.signal ?? scope.signal,
            }),
          );
          outcome = res.status >= 500 || res.status === 429 ? 'failure' : 'success';
          if (res.status === 429) this.o.metrics?.rateLimited(pace.provider);
          this.o.log.debug('tool http call', {
            runId: scope.runId,
            tool: tool.name,
            method: req.method,
            host,
            status: res.status,
          });
          if (res.status >= 400) throw new HttpStatusError(host, res);
          return res;
        } catch (err) {
          if (err instanceof TransportError) outcome = 'failure';
          throw err;
        } finally {
          this.circuit.record(host, outcome);
        }
      },
    };
  }

  /** The connector whose base URL is on `host` (`zendesk`, `stripe`…), else `http`: a bounded metrics label. */
  private providerOf(host: string): string {
    const found = Object.entries(this.o.settings.connectors).find(([, c]) => c.baseUrl && hostOf(c.baseUrl) === host);
    return found?.[0] ?? 'http';
  }

  /** Turns a failed call into its output (a 409 on a keyed tool) or into the engine's error kind. */
  private async settle(
    tool: ToolDefinition,
    args: unknown,
    ctx: ToolContext,
    scope: ToolScope,
    err: unknown,
  ): Promise<unknown> {
    if (isSignoffError(err, 'tool_refused')) this.reportRefusal(scope, tool.name, err.message);
    if (err instanceof HttpStatusError) {
      if (err.response.status === 409 && tool.safety === 'keyed') {
        const earlier = await this.earlierResult(tool, args, ctx, err.response);
        if (earlier !== null) {
          this.o.log.info('duplicate key: the earlier attempt happened', { runId: scope.runId, tool: tool.name });
          return earlier;
        }
      }
      this.o.log.warn('tool call failed', {
        runId: scope.runId,
        tool: tool.name,
        host: err.host,
        status: err.response.status,
      });
      throw this.fromStatus(tool, err);
    }
    if (err instanceof TransportError) {
      this.o.log.warn('tool call failed in transit', {
        runId: scope.runId,
        tool: tool.name,
        host: err.host,
        isAmbiguous: err.isAmbiguous,
      });
      if (err.isAmbiguous && tool.safety === 'unsafe') throw outcomeUnknown(tool, err.host, err.message, err);
      throw new SignoffError('step_failed', `tool "${tool.name}": ${err.message}; will retry`, {
        cause: err,
        details: { retryable: true },
      });
    }
    throw err;
  }

  private async earlierResult(
    tool: ToolDefinition,
    args: unknown,
    ctx: ToolContext,
    res: HttpResponse,
  ): Promise<unknown> {
    // The 409 alone says the earlier attempt happened; a failed lookup only loses detail.
    const found = tool.reconcile ? await tool.reconcile(args, ctx).catch(() => null) : null;
    if (found !== null) return found;
    return tool.fromConflict ? tool.fromConflict(args, res) : null;
  }

  private fromStatus(tool: ToolDefinition, err: HttpStatusError): SignoffError {
    const { status } = err.response;
    if (status === 429) {
      const waitMs = retryAfterMs(err.response.headers['retry-after']);
      return retryLater(
        `tool "${tool.name}": ${err.host} is rate limiting; trying again in ${Math.ceil(waitMs / 1000)} s`,
        waitMs,
        err,
      );
    }
    // A gateway that gave up waiting does not know whether the provider acted.
    if (status === 504 && tool.safety === 'unsafe')
      return outcomeUnknown(tool, err.host, `${err.host} answered 504`, err);
    if (status >= 500) {
      return new SignoffError('step_failed', `tool "${tool.name}": ${err.host} answered ${status}; will retry`, {
        cause: err,
        details: { retryable: true, status },
      });
    }
    const what = status === 409 ? 'a conflict' : `${status}`;
    return permanentError(
      `tool "${tool.name}" was refused by ${err.host} (${what}): ${providerMessage(err.response)}`,
      err,
    );
  }
}

function outcomeUnknown(tool: ToolDefinition, host: string, why: string, cause: unknown): SignoffError {
  return blockedError(
    'needs_human',
    `tool "${tool.name}" was sent to ${host} but its outcome is unknown (${why}); ` +
      `check ${host} for whether it happened, then retry or cancel the run`,
    cause,
  );
}

function listProblems(issues: readonly { path: readonly PropertyKey[]; message: string }[]): string {
  return issues
    .slice(0, 10)
    .map((i) => `${i.path.map(String).join('.') || '(input)'}: ${i.message}`)
    .join('; ');
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'invalid-url';
  }
}

/** Retry-After is seconds or an HTTP date (RFC 9110 §10.2.3). */
function retryAfterMs(header: string | undefined): number {
  if (!header) return DEFAULT_RETRY_AFTER_MS;
  const seconds = Number(header);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - Date.now();
  return Number.isFinite(ms) ? Math.max(1_000, ms) : DEFAULT_RETRY_AFTER_MS;
}

/**
 * The provider's own words from an error body (Zendesk `error`/`description`,
 * HubSpot `message`, GraphQL `errors[].message`), one line, trimmed. Only the
 * body is read: headers (and so tokens) never reach the message.
 */
function providerMessage(res: HttpResponse): string {
  const body = res.body as Record<string, any> | string | null;
  const parts =
    typeof body === 'object' && body !== null
      ? [
          typeof body.error === 'string' ? body.error : body.error?.message,
          body.description ?? body.message ?? body.detail,
          Array.isArray(body.errors)
            ? body.errors
                .map((e: any) => e?.message ?? e?.title)
                .filter(Boolean)
                .join('; ')
            : undefined,
        ]
      : [res.text];
  const text = parts.filter((p): p is string => typeof p === 'string' && p !== '').join(': ');
  return (text || `HTTP ${res.status}`).replace(/\s+/g, ' ').trim().slice(0, MAX_PROVIDER_MESSAGE);
}
