/**
 * Pacing of outbound APIs with bottleneck (DESIGN §6): one limiter per key
 * (`model`, `tool:<host>`, `slack:<method-tier>`…), each from its spec. A call
 * that would wait longer than `maxWaitMs` in the queue is not held in memory:
 * it fails with `retryLater`, and the job is rescheduled in Postgres.
 */
import Bottleneck from 'bottleneck';
import { retryLater } from '../errors.ts';

export interface PaceSpec {
  /** Requests per minute; 0 or absent means unlimited. */
  perMinute?: number;
  /** Weight units (e.g. tokens) per minute; 0 or absent means unlimited. */
  weightPerMinute?: number;
  /** Calls in flight at once; absent means unlimited. */
  concurrent?: number;
}

/** Longest a call waits in a limiter before it is rescheduled instead. */
const DEFAULT_MAX_WAIT_MS = 10_000;

export class Pacer {
  private readonly limiters = new Map<string, Bottleneck[]>();
  private readonly weightedByKey = new Map<string, Bottleneck>();

  constructor(private readonly maxWaitMs = DEFAULT_MAX_WAIT_MS) {}

  /** Runs `fn` when `key`'s limits allow; `weight` counts against `weightPerMinute`. */
  async schedule<T>(key: string, spec: PaceSpec, fn: () => Promise<T>, weight = 1): Promise<T> {
    const chain = this.limitersFor(key, spec);
    if (chain.length === 0) return fn();
    let state: 'queued' | 'started' | 'abandoned' = 'queued';
    const guarded = async (): Promise<T> => {
      if (state === 'abandoned') throw new Error('abandoned while queued');
      state = 'started';
      return fn();
    };
    const run = chain.reduceRight<() => Promise<T>>(
      (inner, limiter) => () => limiter.schedule({ weight: Math.min(weight, limiter === this.weighted(key) ? spec.weightPerMinute! : 1) }, inner),
      guarded,
    )();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        if (state !== 'queued') return;
        state = 'abandoned';
        reject(retryLater(`pacing: "${key}" is at its rate limit; trying again shortly`, this.maxWaitMs));
      }, this.maxWaitMs);
    });
    run.catch(() => undefined);
    try {
      return await Promise.race([run, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async stop(): Promise<void> {
    await Promise.all([...this.limiters.values()].flat().map((l) => l.stop({ dropWaitingJobs: true }).catch(() => undefined)));
    this.limiters.clear();
  }

  private weighted(key: string): Bottleneck | undefined {
    return this.weightedByKey.get(key);
  }

  private limitersFor(key: string, spec: PaceSpec): Bottleneck[] {
    let chain = this.limiters.get(key);
    if (chain) return chain;
    chain = [];
    if (spec.perMinute || spec.concurrent) {
      chain.push(new Bottleneck({
        maxConcurrent: spec.concurrent ?? null,
        ...(spec.perMinute ? { reservoir: spec.perMinute, reservoirRefreshAmount: spec.perMinute, reservoirRefreshInterval: 60_000 } : {}),
      }));
    }
    if (spec.weightPerMinute) {
      const w = spec.weightPerMinute;
      const weighted = new Bottleneck({ reservoir: w, reservoirRefreshAmount: w, reservoirRefreshInterval: 60_000 });
      this.weightedByKey.set(key, weighted);
      chain.push(weighted);
    }
    this.limiters.set(key, chain);
    return chain;
  }
}
