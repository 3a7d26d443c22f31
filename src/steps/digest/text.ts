/**
 * The digest as a chat message: our sentences around the figures of
 * ./figures.ts, each with its change against the week before, the model's
 * three-sentence summary at the top (or one written by rules, labelled so, when
 * the offline model answered), and rejection reasons grouped by the model's
 * labels or by plain rules (labelled). Words a model or a person wrote lose
 * their `<` and `>`, so nothing in them can become a mention (RELIABILITY 82).
 */
import type { Digest, Pair } from './figures.ts';

/** What the summary step produced, as the flow hands it over. */
export interface DigestWords {
  /** Three sentences; ignored when `isOffline`. */
  summary: string[];
  /** One label per rejection reason of this week and then of last week, in the digest's order; ignored when `isOffline`. */
  reasonLabels: string[];
  /** The offline model answered (or none usable): rules write the summary and group the reasons. */
  isOffline: boolean;
  model: string;
}

/** Ids a platform gives users; only these become mention tokens. */
const USER_ID_SHAPE = /^[A-Za-z0-9._-]{1,64}$/;
const WORKING_HOURS = 'Mon–Fri 09:00–18:00';

/** A figure with its change: `12 (+3)`, `4 (−2)`, `7 (=)`. */
export function withChange(p: Pair, format: (n: number) => string = String): string {
  const delta = p.this - p.prev;
  const sign = delta > 0 ? '+' : delta < 0 ? '−' : '';
  return `${format(p.this)} (${delta === 0 ? '=' : sign + format(Math.abs(delta))})`;
}

/** `45s`, `12m`, `1h 05m`, `2d 3h`. */
export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3_600) return `${Math.round(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3_600)}h ${String(Math.round((s % 3_600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86_400)}d ${Math.round((s % 86_400) / 3_600)}h`;
}

const usd = (n: number) => `$${n.toFixed(4)}`;
const percent = (share: number | null) => (share === null ? '-' : `${Math.round(share * 100)}%`);
const plain = (text: string) => text.replace(/</g, '‹').replace(/>/g, '›').replace(/\s+/g, ' ').trim();
const person = (id: string) => (USER_ID_SHAPE.test(id) ? `<@${id}>` : 'someone');

/** The whole message text; the chart (or its Unicode-bar fallback) comes after it. */
export function digestText(d: Digest, words: DigestWords): string {
  return [
    `Weekly digest · ${d.scope.channel} · ${d.scope.from.slice(0, 10)} to ${d.scope.endAt.slice(0, 10)}, against the 7 days before`,
    ...summaryLines(d, words),
    '',
    `Runs started: ${withChange(d.runsTotal)}`,
    ...d.runsByFlow.map((f) => `  ${f.flow}: ${withChange(f.runs)}`),
    `Reviews decided: approved ${withChange(d.outcomes.approved)} · approved after an edit ${withChange(d.outcomes.approvedEdited)}` +
      ` · rejected ${withChange(d.outcomes.rejected)} · expired ${withChange(d.outcomes.expired)} · escalated ${withChange(d.outcomes.escalated)}`,
    'Time to decision (median / p90):',
    ...(d.timeToDecision.length === 0 ? ['  no decisions'] : d.timeToDecision.map(decisionTimeLine)),
    `Oldest pending reviews (${d.pending.total} waiting):`,
    ...(d.pending.oldest.length === 0
      ? ['  none']
      : d.pending.oldest.map(
          (p) =>
            `  ${p.flow} · "${plain(p.title)}" · waiting since ${p.createdAt.slice(0, 16).replace('T', ' ')} UTC · open: /signoff status ${p.runId}`,
        )),
    'Decisions per person:',
    ...(d.people.length === 0
      ? ['  none']
      : d.people.map(
          (p) => `  ${person(p.actor)}: ${withChange(p.decisions)}, outside working hours ${withChange(p.offHours)}`,
        )),
    `Decisions outside working hours (${WORKING_HOURS} ${d.scope.timezone}): ${withChange(d.offHoursTotal)}`,
    ...reasonLines(d, words),
    `Edited before approval: ${d.edits.edited.this} of ${d.edits.approved.this} approvals, ${percent(d.edits.meanChangedShare.this)} of words changed on average` +
      ` (last week ${d.edits.edited.prev} of ${d.edits.approved.prev}, ${percent(d.edits.meanChangedShare.prev)})`,
    `Policy refusals: ${d.refusals.map((r) => `${r.code.replace(/_/g, ' ')} ${withChange(r.n)}`).join(' · ')}`,
    `Model spend: ${withChange(d.spendTotalUsd, usd)}`,
    ...d.spend.map(
      (s) =>
        `  ${s.flow}: ${withChange(s.usd, usd)} in ${s.calls.this} call${s.calls.this === 1 ? '' : 's'}, per approved item ${s.perApprovedUsd.this === null ? '-' : usd(s.perApprovedUsd.this)}`,
    ),
    'Decisions per day, by outcome, with the median time to decision:',
  ].join('\n');
}

