/**
 * `signoff migrate`: applies the numbered migrations of src/store/migrations to
 * the bot's schema (what `npm start` does before anything else), so a deploy can
 * migrate first and start the bots after. Safe to run while bots run: each
 * migration takes the schema's advisory lock and applies once.
 */
import type { Command } from 'commander';
import { migrate } from '../../store/migrate.ts';
import { action } from '../action.ts';
import type { CliContext } from '../context.ts';

export function registerMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .description("apply the database migrations the bot's schema is missing")
    .action(action(applyMigrations, { allowPending: true }));
}

async function applyMigrations(ctx: CliContext): Promise<void> {
  const sql = await ctx.sql();
  const applied = await migrate(sql, ctx.config.schema);
  ctx.print({ schema: ctx.config.schema, applied }, () =>
    applied.length === 0
      ? [`schema "${ctx.config.schema}" is up to date`]
      : [`applied to schema "${ctx.config.schema}":`, ...applied.map((name) => `  ${name}`)],
  );
}
