/**
 * In-process engines for the engine's integration tests, on a `useTestDb()`
 * schema with the test flows, plus the row counts the tests assert on.
 */
import { Engine, type EngineOptions } from '../../src/engine/engine.ts';
import type { Sql } from '../../src/store/client.ts';
import type { TestDb } from './db.ts';
import { testFlows, type StepEnv } from './flows/test-flows.ts';

export interface TestEngineOptions extends Partial<Omit<EngineOptions, 'sql' | 'schema'>> {
  /** Overrides for the steps' environment (worker defaults to the engine's workerId). */
  env?: Partial<StepEnv>;
  /** False: do not start claiming work. */
  start?: boolean;
}

/** An engine in this process on the test schema (poll 100 ms); stop it in afterAll or finally. */
export async function startTestEngine(db: TestDb, opts: TestEngineOptions = {}): Promise<Engine> {
  const { env, start, ...rest } = opts;
  const workerId = rest.workerId ?? 'test-engine';
  const engine = new Engine({
    sql: db.sql,
    schema: db.schema,
    pollMs: 100,
    workerId,
    flows: rest.flows ?? testFlows({ sql: db.sql, worker: workerId, ...env }),
    ...rest,
  });
  if (start !== false) await engine.start();
  return engine;
}

/** Executions of a step in a run (rows the step inserted when it started). */
export async function executions(
  sql: Sql,
  runId: string,
  step: string,
): Promise<{ worker: string; key: string; attempt: number; at: Date }[]> {
  return sql<{ worker: string; key: string; attempt: number; at: Date }[]>`
    SELECT worker, key, attempt, at FROM step_log WHERE run_id = ${runId} AND step = ${step} AND phase = 'started' ORDER BY id`;
}

/** run_events rows of one type for a run. */
export async function eventCount(sql: Sql, runId: string, type: string): Promise<number> {
  const [row] = await sql<
    { n: number }[]
  >`SELECT count(*)::int AS n FROM run_events WHERE run_id = ${runId} AND type = ${type}`;
  return row!.n;
}

/** Row counts of every engine table, to show that a refused request changed nothing. */
export async function tableCounts(sql: Sql): Promise<Record<string, number>> {
  const [row] = await sql<Record<string, number>[]>`
    SELECT (SELECT count(*)::int FROM runs) AS runs, (SELECT count(*)::int FROM run_events) AS run_events,
           (SELECT count(*)::int FROM jobs) AS jobs, (SELECT count(*)::int FROM timers) AS timers,
           (SELECT coalesce(sum(version), 0)::int FROM runs) AS versions`;
  return { ...row! };
}
