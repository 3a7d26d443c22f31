/**
 * A circuit breaker per tool host (RELIABILITY 73). When a host keeps failing
 * (5xx, 429, network errors), hammering it helps nobody: after `failureThreshold`
 * consecutive failures the circuit opens and every call fails fast with
 * `retryLater`, so runs are rescheduled in Postgres and wait instead of failing
 * en masse. After `coolOffMs` the circuit is half-open: one trial call goes
 * through; its success closes the circuit, its failure opens it again.
 *
 * State is per process and in memory on purpose: it is an optimisation of
 * back-off, not a record. A restarted process simply starts closed.
 */
import { retryLater } from '../../errors.ts';

export interface CircuitOptions {
  /** Consecutive failures that open the circuit. Default 5. */
  failureThreshold?: number;
  /** How long an open circuit refuses calls before a trial. Default 30 000 ms. */
  coolOffMs?: number;
  /** Clock, for tests. Default Date.now. */
  now?: () => number;
}

/** How a call that was let through went, as far as the host's health goes. */
export type CallOutcome = 'success' | 'failure' | 'neutral';

interface HostState {
  failures: number;
  /** 0 while closed; when the open period ends (then half-open). */
  openUntil: number;
  isTrialInFlight: boolean;
}

/** While a half-open trial is in flight, others are asked to come back this soon. */
const TRIAL_WAIT_MS = 1_000;

export class CircuitBreaker {
  private readonly hosts = new Map<string, HostState>();
  private readonly failureThreshold: number;
  private readonly coolOffMs: number;
  private readonly now: () => number;

  constructor(opts: CircuitOptions = {}) {
    this.failureThreshold = opts.failureThreshold ?? 5;
    this.coolOffMs = opts.coolOffMs ?? 30_000;
    this.now = opts.now ?? Date.now;
  }

  /** Lets a call to `host` through, or throws `retryLater` while the circuit is open. */
  admit(host: string): void {
    const state = this.hosts.get(host);
    if (!state || state.openUntil === 0) return;
    const remainingMs = state.openUntil - this.now();
    if (remainingMs > 0) {
      throw retryLater(
        `${host} is failing (${state.failures} failures in a row); circuit open, trying again in ${Math.ceil(remainingMs / 1000)} s`,
        remainingMs,
      );
    }
    if (state.isTrialInFlight) {
      throw retryLater(`${host} is failing; circuit half-open, a trial call is in flight`, TRIAL_WAIT_MS);
    }
    state.isTrialInFlight = true;
  }

  /** Records how an admitted call went. Every admitted call must be recorded, or a trial stays in flight. */
  record(host: string, outcome: CallOutcome): void {
    if (outcome === 'success') {
      this.hosts.delete(host);
      return;
    }
    if (outcome === 'neutral' && !this.hosts.has(host)) return;
    const state = this.hosts.get(host) ?? { failures: 0, openUntil: 0, isTrialInFlight: false };
    const wasTrial = state.isTrialInFlight;
    state.isTrialInFlight = false;
    if (outcome === 'failure') {
      state.failures += 1;
      if (wasTrial || state.failures >= this.failureThreshold) state.openUntil = this.now() + this.coolOffMs;
    }
    this.hosts.set(host, state);
  }

  /** Hosts whose circuit is not closed (open, or half-open waiting on a trial): what src/ops/alerts.ts reports. */
  openHosts(): string[] {
    return [...this.hosts.keys()].filter((host) => this.stateOf(host) !== 'closed');
  }

  /** `closed`, `open` or `half-open`, for logs and tests. */
  stateOf(host: string): 'closed' | 'open' | 'half-open' {
    const state = this.hosts.get(host);
    if (!state || state.openUntil === 0) return 'closed';
    return state.openUntil > this.now() ? 'open' : 'half-open';
  }
}
