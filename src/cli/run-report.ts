/**
 * `signoff runs show <id>`: a run, its timeline (run_events), its model cost,
 * and for each review exactly what each person saw and did. What they saw is
 * the card version and the SHA-256 their click was bound to (review_audit), the
 * draft of that version with the proposed call, whose hash is recomputed here
 * (`approvalSha256`) to show the stored content is the content they approved.
 * Only the current and the previous version of a draft are stored (migration
 * 0002); an older version is named by its hash alone.
 */
import { approvalSha256, costLabel } from '../review/card.ts';
import { runCost } from '../store/ledger.ts';
import { reviewsOfRun } from '../store/operator.ts';
import { readAudit, type AuditRow, type ReviewRow } from '../store/reviews.ts';
import { readRun, readTimeline, type TimelineRow } from '../store/runs.ts';
import { formatState } from '../triggers/commands.ts';
import { CliFailure, type CliContext } from './context.ts';

/** One stored version of a review's draft, as a person saw it on the card. */
interface ShownVersion {
  version: number;
  contentSha256: string;
  content: Record<string, string>;
  /** True when the stored draft and proposed call hash again to what this version's audit rows were bound to. */
  isHashVerified: boolean;
}

export async function showRun(ctx: CliContext, id: string): Promise<void> {
  const sql = await ctx.sql();
  const run = await readRun(sql, id);
  if (!run) throw new CliFailure(`no run ${id}`);
  const [timeline, cost, reviews] = await Promise.all([readTimeline(sql, id), runCost(sql, id), reviewsOfRun(sql, id)]);
  const reviewReports = await Promise.all(reviews.map(async (r) => reviewReport(r, await readAudit(sql, r.id))));
  const report = {
    id: run.id,
    flow: run.flow,
    flowVersion: run.flow_version,
    status: run.status,
    statusReason: run.status_reason,
    state: formatState(run.snapshot?.value),
    trigger: run.trigger,
    input: run.input,
    output: run.output,
    createdAt: run.created_at.toISOString(),
    updatedAt: run.updated_at.toISOString(),
    cost,
    timeline: timeline.map(eventJson),
    reviews: reviewReports,
  };
  ctx.print(report, () => [
    `run ${run.id} · ${run.flow} · ${run.status}${run.status_reason ? ` (${run.status_reason})` : ''}`,
    `state: ${report.state}`,
    `started ${utc(run.created_at)} UTC by ${run.trigger?.actor ?? '-'} via ${run.trigger?.source ?? '-'}` +
      `${run.trigger?.channel ? ` in ${run.trigger.channel}` : ''}${run.trigger?.tenant ? ` (tenant ${run.trigger.tenant})` : ''}`,
    `model cost: ${costLabel(cost)}`,
    `timeline (${timeline.length} event${timeline.length === 1 ? '' : 's'}):`,
    ...timeline.map((e) => `  ${e.seq} · ${utc(e.at)} · ${e.type} · ${e.actor ?? '-'} · ${formatState(e.state_after)}`),
    ...reviewReports.flatMap(reviewLines),
  ]);
}

function eventJson(e: TimelineRow) {
  return {
    seq: e.seq,
    at: e.at.toISOString(),
    kind: e.kind,
    type: e.type,
    actor: e.actor,
    event: e.event,
    stateAfter: e.state_after,
  };
}

type ReviewReport = ReturnType<typeof reviewReport>;

function reviewReport(review: ReviewRow, audit: AuditRow[]) {
  const versions = shownVersions(review, audit);
  return {
    id: review.id,
    name: review.name,
    status: review.status,
    title: review.request?.title ?? null,
    version: review.version,
    contentSha256: review.content_sha256,
    requestedBy: review.requested_by,
    channel: `${review.platform}:${review.channel}`,
    cardRef: review.card_ref,
    proposedAction: review.request?.proposedAction ?? null,
    fields: review.request?.fields ?? [],
    versions,
    decisions: review.decisions,
    /** Every attempt, accepted or refused, with the version and hash it was bound to. */
    audit: audit.map((a) => ({
      seq: a.seq,
      at: a.at.toISOString(),
      actor: a.actor,
      action: a.action,
      outcome: a.outcome,
      version: a.version,
      contentSha256: a.content_sha256,
      messageRef: a.message_ref,
      detail: a.detail,
      /** Whether the content this person saw is stored (it is for the current and previous version). */
      isContentStored: versions.some((v) => v.contentSha256 === a.content_sha256 && v.isHashVerified),
    })),
  };
}

/**
 * The versions whose draft is still stored: the current one, and the one an edit replaced.
 * Each is verified against the hash its audit rows were bound to (for the current one, also
 * against the review row's own hash).
 */
function shownVersions(review: ReviewRow, audit: AuditRow[]): ShownVersion[] {
  const request = review.request ?? {};
  const shown = (version: number, content: Record<string, string>, expected: string | null): ShownVersion => {
    const sha = approvalSha256(content, request);
    const bound = audit.filter((a) => a.version === version).map((a) => a.content_sha256);
    // The current draft also has the review row's own hash; an older one only its audit rows'.
    const isHashVerified = (expected === null ? bound.length > 0 : sha === expected) && bound.every((b) => b === sha);
    return { version, contentSha256: sha, content, isHashVerified };
  };
  const current = shown(review.version, review.content, review.content_sha256);
  return review.previous_content ? [shown(review.version - 1, review.previous_content, null), current] : [current];
}

function reviewLines(r: ReviewReport): string[] {
  const call = r.proposedAction as ShownCall | null;
  return [
    '',
    `review ${r.id} · ${r.name} · ${r.status} · version ${r.version} · requested by ${r.requestedBy} · ` +
      `card ${r.cardRef ?? '(not posted)'}`,
    ...(r.title ? [`  title: ${r.title}`] : []),
    ...r.fields.map((f: { label: string; value: string }) => indented(`  ${f.label}: `, f.value)),
    call
      ? `  proposed call: ${[call.tool, call.method, call.host].filter(Boolean).join(' · ')}`
      : '  proposed call: none',
    ...(call?.fields ?? []).map((f) =>
      indented(`    ${f.name}: `, `${f.old !== undefined ? `${f.old} → ` : ''}${f.new}`),
    ),
    ...(call?.input !== undefined ? [`    input: ${JSON.stringify(call.input)}`] : []),
    ...r.versions.flatMap((v) => [
      `  version ${v.version} · sha256 ${v.contentSha256} ` +
        `${v.isHashVerified ? '(verified)' : '(NOT verified: the stored draft does not hash to what was recorded)'}:`,
      ...Object.entries(v.content).map(([name, text]) => indented(`    ${name}: `, text)),
    ]),
    '  who did what (review_audit):',
    ...r.audit.map(
      (a) =>
        `    ${a.seq} · ${utc(new Date(a.at))} · ${a.actor} · ${a.action} · ${a.outcome} · ` +
        `saw version ${a.version}, sha256 ${a.contentSha256.slice(0, 16)}…${a.isContentStored ? '' : ' (content not stored)'}`,
    ),
  ];
}

/** A proposed call as the card shows it (src/review/card.ts DescribedAction), or as the flow named it. */
interface ShownCall {
  tool?: string;
  method?: string;
  host?: string;
  fields?: { name: string; old?: string; new: string }[];
  input?: unknown;
}

/** `label` then `text`, its further lines indented under the first. */
function indented(label: string, text: string): string {
  return `${label}${text.replace(/\n/g, `\n${' '.repeat(label.length)}`)}`;
}

function utc(at: Date): string {
  return at.toISOString().slice(0, 19).replace('T', ' ');
}
