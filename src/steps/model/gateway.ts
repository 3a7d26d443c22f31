/**
 * The model gateway (contract in ./types.ts): the one way steps reach a model.
 * Per generate() it redacts and truncates the text (RELIABILITY 81, 86), walks
 * the route's models in order, paces each call, validates the answer and
 * asks once more with the reason when it is invalid (70), and records every
 * call in the ledger. Failures become the engine's error kinds (69, via
 * ./classify.ts).
 *
 * Retries are bounded by the ledger, not by memory: before every call the
 * step's calls so far (all attempts, all processes) are counted, and at
 * MODEL_MAX_CALLS_PER_STEP the step fails for good (72). The count and the
 * insert are not one transaction, so two processes racing on one job may
 * overshoot by one call each; the engine's lease makes that a zombie case.
 */
import { APIError } from 'openai';
import { isSignoffError, SignoffError } from '../../errors.ts';
import { permanentError } from '../../engine/flow.ts';
import type { Logger } from '../../ops/log.ts';
import type { Metrics } from '../../ops/metrics.ts';
import type { Sql } from '../../store/client.ts';
import { countModelCalls, recordModelCall, type ModelCall } from '../../store/ledger.ts';
import type { Pacer, PaceSpec } from '../../ops/pacing.ts';
import { classifyFailure } from './classify.ts';
import { answerOffline } from './offline.ts';
import { createOpenAITransport, type ProviderCall, type Transport } from './openai.ts';
import { redact, truncateForModel } from './prompt.ts';
import { checkAnswer, fullJsonSchema, toStrictJsonSchema, type CheckedAnswer, type RawAnswer } from './schema.ts';
import type { ModelGateway, ModelRequest, ModelResult, ModelScope, ModelSettings, ModelUsage } from './types.ts';

export interface GatewayOptions {
  settings: ModelSettings;
  sql: Sql;
  log: Logger;
  pacer: Pacer;
  /** Counts calls, tokens, cost and 429s by route and model. Default: not counted. */
  metrics?: Metrics;
}

/** Answer cap when a request names none. */
const DEFAULT_MAX_OUTPUT_TOKENS = 1024;
/** The model id offline answers are recorded under (it has a zero price in DEFAULT_PRICES). */
const OFFLINE_MODEL = 'offline';
/** Rough characters per token, for pacing estimates only (OpenAI's rule of thumb). */
const CHARS_PER_TOKEN = 4;

/** Room for the corrective message in a retry's token estimate. */
const CORRECTION_CHARS = 200;

/** The ledger columns a call has before its outcome is known. */
type LedgerKey = Omit<ModelCall, 'outcome' | 'error' | 'inputTokens' | 'outputTokens' | 'costUsd'>;

type CallOutcome<T> = { kind: 'unavailable'; reason: string } | { kind: 'answered'; check: CheckedAnswer<T> };

/** Usage and cost summed over the calls of one generate(). */
interface Tally extends ModelUsage {
  costUsd: number;
}

/** Built-in model for runs with no provider configured: no network, same pipeline. */
const offlineTransport: Transport = async (call) => {
  const { text, usage } = answerOffline({ system: call.system, prompt: call.prompt, schema: call.jsonSchema });
  return { content: text, refusal: null, finishReason: 'stop', toolCall: null, usage };
};

export function createModelGateway(opts: GatewayOptions): ModelGateway {
  return new Gateway(opts);
}

class Gateway implements ModelGateway {
  private readonly isOffline: boolean;
  private readonly transport: Transport;
  private readonly pace: PaceSpec;
  /** Models already warned about having no price: once per process is enough. */
  private readonly unpriced = new Set<string>();

  constructor(private readonly o: GatewayOptions) {
    this.isOffline = o.settings.apiKey === null && o.settings.baseUrl === null;
    this.transport = this.isOffline ? offlineTransport : createOpenAITransport(o.settings);
    // The offline model is local: the provider's rate limits do not apply to it.
    this.pace = this.isOffline
      ? {}
      : { perMinute: o.settings.requestsPerMinute, weightPerMinute: o.settings.tokensPerMinute, provider: 'openai' };
  }

  async generate<T>(req: ModelRequest<T>, scope: ModelScope): Promise<ModelResult<T>> {
    const base = this.prepare(req, scope);
    const tally: Tally = { inputTokens: 0, outputTokens: 0, costUsd: 0 };
    const failures: string[] = [];
    for (const model of this.modelsFor(req.route)) {
      const first = await this.call<T>({ ...base, model, correction: null }, req, scope, tally);
      if (first.kind === 'unavailable') {
        failures.push(`"${model}" ${first.reason}`);
        continue;
      }
      if (first.check.ok) return this.result(model, first.check.value, undefined, tally);
      // One corrective retry on the same model, told exactly what was wrong.
      const correction = { raw: first.check.raw, reason: first.check.reason };
      const second = await this.call<T>({ ...base, model, correction }, req, scope, tally);
      if (second.kind === 'unavailable') {
        failures.push(`"${model}" ${second.reason}`);
        continue;
      }
      const { check } = second;
      return check.ok
        ? this.result<T>(model, check.value, undefined, tally)
        : this.result<T>(model, null, { reason: check.reason, raw: check.raw }, tally);
    }
    throw new SignoffError('step_failed', `no model of "${req.route}" could answer: ${failures.join('; ')}`, {
      details: { retryable: true },
    });
  }

