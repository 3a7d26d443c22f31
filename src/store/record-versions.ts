/**
 * SQL for the per-record version ledger of webhook sources (0045): the newest
 * version of each record seen, so an older notification delivered late starts
 * nothing (RELIABILITY 25). Written inside the transaction that claims the
 * delivery in `inbox` and starts its runs.
 */
import type { Db } from './client.ts';

/**
 * Moves the record's version forward to `versionAt` and returns true, or
 * returns false (changing nothing) when a version as new or newer was seen.
 * Two deliveries of the same record at once: the second waits on the first's
 * row lock, then compares against what the first committed.
 */
export async function advanceRecordVersion(
  tx: Db,
  source: string,
  recordId: string,
  versionAt: string,
  deliveryKey: string,
): Promise<boolean> {
  const rows = await tx`
    INSERT INTO webhook_record_versions (source, record_id, version_at, delivery_key)
    VALUES (${source}, ${recordId}, ${versionAt}, ${deliveryKey})
    ON CONFLICT (source, record_id) DO UPDATE
      SET version_at = EXCLUDED.version_at, delivery_key = EXCLUDED.delivery_key, updated_at = now()
      WHERE webhook_record_versions.version_at < EXCLUDED.version_at
    RETURNING 1`;
  return rows.length === 1;
}
