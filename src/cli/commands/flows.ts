/**
 * `signoff flows list` and `signoff flows show <id> [--mermaid]`: the flows the
 * bot loads (SIGNOFF_FLOWS_DIR, as main loads them), and one flow's statechart,
 * as text, as a Mermaid diagram, or with --json as XState's own JSON
 * (`machine.toJSON()`), which Stately's visualiser imports.
 */
import type { Command } from 'commander';
import type { Flow } from '../../engine/flow.ts';
import { action } from '../action.ts';
import { CliFailure, EXIT, type CliContext } from '../context.ts';
import { toMermaid } from '../mermaid.ts';

export function registerFlowCommands(program: Command): void {
  const flows = program.command('flows').description('the flows the bot loads, and their statecharts');
  flows.command('list').description('every flow: id, title, version, what starts it').action(action(listFlows));
  flows
    .command('show')
    .description("one flow's statechart (--json: XState JSON for stately.ai/viz)")
    .argument('<id>', 'flow id, e.g. ticket-triage')
    .option('--mermaid', 'print a Mermaid stateDiagram-v2')
    .action(action(showFlow));
}

async function listFlows(ctx: CliContext): Promise<void> {
  const flows = await ctx.flows();
  ctx.print(flows.map(summary), () =>
    flows.length === 0
      ? [`no flows in ${ctx.config.flowsDir}`]
      : flows.map((f) => `${f.id} · ${f.title} · version ${f.version.slice(0, 12)} · ${startsBy(f)}`),
  );
}

async function showFlow(ctx: CliContext, id: string, opts: { mermaid?: boolean }): Promise<number | void> {
  const flows = await ctx.flows();
  const flow = flows.find((f) => f.id === id);
  if (!flow) throw new CliFailure(`no flow "${id}"; known flows: ${flows.map((f) => f.id).join(', ') || 'none'}`);
  if (ctx.isJson) {
    ctx.print(flow.machine.toJSON(), () => []);
    return EXIT.ok;
  }
  if (opts.mermaid) {
    process.stdout.write(toMermaid(flow.machine));
    return EXIT.ok;
  }
  const s = summary(flow);
  ctx.print(s, () => [
    `${s.id} · ${s.title}`,
    `version ${s.version}`,
    `started by: ${startsBy(flow)}`,
    `steps: ${s.steps.join(', ') || '-'}`,
    `reviews: ${s.reviews.join(', ') || '-'}`,
    `tools: ${s.tools.join(', ') || '-'}`,
    '(--mermaid for the statechart, --json for XState JSON)',
  ]);
}

function summary(flow: Flow<any>) {
  return {
    id: flow.id,
    title: flow.title,
    version: flow.version,
    triggers: flow.triggers.map((t) =>
      t.kind === 'webhook' ? { kind: t.kind, source: t.source, events: t.events } : t,
    ),
    steps: [...flow.stepOptions.keys()],
    reviews: [...flow.reviewPolicies.keys()],
    tools: [...(flow.tools ?? [])],
  };
}

function startsBy(flow: Flow<any>): string {
  if (flow.triggers.length === 0) return 'no trigger';
  return flow.triggers
    .map((t) =>
      t.kind === 'command'
        ? `/signoff run ${flow.id}`
        : t.kind === 'webhook'
          ? `${t.source} webhook (${t.events.join(', ')})`
          : `schedule ${t.cron}${t.timezone ? ` ${t.timezone}` : ''}`,
    )
    .join('; ');
}
