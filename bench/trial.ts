/**
 * One in-process trial on a fresh database (WORKLOAD.md "Phases"): init, RSS,
 * Phase A, RSS with N waiting, C=1 latency, Phase B, a redelivery probe, and
 * the check (one apply row per run, N runs done in signoff's own view).
 */
import { performance } from 'node:perf_hooks';
import create from './hitl-adapter.ts';
import { latencyC1, memory, phaseA, phaseB, type Latency, type Memory, type Throughput } from './phases.ts';
import { checkApplyLog, createApplyLog, makeDecision, makeSteps, runId, type ApplyLogCheck } from './workload.ts';

export const TAG = 'hitl';

export interface Params {
  n: number;
  c: number;
  l1: number;
}

export interface TrialResult {
  initMs: number;
  memInit: Memory;
  /** With the N Phase-A runs waiting. */
  memWaiting: Memory;
  phaseA: Throughput;
  c1: { start: Latency; decide: Latency };
  phaseB: Throughput;
  latencyC: Latency;
  check: {
    ok: boolean;
    status: Record<string, number>;
    applyLog: ApplyLogCheck;
    applyLogC1: ApplyLogCheck;
    /** Runs sent their decision a second time: each must still have one apply row. */
    redelivered: number;
    problems: string[];
  };
}

/** Deliveries repeated after Phase B: a duplicate must not apply twice. */
const REDELIVER = 10;

export async function runTrial(dbUrl: string, p: Params): Promise<TrialResult> {
  await createApplyLog(dbUrl);
  const steps = makeSteps(dbUrl);
  const adapter = await create({ databaseUrl: dbUrl, draft: steps.draft, apply: steps.apply });
  try {
    const t0 = performance.now();
    await adapter.init();
    const initMs = performance.now() - t0;
    const memInit = memory();
    const a = await phaseA(adapter, TAG, p.n, p.c);
    const memWaiting = memory();
    const c1 = await latencyC1(adapter, TAG, p.l1);
    const b = await phaseB(adapter, TAG, p.n, p.c);
    const redelivered = Math.min(REDELIVER, p.n);
    for (let i = 0; i < redelivered; i++) await adapter.deliver(runId(TAG, 'a', i), makeDecision(i));

    const status = await adapter.verify(`${TAG}-a-`);
    const applyLog = await checkApplyLog(dbUrl, `${TAG}-a-`, p.n);
    const applyLogC1 = await checkApplyLog(dbUrl, `${TAG}-l-`, p.l1);
    const problems = checkProblems(p.n, status, applyLog, 'Phase-A runs');
    problems.push(...checkProblems(p.l1, await adapter.verify(`${TAG}-l-`), applyLogC1, 'C=1 runs'));
    return {
      initMs,
      memInit,
      memWaiting,
      phaseA: a,
      c1,
      phaseB: b.throughput,
      latencyC: b.latency,
      check: { ok: problems.length === 0, status, applyLog, applyLogC1, redelivered, problems },
    };
  } finally {
    await adapter.close();
    await steps.close();
  }
}

/** What is wrong with `n` runs' final status counts and apply rows (empty when all is well). */
export function checkProblems(n: number, status: Record<string, number>, log: ApplyLogCheck, what: string): string[] {
  const problems: string[] = [];
  const others = Object.entries(status).filter(([s]) => s !== 'done');
  if ((status.done ?? 0) !== n || others.length > 0) {
    problems.push(`${what}: expected ${n} done, signoff shows ${JSON.stringify(status)}`);
  }
  if (!log.ok) {
    problems.push(`${what}: expected ${n} apply rows for ${n} runs, found ${log.rows} rows for ${log.runs} runs`);
  }
  return problems;
}