  /** What leaves the process: secrets redacted everywhere, the material cut to size. */
  private prepare<T>(req: ModelRequest<T>, scope: ModelScope): Omit<ProviderCall, 'model' | 'correction'> {
    const patterns = this.o.settings.redactPatterns;
    // Made offline too, so a schema the API would refuse fails before a key is configured.
    const strict = toStrictJsonSchema(req.schema, req.schemaName);
    return {
      system: redact(req.system, patterns),
      prompt: truncateForModel(redact(req.prompt, patterns), this.o.settings.maxPromptChars),
      schemaName: req.schemaName,
      jsonSchema: this.isOffline ? fullJsonSchema(req.schema) : strict,
      maxOutputTokens: req.maxOutputTokens ?? DEFAULT_MAX_OUTPUT_TOKENS,
      signal: scope.signal,
    };
  }

  /** A route's models in order, or the name itself taken as a model id. */
  private modelsFor(route: string): string[] {
    if (this.isOffline) return [OFFLINE_MODEL];
    const { routes } = this.o.settings;
    const models = Object.hasOwn(routes, route) ? routes[route] : undefined;
    return models && models.length > 0 ? models : [route];
  }

  /** One paced, counted, recorded call. Throws what the step should throw; returns what the loop acts on. */
  private call<T>(call: ProviderCall, req: ModelRequest<T>, scope: ModelScope, tally: Tally): Promise<CallOutcome<T>> {
    const textChars =
      call.system.length + call.prompt.length + (call.correction ? call.correction.raw.length + CORRECTION_CHARS : 0);
    const estimatedTokens = Math.ceil(textChars / CHARS_PER_TOKEN) + call.maxOutputTokens;
    return this.o.pacer.schedule(
      'model',
      this.pace,
      async () => {
        const made = await countModelCalls(this.o.sql, scope.jobKey);
        if (made >= this.o.settings.maxCallsPerStep) {
          throw permanentError(`model step made ${made} calls, its limit (MODEL_MAX_CALLS_PER_STEP)`);
        }
        // Numbered after every earlier call of the job, so two generate() calls in one attempt never collide.
        const row: LedgerKey = {
          runId: scope.runId,
          jobKey: scope.jobKey,
          attempt: scope.attempt,
          callNo: made + 1,
          model: call.model,
          offline: this.isOffline,
        };
        let answer: RawAnswer;
        try {
          answer = await this.transport(call);
        } catch (err) {
          return this.failed(err, row, scope, req.route);
        }
        const check = checkAnswer(answer, req.schema);
        const costUsd = this.costOf(call.model, answer.usage);
        tally.inputTokens += answer.usage.inputTokens;
        tally.outputTokens += answer.usage.outputTokens;
        tally.costUsd += costUsd;
        await recordModelCall(this.o.sql, {
          ...row,
          outcome: check.ok ? 'ok' : 'invalid',
          error: check.ok ? null : check.reason,
          ...answer.usage,
          costUsd,
        });
        this.o.metrics?.modelCalled(
          { route: req.route, model: call.model, outcome: check.ok ? 'ok' : 'invalid' },
          { ...answer.usage, costUsd },
        );
        return { kind: 'answered', check };
      },
      estimatedTokens,
    );
  }

  /** Records a call that got no answer, then throws or hands the loop the reason to move on. */
  private async failed(
    err: unknown,
    row: LedgerKey,
    scope: ModelScope,
    route: string,
  ): Promise<{ kind: 'unavailable'; reason: string }> {
    const { settings } = this.o;
    const failure = classifyFailure(err, {
      model: row.model,
      callTimeoutMs: settings.callTimeoutMs,
      signal: scope.signal,
      redactPatterns: settings.redactPatterns,
      apiKey: settings.apiKey,
    });
    const reason = failure instanceof SignoffError ? failure.message : failure.reason;
    await recordModelCall(this.o.sql, {
      ...row,
      outcome: 'error',
      error: reason,
      inputTokens: 0,
      outputTokens: 0,
      costUsd: 0,
    });
    this.o.metrics?.modelCalled({ route, model: row.model, outcome: 'error' }, null);
    // A 429 is waited out (retryLater, a deferral), unless the quota is gone (the run is paused).
    if (err instanceof APIError && err.status === 429)
      this.o.metrics?.rateLimited('openai', !isSignoffError(failure, 'step_blocked'));
    if (failure instanceof SignoffError) throw failure;
    this.o.log.warn('model call failed; the next model of the route is tried, if any', {
      runId: row.runId,
      job: row.jobKey,
      model: row.model,
      reason,
    });
    return { kind: 'unavailable', reason };
  }

  private costOf(model: string, usage: ModelUsage): number {
    const { prices } = this.o.settings;
    const price = Object.hasOwn(prices, model) ? prices[model] : undefined;
    if (!price) {
      if (!this.unpriced.has(model))
        this.o.log.warn('model has no price (MODEL_PRICES); its calls are counted as free', { model });
      this.unpriced.add(model);
      return 0;
    }
    return roundUsd((usage.inputTokens * price.inputPerMTok + usage.outputTokens * price.outputPerMTok) / 1_000_000);
  }

  private result<T>(model: string, value: T | null, invalid: ModelResult<T>['invalid'], tally: Tally): ModelResult<T> {
    return {
      value,
      ...(invalid ? { invalid } : {}),
      model,
      offline: this.isOffline,
      usage: { inputTokens: tally.inputTokens, outputTokens: tally.outputTokens },
      costUsd: roundUsd(tally.costUsd),
    };
  }
}

/** Sums of float prices drift (0.1 + 0.2); nanodollars are far below any price that matters. */
function roundUsd(usd: number): number {
  return Math.round(usd * 1e9) / 1e9;
}
