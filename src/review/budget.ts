/**
 * The budget review (issue 4): a run that has spent its budget stops before its
 * next model or tool call, and a person decides whether it may spend more. It
 * is an ordinary review row named `$budget` that pauses the step's own job
 * (`resume_job`) instead of a review job. Its approval lets the run spend one
 * more budget's worth beyond what it had spent (`allowUsd`, read by
 * src/store/reviews.ts budgetDecisions); its rejection stops the step.
 */
import { randomUUID } from 'node:crypto';
import type { Flow } from '../engine/flow.ts';
import type { ClaimedJob } from '../store/jobs.ts';
import { BUDGET_REVIEW, type NewReview } from '../store/reviews.ts';
import { approvalSha256 } from './card.ts';
import { parsePolicy, type ReviewPolicy } from './policy.ts';

/** What the run has spent, its current limit, and one budget's worth. */
export interface Spent {
  spentUsd: number;
  budgetUsd: number;
  baseUsd: number;
}

const usd = (n: number) => `$${n.toFixed(4)}`;

/**
 * The `n`th budget review of a step job. Who may decide: the approvers of the
 * flow's first review, else anyone in the channel.
 */
export function budgetReview(
  job: ClaimedJob,
  spent: Spent,
  flow: Flow<any> | undefined,
  where: { tenant: string; platform: string; channel: string; requested_by: string },
  n: number,
): NewReview {
  const first = (flow ? [...flow.reviewPolicies.values()][0] : undefined) as ReviewPolicy | undefined;
  const request = {
    allowUsd: spent.spentUsd + spent.baseUsd,
    title: `Budget: run ${job.run_id.slice(0, 8)} has spent ${usd(spent.spentUsd)} of its ${usd(spent.budgetUsd)} limit`,
    fields: [
      { label: 'Flow', value: job.flow },
      { label: 'Step', value: job.name },
      { label: 'Spent so far', value: usd(spent.spentUsd) },
    ],
  };
  const content = {
    decision: `Approve to let this run spend another ${usd(spent.baseUsd)} on model calls; reject to stop it.`,
  };
  return {
    id: randomUUID(),
    run_id: job.run_id,
    flow: job.flow,
    job_key: `${job.key}#budget:${n}`,
    resume_job: job.key,
    name: BUDGET_REVIEW,
    tenant: where.tenant,
    platform: where.platform,
    channel: where.channel,
    requested_by: where.requested_by,
    policy: parsePolicy({ approvers: first?.approvers ?? {} }),
    request,
    content,
    content_sha256: approvalSha256(content, {}),
    expiresInMs: null,
  };
}
