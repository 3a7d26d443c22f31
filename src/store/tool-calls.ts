/**
 * SQL for the journal of unsafe tool calls (migration 0006): whether an
 * earlier attempt of a step's call may have happened without anyone knowing.
 */
import type { Db } from './client.ts';

/**
 * The journal of `unsafe` tool calls: a row before the call, closed after it
 * with the answer. A later attempt reuses a recorded answer; an earlier
 * attempt left open (the process died mid-call) or ambiguous means the next
 * attempt asks a person. Defined here, below the steps that use it.
 */
export interface ToolJournal {
  /** What earlier attempts of this step's call left: an answer, an unknown outcome, or nothing that matters. */
  earlier(jobKey: string): Promise<{ kind: 'done'; output: unknown } | { kind: 'unknown' } | null>;
  begin(jobKey: string, attempt: number, tool: string): Promise<void>;
  end(jobKey: string, attempt: number, outcome: 'done' | 'failed' | 'ambiguous', output?: unknown): Promise<void>;
}

export function toolJournal(sql: Db): ToolJournal {
  return {
    async earlier(jobKey) {
      const rows = await sql<{ status: string; output: unknown }[]>`
        SELECT status, output FROM tool_calls WHERE job_key = ${jobKey} AND status IN ('done', 'sent', 'ambiguous')
        ORDER BY status = 'done' DESC LIMIT 1`;
      const row = rows[0];
      if (!row) return null;
      return row.status === 'done' ? { kind: 'done', output: row.output } : { kind: 'unknown' };
    },
    async begin(jobKey, attempt, tool) {
      await sql`INSERT INTO tool_calls (job_key, attempt, tool, status) VALUES (${jobKey}, ${attempt}, ${tool}, 'sent')
                ON CONFLICT (job_key, attempt) DO UPDATE SET status = 'sent', started_at = now(), ended_at = NULL`;
    },
    async end(jobKey, attempt, outcome, output) {
      await sql`UPDATE tool_calls SET status = ${outcome}, ended_at = now(), output = ${output === undefined ? null : sql.json(output as any)}
                WHERE job_key = ${jobKey} AND attempt = ${attempt}`;
    },
  };
}

/** A person retried the run: the open calls of its steps were looked at. */
export async function acknowledgeToolCalls(sql: Db, jobKeys: string[]): Promise<void> {
  if (jobKeys.length === 0) return;
  await sql`UPDATE tool_calls SET status = 'acknowledged', ended_at = now()
            WHERE job_key = ANY(${sql.array(jobKeys)}::text[]) AND status IN ('sent', 'ambiguous')`;
}