function decisionTimeLine(t: Digest['timeToDecision'][number]): string {
  const show = (x: { medianS: number; p90S: number } | null) =>
    x ? `${formatDuration(x.medianS)} / ${formatDuration(x.p90S)}` : '-';
  return `  ${t.flow}: ${show(t.this)} over ${t.this?.decided ?? 0} decisions (last week ${show(t.prev)})`;
}

function summaryLines(d: Digest, words: DigestWords): string[] {
  if (!words.isOffline && words.summary.length === 3)
    return [`Summary (${plain(words.model)}): ${words.summary.map(plain).join(' ')}`];
  return [`Summary (offline: no model is configured, so rules wrote these sentences): ${ruleSummary(d)}`];
}

/** Three sentences from the figures alone. */
export function ruleSummary(d: Digest): string {
  const decided = {
    this: d.outcomes.approved.this + d.outcomes.rejected.this + d.outcomes.expired.this,
    prev: d.outcomes.approved.prev + d.outcomes.rejected.prev + d.outcomes.expired.prev,
  };
  const medians = d.timeToDecision.filter((t) => t.this).map((t) => `${t.flow} ${formatDuration(t.this!.medianS)}`);
  const oldest = d.pending.oldest[0];
  return [
    `${withChange(decided)} reviews were decided: ${d.outcomes.approved.this} approved, ${d.outcomes.rejected.this} rejected, ${d.outcomes.expired.this} expired.`,
    medians.length > 0
      ? `The median time to decision was ${medians.join(', ')}.`
      : 'Nobody decided a review this week.',
    oldest
      ? `${d.pending.total} reviews are waiting, the oldest since ${oldest.createdAt.slice(0, 10)}.`
      : 'No review is waiting.',
  ].join(' ');
}

/** Plain rules for grouping rejection reasons when no model does: the first rule whose words appear. */
const REASON_RULES: { label: string; pattern: RegExp }[] = [
  { label: 'tone', pattern: /\b(tone|rude|polite|formal|informal|friendly|harsh|apolog)/i },
  { label: 'missing information', pattern: /\b(missing|incomplete|forgot|add|include|lacks?)\b/i },
  { label: 'wrong facts', pattern: /\b(wrong|incorrect|inaccurate|false|fact|price|amount|number|date)/i },
  { label: 'policy', pattern: /\b(policy|legal|compliance|refund|not allowed|gdpr|terms)/i },
  { label: 'too long', pattern: /\b(long|verbose|shorter|wordy)/i },
];

export function ruleLabel(reason: string): string {
  return REASON_RULES.find((r) => r.pattern.test(reason))?.label ?? 'other';
}

function reasonLines(d: Digest, words: DigestWords): string[] {
  const all = [...d.rejectionReasons.this, ...d.rejectionReasons.prev];
  const byModel = !words.isOffline && words.reasonLabels.length === all.length;
  const labelOf = (i: number) =>
    byModel ? plain(words.reasonLabels[i]!).toLowerCase().slice(0, 40) || 'other' : ruleLabel(all[i]!);
  const counts = new Map<string, Pair>();
  all.forEach((_, i) => {
    const label = labelOf(i);
    const pair = counts.get(label) ?? { this: 0, prev: 0 };
    pair[i < d.rejectionReasons.this.length ? 'this' : 'prev'] += 1;
    counts.set(label, pair);
  });
  const how = byModel
    ? `grouped by ${plain(words.model)}`
    : words.isOffline
      ? 'grouped by plain rules (offline model)'
      : 'grouped by plain rules (the model gave no usable labels)';
  const groups = [...counts.entries()].sort((a, b) => b[1].this - a[1].this || (a[0] < b[0] ? -1 : 1));
  return [
    `Rejection reasons (${how}): ${groups.length === 0 ? 'none given' : groups.map(([label, n]) => `${label} ${withChange(n)}`).join(' · ')}`,
  ];
}
