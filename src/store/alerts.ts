/**
 * SQL for alerts (migration 0060): opening a cause (a claim, by the partial
 * unique index), refreshing its count, clearing what is gone, and the delivery
 * lease under which one process posts an alert and its "resolved" reply.
 * What is wrong is read by ./alert-facts.ts; what it means is decided in
 * src/ops/alerts.ts. Times of facts come from the caller (the database clock
 * by default, a test's own clock in tests); leases always use the database
 * clock, like every other lease (RELIABILITY 43).
 */
import type { Db } from './client.ts';

/** An alert the sweep wants open, as src/ops/alert-text.ts words it. */
export interface AlertDraft {
  cause: string;
  kind: string;
  subject: Record<string, unknown>;
  message: string;
  quote: string | null;
  count: number;
}

export interface AlertRow {
  id: number;
  cause: string;
  kind: string;
  subject: Record<string, unknown>;
  message: string;
  quote: string | null;
  count: number;
  peak_count: number;
  opened_at: Date;
  cleared_at: Date | null;
  channel: string | null;
  posted_ref: string | null;
  resolved_ref: string | null;
  attempts: number;
}

/**
 * Takes this schema's sweep lock for the rest of `tx`, or says another
 * process holds it (then this sweep skips its turn): one sweep at a time
 * compares facts with open alerts, so a cause cannot be cleared by one process
 * while another re-opens it from an older view.
 */
export async function tryLockAlertSweep(tx: Db): Promise<boolean> {
  const rows = await tx<{ ok: boolean }[]>`
    SELECT pg_try_advisory_xact_lock(hashtext(current_schema() || '.alert-sweep')) AS ok`;
  return rows[0]!.ok;
}

/** The database's clock: every process shares it, so windows and observations agree across processes (RELIABILITY 43). */
export async function readDbNow(db: Db): Promise<Date> {
  const rows = await db<{ now: Date }[]>`SELECT now() AS now`;
  return rows[0]!.now;
}

/** The open alerts by cause. */
export async function readOpenAlerts(db: Db): Promise<Map<string, AlertRow>> {
  const rows = await db<AlertRow[]>`SELECT * FROM alerts WHERE cleared_at IS NULL`;
  return new Map(rows.map((r) => [r.cause, r]));
}

/**
 * Opens the draft's cause, or refreshes the open alert's count. `isNew` is
 * true for exactly one caller however many race: the others meet the open row.
 */
export async function openOrRefreshAlert(
  tx: Db,
  draft: AlertDraft,
  at: Date,
  channel: string | null,
): Promise<{ id: number; isNew: boolean }> {
  const rows = await tx<{ id: number; isNew: boolean }[]>`
    INSERT INTO alerts (cause, kind, subject, message, quote, count, peak_count, opened_at, last_seen_at, channel)
    VALUES (${draft.cause}, ${draft.kind}, ${tx.json(draft.subject as never)}, ${draft.message}, ${draft.quote},
            ${draft.count}, ${draft.count}, ${at}, ${at}, ${channel})
    ON CONFLICT (cause) WHERE cleared_at IS NULL DO UPDATE
      SET count = excluded.count, peak_count = greatest(alerts.peak_count, excluded.count), last_seen_at = excluded.last_seen_at
    RETURNING id, (xmax = 0) AS "isNew"`;
  return rows[0]!;
}

/** Clears every open alert whose cause is not in `active`; returns what it cleared. */
export async function clearAlertsExcept(tx: Db, active: string[], at: Date): Promise<AlertRow[]> {
  return tx<AlertRow[]>`
    UPDATE alerts SET cleared_at = ${at}
    WHERE cleared_at IS NULL AND NOT (cause = ANY(${active}::text[]))
    RETURNING *`;
}

