/**
 * `signoff deadletters list` and `signoff deadletters replay <id>|--all`:
 * webhook deliveries a flow refused (migration 0030), and starting them again
 * once the flow is fixed, through `deadLetterControl` (what `/signoff
 * deadletters` uses: the row is locked, the run started under the delivery's
 * own trigger key and the row marked, in one transaction). Replays are recorded
 * as `cli:<os user>`. Exit 1 when any replay was refused.
 */
import type { Command } from 'commander';
import type { DeadLetterControl, ReplayOutcome } from '../../triggers/webhooks/dead-letters.ts';
import type { DeadLetterRow } from '../../store/webhooks.ts';
import { action } from '../action.ts';
import { CliUsageError, EXIT, type CliContext } from '../context.ts';
import { limitOption } from '../options.ts';
import { startProgress } from '../progress.ts';

/** Most dead letters one listing or `--all` takes. */
const MAX_LETTERS = 10_000;

export function registerDeadLetterCommands(program: Command): void {
  const letters = program.command('deadletters').description('webhook deliveries a flow refused');
  letters
    .command('list')
    .description('dead letters not yet replayed, newest first')
    .option('--limit <n>', 'at most this many (default 100)', limitOption(MAX_LETTERS), 100)
    .action(action(listLetters));
  letters
    .command('replay')
    .description('start the run a dead letter should have started (once its flow is fixed)')
    .argument('[id]', 'dead letter id (from deadletters list)')
    .option('--all', 'replay every dead letter not yet replayed, oldest first')
    .action(action(replayLetters));
}

async function listLetters(ctx: CliContext, opts: { limit: number }): Promise<void> {
  const rows = await withDeadLetters(ctx, (control) => control.list(opts.limit));
  ctx.print(rows.map(letterJson), () =>
    rows.length === 0
      ? ['no webhook dead letters waiting']
      : rows.map(
          (r) =>
            `${r.id} · ${r.source} ${r.event ?? '(unreadable)'} → ${r.flow || '-'} · ${r.receivedAt.toISOString().slice(0, 16)} · ` +
            `body sha256 ${r.bodySha256.slice(0, 12)} · ${r.reason}`,
        ),
  );
}

/** `/signoff deadletters`' own control, on the CLI's engine (loaded only when a dead-letter command runs). */
async function withDeadLetters<T>(ctx: CliContext, fn: (control: DeadLetterControl) => Promise<T>): Promise<T> {
  const [{ withEngine }, { deadLetterControl }] = await Promise.all([
    import('../engine.ts'),
    import('../../triggers/webhooks/dead-letters.ts'),
  ]);
  return withEngine(ctx, (engine) => fn(deadLetterControl(engine, ctx.config.webhooks, ctx.config.defaultChannel)));
}

/** What a listing shows: never the payload (it is the sender's data), its hash instead. */
function letterJson(r: DeadLetterRow) {
  const { payload: _payload, ...shown } = r;
  return { ...shown, receivedAt: r.receivedAt.toISOString(), replayedAt: r.replayedAt?.toISOString() ?? null };
}

async function replayLetters(ctx: CliContext, id: string | undefined, opts: { all?: boolean }): Promise<number> {
  if (Boolean(id) === Boolean(opts.all)) throw new CliUsageError('name one dead letter id, or pass --all (not both)');
  const results = await withDeadLetters(ctx, async (control) => {
    const ids = id ? [id] : (await control.list(MAX_LETTERS)).map((r) => r.id).reverse();
    const progress = startProgress('replaying dead letters', ctx);
    const done: { id: string; outcome: ReplayOutcome }[] = [];
    try {
      for (const letter of ids) {
        done.push({ id: letter, outcome: await control.replay(letter, ctx.actor) });
        progress.update(done.length, ids.length);
      }
    } finally {
      progress.stop();
    }
    return done;
  });
  const failed = results.filter((r) => !r.outcome.ok).length;
  ctx.print({ ok: failed === 0, replayed: results.map((r) => ({ id: r.id, ...r.outcome })) }, () => [
    ...(results.length === 0 ? ['no webhook dead letters waiting'] : []),
    ...results.map((r) =>
      r.outcome.ok
        ? `${r.id}: replayed as ${r.outcome.flow} run ${r.outcome.runId}`
        : `${r.id}: not replayed: ${r.outcome.problem}`,
    ),
  ]);
  return failed === 0 ? EXIT.ok : EXIT.failed;
}
