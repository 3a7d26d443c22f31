/**
 * SQL shared by every adapter that records clicks in `inbox` before it
 * acknowledges them (Slack, Discord): the replay of clicks whose process died
 * between the ack and the decision. Each adapter names its own `source`.
 */
import type { Sql } from './client.ts';

/**
 * Decides clicks of `source` recorded more than `olderThanMs` ago and never
 * finished. Each is locked while `work` runs, so two processes never replay
 * the same click at once. Returns how many ran.
 */
export async function replayRecordedClicks(
  sql: Sql,
  source: string,
  olderThanMs: number,
  limit: number,
  work: (payload: unknown) => Promise<void>,
): Promise<number> {
  let n = 0;
  for (; n < limit; n++) {
    const isDone = await sql.begin(async (tx) => {
      const [row] = await tx<{ key: string; payload: unknown }[]>`
        SELECT key, payload FROM inbox
        WHERE source = ${source} AND payload IS NOT NULL AND done_at IS NULL
          AND received_at < now() - ${olderThanMs} * interval '1 millisecond'
        ORDER BY received_at LIMIT 1 FOR UPDATE SKIP LOCKED`;
      if (!row) return false;
      await work(row.payload);
      await tx`UPDATE inbox SET done_at = now() WHERE source = ${source} AND key = ${row.key}`;
      return true;
    });
    if (!isDone) break;
  }
  return n;
}
