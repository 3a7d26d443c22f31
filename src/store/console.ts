/**
 * SQL for the local web chat's world (migration 0003): people, channels and
 * messages of adapters/console, and its sign-in invites and sessions (0010). `consoleStore(sql)` matches that adapter's
 * `ConsoleStore` interface structurally; this module must not import it
 * (src/ never imports adapters/), so the shapes below mirror
 * adapters/console/types.ts and main.ts's wiring is what checks they agree.
 */
import type { ReviewCard } from '../chat/messages.ts';
import type { Notice } from '../chat/port.ts';
import type { Db, Sql } from './client.ts';

export interface ConsolePerson {
  id: string;
  displayName: string;
  groups: string[];
}
export interface ConsoleChannelRow {
  id: string;
  dmOf: string | null;
}

interface MessageBase {
  id: string;
  channel: string;
  parentId: string | null;
  author: string;
  createdAt: Date;
  updatedAt: Date;
}
export type ConsoleMessageRow =
  (MessageBase & { kind: 'card'; card: ReviewCard }) | (MessageBase & { kind: 'text'; notice: Notice });
export type NewConsoleMessageRow = {
  channel: string;
  parentId: string | null;
  author: string;
  idempotencyKey: string;
} & ({ kind: 'card'; card: ReviewCard } | { kind: 'text'; notice: Notice });
export type ConsoleInsertOutcome =
  { status: 'inserted' | 'existing'; message: ConsoleMessageRow } | { status: 'no_target' };

interface RawMessage extends MessageBase {
  kind: 'card' | 'text';
  content: unknown;
}

function messageColumns(sql: Db) {
  return sql`id::text AS id, channel, parent_id::text AS "parentId", kind, content, author,
    created_at AS "createdAt", updated_at AS "updatedAt"`;
}

function toMessage({ content, ...base }: RawMessage): ConsoleMessageRow {
  return base.kind === 'card'
    ? { ...base, kind: 'card', card: content as ReviewCard }
    : { ...base, kind: 'text', notice: content as Notice };
}

/** Adds missing channels and people (each with a DM channel `@id`); existing rows stay as they are. */
export async function seedConsole(
  sql: Sql,
  tenant: string,
  world: { channels: string[]; people: ConsolePerson[] },
): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`
      INSERT INTO console_people (tenant, id, display_name, groups)
      SELECT ${tenant}, p.id, p.name, p.groups
      FROM jsonb_to_recordset(${tx.json(world.people.map((p) => ({ id: p.id, name: p.displayName, groups: p.groups })))})
        AS p(id text, name text, groups text[])
      ON CONFLICT (tenant, id) DO NOTHING`;
    const dms = world.people.map((p) => ({ id: `@${p.id}`, dm_of: p.id }));
    const shared = world.channels.map((id) => ({ id, dm_of: null }));
    await tx`
      INSERT INTO console_channels (tenant, id, dm_of)
      SELECT ${tenant}, c.id, c.dm_of FROM jsonb_to_recordset(${tx.json([...shared, ...dms])}) AS c(id text, dm_of text)
      ON CONFLICT (tenant, id) DO NOTHING`;
  });
}

/** Adds a person with their DM channel, or replaces their display name and groups. */
export async function upsertConsolePerson(sql: Sql, tenant: string, person: ConsolePerson): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`
      INSERT INTO console_people (tenant, id, display_name, groups)
      VALUES (${tenant}, ${person.id}, ${person.displayName}, ${tx.array(person.groups)}::text[])
      ON CONFLICT (tenant, id) DO UPDATE
        SET display_name = excluded.display_name, groups = excluded.groups, updated_at = now()`;
    await tx`
      INSERT INTO console_channels (tenant, id, dm_of) VALUES (${tenant}, ${'@' + person.id}, ${person.id})
      ON CONFLICT (tenant, id) DO NOTHING`;
  });
}

export async function listConsolePeople(sql: Db, tenant: string): Promise<ConsolePerson[]> {
  return sql<ConsolePerson[]>`
    SELECT id, display_name AS "displayName", groups FROM console_people WHERE tenant = ${tenant} ORDER BY id`;
}

