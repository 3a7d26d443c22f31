/**
 * SQL for the Slack adapter (migration 0005, and `inbox` from 0001): event
 * dedupe, the post ledger and per-channel pacing, shared by every bot process.
 * `slackStore(sql)` matches adapters/slack/types.ts `SlackStore` structurally;
 * this module must not import it (src/ never imports adapters/), so main.ts's
 * wiring is what checks they agree.
 */
import type { Db, Sql } from './client.ts';
import { replayRecordedClicks } from './inbox.ts';

/** The inbox source of Events API deliveries. */
const EVENT_SOURCE = 'slack:event';

export interface SlackPostRow {
  channel: string;
  ts: string | null;
  attempts: number;
  firstAt: Date;
}

/**
 * Runs `work` inside the transaction that records the event id: the row
 * commits only if `work` succeeded, and a concurrent duplicate blocks on the
 * uncommitted key until then, so it sees the outcome (a duplicate, or a free
 * id after a rollback). Returns false for a duplicate.
 */
export async function onceSlackEvent(sql: Sql, eventId: string, work: () => Promise<void>): Promise<boolean> {
  return sql.begin(async (tx) => {
    const inserted = await tx`
      INSERT INTO inbox (source, key) VALUES (${EVENT_SOURCE}, ${eventId})
      ON CONFLICT (source, key) DO NOTHING RETURNING 1`;
    if (inserted.length === 0) return false;
    await work();
    return true;
  });
}

export async function readSlackPost(sql: Db, key: string): Promise<SlackPostRow | null> {
  const rows = await sql<SlackPostRow[]>`
    SELECT channel, ts, attempts, first_at AS "firstAt" FROM slack_posts WHERE key = ${key}`;
  return rows[0] ?? null;
}

export async function beginSlackPost(sql: Db, key: string, channel: string): Promise<void> {
  await sql`
    INSERT INTO slack_posts (key, channel) VALUES (${key}, ${channel})
    ON CONFLICT (key) DO UPDATE SET attempts = slack_posts.attempts + 1, updated_at = now()`;
}

export async function finishSlackPost(sql: Db, key: string, channel: string, ts: string): Promise<void> {
  await sql`
    INSERT INTO slack_posts (key, channel, ts) VALUES (${key}, ${channel}, ${ts})
    ON CONFLICT (key) DO UPDATE SET channel = excluded.channel, ts = excluded.ts, updated_at = now()`;
}

/**
 * Takes the channel's next send slot when it is at most `maxWaitMs` away and
 * returns the wait in ms; null (nothing taken) when the queue is longer. The
 * row lock serialises processes, so slots are `intervalMs` apart across all.
 */
export async function reserveSlackSend(
  sql: Db,
  channel: string,
  intervalMs: number,
  maxWaitMs: number,
): Promise<number | null> {
  const interval = `${intervalMs} milliseconds`;
  const rows = await sql<{ waitMs: number }[]>`
    INSERT INTO slack_pace AS p (channel, next_at) VALUES (${channel}, clock_timestamp() + ${interval}::interval)
    ON CONFLICT (channel) DO UPDATE SET next_at = greatest(p.next_at, clock_timestamp()) + ${interval}::interval
      WHERE greatest(p.next_at, clock_timestamp()) <= clock_timestamp() + ${`${maxWaitMs} milliseconds`}::interval
    RETURNING greatest(0, extract(epoch FROM (next_at - ${interval}::interval - clock_timestamp())) * 1000)::float8 AS "waitMs"`;
  return rows[0] ? rows[0].waitMs : null;
}

const CLICK_SOURCE = 'slack:click';

/**
 * Records clicks in one INSERT per batch: the clicks that arrive while the
 * previous batch commits go together, so a burst costs a few commits instead
 * of one each, and every click still resolves only after its row committed.
 */
class ClickRecorder {
  private waiting: {
    key: string;
    payload: unknown;
    resolve: (isNew: boolean) => void;
    reject: (err: unknown) => void;
  }[] = [];
  private isFlushing = false;

  constructor(private readonly sql: Sql) {}

  record(key: string, payload: unknown): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ key, payload, resolve, reject });
      if (!this.isFlushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.isFlushing = true;
    while (this.waiting.length > 0) {
      const batch = this.waiting.splice(0, 500);
      try {
        const rows = await this.sql<{ key: string }[]>`
          INSERT INTO inbox (source, key, payload)
          SELECT ${CLICK_SOURCE}, x.key, x.payload FROM jsonb_to_recordset(${this.sql.json(batch.map((b) => ({ key: b.key, payload: b.payload })) as any)})
            AS x(key text, payload jsonb)
          ON CONFLICT (source, key) DO NOTHING
          RETURNING key`;
        const fresh = new Set(rows.map((r) => r.key));
        for (const b of batch) b.resolve(fresh.has(b.key));
      } catch (err) {
        for (const b of batch) b.reject(err);
      }
    }
    this.isFlushing = false;
  }
}

/** Marks a recorded click decided. */
export async function finishSlackClick(sql: Db, key: string): Promise<void> {
  await sql`UPDATE inbox SET done_at = now() WHERE source = ${CLICK_SOURCE} AND key = ${key} AND done_at IS NULL`;
}

/**
 * Decides clicks recorded more than `olderThanMs` ago and never finished (their
 * process died after the ack). Each is locked while `work` runs, so two
 * processes never replay the same click at once. Returns how many ran.
 */
export function replaySlackClicks(
  sql: Sql,
  olderThanMs: number,
  limit: number,
  work: (payload: unknown) => Promise<void>,
): Promise<number> {
  return replayRecordedClicks(sql, CLICK_SOURCE, olderThanMs, limit, work);
}

/** The adapter's `SlackStore` on this database. */
export function slackStore(sql: Sql) {
  const clicks = new ClickRecorder(sql);
  return {
    recordClick: (key: string, payload: unknown) => clicks.record(key, payload),
    finishClick: (key: string) => finishSlackClick(sql, key),
    replayClicks: (olderThanMs: number, limit: number, work: (payload: unknown) => Promise<void>) =>
      replaySlackClicks(sql, olderThanMs, limit, work),
    onceEvent: (eventId: string, work: () => Promise<void>) => onceSlackEvent(sql, eventId, work),
    readPost: (key: string) => readSlackPost(sql, key),
    beginPost: (key: string, channel: string) => beginSlackPost(sql, key, channel),
    finishPost: (key: string, channel: string, ts: string) => finishSlackPost(sql, key, channel, ts),
    reserveSend: (channel: string, intervalMs: number, maxWaitMs: number) =>
      reserveSlackSend(sql, channel, intervalMs, maxWaitMs),
  };
}
