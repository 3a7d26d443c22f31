/**
 * Linear tools (LINEAR_TOKEN; LINEAR_URL defaults to https://api.linear.app).
 * Linear is GraphQL: every call is `POST /graphql`, authenticated with the
 * API key itself in `Authorization` (no "Bearer"). Updating an issue sets
 * values (idempotent); creating a comment is not, and Linear has no
 * idempotency key, so a comment whose outcome is unknown goes to a person.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { permanentError } from '../../../engine/flow.ts';
import { retryLater, type SignoffError } from '../../../errors.ts';
import { HttpStatusError } from '../http.ts';
import type { ToolContext, ToolDefinition } from '../types.ts';
import { apiUrl, cardHost, changedFields, field } from './connector.ts';

/** A Linear issue id: a UUID or an identifier like `ENG-123`. */
export const issueId = z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'must be a Linear issue id (a UUID or ENG-123)');

const issueChanges = {
  stateId: z.string().min(1).max(64).optional(),
  /** 0 none, 1 urgent, 2 high, 3 medium, 4 low (Linear's scale). */
  priority: z.number().int().min(0).max(4).optional(),
  title: z.string().min(1).max(255).optional(),
};
const updateInput = z
  .object({
    issueId,
    ...issueChanges,
    /** The issue's current values, when the flow read them: the card shows old → new. */
    previous: z.object(issueChanges).optional(),
  })
  .refine(
    (i) => i.stateId !== undefined || i.priority !== undefined || i.title !== undefined,
    'set at least one of stateId, priority, title',
  );

const commentInput = z.object({ issueId, body: z.string().min(1).max(65_000) });

const issueOutput = z.object({
  issueId: z.string(),
  title: z.string().optional(),
  priority: z.number().optional(),
  stateId: z.string().optional(),
  /** True in local mode: nothing was sent. */
  local: z.boolean().optional(),
});
const commentOutput = z.object({ commentId: z.string().min(1), issueId: z.string(), local: z.boolean().optional() });

type UpdateInput = z.infer<typeof updateInput>;
type CommentInput = z.infer<typeof commentInput>;
type IssueOutput = z.infer<typeof issueOutput>;
type CommentOutput = z.infer<typeof commentOutput>;

const ISSUE_UPDATE =
  'mutation IssueUpdate($id: String!, $input: IssueUpdateInput!) ' +
  '{ issueUpdate(id: $id, input: $input) { success issue { id title priority state { id } } } }';
const COMMENT_CREATE =
  'mutation CommentCreate($input: CommentCreateInput!) ' +
  '{ commentCreate(input: $input) { success comment { id } } }';

export type GraphQLBody = {
  data?: Record<string, any>;
  errors?: { message?: string; extensions?: { code?: string } }[];
} | null;

/** When Linear's rate limit lets a call through again, from its reset header (epoch ms); 60 s when absent. */
const DEFAULT_RATE_WAIT_MS = 60_000;

/**
 * Linear's rate limit is a GraphQL error (`extensions.code: RATELIMITED`),
 * sent with a 400 or inside a 200: a wait, not a refusal.
 */
function rateLimited(body: GraphQLBody, headers: Record<string, string>): SignoffError | null {
  if (!body?.errors?.some((e) => e.extensions?.code === 'RATELIMITED')) return null;
  const resetMs = Number(headers['x-ratelimit-requests-reset']);
  const waitMs = Number.isFinite(resetMs) && resetMs > Date.now() ? resetMs - Date.now() : DEFAULT_RATE_WAIT_MS;
  return retryLater(`Linear is rate limiting; trying again in ${Math.ceil(waitMs / 1000)} s`, Math.max(1_000, waitMs));
}

