/**
 * What every `signoff` command is handed: the config (read once), whether to
 * print JSON, who acts (`cli:<os user>`, as run_events and review_audit record
 * it), and the database and flows, opened only by the commands that need them
 * and closed once the command ends. Failures a script can branch on are
 * `CliFailure` (exit 1); usage errors are commander's own or `CliUsageError` (exit 2).
 */
import { userInfo } from 'node:os';
import type { Config } from '../config.ts';
import type { Flow } from '../engine/flow.ts';
import { loadFlows } from '../engine/registry.ts';
import { connect, type Sql } from '../store/client.ts';
import { openDatabase, type OpenedDatabase } from './database.ts';
import { pendingMigrations } from '../store/migrate.ts';

/** Exit codes scripts may rely on (docs/operations.md). */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** A check failed, a verify found a broken link, or what was asked for does not exist: exit 1. */
export class CliFailure extends Error {
  override readonly name = 'CliFailure';
}

/** The arguments make no sense together (commander cannot tell): exit 2 with the usage line. */
export class CliUsageError extends Error {
  override readonly name = 'CliUsageError';
}

export interface CliContext {
  readonly config: Readonly<Config>;
  readonly isJson: boolean;
  /** `cli:<os username>`: the actor of everything this command changes. */
  readonly actor: string;
  /** The bot's database, opened on first use, whatever its migrations (`doctor` reports them). */
  database(): Promise<{ sql: Sql; where: string }>;
  /** The bot's database, its migrations checked to be current (else a CliFailure saying to migrate). */
  sql(): Promise<Sql>;
  /** The flows as the bot loads them (SIGNOFF_FLOWS_DIR). */
  flows(): Promise<Flow<any>[]>;
  /** Prints `data` as JSON with --json, else the text lines. */
  print(data: unknown, text: () => string[]): void;
  /** Prints a line on stderr (progress, notes): never part of --json output. */
  note(line: string): void;
  close(): Promise<void>;
}

export function createContext(config: Readonly<Config>, opts: { isJson: boolean; allowPending?: boolean }) {
  let opened: { db: OpenedDatabase; sql: Sql } | null = null;
  let opening: Promise<{ db: OpenedDatabase; sql: Sql }> | null = null;
  let flows: Promise<Flow<any>[]> | null = null;
  const context: CliContext = {
    config,
    isJson: opts.isJson,
    actor: `cli:${userInfo().username}`,
    async database() {
      // One opening however many callers ask at once (a second embedded start would find the folder taken).
      opening ??= openDatabase(config).then((db) => {
        opened = { db, sql: connect({ url: db.url, schema: config.schema, max: 4 }) };
        if (db.embedded) context.note(`note: started ${db.where}; \`npm start\` cannot use it until this command ends`);
        return opened;
      });
      const { db, sql } = await opening;
      return { sql, where: db.where };
    },
    async sql() {
      const { sql } = await context.database();
      if (!opts.allowPending) await assertMigrationsCurrent(sql, config.schema);
      return sql;
    },
    flows: () => (flows ??= loadFlows(config.flowsDir)),
    print(data, text) {
      process.stdout.write(opts.isJson ? `${JSON.stringify(data, null, 2)}\n` : `${text().join('\n')}\n`);
    },
    note: (line) => void process.stderr.write(`${line}\n`),
    async close() {
      await opening?.catch(() => null);
      if (!opened) return;
      await opened.sql.end({ timeout: 5 });
      await opened.db.embedded?.stop();
      opened = null;
    },
  };
  return context;
}

async function assertMigrationsCurrent(sql: Sql, schema: string): Promise<void> {
  const pending = await pendingMigrations(sql, schema);
  if (pending.length === 0) return;
  const shown = pending.length > 3 ? `${pending.slice(0, 3).join(', ')}, …` : pending.join(', ');
  throw new CliFailure(
    `the database schema "${schema}" is ${pending.length} migration(s) behind (${shown}): ` +
      'run `npx signoff migrate` (or start the bot, which migrates)',
  );
}
