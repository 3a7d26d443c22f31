/**
 * `signoff runs list|show|cancel|retry`. Listing reads every tenant (an operator
 * with database access sees all runs); `show` is ../run-report.ts; cancel and
 * retry go through the bot's engine (../engine.ts), recorded as `cli:<os user>`.
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { Engine } from '../../engine/engine.ts';
import { isSignoffError, type ErrorCode } from '../../errors.ts';
import { listRunsForOperator } from '../../store/operator.ts';
import type { RunSummary } from '../../store/runs.ts';
import { formatAge } from '../../triggers/commands.ts';
import { action } from '../action.ts';
import { CliFailure, type CliContext } from '../context.ts';
import { limitOption, parseSince } from '../options.ts';

const STATUSES = ['running', 'waiting', 'done', 'failed', 'cancelled', 'parked'];
/** The engine's refusals: its message says why, and nothing changed. */
const REFUSALS: readonly ErrorCode[] = ['run_not_found', 'run_not_active', 'run_not_failed'];

export function registerRunCommands(program: Command): void {
  const runs = program.command('runs').description('runs: list, inspect, cancel, retry');
  runs
    .command('list')
    .description('runs of every tenant, newest first')
    .option('--flow <id>', 'only runs of this flow')
    .option('--status <status>', `only runs in this status (${STATUSES.join(', ')})`, parseStatus)
    .option('--since <when>', 'only runs created since: a duration (30m, 2d, 1w) or an ISO time', (value: string) =>
      parseSince(value),
    )
    .option('--limit <n>', 'at most this many (default 50, at most 1000)', limitOption(1_000), 50)
    .action(action(listRuns));
  runs
    .command('show')
    .description("a run's timeline, and for each review what each approver saw and did")
    .argument('<id>', 'run id')
    .action(action(async (ctx, id: string) => (await import('../run-report.ts')).showRun(ctx, id)));
  runs
    .command('cancel')
    .description('cancel a run, as /signoff cancel does (its open reviews are closed)')
    .argument('<id>', 'run id')
    .option('--reason <text>', 'recorded with the cancel')
    .action(action(cancelRun));
  runs
    .command('retry')
    .description('retry a failed or parked run, as /signoff retry does')
    .argument('<id>', 'run id')
    .action(action(retryRun));
}

async function listRuns(
  ctx: CliContext,
  opts: { flow?: string; status?: string; since?: Date; limit: number },
): Promise<void> {
  const filter = { flow: opts.flow ?? null, status: opts.status ?? null, since: opts.since ?? null, limit: opts.limit };
  const runs = await listRunsForOperator(await ctx.sql(), filter);
  const nowMs = Date.now();
  ctx.print(runs.map(runJson), () =>
    runs.length === 0
      ? ['no runs match']
      : runs.map(
          (r) =>
            `${r.id} · ${r.flow} · ${r.status} · ${formatAge(nowMs - r.created_at.getTime())} ago · ` +
            `by ${r.trigger?.actor ?? '-'} (${r.trigger?.source ?? '-'})`,
        ),
  );
}

function runJson(r: RunSummary) {
  return {
    id: r.id,
    flow: r.flow,
    status: r.status,
    statusReason: r.status_reason,
    trigger: r.trigger,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

async function cancelRun(ctx: CliContext, id: string, opts: { reason?: string }): Promise<void> {
  await controlRun(ctx, id, 'cancelled', (engine) =>
    engine.cancel(id, { actor: ctx.actor, ...(opts.reason ? { reason: opts.reason } : {}) }),
  );
}

async function retryRun(ctx: CliContext, id: string): Promise<void> {
  await controlRun(ctx, id, 'retried', (engine) => engine.retry(id, { actor: ctx.actor }));
}

async function controlRun(
  ctx: CliContext,
  id: string,
  done: string,
  change: (engine: Engine) => Promise<void>,
): Promise<void> {
  // The engine and the review desk load only for the commands that change runs.
  const { withEngine } = await import('../engine.ts');
  const status = await withEngine(ctx, async (engine) => {
    try {
      await change(engine);
    } catch (err) {
      const isRefused = REFUSALS.some((code) => isSignoffError(err, code));
      throw isRefused ? new CliFailure((err as Error).message) : err;
    }
    return (await engine.getRun(id))?.status ?? 'unknown';
  });
  ctx.print({ id, status, actor: ctx.actor }, () => [`${done} run ${id} as ${ctx.actor}; it is now ${status}`]);
}

function parseStatus(value: string): string {
  if (!STATUSES.includes(value)) throw new InvalidArgumentError(`use one of ${STATUSES.join(', ')}.`);
  return value;
}