/** Shared channels first, then DM channels, each by id. */
export async function listConsoleChannels(sql: Db, tenant: string): Promise<ConsoleChannelRow[]> {
  return sql<ConsoleChannelRow[]>`
    SELECT id, dm_of AS "dmOf" FROM console_channels WHERE tenant = ${tenant} ORDER BY dm_of IS NOT NULL, id`;
}

/** The newest `limit` messages of a tenant that are not deleted, oldest first. */
export async function recentConsoleMessages(sql: Db, tenant: string, limit: number): Promise<ConsoleMessageRow[]> {
  const rows = await sql<RawMessage[]>`
    SELECT * FROM (
      SELECT ${messageColumns(sql)} FROM console_messages
      WHERE tenant = ${tenant} AND deleted_at IS NULL ORDER BY console_messages.id DESC LIMIT ${limit}
    ) newest ORDER BY id::bigint`;
  return rows.map(toMessage);
}

export async function getConsoleMessage(sql: Db, tenant: string, id: string): Promise<ConsoleMessageRow | null> {
  if (!/^\d{1,18}$/.test(id)) return null;
  const rows = await sql<RawMessage[]>`
    SELECT ${messageColumns(sql)} FROM console_messages WHERE tenant = ${tenant} AND id = ${id}::bigint AND deleted_at IS NULL`;
  return rows[0] ? toMessage(rows[0]) : null;
}

/**
 * Stores a message once per (tenant, idempotency key). Inserted only when its
 * channel exists and, for a reply, its parent is a live message in that channel.
 */
export async function insertConsoleMessage(
  sql: Db,
  tenant: string,
  m: NewConsoleMessageRow,
): Promise<ConsoleInsertOutcome> {
  const content = m.kind === 'card' ? m.card : m.notice;
  const inserted = await sql<RawMessage[]>`
    INSERT INTO console_messages (tenant, channel, parent_id, kind, content, author, idempotency_key)
    SELECT ${tenant}, ${m.channel}, ${m.parentId}::bigint, ${m.kind}, ${sql.json(content as never)}, ${m.author}, ${m.idempotencyKey}
    WHERE EXISTS (SELECT 1 FROM console_channels WHERE tenant = ${tenant} AND id = ${m.channel})
      AND (${m.parentId}::bigint IS NULL OR EXISTS (
        SELECT 1 FROM console_messages p WHERE p.id = ${m.parentId}::bigint AND p.tenant = ${tenant}
          AND p.channel = ${m.channel} AND p.deleted_at IS NULL))
    ON CONFLICT (tenant, idempotency_key) DO NOTHING
    RETURNING ${messageColumns(sql)}`;
  if (inserted[0]) return { status: 'inserted', message: toMessage(inserted[0]) };
  // A new statement sees a row a concurrent sender committed while we waited on its key.
  const existing = await sql<RawMessage[]>`
    SELECT ${messageColumns(sql)} FROM console_messages WHERE tenant = ${tenant} AND idempotency_key = ${m.idempotencyKey}`;
  return existing[0] ? { status: 'existing', message: toMessage(existing[0]) } : { status: 'no_target' };
}

/** Replaces a live card in place; null when `channel` holds no such card. */
export async function replaceConsoleCard(
  sql: Db,
  tenant: string,
  channel: string,
  id: string,
  card: ReviewCard,
): Promise<ConsoleMessageRow | null> {
  if (!/^\d{1,18}$/.test(id)) return null;
  const rows = await sql<RawMessage[]>`
    UPDATE console_messages SET content = ${sql.json(card as never)}, updated_at = now()
    WHERE tenant = ${tenant} AND channel = ${channel} AND id = ${id}::bigint AND kind = 'card' AND deleted_at IS NULL
    RETURNING ${messageColumns(sql)}`;
  return rows[0] ? toMessage(rows[0]) : null;
}

