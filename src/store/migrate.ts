/**
 * Applies the numbered plain-SQL migrations in src/store/migrations exactly
 * once, even when several processes boot at the same moment: each migration
 * runs in its own transaction under a transaction-scoped advisory lock keyed
 * by the schema, and re-checks the ledger after taking the lock.
 */
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { SignoffError } from '../errors.ts';
import { assertSchemaName, type Sql } from './client.ts';

const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

interface Migration {
  version: number;
  name: string;
  text: string;
}

async function loadMigrations(): Promise<Migration[]> {
  const files = (await readdir(MIGRATIONS_DIR)).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f)).sort();
  return Promise.all(
    files.map(async (name) => ({
      version: Number(name.slice(0, 4)),
      name,
      text: await readFile(MIGRATIONS_DIR + name, 'utf8'),
    })),
  );
}

/** Creates the schema if needed and applies pending migrations. Returns the names applied. */
export async function migrate(sql: Sql, schema = 'signoff'): Promise<string[]> {
  assertSchemaName(schema);
  const applied: string[] = [];
  for (const m of await loadMigrations()) {
    const didApply = await applyOne(sql, schema, m).catch((cause: unknown) => {
      throw new SignoffError('migration_failed', `migration ${m.name} failed: ${(cause as Error).message}`, { cause });
    });
    if (didApply) applied.push(m.name);
  }
  return applied;
}

async function applyOne(sql: Sql, schema: string, m: Migration): Promise<boolean> {
  return sql.begin(async (tx) => {
    // hashtext() keys the lock by schema, so two deployments in one database do not wait on each other.
    await tx`SELECT pg_advisory_xact_lock(hashtext(${'signoff.migrate.' + schema}))`;
    await tx.unsafe(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await tx.unsafe(`CREATE TABLE IF NOT EXISTS "${schema}".schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = await tx.unsafe(`SELECT 1 FROM "${schema}".schema_migrations WHERE version = $1`, [m.version]);
    if (done.length > 0) return false;
    await tx.unsafe(`SET LOCAL search_path TO "${schema}"`);
    await tx.unsafe(m.text);
    await tx.unsafe(`INSERT INTO "${schema}".schema_migrations (version, name) VALUES ($1, $2)`, [m.version, m.name]);
    return true;
  });
}

/** Names of the migrations not yet applied to `schema`, oldest first (all of them on a fresh database). */
export async function pendingMigrations(sql: Sql, schema = 'signoff'): Promise<string[]> {
  assertSchemaName(schema);
  const [ledger] = await sql<{ exists: boolean }[]>`
    SELECT to_regclass(${`"${schema}".schema_migrations`}) IS NOT NULL AS exists`;
  const rows = ledger?.exists ? await sql.unsafe(`SELECT version FROM "${schema}".schema_migrations`) : [];
  const applied = new Set(rows.map((r) => Number(r.version)));
  return (await loadMigrations()).filter((m) => !applied.has(m.version)).map((m) => m.name);
}
