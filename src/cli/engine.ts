/**
 * The engine a command changes runs through: the bot's own `Engine` and review
 * desk, so `runs cancel`, `runs retry` and `deadletters replay` move a run with
 * exactly the commits `/signoff cancel|retry|deadletters replay` make (the same
 * run_events notes, review closing and audit rows, queued card updates).
 *
 * It runs no work itself: concurrency 0 and never started, so a job its commit
 * leases to it (a replayed run's first step) only waits in its queue; `stop`
 * hands such jobs back at once (status queued, due now) and NOTIFY wakes the
 * bot's workers, which run them. With no bot running they wait for the next start.
 */
import { Engine } from '../engine/engine.ts';
import { ReviewDesk } from '../review/desk.ts';
import type { CliContext } from './context.ts';

export async function withEngine<T>(ctx: CliContext, fn: (engine: Engine) => Promise<T>): Promise<T> {
  const [sql, flows] = await Promise.all([ctx.sql(), ctx.flows()]);
  const { config } = ctx;
  const platform = config.slack ? 'slack' : config.discord ? 'discord' : 'console';
  // No chat ports: the desk here only records (closes reviews, queues card jobs); the bot posts.
  const desk = new ReviewDesk({
    sql,
    flows,
    ports: new Map(),
    defaultPlatform: platform,
    defaultChannel: config.defaultChannel,
  });
  const engine = new Engine({ sql, schema: config.schema, flows, concurrency: 0, reviews: desk });
  try {
    return await fn(engine);
  } finally {
    await engine.stop(0);
  }
}
