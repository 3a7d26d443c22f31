/**
 * The pure core of human review (DESIGN §5, RELIABILITY E): a flow's review policy,
 * what a review records, and the judgement of one click against both. No I/O, no SQL,
 * no clock of its own: the store reads the state, passes the DB time and a live group
 * lookup in, and writes what this returns conditionally on the version it read, so the
 * first commit wins a race and the loser re-judges and is told who won. Authority is
 * this check at click time, never a value carried in a button. Messages in refusals go
 * to chat users verbatim: short, no internals.
 *
 * Over the 300-line house limit on purpose: policy, recorded state and the judgement of
 * a click are one unit that the review tests pin together. Split the user-facing
 * messages out first if it grows.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { SignoffError } from '../errors.ts';

/** A set of people: user ids and/or group names (Slack user groups, Discord roles). */
export interface Principals {
  /** Platform user ids. */
  users?: string[];
  /** Group names as the chat port resolves them. */
  groups?: string[];
}

/** How a flow's review is decided. Parse with `parsePolicy`; never build one by hand. */
export interface ReviewPolicy {
  /** Who may decide. Default `{}`: anyone in the channel. */
  approvers: Principals;
  /** Approvals needed. Default 1. */
  quorum: number;
  /** One reject decides. Default true; when false a rejection needs `quorum` rejects. */
  vetoOnReject: boolean;
  /** Whether the requester may approve their own run. Default false. */
  allowSelfApproval: boolean;
  /** Whether the draft may be edited before approval. Default true. */
  allowEdit: boolean;
  /** Time from request to expiry. Default none: the review waits forever. */
  expiresInMs?: number;
  /** Reminders, as offsets before expiry, largest first. Needs `expiresInMs`. */
  remindAtMs?: number[];
  /** Who the review is escalated to: from `escalateAtMs` before expiry they are told, and may decide too. Needs `expiresInMs`. */
  escalateTo?: Principals;
  /** When to escalate, as an offset before expiry. Default 0: at expiry, just before the default decision. */
  escalateAtMs?: number;
  /** Applied at expiry. Default none: the review ends `expired` (the flow treats it as a reject). */
  defaultDecision?: 'approve' | 'reject';
  /** Whether the last editor may approve their own edit. Default false (RELIABILITY 56). */
  editorMayApprove: boolean;
}

// Normalized as parsed: duplicate ids dropped, reminders largest (earliest) first.
const idList = z
  .array(z.string().min(1))
  .transform((ids) => [...new Set(ids)])
  .optional();
const principalsSchema = z.strictObject({ users: idList, groups: idList });

export const reviewPolicySchema = z.strictObject({
  approvers: principalsSchema.default({}),
  quorum: z.number().int().min(1).default(1),
  vetoOnReject: z.boolean().default(true),
  allowSelfApproval: z.boolean().default(false),
  allowEdit: z.boolean().default(true),
  expiresInMs: z.number().int().positive().optional(),
  remindAtMs: z
    .array(z.number().int().positive())
    .transform((ms) => [...new Set(ms)].sort((x, y) => y - x))
    .optional(),
  escalateTo: principalsSchema.optional(),
  escalateAtMs: z.number().int().min(0).optional(),
  defaultDecision: z.enum(['approve', 'reject']).optional(),
  editorMayApprove: z.boolean().default(false),
}) satisfies z.ZodType<ReviewPolicy>;

/** What a flow writes: the schema's input, where every defaulted member is optional. */
export type ReviewPolicyInput = z.input<typeof reviewPolicySchema>;

/**
 * Validates and normalizes a policy (ids deduplicated, reminders sorted largest first),
 * or throws `flow_invalid` listing every problem, so a bad policy fails when the review
 * is requested rather than when someone clicks.
 */
export function parsePolicy(input: unknown): ReviewPolicy {
  const parsed = reviewPolicySchema.safeParse(input);
  const problems = parsed.success
    ? policyProblems(parsed.data)
    : parsed.error.issues.map((issue) => `${issue.path.join('.') || 'policy'}: ${issue.message}`);
  if (problems.length > 0 || !parsed.success) {
    throw new SignoffError('flow_invalid', `review policy is invalid: ${problems.join('; ')}`, {
      details: { problems },
    });
  }
  return parsed.data;
}

