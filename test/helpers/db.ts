/**
 * One fresh schema per test file, on the server the global setup provides
 * (DATABASE_URL, else a throwaway embedded Postgres). The schema is dropped
 * after the file passes and left behind for inspection when a test failed.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, inject } from 'vitest';
import { connect, type Sql } from '../../src/store/client.ts';
import { migrate } from '../../src/store/migrate.ts';

export interface TestDb {
  sql: Sql;
  schema: string;
  url: string;
}

export function testDatabaseUrl(): string {
  const url = inject('databaseUrl') ?? process.env.DATABASE_URL;
  if (!url) throw new Error('no test database: the global setup provides one');
  return url;
}

/** Registers hooks that create, migrate and clean up a schema; read `.sql` inside tests. */
export function useTestDb(opts: { max?: number } = {}): TestDb {
  const db = { schema: `t_${randomBytes(5).toString('hex')}` } as TestDb;
  let hasFailed = false;
  beforeAll(async () => {
    db.url = testDatabaseUrl();
    db.sql = connect({ url: db.url, schema: db.schema, max: opts.max ?? 10 });
    await migrate(db.sql, db.schema);
  });
  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') hasFailed = true;
  });
  afterAll(async () => {
    if (!db.sql) return;
    if (hasFailed) console.error(`test schema kept for inspection: ${db.schema}`);
    else await db.sql.unsafe(`DROP SCHEMA "${db.schema}" CASCADE`);
    await db.sql.end({ timeout: 5 });
  });
  return db;
}

/**
 * Jumps the clock for every lease a killed process held: its running jobs and claimed
 * timers become due now, as they would once their lease ran out (a step's timeout plus a
 * margin, up to 65 s), so the next worker claims them at once. Crash tests call it after
 * the SIGKILL instead of sitting out the lease; the claim of an expired lease is the same
 * code path either way (test/integration/engine/concurrency.test.ts covers the expiry itself).
 */
export async function expireLeases(sql: Sql): Promise<void> {
  await sql`UPDATE jobs SET due_at = now() WHERE status = 'running'`;
  await sql`UPDATE timers SET due_at = now() WHERE lease_owner IS NOT NULL`;
}
