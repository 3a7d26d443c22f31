/**
 * SQL for the model-call ledger (migration 0004): every call a model step
 * makes is a row, so a run's cost and a step's call count are sums over it.
 */
import type { Db } from './client.ts';

export interface ModelCall {
  runId: string;
  jobKey: string;
  attempt: number;
  callNo: number;
  model: string;
  offline: boolean;
  outcome: 'ok' | 'invalid' | 'error';
  error?: string | null;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

export interface RunCost {
  calls: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  /** True when any call was answered by the built-in offline model. */
  offline: boolean;
  /** Distinct models that answered, in order of first use. */
  models: string[];
}

/** Records one call; a repeat of the same (job, attempt, call) is ignored. */
export async function recordModelCall(sql: Db, c: ModelCall): Promise<void> {
  await sql`
    INSERT INTO model_calls (run_id, job_key, attempt, call_no, model, offline, outcome, error, input_tokens, output_tokens, cost_usd)
    VALUES (${c.runId}, ${c.jobKey}, ${c.attempt}, ${c.callNo}, ${c.model}, ${c.offline}, ${c.outcome}, ${c.error ?? null},
            ${c.inputTokens}, ${c.outputTokens}, ${c.costUsd})
    ON CONFLICT (job_key, attempt, call_no) DO NOTHING`;
}

/** Calls a step (job) has made over all its attempts. */
export async function countModelCalls(sql: Db, jobKey: string): Promise<number> {
  const rows = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM model_calls WHERE job_key = ${jobKey}`;
  return rows[0]!.n;
}

/** What a run's model calls have cost so far. */
export async function runCost(sql: Db, runId: string): Promise<RunCost> {
  const rows = await sql<
    {
      calls: number;
      input_tokens: number;
      output_tokens: number;
      cost_usd: string;
      offline: boolean;
      models: string[] | null;
    }[]
  >`
    SELECT count(*)::int AS calls, coalesce(sum(input_tokens), 0)::int AS input_tokens,
           coalesce(sum(output_tokens), 0)::int AS output_tokens, coalesce(sum(cost_usd), 0)::text AS cost_usd,
           coalesce(bool_or(offline), false) AS offline,
           (SELECT array_agg(model ORDER BY first) FROM (
              SELECT model, min(id) AS first FROM model_calls WHERE run_id = ${runId} AND outcome <> 'error' GROUP BY model) m) AS models
    FROM model_calls WHERE run_id = ${runId}`;
  const r = rows[0]!;
  return {
    calls: r.calls,
    inputTokens: r.input_tokens,
    outputTokens: r.output_tokens,
    costUsd: Number(r.cost_usd),
    offline: r.offline,
    models: r.models ?? [],
  };
}
