/**
 * `linear.get-issue`: a Linear issue as it is now (same settings as
 * ./linear.ts). Webhooks arrive out of order (RELIABILITY 28), so
 * ticket-triage reads the issue through this before it drafts.
 *
 * Linear's `issue(id:)` query takes the UUID or the identifier (`ENG-123`)
 * (https://linear.app/developers/graphql). An id Linear does not know is a
 * GraphQL error in a 200 answer, "Entity not found: Issue"; that is an answer
 * (`exists: false`), not a failure. A trashed issue is gone as well.
 */
import { z } from 'zod';
import { permanentError } from '../../../engine/flow.ts';
import type { ToolDefinition } from '../types.ts';
import { cardHost, field } from './connector.ts';
import { issueId, linearErrors, linearGraphql, type GraphQLBody } from './linear.ts';

const ISSUE_QUERY =
  'query Issue($id: String!) { issue(id: $id) { id identifier title description priority url updatedAt ' +
  'trashed state { name type } creator { name email } } }';

const getInput = z.object({ issueId });

const getOutput = z.object({
  issueId: z.string(),
  /** False when Linear has no such issue, or it is in the trash. */
  exists: z.boolean(),
  identifier: z.string().nullable(),
  title: z.string().nullable(),
  description: z.string().nullable(),
  /** The workflow state's type: triage, backlog, unstarted, started, completed or canceled. */
  stateType: z.string().nullable(),
  stateName: z.string().nullable(),
  /** Who opened it, as `Name <email>` or the name alone. */
  creator: z.string().nullable(),
  updatedAt: z.string().nullable(),
  /** True in local mode: nothing was read, and every field but the id is null. */
  local: z.boolean().optional(),
});

type GetInput = z.infer<typeof getInput>;
type GetOutput = z.infer<typeof getOutput>;

function emptyIssue(id: string, exists: boolean): GetOutput {
  return {
    issueId: id,
    exists,
    identifier: null,
    title: null,
    description: null,
    stateType: null,
    stateName: null,
    creator: null,
    updatedAt: null,
  };
}

/** Linear's not-found error: the message names the entity (and its `path` the field queried). */
function isNotFound(body: GraphQLBody): boolean {
  return (body?.errors ?? []).some((e) => /^Entity not found/i.test(e.message ?? ''));
}

const text = (v: unknown): string | null => (typeof v === 'string' ? v : null);

function issueOf(id: string, issue: Record<string, any>): GetOutput {
  const name = text(issue.creator?.name);
  const email = text(issue.creator?.email);
  return {
    issueId: text(issue.id) ?? id,
    exists: issue.trashed !== true,
    identifier: text(issue.identifier),
    title: text(issue.title),
    description: text(issue.description),
    stateType: text(issue.state?.type),
    stateName: text(issue.state?.name),
    creator: name && email ? `${name} <${email}>` : (name ?? email),
    updatedAt: text(issue.updatedAt),
  };
}

export const linearGetIssue: ToolDefinition<GetInput, GetOutput> = {
  name: 'linear.get-issue',
  connector: 'linear',
  description: 'Read a Linear issue as it is now.',
  input: getInput,
  output: getOutput,
  safety: 'idempotent',
  isWrite: false,
  async call(input, ctx) {
    const body = await linearGraphql(ctx, ISSUE_QUERY, { id: input.issueId });
    if (isNotFound(body)) return emptyIssue(input.issueId, false);
    if (body?.errors?.length) throw permanentError(`Linear refused the issue query: ${linearErrors(body)}`);
    const issue = body?.data?.issue;
    return issue ? issueOf(input.issueId, issue) : emptyIssue(input.issueId, false);
  },
  local(input) {
    return { ...emptyIssue(input.issueId, true), local: true };
  },
  describe(input, settings) {
    return {
      tool: 'linear.get-issue',
      method: 'POST',
      host: cardHost(settings),
      fields: [field('issue', input.issueId)],
    };
  },
};
