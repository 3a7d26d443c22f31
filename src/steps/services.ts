/**
 * What a step may call (ctx.services), scoped to its job: the model gateway
 * and the tool box, behind the run's budget. A run that has spent its budget
 * stops before the next model or tool call and asks a person (the review
 * desk's budget review); an approval lets it spend one more budget's worth
 * beyond what it had spent when asked, a rejection ends the step.
 */
import type { ServicesFactory, StepScope } from '../engine/engine.ts';
import { permanentError } from '../engine/flow.ts';
import { personNeeded } from '../errors.ts';
import type { Sql } from '../store/client.ts';
import { runCost } from '../store/ledger.ts';
import { budgetDecisions } from '../store/reviews.ts';
import type { ModelGateway, ModelRequest, ModelResult } from './model/types.ts';
import type { ReportServices } from './reports.ts';
import type { ToolCaller } from './tools/types.ts';

/** What a step may call, typed (the engine's StepServices is the untyped shape it passes through). */
export interface FlowServices {
  /** Asks a model for a structured answer (./model). */
  generate<T>(req: ModelRequest<T>): Promise<ModelResult<T>>;
  /** Calls a tool the flow lists in `tools` (./tools); its input is validated first. */
  callTool(name: string, input: unknown): Promise<unknown>;
  /** The weekly digest's figures and post (./reports.ts). */
  reports: ReportServices;
}

export interface ServicesOptions {
  sql: Sql;
  model: ModelGateway;
  tools: ToolCaller;
  /** A run's budget when its flow sets none (RUN_BUDGET_USD); 0 means no budget. */
  runBudgetUsd: number;
  /** Digest figures and posting; without it a step that asks fails permanently. */
  reports?: ReportServices;
}

export function createStepServices(o: ServicesOptions): ServicesFactory {
  return (scope: StepScope): FlowServices => ({
    generate: async <T>(req: ModelRequest<T>) => {
      await checkBudget(o.sql, scope.runId, scope.budgetUsd ?? o.runBudgetUsd);
      return o.model.generate(req, {
        runId: scope.runId,
        jobKey: scope.jobKey,
        attempt: scope.attempt,
        signal: scope.signal,
      });
    },
    callTool: async (name, input) => {
      await checkBudget(o.sql, scope.runId, scope.budgetUsd ?? o.runBudgetUsd);
      return o.tools.call(name, input, {
        runId: scope.runId,
        flowId: scope.flowId,
        jobKey: scope.jobKey,
        attempt: scope.attempt,
        signal: scope.signal,
        allowed: scope.tools,
      });
    },
    reports: o.reports ?? noReports,
  });
}

const missing = async (): Promise<never> => {
  throw permanentError('reports are not available in this process (no chat ports were given to the step runtime)');
};
const noReports: ReportServices = { digestTargets: missing, digest: missing, postDigest: missing };

const usd = (n: number) => `$${n.toFixed(4)}`;

async function checkBudget(sql: Sql, runId: string, baseUsd: number): Promise<void> {
  if (baseUsd <= 0) return;
  const [cost, decided] = await Promise.all([runCost(sql, runId), budgetDecisions(sql, runId)]);
  if (decided.rejectedBy) {
    throw permanentError(
      `<@${decided.rejectedBy}> stopped this run at ${usd(cost.costUsd)}: it may not spend past its budget`,
    );
  }
  const allowance = Math.max(baseUsd, decided.allowedUsd ?? 0);
  if (cost.costUsd >= allowance) {
    throw personNeeded(
      `this run has spent ${usd(cost.costUsd)} of its ${usd(allowance)} budget; a person must allow more`,
      {
        kind: 'budget',
        spentUsd: cost.costUsd,
        budgetUsd: allowance,
        baseUsd,
      },
    );
  }
}