/** Mistakes the schema cannot see: settings that could never take effect. */
function policyProblems(policy: ReviewPolicy): string[] {
  const problems: string[] = [];
  const users = policy.approvers.users ?? [];
  // With only named users, a quorum larger than the list can never be met (RELIABILITY 51).
  if (users.length > 0 && !policy.approvers.groups?.length && policy.quorum > users.length) {
    problems.push(`unsatisfiable quorum: ${policy.quorum} approvals needed but only ${users.length} approvers listed`);
  }
  const expiresInMs = policy.expiresInMs;
  if (expiresInMs === undefined) {
    for (const key of ['remindAtMs', 'escalateTo', 'escalateAtMs', 'defaultDecision'] as const) {
      if (policy[key] !== undefined) problems.push(`${key} needs expiresInMs`);
    }
  } else if ((policy.remindAtMs ?? []).some((offsetMs) => offsetMs >= expiresInMs)) {
    problems.push('remindAtMs: every reminder must come before expiry (offset < expiresInMs)');
  }
  if (expiresInMs !== undefined && (policy.escalateAtMs ?? 0) >= expiresInMs) {
    problems.push('escalateAtMs: escalation must come before expiry (offset < expiresInMs)');
  }
  if (policy.escalateAtMs !== undefined && policy.escalateTo === undefined)
    problems.push('escalateAtMs needs escalateTo');
  return problems;
}

export type ReviewStatus = 'pending' | 'approved' | 'rejected' | 'expired' | 'cancelled';

/** One recorded approve or reject, bound to the version it was made on. */
export interface ReviewDecision {
  reviewer: string;
  decision: 'approve' | 'reject';
  /** The content version shown on the card that was clicked. */
  version: number;
  /** ISO time from the DB clock. */
  at: string;
  /** Why, for a reject; handed to the flow so it can redraft. */
  reason?: string;
}

/** What is recorded for one review. */
export interface ReviewState {
  /** Starts at 1; each edit adds 1 and invalidates earlier approvals. */
  version: number;
  /** Hash of the content at `version`; the tool only ever runs approved content. */
  contentSha256: string;
  requestedBy: string;
  /** Who made the current version, when it is an edit. */
  lastEditor?: string;
  status: ReviewStatus;
  /** ISO expiry, when the policy has one. */
  expiresAt?: string;
  decisions: ReviewDecision[];
}

/** One click (or modal submission), as the store hands it over. */
export interface ReviewClick {
  reviewer: string;
  action: 'approve' | 'reject' | 'edit';
  /** The version on the card or modal that was used. */
  version: number;
  /** ISO time from the DB clock, never the process clock (RELIABILITY 43). */
  at: string;
  /** The reviewer's groups, looked up live at click time; 'lookup_failed' fails closed. */
  reviewerGroups: string[] | 'lookup_failed';
  /** Optional reason for a reject. */
  reason?: string;
}

export interface Tally {
  /** Distinct counted approvals of the current version. */
  approvals: number;
  /** The quorum. */
  needed: number;
  /** Distinct rejections of the current version. */
  rejections: number;
}

export type RefusalCode =
  | 'self_approval'
  | 'not_allowed'
  | 'lookup_failed'
  | 'stale_version'
  | 'already_decided'
  | 'expired'
  | 'duplicate'
  | 'edit_not_allowed'
  | 'editor_cannot_approve';

export type ClickVerdict =
  /** Record `decision` with `applyDecision`; `outcome` is set when it decides the review. */
  | { kind: 'accepted'; decision: ReviewDecision; outcome: 'approved' | 'rejected' | null; tally: Tally }
  /** An edit click: the reviewer may open the editor; the edit itself goes through `applyEdit`. */
  | { kind: 'edit_allowed'; tally: Tally }
  /** Nothing changes; show `message` privately and audit `denied:<code>`. */
  | { kind: 'refused'; code: RefusalCode; message: string };

/** Judges one click against the policy and the recorded state. Pure: nothing is written. */
export function judgeClick(policy: ReviewPolicy, state: ReviewState, click: ReviewClick): ClickVerdict {
  const refusal =
    refuseClosed(policy, state, click) ?? refuseUnauthorized(policy, state, click) ?? refuseDuplicate(state, click);
  if (refusal) return { kind: 'refused', ...refusal };
  if (click.action === 'edit') return { kind: 'edit_allowed', tally: tally(policy, state) };
  const decision: ReviewDecision = {
    reviewer: click.reviewer,
    decision: click.action,
    version: click.version,
    at: click.at,
    ...(click.reason !== undefined && click.action === 'reject' ? { reason: click.reason } : {}),
  };
  const next = tally(policy, { ...state, decisions: [...state.decisions, decision] });
  return { kind: 'accepted', decision, outcome: outcomeOf(policy, next), tally: next };
}

