/**
 * What each alert says (pure): the facts of src/store/alert-facts.ts become
 * one draft per cause, each saying what happened and what to do next, and a
 * cleared alert gets its "resolved" line. Our sentences name only ids we made
 * (flows, steps, runs, hosts, webhook sources); words someone else wrote (a
 * step's error, a sender's field) go in `quote`, shown verbatim and escaped
 * (src/chat/port.ts `Notice`). Run reasons are the engine's short, redacted
 * descriptions: no stack, no secret.
 */
import type { AttentionRuns, DeadLetterCount, ObservedCause, PendingBudgets } from '../store/alert-facts.ts';
import type { AlertDraft, AlertRow } from '../store/alerts.ts';

/** Everything in trouble at one sweep. */
export interface AlertFacts {
  runs: AttentionRuns[];
  budgets: PendingBudgets[];
  deadLetters: DeadLetterCount[];
  circuits: ObservedCause[];
}

export interface DraftOptions {
  /** Dead letters of one source within the window that open an alert. */
  deadLetterBurst: number;
  deadLetterWindowMs: number;
  /** Causes open now: an open dead-letter burst stays open while any dead letter is in the window. */
  openCauses: ReadonlySet<string>;
}

/** Longest quote an alert carries: enough to act on, short enough for a channel. */
const MAX_QUOTE_CHARS = 300;

const quoted = (text: string | null) => (text ? text.slice(0, MAX_QUOTE_CHARS) : null);
const plural = (n: number, one: string, many: string) => (n === 1 ? one : many);

/** One draft per cause that needs a person now. */
export function draftAlerts(facts: AlertFacts, opts: DraftOptions): AlertDraft[] {
  const drafts: AlertDraft[] = [];
  for (const runs of facts.runs) if (runs.kind !== 'quota') drafts.push(runsDraft(runs));
  const quota = facts.runs.filter((r) => r.kind === 'quota');
  if (quota.length > 0) drafts.push(quotaDraft(quota));
  for (const budget of facts.budgets) drafts.push(budgetDraft(budget));
  for (const circuit of facts.circuits) if (circuit.cause.startsWith('circuit:')) drafts.push(circuitDraft(circuit));
  for (const letters of facts.deadLetters) {
    const cause = `dead-letters:${letters.source}`;
    const isBurst = letters.count >= opts.deadLetterBurst || (opts.openCauses.has(cause) && letters.count > 0);
    if (isBurst) drafts.push(deadLetterDraft(cause, letters, opts.deadLetterWindowMs));
  }
  return drafts;
}

function runsDraft(runs: AttentionRuns): AlertDraft {
  const id = runs.latestRunId;
  const at = runs.step ? ` at \`${runs.step}\`` : '';
  const subject = { flow: runs.flow, step: runs.step, latestRunId: id };
  const isOne = runs.count === 1;
  if (runs.kind === 'failed') {
    const what = isOne
      ? `Run \`${id}\` of ${runs.flow} failed${at}.`
      : `${runs.count} runs of ${runs.flow} failed${at} (latest \`${id}\`).`;
    const fix = fixFor(runs.latestReason);
    const next = isOne
      ? `${fix}, then \`/signoff retry ${id}\`, or \`/signoff cancel ${id}\` to give it up.`
      : `${fix}, then \`/signoff retry <run>\` for each (\`/signoff list\` shows them), or cancel them.`;
    return {
      cause: `run-failed:${runs.flow}:${runs.step ?? '-'}`,
      kind: 'run-failed',
      subject,
      message: `${what} Next: ${next} ${isOne ? 'Its error:' : 'The latest error:'}`,
      quote: quoted(runs.latestReason),
      count: runs.count,
    };
  }
  const what = isOne
    ? `Run \`${id}\` of ${runs.flow} is parked and will not go on by itself.`
    : `${runs.count} runs of ${runs.flow} are parked and will not go on by themselves (latest \`${id}\`).`;
  return {
    cause: `run-parked:${runs.flow}`,
    kind: 'run-parked',
    subject,
    message:
      `${what} Next: a step that crashed its worker or was blocked runs again with \`/signoff retry ${id}\` ` +
      `once its cause is fixed; a run whose state a deploy removed can only be cancelled (\`/signoff cancel ${id}\`). ` +
      'Why it is parked:',
    quote: quoted(runs.latestReason),
    count: runs.count,
  };
}

/** A refusal of our credentials by a tool's host (toolbox.ts `fromStatus`): `tool "zendesk.reply" was refused by h (401)`. */
const CREDENTIALS_REFUSED = /tool "([a-z][a-z0-9-]*)[^"]*" was refused by (\S+) \((401|403)\)/;