/** Records what `observer` (one process) sees now: these causes, and no longer any other. */
export async function recordObservations(
  db: Db,
  observer: string,
  seen: { cause: string; detail: Record<string, unknown> }[],
  at: Date,
): Promise<void> {
  await db`
    DELETE FROM alert_observations
    WHERE observer = ${observer} AND NOT (cause = ANY(${seen.map((s) => s.cause)}::text[]))`;
  if (seen.length === 0) return;
  await db`
    INSERT INTO alert_observations (cause, observer, detail, seen_at)
    SELECT x.cause, ${observer}, x.detail, ${at}
    FROM jsonb_to_recordset(${db.json(seen as never)}) AS x(cause text, detail jsonb)
    ON CONFLICT (cause, observer) DO UPDATE SET detail = excluded.detail, seen_at = excluded.seen_at`;
}

/** Deletes observations last refreshed before `before`: their processes died without withdrawing them. */
export async function pruneObservations(db: Db, before: Date): Promise<void> {
  await db`DELETE FROM alert_observations WHERE seen_at < ${before}`;
}

/** Deletes what `observer` reported (it is shutting down: its circuits go with it). */
export async function dropObservations(db: Db, observer: string): Promise<void> {
  await db`DELETE FROM alert_observations WHERE observer = ${observer}`;
}

/** What a delivery must do: post the alert, or reply under it that it is resolved. */
export type DeliveryKind = 'post' | 'resolve';

/**
 * Claims up to `limit` alerts with a post or a "resolved" reply due, for
 * `leaseMs`. An alert cleared before it was ever posted is not posted at all.
 */
export async function claimAlertDeliveries(
  db: Db,
  owner: string,
  leaseMs: number,
  limit: number,
): Promise<(AlertRow & { delivery: DeliveryKind })[]> {
  return db<(AlertRow & { delivery: DeliveryKind })[]>`
    UPDATE alerts SET lease_owner = ${owner}, lease_until = now() + ${leaseMs}::float8 * interval '1 millisecond',
                      attempts = attempts + 1
    WHERE id IN (
      SELECT id FROM alerts
      WHERE channel IS NOT NULL AND delivery_error IS NULL
        AND ((posted_ref IS NULL AND cleared_at IS NULL)
          OR (posted_ref IS NOT NULL AND cleared_at IS NOT NULL AND resolved_ref IS NULL))
        AND (lease_until IS NULL OR lease_until < now())
      ORDER BY id LIMIT ${limit} FOR UPDATE SKIP LOCKED)
    RETURNING *, CASE WHEN posted_ref IS NULL THEN 'post' ELSE 'resolve' END AS delivery`;
}

/** Records the posted message (or the resolved reply) if the claim is still ours. */
export async function recordAlertDelivered(
  db: Db,
  id: number,
  owner: string,
  delivery: DeliveryKind,
  ref: string,
): Promise<boolean> {
  const rows =
    delivery === 'post'
      ? await db`
          UPDATE alerts SET posted_ref = ${ref}, posted_at = now(), lease_owner = NULL, lease_until = NULL, attempts = 0
          WHERE id = ${id} AND lease_owner = ${owner} RETURNING 1`
      : await db`
          UPDATE alerts SET resolved_ref = ${ref}, resolved_at = now(), lease_owner = NULL, lease_until = NULL
          WHERE id = ${id} AND lease_owner = ${owner} RETURNING 1`;
  return rows.length === 1;
}

/** A delivery that failed: tried again no sooner than `retryInMs`, or never (`isFinal`, e.g. no such channel). */
export async function recordAlertUndelivered(
  db: Db,
  id: number,
  owner: string,
  error: string,
  opts: { retryInMs: number; isFinal: boolean },
): Promise<void> {
  await db`
    UPDATE alerts SET last_error = ${error}, lease_until = now() + ${opts.retryInMs}::float8 * interval '1 millisecond',
                      delivery_error = CASE WHEN ${opts.isFinal}::boolean THEN ${error} ELSE NULL END
    WHERE id = ${id} AND lease_owner = ${owner}`;
}
