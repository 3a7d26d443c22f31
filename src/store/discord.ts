/**
 * SQL for the Discord adapter (migration 0020, and `inbox` from 0001/0007):
 * interaction dedupe, recorded Approve clicks, the post ledger and the IDENTIFY
 * count. `discordStore(sql)` matches adapters/discord/types.ts `DiscordStore`
 * structurally; main.ts's wiring checks they agree (src/ never imports adapters/).
 */
import type { Db, Sql } from './client.ts';
import { replayRecordedClicks } from './inbox.ts';

const INTERACTION_SOURCE = 'discord:interaction';
const CLICK_SOURCE = 'discord:click';

export async function claimDiscordInteraction(sql: Db, id: string): Promise<boolean> {
  const rows =
    await sql`INSERT INTO inbox (source, key) VALUES (${INTERACTION_SOURCE}, ${id}) ON CONFLICT (source, key) DO NOTHING RETURNING 1`;
  return rows.length === 1;
}

export async function recordDiscordClick(sql: Db, id: string, payload: unknown): Promise<boolean> {
  const rows = await sql`
    INSERT INTO inbox (source, key, payload) VALUES (${CLICK_SOURCE}, ${id}, ${sql.json(payload as never)})
    ON CONFLICT (source, key) DO NOTHING RETURNING 1`;
  return rows.length === 1;
}

export async function finishDiscordClick(sql: Db, id: string): Promise<void> {
  await sql`UPDATE inbox SET done_at = now() WHERE source = ${CLICK_SOURCE} AND key = ${id} AND done_at IS NULL`;
}

/** Decides clicks recorded over `olderThanMs` ago and never finished (their process died), each locked while `work` runs. */
export function replayDiscordClicks(
  sql: Sql,
  olderThanMs: number,
  limit: number,
  work: (payload: unknown) => Promise<void>,
): Promise<number> {
  return replayRecordedClicks(sql, CLICK_SOURCE, olderThanMs, limit, work);
}

export async function readDiscordPost(
  sql: Db,
  key: string,
): Promise<{ channel: string; messageId: string | null } | null> {
  const rows = await sql<
    { channel: string; messageId: string | null }[]
  >`SELECT channel, message_id AS "messageId" FROM discord_posts WHERE key = ${key}`;
  return rows[0] ?? null;
}

export async function beginDiscordPost(sql: Db, key: string, channel: string): Promise<void> {
  await sql`
    INSERT INTO discord_posts (key, channel) VALUES (${key}, ${channel})
    ON CONFLICT (key) DO UPDATE SET attempts = discord_posts.attempts + 1, updated_at = now()`;
}

export async function finishDiscordPost(sql: Db, key: string, channel: string, messageId: string): Promise<void> {
  await sql`
    INSERT INTO discord_posts (key, channel, message_id) VALUES (${key}, ${channel}, ${messageId})
    ON CONFLICT (key) DO UPDATE SET channel = excluded.channel, message_id = excluded.message_id, updated_at = now()`;
}

/** Records a login and counts every process's logins in the last minute and day (old rows are pruned). */
export async function recordDiscordIdentify(sql: Sql): Promise<{ lastMinute: number; lastDay: number }> {
  return sql.begin(async (tx) => {
    await tx`DELETE FROM discord_identifies WHERE at < now() - interval '1 day'`;
    await tx`INSERT INTO discord_identifies DEFAULT VALUES`;
    const [row] = await tx<{ lastMinute: number; lastDay: number }[]>`
      SELECT count(*) FILTER (WHERE at > now() - interval '1 minute')::int AS "lastMinute", count(*)::int AS "lastDay" FROM discord_identifies`;
    return row!;
  });
}

/** The adapter's `DiscordStore` on this database. */
export function discordStore(sql: Sql) {
  return {
    claim: (id: string) => claimDiscordInteraction(sql, id),
    recordClick: (id: string, payload: unknown) => recordDiscordClick(sql, id, payload),
    finishClick: (id: string) => finishDiscordClick(sql, id),
    replayClicks: (olderThanMs: number, limit: number, work: (payload: unknown) => Promise<void>) =>
      replayDiscordClicks(sql, olderThanMs, limit, work),
    readPost: (key: string) => readDiscordPost(sql, key),
    beginPost: (key: string, channel: string) => beginDiscordPost(sql, key, channel),
    finishPost: (key: string, channel: string, messageId: string) => finishDiscordPost(sql, key, channel, messageId),
    recordIdentify: () => recordDiscordIdentify(sql),
  };
}
