/**
 * SQL for schedule slots (migration 0040). A slot is claimed by inserting its
 * row; the claim and the run it starts share the caller's transaction, so the
 * one process whose insert returned a row is the one that fired it (RELIABILITY 38).
 */
import type { Db } from './client.ts';

export interface ScheduleFire {
  schedule_id: string;
  slot_at: Date;
  run_id: string;
  is_late: boolean;
  fired_at: Date;
}

/** Claims one slot for `runId`; false when another process (or an earlier tick) already has it. */
export async function claimSlot(
  tx: Db,
  f: { scheduleId: string; slotAt: Date; runId: string; isLate: boolean },
): Promise<boolean> {
  const rows = await tx`
    INSERT INTO schedule_fires (schedule_id, slot_at, run_id, is_late)
    VALUES (${f.scheduleId}, ${f.slotAt}, ${f.runId}, ${f.isLate})
    ON CONFLICT (schedule_id, slot_at) DO NOTHING
    RETURNING 1`;
  return rows.length === 1;
}

/** The latest fired slot of each schedule in `ids` (absent: never fired), in one query. */
export async function latestFires(sql: Db, ids: readonly string[]): Promise<Map<string, ScheduleFire>> {
  if (ids.length === 0) return new Map();
  const rows = await sql<ScheduleFire[]>`
    SELECT DISTINCT ON (schedule_id) schedule_id, slot_at, run_id, is_late, fired_at
    FROM schedule_fires WHERE schedule_id = ANY(${ids as string[]})
    ORDER BY schedule_id, slot_at DESC`;
  return new Map(rows.map((r) => [r.schedule_id, r]));
}
