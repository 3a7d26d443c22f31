/**
 * Prometheus metrics (prom-client), one registry per `Metrics` instance: main
 * makes one per process and hands it down the way it hands down the logger, so
 * tests that start several engines in one process never meet prom-client's
 * global registry (nor its "already registered" error). GET /metrics serves it
 * (./metrics-route.ts); docs/operations.md lists every metric and its labels.
 *
 * Each fact is counted where it happens: the committer's status changes, the
 * worker's step attempts, the review desk's decisions, a provider's 429, the
 * webhook ingress's refusals, the model gateway's usage. Label values are
 * bounded by construction (flow, step, route and model names come from code and
 * config; reasons and statuses are closed unions) and `bounded()` makes sure of
 * it: never a run id, a user id, a channel or free text.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Db } from '../store/client.ts';
import { readQueueStats, type QueueStats } from '../store/stats.ts';

/** Who GET /metrics answers (METRICS_TOKEN; src/config.ts decides). */
export interface MetricsSettings {
  /** Bearer token a scrape must send; null means none is asked for. */
  token: string | null;
  /** False: /metrics is not served (HOST beyond loopback and no METRICS_TOKEN). */
  isServed: boolean;
}

export type FinishedStatus = 'done' | 'failed' | 'cancelled' | 'parked';
const FINISHED_STATUSES: readonly FinishedStatus[] = ['done', 'failed', 'cancelled', 'parked'];
/** `deferred`: waits out a rate limit without using an attempt; `backoff`: an attempt failed, the next comes later. */
export type RetryReason = 'deferred' | 'backoff';
/** `rate_limited`: the provider (or its SDK's bucket) said wait; `paced`: our own pacing held the call too long. */
export type ProviderRetryReason = 'rate_limited' | 'paced';
export type WebhookRejection =
  'unknown_source' | 'not_found' | 'too_large' | 'signature' | 'stale' | 'forbidden' | 'schema' | 'verifier_error';
/** A job as the step metrics label it. */
export interface JobLabels {
  flow: string;
  name: string;
  kind: string;
}

export interface MetricsOptions {
  /** Where the scrape-time gauges (due jobs, oldest due job, pending reviews) are read; without it they are absent. */
  sql?: Db;
  /** Add prom-client's process metrics (CPU, memory, event loop lag, GC). Default false; main turns them on. */
  processMetrics?: boolean;
  /** How long one reading of the gauges serves every scrape. Default 2 000 ms. */
  statsCacheMs?: number;
  /** Longest wait for that reading; after it the gauges read NaN. Default 1 500 ms. */
  statsTimeoutMs?: number;
}

/** From milliseconds to minutes: a step is a model call, a tool call, or a card post. */
const STEP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
/** From seconds to a week: people decide when they look. */
const DECISION_BUCKETS = [5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 28800, 86400, 172800, 604800];
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;
const LABEL_VALUE = /^[A-Za-z0-9_.:/-]{1,80}$/;

/** A label value as given when it is a short name, else `other`: a bug upstream must not explode the series. */
export function bounded(value: string): string {
  return LABEL_VALUE.test(value) && !UUID.test(value) ? value : 'other';
}

export class Metrics {
  readonly registry = new Registry();
  readonly runsStarted = counter(this.registry, 'signoff_runs_started_total', 'Runs started.', ['flow']);
  readonly runsFinished = counter(
    this.registry,
    'signoff_runs_finished_total',
    'Runs that reached done, failed, cancelled or parked (a retried run can finish again).',
    ['flow', 'status'],
  );
  readonly stepDuration = histogram(
    this.registry,
    'signoff_step_duration_seconds',
    'Time one attempt of a job took (kind: step, effect, review, system), whatever its outcome.',
    ['flow', 'step', 'kind'],
    STEP_BUCKETS,
  );
  readonly stepRetries = counter(
    this.registry,
    'signoff_step_retries_total',
    'Job attempts put back to run again later (reason: deferred, backoff).',
    ['flow', 'step', 'kind', 'reason'],
  );
  readonly stepFailures = counter(
    this.registry,
    'signoff_step_failures_total',
    'Jobs that failed for good (no attempt left).',
    ['flow', 'step', 'kind'],
  );
  readonly reviewDecision = histogram(
    this.registry,
    'signoff_review_time_to_decision_seconds',
    'From a review being opened to its outcome (approved, rejected, expired).',
    ['flow', 'outcome'],
    DECISION_BUCKETS,
  );
  readonly rateLimits = counter(
    this.registry,
    'signoff_provider_rate_limited_total',
    'Answers 429 (rate limited) from a provider.',
    ['provider'],
  );
  readonly providerRetries = counter(
    this.registry,
    'signoff_provider_retries_total',
    'Calls to a provider given back to the queue to be made later (reason: rate_limited, paced).',
    ['provider', 'reason'],
  );
  readonly webhookRejections = counter(
    this.registry,
    'signoff_webhook_rejections_total',
    'Webhook requests refused, by configured source (else unknown) and reason.',
    ['source', 'reason'],
  );
  readonly modelCalls = counter(
    this.registry,
    'signoff_model_calls_total',
    'Model calls (outcome: ok, invalid, error).',
    ['route', 'model', 'outcome'],
  );
  readonly modelTokens = counter(
    this.registry,
    'signoff_model_tokens_total',
    'Model tokens used (type: input, output).',
    ['route', 'model', 'type'],
  );
  readonly modelCost = counter(
    this.registry,
    'signoff_model_cost_usd_total',
    'What model calls cost, in US dollars (MODEL_PRICES).',
    ['route', 'model'],
  );

