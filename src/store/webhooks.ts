/**
 * SQL for webhook ingress (src/triggers/webhooks): deliveries claimed in
 * `inbox` (0001) by their provider id, inside the transaction that starts
 * their runs, and the dead letters of 0030.
 */
import type { Db } from './client.ts';

export interface DeadLetterRow {
  id: string;
  source: string;
  deliveryKey: string;
  event: string | null;
  /** '' when no flow was reached (the body was not JSON). */
  flow: string;
  bodySha256: string;
  payload: unknown;
  reason: string;
  receivedAt: Date;
  replayedAt: Date | null;
  replayRunId: string | null;
}

export interface NewDeadLetter {
  source: string;
  deliveryKey: string;
  event: string | null;
  flow: string | null;
  bodySha256: string;
  payload: unknown;
  reason: string;
}

/**
 * Claims a delivery in `inbox`; false when it was already claimed (a retry or
 * a replay). A concurrent duplicate blocks on the uncommitted key until the
 * first transaction ends, then sees its outcome.
 */
export async function claimDelivery(tx: Db, source: string, key: string, bodySha256: string): Promise<boolean> {
  const rows = await tx`
    INSERT INTO inbox (source, key, payload_sha256) VALUES (${source}, ${key}, ${bodySha256})
    ON CONFLICT (source, key) DO NOTHING RETURNING 1`;
  return rows.length === 1;
}

/** Notes the run a claimed delivery started (the first, when it started several). */
export async function noteDeliveryRun(tx: Db, source: string, key: string, runId: string): Promise<void> {
  await tx`UPDATE inbox SET run_id = ${runId} WHERE source = ${source} AND key = ${key} AND run_id IS NULL`;
}

export async function insertDeadLetter(tx: Db, row: NewDeadLetter): Promise<void> {
  await tx`
    INSERT INTO webhook_dead_letters (source, delivery_key, event, flow, body_sha256, payload, reason)
    VALUES (${row.source}, ${row.deliveryKey}, ${row.event}, ${row.flow ?? ''}, ${row.bodySha256},
            ${row.payload === undefined || row.payload === null ? null : tx.json(row.payload as never)}, ${row.reason})
    ON CONFLICT (source, delivery_key, flow) DO NOTHING`;
}

/** The newest dead letters not yet replayed. */
export async function listDeadLetters(sql: Db, limit: number): Promise<DeadLetterRow[]> {
  return sql<DeadLetterRow[]>`
    SELECT id::text, source, delivery_key AS "deliveryKey", event, flow, body_sha256 AS "bodySha256", payload, reason,
           received_at AS "receivedAt", replayed_at AS "replayedAt", replay_run_id AS "replayRunId"
    FROM webhook_dead_letters WHERE replayed_at IS NULL ORDER BY id DESC LIMIT ${limit}`;
}

/** One dead letter, locked for its replay. */
export async function lockDeadLetter(tx: Db, id: string): Promise<DeadLetterRow | null> {
  if (!/^\d{1,18}$/.test(id)) return null;
  const rows = await tx<DeadLetterRow[]>`
    SELECT id::text, source, delivery_key AS "deliveryKey", event, flow, body_sha256 AS "bodySha256", payload, reason,
           received_at AS "receivedAt", replayed_at AS "replayedAt", replay_run_id AS "replayRunId"
    FROM webhook_dead_letters WHERE id = ${id} FOR UPDATE`;
  return rows[0] ?? null;
}

export async function markDeadLetterReplayed(tx: Db, id: string, runId: string): Promise<void> {
  await tx`UPDATE webhook_dead_letters SET replayed_at = now(), replay_run_id = ${runId} WHERE id = ${id}`;
}
