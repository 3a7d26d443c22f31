/**
 * The timed phases of one trial (WORKLOAD.md "Phases"), against any adapter:
 * Phase A (N starts, at most C in flight), RSS after two global.gc(), C=1
 * latency (L1 runs started then decided one at a time), Phase B (N decisions
 * at C) and nearest-rank percentiles. Time is performance.now() here.
 */
import { performance } from 'node:perf_hooks';
import type { HitlAdapter } from './hitl-adapter.ts';
import { makeDecision, makeTicket, runId } from './workload.ts';

export interface Throughput {
  n: number;
  c: number;
  ms: number;
  perSec: number;
  /** This process's CPU time (user + system) during the phase, per item: where a 2-core box runs out. */
  cpuMsPerItem: number;
}
export interface Latency {
  samples: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

/** Runs `task(0..n-1)` with at most `c` in flight; returns the wall and CPU time in ms. */
export async function pool(
  n: number,
  c: number,
  task: (i: number) => Promise<void>,
): Promise<{ ms: number; cpuMs: number }> {
  let next = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const lane = async () => {
    while (next < n) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(c, n) }, lane));
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { ms, cpuMs: (cpu.user + cpu.system) / 1000 };
}

/** Nearest-rank percentile: the smallest sample with at least p% of samples at or below it. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function latency(samples: number[]): Latency {
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = sorted.reduce((s, x) => s + x, 0) / Math.max(1, sorted.length);
  return {
    samples: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? NaN,
    mean,
  };
}

export interface Memory {
  rssMb: number;
  heapUsedMb: number;
}

/** RSS (and V8 heap in use) in MB after two full collections (node runs with --expose-gc). */
export function memory(): Memory {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run node with --expose-gc (npm run bench does)');
  gc();
  gc();
  const m = process.memoryUsage();
  return { rssMb: m.rss / 2 ** 20, heapUsedMb: m.heapUsed / 2 ** 20 };
}

function throughput(n: number, c: number, t: { ms: number; cpuMs: number }): Throughput {
  return { n, c, ms: t.ms, perSec: n / (t.ms / 1000), cpuMsPerItem: t.cpuMs / n };
}

/** Phase A: start N runs (`<tag>-a-…`), at most C in flight, until all N durably wait. */
export async function phaseA(adapter: HitlAdapter, tag: string, n: number, c: number): Promise<Throughput> {
  const t = await pool(n, c, (i) => adapter.start(runId(tag, 'a', i), makeTicket(i)));
  return throughput(n, c, t);
}

/** Phase B: deliver N decisions to the Phase-A runs, at most C in flight; per-delivery latency too. */
export async function phaseB(
  adapter: HitlAdapter,
  tag: string,
  n: number,
  c: number,
): Promise<{ throughput: Throughput; latency: Latency }> {
  const samples = new Array<number>(n);
  const t = await pool(n, c, async (i) => {
    const t0 = performance.now();
    await adapter.deliver(runId(tag, 'a', i), makeDecision(i));
    samples[i] = performance.now() - t0;
  });
  return { throughput: throughput(n, c, t), latency: latency(samples) };
}

/** C=1: L1 runs (`<tag>-l-…`) started one at a time, then decided one at a time. */
export async function latencyC1(
  adapter: HitlAdapter,
  tag: string,
  l1: number,
): Promise<{ start: Latency; decide: Latency }> {
  const starts: number[] = [];
  const decides: number[] = [];
  for (let i = 0; i < l1; i++) {
    const t0 = performance.now();
    await adapter.start(runId(tag, 'l', i), makeTicket(i));
    starts.push(performance.now() - t0);
  }
  for (let i = 0; i < l1; i++) {
    const t0 = performance.now();
    await adapter.deliver(runId(tag, 'l', i), makeDecision(i));
    decides.push(performance.now() - t0);
  }
  return { start: latency(starts), decide: latency(decides) };
}
