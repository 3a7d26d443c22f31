/**
 * The one postgres.js client. Everything signoff stores lives in one schema
 * (`signoff` by default, configurable so several deployments or test files can
 * share a database); the client sets search_path at connect time, so queries
 * name tables unqualified. Owns connection options only: no queries here.
 */
import postgres from 'postgres';

/** The pool: it runs queries, and starts transactions (`sql.begin`), listens and ends. */
export type Sql = postgres.Sql;
/**
 * What a store function queries through: the pool or an open transaction. A
 * function that only runs statements takes `Db`, so a caller inside
 * `sql.begin((tx) => …)` passes `tx` as it is; one that opens its own
 * transaction takes `Sql`.
 */
export type Db = Sql | postgres.TransactionSql;

export interface ClientOptions {
  url: string;
  /** Schema holding signoff's tables. Default `signoff`. */
  schema?: string;
  /** Pool size. Default 10 (the peers' default in the benchmark). */
  max?: number;
  /** Give up opening a connection after this long. Default 5 000 ms (postgres.js's own is 30 s). */
  connectTimeoutMs?: number;
  /**
   * The server cancels any statement running longer (Postgres `statement_timeout`, SQLSTATE
   * 57014). Default 30 000 ms: signoff's statements take milliseconds; a lock wait that long is a fault.
   */
  statementTimeoutMs?: number;
}

/** Lower-case identifier that needs no quoting, at most 63 bytes (Postgres' NAMEDATALEN - 1). */
export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export function assertSchemaName(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) {
    throw new Error(`schema name "${schema}" must be lower-case letters, digits and _ (max 63)`);
  }
  return schema;
}

export function connect(opts: ClientOptions): Sql {
  const schema = assertSchemaName(opts.schema ?? 'signoff');
  return postgres(opts.url, {
    max: opts.max ?? 10,
    onnotice: () => {},
    // postgres.js counts this one in seconds.
    connect_timeout: Math.ceil((opts.connectTimeoutMs ?? 5_000) / 1000),
    // Sent in the startup packet: no extra round trip per connection.
    connection: {
      search_path: schema,
      application_name: 'signoff',
      statement_timeout: opts.statementTimeoutMs ?? 30_000,
    },
    // Bigints come back as numbers: our counters are far below 2^53.
    types: { bigint: postgres.BigInt },
    transform: { undefined: null },
  });
}

/** The NOTIFY channel of one schema: LISTEN/NOTIFY is per database, not per schema. */
export function wakeChannel(schema: string): string {
  return `signoff_wake_${schema}`;
}
