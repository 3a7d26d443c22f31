/**
 * An engine in a process of its own, for the crash, restart and two-process tests:
 * the test drives it over stdin/stdout and SIGKILLs it whenever it likes.
 * Usage: node --import tsx test/helpers/engine-child.ts (configured by the environment:
 *   DATABASE_URL, SIGNOFF_SCHEMA                 the store (required)
 *   SIGNOFF_WORKER_ID                            lease owner and step_log.worker (default child-<pid>)
 *   SIGNOFF_POLL_MS, SIGNOFF_CONCURRENCY, SIGNOFF_MAX_RECOVERIES   engine options
 *   SIGNOFF_CRASHPOINTS, SIGNOFF_HANG_STEPS      comma-separated crash points / steps that block
 *   SIGNOFF_STEP_TIMEOUT_MS                      time limit of the one-step flow's step
 *   SIGNOFF_NO_WORKER=1                          start runs but claim nothing)
 * Prints `{"ready":true,...}` once the engine is started, then answers each request
 * line `{"id":1,"op":"start",...}` with `{"id":1,"ok":true,"result":...}` or
 * `{"id":1,"ok":false,"error":{code,message}}`. Exits when stdin closes.
 */
import { createInterface } from 'node:readline';
import { Engine, type RunEvent } from '../../src/engine/engine.ts';
import type { RunStatus } from '../../src/engine/decide.ts';
import { connect } from '../../src/store/client.ts';
import { patternFlows } from './flows/pattern-flows.ts';
import { testFlows } from './flows/test-flows.ts';

const url = process.env.DATABASE_URL;
const schema = process.env.SIGNOFF_SCHEMA;
if (!url || !schema) throw new Error('engine-child needs DATABASE_URL and SIGNOFF_SCHEMA');

const list = (name: string) => new Set((process.env[name] ?? '').split(',').filter(Boolean));
const num = (name: string) => (process.env[name] ? Number(process.env[name]) : undefined);

const workerId = process.env.SIGNOFF_WORKER_ID ?? `child-${process.pid}`;
const sql = connect({ url, schema, max: 10 });
const stepSql = connect({ url, schema, max: 5 });
const stepEnv = {
  sql: stepSql,
  worker: workerId,
  hang: list('SIGNOFF_HANG_STEPS'),
  timeoutMs: num('SIGNOFF_STEP_TIMEOUT_MS'),
};
const engine = new Engine({
  sql,
  schema,
  workerId,
  flows: [...testFlows(stepEnv), ...patternFlows(stepEnv)],
  pollMs: num('SIGNOFF_POLL_MS') ?? 100,
  concurrency: num('SIGNOFF_CONCURRENCY') ?? 100,
  maxRecoveries: num('SIGNOFF_MAX_RECOVERIES') ?? 3,
  crashpoints: list('SIGNOFF_CRASHPOINTS'),
});

interface StartSpec {
  input: unknown;
  runId?: string;
  triggerKey?: string;
}
type Request =
  | { id: number; op: 'start'; flow: string; run: StartSpec; at?: number }
  | { id: number; op: 'startMany'; flow: string; runs: StartSpec[]; at?: number; parallel?: number }
  | { id: number; op: 'send'; runId: string; event: RunEvent }
  | { id: number; op: 'waitFor'; runId: string; status: RunStatus[]; timeoutMs?: number }
  | { id: number; op: 'stop'; graceMs?: number };

function reply(line: object): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

/** Sleeps until wall-clock `at`, so two processes can act at the same moment. */
async function until(at: number | undefined): Promise<void> {
  if (at !== undefined && at > Date.now()) await new Promise((r) => setTimeout(r, at - Date.now()));
}

async function startMany(flow: string, runs: StartSpec[], parallel: number) {
  const results: { runId: string; isNew: boolean }[] = new Array(runs.length);
  let next = 0;
  const lane = async () => {
    while (next < runs.length) {
      const i = next++;
      const r = runs[i]!;
      results[i] = await engine.startRun(flow, r.input, { runId: r.runId, triggerKey: r.triggerKey });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, parallel) }, lane));
  return results;
}

async function handle(req: Request): Promise<unknown> {
  switch (req.op) {
    case 'start':
      await until(req.at);
      return engine.startRun(req.flow, req.run.input, { runId: req.run.runId, triggerKey: req.run.triggerKey });
    case 'startMany':
      await until(req.at);
      return startMany(req.flow, req.runs, req.parallel ?? 10);
    case 'send':
      return engine.send(req.runId, req.event);
    case 'waitFor':
      return engine.waitFor(req.runId, req.status, { timeoutMs: req.timeoutMs ?? 10_000 });
    case 'stop':
      await engine.stop(req.graceMs ?? 1_000);
      return { stopped: true };
  }
}

if (process.env.SIGNOFF_NO_WORKER !== '1') await engine.start();
reply({ ready: true, pid: process.pid, workerId });

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const req = JSON.parse(line) as Request;
  handle(req).then(
    (result) => reply({ id: req.id, ok: true, result: result ?? null }),
    (err: { code?: string; message?: string }) =>
      reply({ id: req.id, ok: false, error: { code: err.code ?? 'error', message: err.message ?? String(err) } }),
  );
});
lines.on('close', () => {
  void engine
    .stop(500)
    .finally(() => Promise.all([sql.end({ timeout: 1 }), stepSql.end({ timeout: 1 })]))
    .finally(() => process.exit(0));
});
