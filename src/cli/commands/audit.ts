/**
 * `signoff audit verify [--review <id>] [--run <id>]`: runs every check in
 * AUDIT_CHECKS (../audit-checks.ts) over the scope and prints one line per
 * check, naming the first broken link of each (table, row, review and run, what
 * differs). Exit 1 when any chain is broken, or when a --review/--run scope
 * names nothing any chain holds; 0 when all hold.
 */
import type { Command } from 'commander';
import { action } from '../action.ts';
import { AUDIT_CHECKS, type AuditReport, type AuditScope } from '../audit-checks.ts';
import { CliFailure, EXIT, type CliContext } from '../context.ts';
import { startProgress } from '../progress.ts';

export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('the tamper-evident audit trails');
  audit
    .command('verify')
    .description('recompute the hash chains; exit 1 naming the first broken link')
    .option('--review <id>', 'only this review')
    .option('--run <id>', 'only this run (its reviews and its events)')
    .action(action(verifyAudit));
}

async function verifyAudit(ctx: CliContext, opts: { review?: string; run?: string }): Promise<number> {
  const sql = await ctx.sql();
  const scope: AuditScope = {
    ...(opts.review ? { reviewId: opts.review } : {}),
    ...(opts.run ? { runId: opts.run } : {}),
  };
  const reports: AuditReport[] = [];
  for (const check of AUDIT_CHECKS) {
    const progress = startProgress(`verifying ${check.name}`, ctx);
    try {
      reports.push(await check.verify(sql, scope, (done, total) => progress.update(done, total)));
    } finally {
      progress.stop();
    }
  }
  // A scope that names nothing any chain holds is a typo or a wrong id, not a pass.
  if (reports.every((r) => r.skipped)) {
    const named = [opts.review && `review ${opts.review}`, opts.run && `run ${opts.run}`].filter(Boolean).join(', ');
    throw new CliFailure(`nothing to verify: no audit rows for ${named}`);
  }
  const ok = reports.every((r) => r.ok);
  ctx.print({ ok, checks: reports }, () => reports.map(reportLine));
  return ok ? EXIT.ok : EXIT.failed;
}

function reportLine(r: AuditReport): string {
  if (r.skipped) return `${r.name}: skipped (${r.skipped})`;
  if (r.ok) return `${r.name}: ok (${r.checked} row${r.checked === 1 ? '' : 's'} checked)`;
  const b = r.broken;
  if (!b) return `${r.name}: BROKEN`;
  const where = [`${b.table} seq ${b.seq}`, ...(b.reviewId ? [`review ${b.reviewId}`] : []), `run ${b.runId}`];
  return `${r.name}: BROKEN at ${where.join(', ')}: ${b.reason}`;
}