/** What to fix first, read from a failed run's reason where it is plain; else the error's own words. */
function fixFor(reason: string | null): string {
  const refused = reason ? CREDENTIALS_REFUSED.exec(reason) : null;
  if (!refused) return 'fix what the error says';
  const [, connector, host, status] = refused;
  return `${host} refused signoff's credentials (${status}): fix the ${connector!.toUpperCase().replaceAll('-', '_')}_* settings (see .env.example) and restart`;
}

function quotaDraft(quota: AttentionRuns[]): AlertDraft {
  const count = quota.reduce((sum, r) => sum + r.count, 0);
  const latest = quota[0]!;
  const flows = quota.map((r) => r.flow);
  return {
    cause: 'model-quota',
    kind: 'model-quota',
    subject: { flows, latestRunId: latest.latestRunId },
    message:
      `The model provider says the account has no quota left: ${count} ${plural(count, 'run is', 'runs are')} ` +
      `paused (${flows.join(', ')}; latest \`${latest.latestRunId}\`). Next: add credit with the provider or ` +
      `change OPENAI_API_KEY, then \`/signoff retry <run>\` for each paused run.`,
    quote: null,
    count,
  };
}

function budgetDraft(budget: PendingBudgets): AlertDraft {
  const id = budget.latestRunId;
  const who =
    budget.count === 1
      ? `Run \`${id}\` of ${budget.flow} has spent its model budget and waits`
      : `${budget.count} runs of ${budget.flow} have spent their model budget and wait (latest \`${id}\`)`;
  return {
    cause: `budget:${budget.flow}`,
    kind: 'budget',
    subject: { flow: budget.flow, latestRunId: id },
    message:
      `${who} for a person to allow more. Next: approve or reject the budget card in the run's channel; ` +
      'RUN_BUDGET_USD, or the flow’s own budget, sets the limit.',
    quote: null,
    count: budget.count,
  };
}

function circuitDraft(circuit: ObservedCause): AlertDraft {
  const host = circuit.cause.slice('circuit:'.length);
  return {
    cause: circuit.cause,
    kind: 'circuit',
    subject: { host },
    message:
      `Calls to ${host} keep failing: its circuit is open in ${circuit.observers} bot ` +
      `${plural(circuit.observers, 'process', 'processes')}, so runs that call it wait and try again instead of ` +
      `failing. Next: check ${host}'s status page and the credentials signoff uses for it; this clears itself ` +
      'when a call succeeds.',
    quote: null,
    count: circuit.observers,
  };
}

function deadLetterDraft(cause: string, letters: DeadLetterCount, windowMs: number): AlertDraft {
  const minutes = Math.round(windowMs / 60_000);
  return {
    cause,
    kind: 'dead-letters',
    subject: { source: letters.source, windowMinutes: minutes },
    message:
      `${letters.count} webhook ${plural(letters.count, 'delivery', 'deliveries')} from ${letters.source} could not ` +
      `start a flow in the last ${minutes} minutes. Next: fix the flow's input schema or the sender, then ` +
      '`/signoff deadletters` lists them and `/signoff deadletters replay <id>` replays one. The latest refusal:',
    quote: quoted(letters.latestReason),
    count: letters.count,
  };
}

/** The reply under a cleared alert's message. */
export function resolvedText(alert: AlertRow): string {
  const at = (alert.cleared_at ?? new Date()).toISOString().slice(0, 16).replace('T', ' ');
  return `Resolved at ${at} UTC: ${resolvedWhat(alert)}`;
}

function resolvedWhat(alert: AlertRow): string {
  const s = alert.subject as { flow?: string; step?: string | null; host?: string; source?: string };
  const most = alert.peak_count;
  switch (alert.kind) {
    case 'run-failed':
      return `no run of ${s.flow} is failed${s.step ? ` at \`${s.step}\`` : ''} any more (${most} at most; retried or cancelled).`;
    case 'run-parked':
      return `no run of ${s.flow} is parked any more (${most} at most).`;
    case 'model-quota':
      return 'no run is paused for the model quota any more.';
    case 'budget':
      return `no run of ${s.flow} waits for a budget decision any more.`;
    case 'circuit':
      return `no bot process sees the circuit to ${s.host} open any more.`;
    case 'dead-letters':
      return `no new dead letter from ${s.source} for a whole window (${most} at most).`;
    default:
      return 'the cause is gone.';
  }
}