/** Posts one GraphQL document; a rate limit (in a 400 or inside a 200) becomes a wait. */
export async function linearGraphql(
  ctx: ToolContext,
  query: string,
  variables: Record<string, unknown>,
): Promise<GraphQLBody> {
  const res = await ctx.http
    .request({
      method: 'POST',
      url: apiUrl(ctx.settings, '/graphql'),
      headers: ctx.settings.token ? { authorization: ctx.settings.token } : {},
      body: { query, variables },
    })
    .catch((err: unknown) => {
      throw (
        (err instanceof HttpStatusError && rateLimited(err.response.body as GraphQLBody, err.response.headers)) || err
      );
    });
  const body = res.body as GraphQLBody;
  const limited = rateLimited(body, res.headers);
  if (limited) throw limited;
  return body;
}

/** Linear's errors, joined for a message. */
export function linearErrors(body: GraphQLBody): string {
  return (body?.errors ?? [])
    .map((e) => e.message)
    .join('; ')
    .slice(0, 300);
}

/**
 * Runs one mutation and returns its payload. GraphQL reports failures in a
 * 200 answer (`errors`, or `success: false`); apart from a rate limit,
 * retrying will not fix them.
 */
async function mutate(
  ctx: ToolContext,
  name: string,
  query: string,
  variables: Record<string, unknown>,
): Promise<Record<string, any>> {
  const body = await linearGraphql(ctx, query, variables);
  if (body?.errors?.length) throw permanentError(`Linear refused ${name}: ${linearErrors(body)}`);
  const payload = body?.data?.[name];
  if (!payload?.success) throw permanentError(`Linear did not apply ${name} (success was not true)`);
  return payload;
}

export const linearUpdateIssue: ToolDefinition<UpdateInput, IssueOutput> = {
  name: 'linear.update-issue',
  connector: 'linear',
  description: 'Set the state, priority or title of a Linear issue.',
  input: updateInput,
  output: issueOutput,
  safety: 'idempotent',
  isWrite: true,
  async call(input, ctx) {
    const { stateId, priority, title } = input;
    const payload = await mutate(ctx, 'issueUpdate', ISSUE_UPDATE, {
      id: input.issueId,
      input: { stateId, priority, title },
    });
    const issue = payload.issue ?? {};
    return {
      issueId: String(issue.id ?? input.issueId),
      ...(typeof issue.title === 'string' ? { title: issue.title } : {}),
      ...(typeof issue.priority === 'number' ? { priority: issue.priority } : {}),
      ...(typeof issue.state?.id === 'string' ? { stateId: issue.state.id } : {}),
    };
  },
  local(input) {
    const { stateId, priority, title } = input;
    return {
      issueId: input.issueId,
      ...(title ? { title } : {}),
      ...(priority !== undefined ? { priority } : {}),
      ...(stateId ? { stateId } : {}),
      local: true,
    };
  },
  describe(input, settings) {
    const { stateId, priority, title } = input;
    return {
      tool: 'linear.update-issue',
      method: 'POST',
      host: cardHost(settings),
      fields: [field('issue', input.issueId), ...changedFields({ stateId, priority, title }, input.previous)],
    };
  },
};

export const linearComment: ToolDefinition<CommentInput, CommentOutput> = {
  name: 'linear.comment',
  connector: 'linear',
  description: 'Add a comment to a Linear issue.',
  input: commentInput,
  output: commentOutput,
  safety: 'unsafe',
  isWrite: true,
  async call(input, ctx) {
    const payload = await mutate(ctx, 'commentCreate', COMMENT_CREATE, {
      input: { issueId: input.issueId, body: input.body },
    });
    return { commentId: String(payload.comment?.id ?? ''), issueId: input.issueId };
  },
  local(input) {
    // Deterministic, so a replayed run gets the same id.
    const digest = createHash('sha256').update(`${input.issueId}\n${input.body}`).digest('hex').slice(0, 12);
    return { commentId: `local-${digest}`, issueId: input.issueId, local: true };
  },
  describe(input, settings) {
    return {
      tool: 'linear.comment',
      method: 'POST',
      host: cardHost(settings),
      fields: [field('issue', input.issueId), field('comment', input.body)],
    };
  },
};
