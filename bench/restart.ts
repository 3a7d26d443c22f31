/**
 * The restart survival trial (WORKLOAD.md): process 1 runs Phase A on a fresh
 * database, reports its RSS once all N runs durably wait and is SIGKILLed;
 * process 2 (same code, same database) inits, delivers the N decisions at C,
 * and reports decisions/s, its draft executions (must be 0) and the apply-log
 * check. Owns both the orchestrator side and the two child entry points; the
 * children talk back with one JSON line on stdout.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freshDatabase } from './db.ts';
import create from './hitl-adapter.ts';
import { memory, phaseA, phaseB, type Latency, type Memory, type Throughput } from './phases.ts';
import { checkProblems, TAG, type Params } from './trial.ts';
import { checkApplyLog, createApplyLog, makeSteps, type ApplyLogCheck } from './workload.ts';

export const RESTART_DB = 'peer_signoff_restart';
const RUN_TS = fileURLToPath(new URL('./run.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const REPORT = '@@bench ';
const CHILD_DB_ENV = 'BENCH_CHILD_DATABASE_URL';
const CHILD_TIMEOUT_MS = 15 * 60_000;

interface Process1Report {
  memInit: Memory;
  memWaiting: Memory;
  phaseA: Throughput;
  draftCalls: number;
}
interface Process2Report {
  initMs: number;
  initDoneAt: number;
  statusAfterInit: Record<string, number>;
  phaseB: Throughput;
  latency: Latency;
  draftCalls: number;
  applyCalls: number;
  status: Record<string, number>;
  applyLog: ApplyLogCheck;
}

export interface RestartResult {
  ok: boolean;
  problems: string[];
  process1: Process1Report & { killedBy: string };
  process2: Process2Report & { spawnToReadyMs: number };
}

export async function restartTrial(serverUrl: string, p: Params): Promise<RestartResult> {
  const dbUrl = await freshDatabase(serverUrl, RESTART_DB);
  await createApplyLog(dbUrl);
  const one = await runChild<Process1Report>('phase-a', dbUrl, p, true);
  const spawnedAt = Date.now();
  const two = await runChild<Process2Report>('phase-b', dbUrl, p, false);
  const problems: string[] = [];
  if (one.exit !== 'signal SIGKILL') problems.push(`process 1 ended with ${one.exit}, not SIGKILL`);
  if (two.report.statusAfterInit.waiting !== p.n) {
    problems.push(`after the kill, expected ${p.n} waiting runs, found ${JSON.stringify(two.report.statusAfterInit)}`);
  }
  if (two.report.draftCalls !== 0) problems.push(`draft ran ${two.report.draftCalls} times in process 2 (must be 0)`);
  problems.push(...checkProblems(p.n, two.report.status, two.report.applyLog, 'restart runs'));
  return {
    ok: problems.length === 0,
    problems,
    process1: { ...one.report, killedBy: one.exit },
    process2: { ...two.report, spawnToReadyMs: two.report.initDoneAt - spawnedAt },
  };
}

/** Spawns `run.ts --child-<kind>`; waits for its report line, then SIGKILLs it (process 1) or lets it exit. */
async function runChild<R>(
  kind: string,
  dbUrl: string,
  p: Params,
  kill: boolean,
): Promise<{ report: R; exit: string }> {
  const args = ['--expose-gc', '--import', 'tsx', RUN_TS, `--child-${kind}`, '--n', String(p.n), '--c', String(p.c)];
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, [CHILD_DB_ENV]: dbUrl },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit').then(([code, signal]) => (signal ? `signal ${signal}` : `code ${code}`));
  const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
  let report: R | null = null;
  for await (const line of createInterface({ input: child.stdout! })) {
    if (!line.startsWith(REPORT)) {
      process.stderr.write(`[${kind}] ${line}\n`);
      continue;
    }
    report = JSON.parse(line.slice(REPORT.length)) as R;
    if (kill) child.kill('SIGKILL');
    break;
  }
  const exit = await exited;
  clearTimeout(timer);
  if (!report) throw new Error(`restart trial: child ${kind} ended (${exit}) without reporting`);
  return { report, exit };
}

function emit(report: object): void {
  process.stdout.write(`${REPORT}${JSON.stringify(report)}\n`);
}

/** Entry point of a child process (`run.ts --child-phase-a|--child-phase-b`). */
export async function childMain(kind: string, p: Params): Promise<void> {
  const dbUrl = process.env[CHILD_DB_ENV];
  if (!dbUrl) throw new Error(`${CHILD_DB_ENV} is not set: the orchestrator sets it`);
  if (kind === 'phase-a') return process1(dbUrl, p);
  if (kind === 'phase-b') return process2(dbUrl, p);
  throw new Error(`unknown child kind ${kind}`);
}

async function process1(dbUrl: string, p: Params): Promise<void> {
  const steps = makeSteps(dbUrl);
  const adapter = await create({ databaseUrl: dbUrl, draft: steps.draft, apply: steps.apply });
  await adapter.init();
  const memInit = memory();
  const a = await phaseA(adapter, TAG, p.n, p.c);
  const report: Process1Report = { memInit, memWaiting: memory(), phaseA: a, draftCalls: steps.draftCalls() };
  emit(report);
  // Wait to be killed: no shutdown hook runs, nothing is closed.
  setInterval(() => {}, 60_000);
  await new Promise(() => {});
}

async function process2(dbUrl: string, p: Params): Promise<void> {
  const t0 = performance.now();
  const steps = makeSteps(dbUrl);
  const adapter = await create({ databaseUrl: dbUrl, draft: steps.draft, apply: steps.apply });
  await adapter.init();
  const initMs = performance.now() - t0;
  const initDoneAt = Date.now();
  const statusAfterInit = await adapter.verify(`${TAG}-a-`);
  const b = await phaseB(adapter, TAG, p.n, p.c);
  const report: Process2Report = {
    initMs,
    initDoneAt,
    statusAfterInit,
    phaseB: b.throughput,
    latency: b.latency,
    draftCalls: steps.draftCalls(),
    applyCalls: steps.applyCalls(),
    status: await adapter.verify(`${TAG}-a-`),
    applyLog: await checkApplyLog(dbUrl, `${TAG}-a-`, p.n),
  };
  await adapter.close();
  await steps.close();
  emit(report);
}