type Refusal = { code: RefusalCode; message: string } | null;

/** Refusals that hold whoever clicks: decided, expired, or an out-of-date card. */
function refuseClosed(policy: ReviewPolicy, state: ReviewState, click: ReviewClick): Refusal {
  if (state.status === 'expired') return { code: 'expired', message: expiredMessage(state) };
  if (state.status !== 'pending') return { code: 'already_decided', message: decidedMessage(policy, state) };
  // `!(a < b)` also refuses an unparseable time: fail closed.
  if (state.expiresAt !== undefined && !(Date.parse(click.at) < Date.parse(state.expiresAt))) {
    return { code: 'expired', message: expiredMessage(state) };
  }
  if (click.version === state.version) return null;
  if (click.version > state.version) {
    // No card ever showed this version: a forged or garbled click, not an edit someone missed.
    return {
      code: 'stale_version',
      message: `this card names version ${click.version}, which does not exist (the latest is ${state.version}); reload the card`,
    };
  }
  return {
    code: 'stale_version',
    message: 'this card is out of date: the draft was edited, so review the new version',
  };
}

function refuseUnauthorized(policy: ReviewPolicy, state: ReviewState, click: ReviewClick): Refusal {
  if (click.action === 'edit' && !policy.allowEdit)
    return { code: 'edit_not_allowed', message: 'editing is not allowed for this review' };
  if (click.action === 'approve' && click.reviewer === state.requestedBy && !policy.allowSelfApproval) {
    return { code: 'self_approval', message: 'you requested this run' };
  }
  if (click.action === 'approve' && click.reviewer === state.lastEditor && !policy.editorMayApprove) {
    return { code: 'editor_cannot_approve', message: 'you edited this version, so someone else must approve it' };
  }
  // The requester may fix their own draft; their edit never counts as an approval.
  if (click.action === 'edit' && click.reviewer === state.requestedBy) return null;
  return refuseIneligible(policy.approvers, click);
}

function refuseIneligible(approvers: Principals, click: ReviewClick): Refusal {
  const users = approvers.users ?? [];
  const groups = approvers.groups ?? [];
  if (users.length === 0 && groups.length === 0) return null;
  if (users.includes(click.reviewer)) return null;
  if (groups.length > 0 && click.reviewerGroups === 'lookup_failed') {
    return { code: 'lookup_failed', message: "couldn't check your groups just now; please try again" };
  }
  const memberOf = click.reviewerGroups === 'lookup_failed' ? [] : click.reviewerGroups;
  if (groups.some((group) => memberOf.includes(group))) return null;
  const where = [
    users.length > 0 ? 'on the approver list' : '',
    groups.length > 0 ? `in ${joinWords(groups, 'or')}` : '',
  ];
  return { code: 'not_allowed', message: `you are not ${where.filter(Boolean).join(' or ')}` };
}

function refuseDuplicate(state: ReviewState, click: ReviewClick): Refusal {
  if (click.action === 'edit') return null;
  const earlier = state.decisions.find((d) => d.reviewer === click.reviewer && d.version === state.version);
  if (!earlier) return null;
  const verb = earlier.decision === 'approve' ? 'approved' : 'rejected';
  return { code: 'duplicate', message: `you already ${verb} this at ${clockUtc(earlier.at)}` };
}

/** The decisions that count for `kind` on the current version: one per reviewer, first wins. */
function countedDecisions(policy: ReviewPolicy, state: ReviewState, kind: 'approve' | 'reject'): ReviewDecision[] {
  const seen = new Set<string>();
  return state.decisions.filter((d) => {
    if (d.version !== state.version || d.decision !== kind || seen.has(d.reviewer)) return false;
    seen.add(d.reviewer);
    if (kind === 'reject') return true;
    // The requester and the last editor never make up the quorum unless the policy says so.
    if (d.reviewer === state.requestedBy && !policy.allowSelfApproval) return false;
    return !(d.reviewer === state.lastEditor && !policy.editorMayApprove);
  });
}