  constructor(o: MetricsOptions = {}) {
    if (o.sql) registerQueueGauges(o.sql, this.registry, o.statsCacheMs ?? 2_000, o.statsTimeoutMs ?? 1_500);
    if (o.processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /**
   * Shows a flow's run counters at 0 before its first run, so `rate()` and
   * alerts on them have a series from the start (Prometheus' advice for known label values).
   */
  knowFlow(flow: string): void {
    this.runsStarted.inc({ flow: bounded(flow) }, 0);
    for (const status of FINISHED_STATUSES) this.runsFinished.inc({ flow: bounded(flow), status }, 0);
  }

  runStarted(flow: string): void {
    this.runsStarted.inc({ flow: bounded(flow) });
  }

  runFinished(flow: string, status: FinishedStatus): void {
    this.runsFinished.inc({ flow: bounded(flow), status });
  }

  stepAttempted(job: JobLabels, seconds: number): void {
    this.stepDuration.observe(jobLabels(job), seconds);
  }

  stepRetried(job: JobLabels, reason: RetryReason): void {
    this.stepRetries.inc({ ...jobLabels(job), reason });
  }

  stepFailed(job: JobLabels): void {
    this.stepFailures.inc(jobLabels(job));
  }

  reviewDecided(flow: string, outcome: string, seconds: number): void {
    this.reviewDecision.observe({ flow: bounded(flow), outcome: bounded(outcome) }, Math.max(0, seconds));
  }

  /** A provider answered 429; `isRetried` when the call goes back to the queue for it (not for a quota that is gone). */
  rateLimited(provider: string, isRetried = true): void {
    this.rateLimits.inc({ provider: bounded(provider) });
    if (isRetried) this.providerRetried(provider, 'rate_limited');
  }

  providerRetried(provider: string, reason: ProviderRetryReason): void {
    this.providerRetries.inc({ provider: bounded(provider), reason });
  }

  /** `source` only when it is a configured one; anything else is `unknown`. */
  webhookRejected(source: string | null, reason: WebhookRejection): void {
    this.webhookRejections.inc({ source: source === null ? 'unknown' : bounded(source), reason });
  }

  modelCalled(
    call: { route: string; model: string; outcome: 'ok' | 'invalid' | 'error' },
    usage: { inputTokens: number; outputTokens: number; costUsd: number } | null,
  ): void {
    const labels = { route: bounded(call.route), model: bounded(call.model) };
    this.modelCalls.inc({ ...labels, outcome: call.outcome });
    if (!usage) return;
    this.modelTokens.inc({ ...labels, type: 'input' }, usage.inputTokens);
    this.modelTokens.inc({ ...labels, type: 'output' }, usage.outputTokens);
    this.modelCost.inc(labels, usage.costUsd);
  }
}

function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: L[]): Counter<L> {
  return new Counter<L>({ name, help, labelNames, registers: [registry] });
}

function histogram<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: L[],
  buckets: number[],
): Histogram<L> {
  return new Histogram<L>({ name, help, labelNames, buckets, registers: [registry] });
}

function jobLabels(job: JobLabels): { flow: string; step: string; kind: string } {
  return { flow: bounded(job.flow), step: bounded(job.name), kind: bounded(job.kind) };
}

/**
 * Registers the gauges read from the database when scraped (prom-client calls
 * `collect()` per scrape). One reading serves every scrape for `cacheMs`, and
 * scrapes that arrive while it is under way share it, so a scrape storm costs
 * one query per `cacheMs`. A database that does not answer in `timeoutMs`
 * reads NaN: unknown, not 0.
 */
function registerQueueGauges(sql: Db, registry: Registry, cacheMs: number, timeoutMs: number): void {
  let reading: Promise<QueueStats | null> | null = null;
  let readAtMs = -Infinity;
  const read = (): Promise<QueueStats | null> => {
    if (reading && Date.now() - readAtMs < cacheMs) return reading;
    readAtMs = Date.now();
    // A failed reading is kept too: a slow database is not asked again by every scrape of a storm.
    reading = withTimeout(readQueueStats(sql), timeoutMs);
    return reading;
  };
  const gauge = (name: string, help: string, pick: (s: QueueStats) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        const stats = await read();
        this.set(stats ? pick(stats) : NaN);
      },
    });
  gauge('signoff_jobs_due', 'Jobs due now and not yet claimed (queued, or a lease expired).', (s) => s.dueJobs);
  gauge(
    'signoff_jobs_oldest_due_age_seconds',
    'How long the oldest due job has waited for a worker.',
    (s) => s.oldestDueAgeSeconds,
  );
  gauge('signoff_reviews_pending', 'Reviews waiting for a person.', (s) => s.pendingReviews);
}

/** The query's answer, or null when it failed or took longer than `timeoutMs`. */
async function withTimeout<T>(query: Promise<T>, timeoutMs: number): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), timeoutMs)));
  try {
    return await Promise.race([query.catch(() => null), late]);
  } finally {
    clearTimeout(timer);
  }
}
