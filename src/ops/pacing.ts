/**
 * Pacing of outbound APIs with bottleneck (DESIGN §6), in ops so that steps
 * (model, tools) and adapters (Slack's Web API tiers) share it: one chain of
 * limiters per key (`model`, `tool:<host>`, `slack:<method>`), built from its spec the first time the key
 * is used. A call that would wait longer than `maxWaitMs` in the queue is not
 * held in memory: it fails with `retryLater`, and its job is rescheduled in
 * Postgres. Queues are first in, first out, and bottleneck cannot take a job
 * back out: an abandoned call keeps its place (and never runs), so calls
 * behind it wait for the next refill too. That errs on the safe side of the limit.
 */
import Bottleneck from 'bottleneck';
import { retryLater } from '../errors.ts';
import type { Metrics } from './metrics.ts';

export interface PaceSpec {
  /** Requests per minute; 0 or absent means unlimited. */
  perMinute?: number;
  /** Weight units (e.g. tokens) per minute; 0 or absent means unlimited. */
  weightPerMinute?: number;
  /** Calls in flight at once; absent means unlimited. */
  concurrent?: number;
  /** Who is paced, as metrics name it (`openai`, `zendesk`); default the key up to its first colon. */
  provider?: string;
}

/** Longest a call waits in a limiter before it is rescheduled instead. */
const DEFAULT_MAX_WAIT_MS = 10_000;

/** One limiter of a chain, and the most weight one call may take from it. */
interface Link {
  limiter: Bottleneck;
  maxWeight: number;
}

export class Pacer {
  private readonly chains = new Map<string, Link[]>();

  constructor(
    private readonly maxWaitMs = DEFAULT_MAX_WAIT_MS,
    /** Counts the calls given back for later (`signoff_provider_retries_total{reason="paced"}`). */
    private readonly metrics: Metrics | null = null,
  ) {}

  /** Runs `fn` when `key`'s limits allow; `weight` counts against `weightPerMinute`. */
  async schedule<T>(key: string, spec: PaceSpec, fn: () => Promise<T>, weight = 1): Promise<T> {
    const chain = this.chainFor(key, spec);
    if (chain.length === 0) return fn();
    let state: 'queued' | 'started' | 'abandoned' = 'queued';
    const guarded = async (): Promise<T> => {
      if (state === 'abandoned') throw new Error('abandoned while queued');
      state = 'started';
      return fn();
    };
    // The outermost limiter admits first; the call runs once every limiter has.
    const run = chain.reduceRight<() => Promise<T>>(
      (inner, link) => () => link.limiter.schedule({ weight: Math.min(weight, link.maxWeight) }, inner),
      guarded,
    )();
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        if (state !== 'queued') return;
        state = 'abandoned';
        this.metrics?.providerRetried(spec.provider ?? key.split(':')[0]!, 'paced');
        reject(retryLater(`pacing: "${key}" is at its rate limit; trying again shortly`, this.maxWaitMs));
      }, this.maxWaitMs);
    });
    run.catch(() => undefined); // an abandoned call's rejection is expected
    try {
      return await Promise.race([run, gaveUp]);
    } finally {
      clearTimeout(timer);
    }
  }

  async stop(): Promise<void> {
    const limiters = [...this.chains.values()].flat().map((l) => l.limiter);
    this.chains.clear();
    await Promise.all(limiters.map((l) => l.stop({ dropWaitingJobs: true }).catch(() => undefined)));
  }

  private chainFor(key: string, spec: PaceSpec): Link[] {
    let chain = this.chains.get(key);
    if (chain) return chain;
    chain = [];
    if (spec.perMinute || spec.concurrent) {
      chain.push({
        maxWeight: 1,
        limiter: new Bottleneck({ maxConcurrent: spec.concurrent ?? null, ...perMinute(spec.perMinute) }),
      });
    }
    if (spec.weightPerMinute) {
      chain.push({ maxWeight: spec.weightPerMinute, limiter: new Bottleneck(perMinute(spec.weightPerMinute)) });
    }
    this.chains.set(key, chain);
    return chain;
  }
}

/** A reservoir refilled to `n` every minute (none when `n` is 0 or absent). */
function perMinute(n: number | undefined): Bottleneck.ConstructorOptions {
  return n ? { reservoir: n, reservoirRefreshAmount: n, reservoirRefreshInterval: 60_000 } : {};
}