/** Who decided a decided review: its counted approvers, or its rejecters, of the current version. */
export function deciders(policy: ReviewPolicy, state: ReviewState): string[] {
  if (state.status !== 'approved' && state.status !== 'rejected') return [];
  return countedDecisions(policy, state, state.status === 'approved' ? 'approve' : 'reject').map((d) => d.reviewer);
}

/** The live tally of the current version, as shown on the card. */
export function tally(policy: ReviewPolicy, state: ReviewState): Tally {
  return {
    approvals: countedDecisions(policy, state, 'approve').length,
    needed: policy.quorum,
    rejections: countedDecisions(policy, state, 'reject').length,
  };
}

function outcomeOf(policy: ReviewPolicy, t: Tally): 'approved' | 'rejected' | null {
  if (t.approvals >= t.needed) return 'approved';
  if (t.rejections >= (policy.vetoOnReject ? 1 : t.needed)) return 'rejected';
  return null;
}

/**
 * The state after an accepted decision is recorded; the status is recomputed from all
 * decisions, not taken from the verdict. Judge and apply against the same row in one
 * conditional write (lock or compare the decision count): two approvals judged against
 * the same state must not both be written blind, or a quorum could be met unseen.
 */
export function applyDecision(policy: ReviewPolicy, state: ReviewState, decision: ReviewDecision): ReviewState {
  const next = { ...state, decisions: [...state.decisions, decision] };
  return { ...next, status: outcomeOf(policy, tally(policy, next)) ?? state.status };
}

/**
 * The state after an edit: version + 1, so earlier approvals no longer count. An edit
 * that leaves the content as it was changes nothing: the approvals were of this content.
 */
export function applyEdit(state: ReviewState, edit: { editor: string; newContentSha256: string }): ReviewState {
  if (state.status !== 'pending')
    throw new SignoffError('event_not_accepted', 'this review is already decided; it cannot be edited');
  if (edit.newContentSha256 === state.contentSha256) return state;
  return { ...state, version: state.version + 1, contentSha256: edit.newContentSha256, lastEditor: edit.editor };
}

/** At or after `expiresAt` (DB time), a pending review takes the policy's default decision. */
export function applyExpiry(policy: ReviewPolicy, state: ReviewState, at: string): ReviewState {
  if (state.status !== 'pending' || state.expiresAt === undefined) return state;
  if (Date.parse(at) < Date.parse(state.expiresAt)) return state;
  const status =
    policy.defaultDecision === 'approve' ? 'approved' : policy.defaultDecision === 'reject' ? 'rejected' : 'expired';
  return { ...state, status };
}

/** "already approved by <@U1> and <@U2> at 14:02": who decided and when, for late clicks. */
function decidedMessage(policy: ReviewPolicy, state: ReviewState): string {
  if (state.status === 'cancelled') return 'this review was cancelled';
  const isApproved = state.status === 'approved';
  const verb = isApproved ? 'approved' : 'rejected';
  const needed = isApproved || !policy.vetoOnReject ? policy.quorum : 1;
  const deciders = countedDecisions(policy, state, isApproved ? 'approve' : 'reject');
  const last = deciders.at(-1);
  // Fewer deciders than needed means the outcome came from the policy's default at expiry.
  if (!last || deciders.length < needed) return `already ${verb} by default at ${clockUtc(state.expiresAt ?? '')}`;
  return `already ${verb} by ${joinWords(
    deciders.map((d) => `<@${d.reviewer}>`),
    'and',
  )} at ${clockUtc(last.at)}`;
}

function expiredMessage(state: ReviewState): string {
  return state.expiresAt === undefined
    ? 'this review has expired'
    : `this review expired at ${clockUtc(state.expiresAt)}`;
}

/** HH:MM in UTC: the DB clock's time, the same for every reader. */
export function clockUtc(iso: string): string {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? '--:--' : new Date(ms).toISOString().slice(11, 16);
}

export function joinWords(words: string[], conjunction: 'and' | 'or'): string {
  if (words.length <= 1) return words.join('');
  return `${words.slice(0, -1).join(', ')} ${conjunction} ${words.at(-1)}`;
}

/**
 * SHA-256 (hex) of a canonical JSON form: object keys sorted at every depth, so the
 * same content always hashes the same whatever order it was built in.
 */
export function contentSha256(value: unknown): string {
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return v;
  });
  // JSON.stringify(undefined) is undefined; hash it as null rather than throw.
  return createHash('sha256')
    .update(text ?? 'null')
    .digest('hex');
}