/** Marks a message deleted, as if someone removed it in chat (RELIABILITY 59). False if there was none. */
export async function deleteConsoleMessage(sql: Db, tenant: string, id: string): Promise<boolean> {
  if (!/^\d{1,18}$/.test(id)) return false;
  const rows = await sql`
    UPDATE console_messages SET deleted_at = now() WHERE tenant = ${tenant} AND id = ${id}::bigint AND deleted_at IS NULL
    RETURNING id`;
  return rows.length === 1;
}

/** The person's groups; [] for someone unknown. */
export async function consoleGroupsOf(sql: Db, tenant: string, user: string): Promise<string[]> {
  const rows = await sql<
    { groups: string[] }[]
  >`SELECT groups FROM console_people WHERE tenant = ${tenant} AND id = ${user}`;
  return rows[0]?.groups ?? [];
}

/**
 * Stores a one-time sign-in invite (migration 0010) for an existing person; only the token's hash.
 * False when there is no such person.
 */
export async function createConsoleInvite(
  sql: Sql,
  tenant: string,
  person: string,
  tokenHash: string,
  ttlMs: number,
): Promise<boolean> {
  const rows = await sql`
    INSERT INTO console_invites (token_hash, tenant, person, expires_at)
    SELECT ${tokenHash}, ${tenant}, id, now() + ${ttlMs} * interval '1 millisecond'
    FROM console_people WHERE tenant = ${tenant} AND id = ${person}
    RETURNING person`;
  return rows.length === 1;
}

/**
 * Trades an unused, unexpired invite for a session, once: the conditional UPDATE lets only one
 * exchange win. The person signed in, or null (unknown, used or expired link).
 */
export async function redeemConsoleInvite(
  sql: Sql,
  tenant: string,
  inviteHash: string,
  sessionHash: string,
  sessionTtlMs: number,
): Promise<string | null> {
  return sql.begin(async (tx) => {
    const [invite] = await tx<{ person: string }[]>`
      UPDATE console_invites SET used_at = now()
      WHERE token_hash = ${inviteHash} AND tenant = ${tenant} AND used_at IS NULL AND expires_at > now()
      RETURNING person`;
    if (!invite) return null;
    await tx`
      INSERT INTO console_sessions (token_hash, tenant, person, expires_at)
      VALUES (${sessionHash}, ${tenant}, ${invite.person}, now() + ${sessionTtlMs} * interval '1 millisecond')`;
    return invite.person;
  });
}

/** The person a live session belongs to, or null. */
export async function consoleSessionPerson(sql: Sql, tenant: string, sessionHash: string): Promise<string | null> {
  const rows = await sql<{ person: string }[]>`
    SELECT person FROM console_sessions WHERE token_hash = ${sessionHash} AND tenant = ${tenant} AND expires_at > now()`;
  return rows[0]?.person ?? null;
}

/** The functions above bound to one client: the adapter's `ConsoleStore`. */
export function consoleStore(sql: Sql) {
  return {
    seed: (tenant: string, world: { channels: string[]; people: ConsolePerson[] }) => seedConsole(sql, tenant, world),
    upsertPerson: (tenant: string, person: ConsolePerson) => upsertConsolePerson(sql, tenant, person),
    listPeople: (tenant: string) => listConsolePeople(sql, tenant),
    listChannels: (tenant: string) => listConsoleChannels(sql, tenant),
    recentMessages: (tenant: string, limit: number) => recentConsoleMessages(sql, tenant, limit),
    getMessage: (tenant: string, id: string) => getConsoleMessage(sql, tenant, id),
    insertMessage: (tenant: string, m: NewConsoleMessageRow) => insertConsoleMessage(sql, tenant, m),
    replaceCard: (tenant: string, channel: string, id: string, card: ReviewCard) =>
      replaceConsoleCard(sql, tenant, channel, id, card),
    groupsOf: (tenant: string, user: string) => consoleGroupsOf(sql, tenant, user),
    redeemInvite: (tenant: string, inviteHash: string, sessionHash: string, ttlMs: number) =>
      redeemConsoleInvite(sql, tenant, inviteHash, sessionHash, ttlMs),
    sessionPerson: (tenant: string, sessionHash: string) => consoleSessionPerson(sql, tenant, sessionHash),
  };
}
