/**
 * `/signoff …` for every chat adapter: each one hands its `InboundCommand` to
 * `handleCommand` and shows the `CommandReply`. Parsing is ./command-parse.ts;
 * this file decides what a command may do and words the answer. It owns no SQL
 * and no platform markup; it talks to the engine through `RunControl`.
 *
 * Rules every reply keeps:
 * - Persist, then acknowledge: a `run` reply is built only after the run row
 *   committed, and a redelivered command finds the same run by its trigger key.
 * - Tenant isolation (RELIABILITY 85): a run of another tenant reads exactly
 *   like a missing one, so a reply never tells that it exists.
 * - No internals (RELIABILITY 78): unexpected errors reach the user as
 *   "something went wrong" with a short ref; the log carries the error and ref.
 * - No pings from typed text (RELIABILITY 82): `<@id>` tokens only for user ids
 *   the platform gave us; other people's words go in `Notice.quote`.
 */
import { withReference, type InboundCommand } from '../chat/messages.ts';
import type { CommandReply, Notice } from '../chat/port.ts';
import type { StartOptions } from '../engine/engine.ts';
import type { TriggerSpec } from '../engine/flow.ts';
import { isSignoffError, SignoffError } from '../errors.ts';
import { correlationId, newCorrelationId } from '../ops/correlation.ts';
import { silentLogger, type Logger } from '../ops/log.ts';
import { costLabel } from '../review/card.ts';
import type { RunCost } from '../store/ledger.ts';
import type { RunRecord, RunSummary, TimelineRow } from '../store/runs.ts';
import { listSchedules, requestDigest, type DigestCommandDeps } from './digest-commands.ts';
import { unknownKeyProblem } from './input-keys.ts';
import { parseCommand, type ParsedCommand } from './command-parse.ts';
import { answerDeadLetters, type DeadLetterControl } from './webhooks/dead-letters.ts';

/** A flow as help and error replies name it, with what starts it (src/engine/flow.ts TriggerSpec). */
export interface FlowSummary {
  id: string;
  title: string;
  triggers: readonly TriggerSpec[];
}

/** What commands need from the engine; `Engine` satisfies it as is. */
export interface RunControl {
  startRun(flowId: string, input: unknown, opts?: StartOptions): Promise<{ runId: string; isNew: boolean }>;
  getRun(runId: string): Promise<RunRecord | null>;
  timeline(runId: string): Promise<TimelineRow[]>;
  cancel(runId: string, opts?: { actor?: string; reason?: string }): Promise<void>;
  retry(runId: string, opts?: { actor?: string }): Promise<void>;
  listFlows(): FlowSummary[];
  listRuns(opts: { tenant: string; limit?: number }): Promise<RunSummary[]>;
  /** What a run's model calls have cost so far. */
  runCost(runId: string): Promise<RunCost>;
}

export interface CommandDeps extends RunControl, Pick<DigestCommandDeps, 'schedules' | 'clock'> {
  /** Users who may cancel, retry or re-post any run of their own tenant (SIGNOFF_ADMINS). Default: nobody. */
  admins?: ReadonlySet<string>;
  /** Posts the pending review cards of a run again (the first card was deleted, its channel archived); returns how many. */
  repostCards?(runId: string, opts: { actor: string }): Promise<number>;
  /** Where unexpected errors are logged with their ref. Default: dropped. */
  log?: Logger;
  /** The input keys a flow takes (./input-keys.ts), so a mistyped key is refused; null or absent: not checked. */
  inputKeys?(flowId: string): readonly string[] | null;
  /** Webhook dead letters, for admins (`/signoff deadletters`); absent: the command says none are kept. */
  deadLetters?: DeadLetterControl;
}

/** Runs `list` shows. */
const LISTED_RUNS = 10;
/** Timeline entries `status` shows (the most recent ones). */
const SHOWN_EVENTS = 15;
/** Ids a platform gives users (Slack U…, Discord snowflakes, console names); only these become mention tokens. */
const USER_ID_SHAPE = /^[A-Za-z0-9._-]{1,64}$/;
/** What a renderer could read as a mention or a special link, were it in our text. */
const MENTION_LIKE = /<[@#!]/;

const USAGE_LINES = [
  '/signoff run <flow> key=value …: start a flow (quote a value with spaces: key="two words")',
  '/signoff status <run>: where a run is, with its recent timeline',
  `/signoff list: the ${LISTED_RUNS} most recent runs here`,
  '/signoff cancel <run>: cancel a run (its requester or an admin)',
  '/signoff retry <run>: retry a failed run (its requester or an admin)',
  "/signoff repost <run>: post a run's review card again, e.g. after it was deleted (its requester or an admin)",
  "/signoff digest [preview]: this week's digest here now (preview: only to you)",
  '/signoff schedules: the schedules, their next slot and the last one fired',
  '/signoff deadletters [replay <id>]: webhook deliveries a flow refused, and starting one again (admins)',
  '/signoff help: this help',
];

/** Answers one command. Never throws: every failure becomes a reply the user can act on. */
export async function handleCommand(cmd: InboundCommand, deps: CommandDeps): Promise<CommandReply> {
  let command: ParsedCommand;
  try {
    command = parseCommand(cmd.text);
  } catch (err) {
    if (isSignoffError(err, 'input_invalid')) return ephemeral(err.message, err.details?.quote as string | undefined);
    return replyUnexpected(err, cmd, 'parse', deps.log);
  }
  try {
    return await dispatch(command, cmd, deps);
  } catch (err) {
    return replyUnexpected(err, cmd, command.kind, deps.log);
  }
}

/** Binds an engine's methods and adds the options, for callers that pass admins or a logger. */
export function makeCommandDeps(
  control: RunControl,
  opts: Pick<CommandDeps, 'admins' | 'log' | 'repostCards' | 'inputKeys' | 'schedules' | 'clock' | 'deadLetters'> = {},
): CommandDeps {
  return {
    startRun: (flowId, input, startOpts) => control.startRun(flowId, input, startOpts),
    getRun: (runId) => control.getRun(runId),
    timeline: (runId) => control.timeline(runId),
    cancel: (runId, cancelOpts) => control.cancel(runId, cancelOpts),
    retry: (runId, retryOpts) => control.retry(runId, retryOpts),
    listFlows: () => control.listFlows(),
    listRuns: (listOpts) => control.listRuns(listOpts),
    runCost: (runId) => control.runCost(runId),
    ...opts,
  };
}

async function dispatch(command: ParsedCommand, cmd: InboundCommand, deps: CommandDeps): Promise<CommandReply> {
  switch (command.kind) {
    case 'run':
      return startFlow(command.flowId, command.input, cmd, deps);
    case 'status':
      return showStatus(command.runId, cmd, deps);
    case 'list':
      return listRecentRuns(cmd, deps);
    case 'cancel':
    case 'retry':
    case 'repost':
      return controlRun(command.kind, command.runId, cmd, deps);
    case 'digest':
      return requestDigest(command.isPreview, cmd, deps);
    case 'schedules':
      return listSchedules(deps);
    case 'deadletters':
      return answerDeadLetters(command.replayId, cmd.user, deps);
    case 'help':
      return ephemeral(helpText(deps.listFlows()));
  }
}

async function startFlow(
  flowId: string,
  input: Record<string, string>,
  cmd: InboundCommand,
  deps: CommandDeps,
): Promise<CommandReply> {
  const flows = deps.listFlows();
  const flow = flows.find((f) => f.id === flowId);
  if (!flow) return unknownFlow(flowId, flows);
  // A flow starts only the ways it declares (`triggers`): a command is one of them, or not.
  if (!flow.triggers.some((t) => t.kind === 'command'))
    return ephemeral(`${flowId} is not started by a command; ${startsBy(flow)}`);
  const known = deps.inputKeys?.(flowId);
  const unknownKey = known ? unknownKeyProblem(known, Object.keys(input)) : null;
  if (unknownKey) return ephemeral(`can't start ${flowId}: ${unknownKey}`);
  let started: { runId: string; isNew: boolean };
  try {
    started = await deps.startRun(flowId, input, {
      trigger: { source: cmd.platform, actor: cmd.user, channel: cmd.channel, tenant: cmd.tenant },
      triggerKey: `${cmd.platform}:${cmd.tenant}:cmd:${cmd.deliveryId}`,
    });
  } catch (err) {
    if (isSignoffError(err, 'input_invalid')) return ephemeral(inputProblems(flowId, err));
    if (isSignoffError(err, 'flow_not_found')) return unknownFlow(flowId, flows);
    throw err;
  }
  const runLabel = `${flowId} · run \`${started.runId}\``;
  if (started.isNew) return { visibility: 'channel', notice: { text: `${mention(cmd.user)} started ${runLabel}` } };
  // A redelivery: the first delivery already started it. The key came from the
  // platform; should it ever match someone else's run, say nothing about that run.
  const run = await deps.getRun(started.runId);
  if (!run || !isTenantRun(run, cmd) || run.trigger?.actor !== cmd.user || run.flow !== flowId) {
    // The truth, without naming the other run: this id was spent; a fresh send gets a fresh one.
    deps.log?.warn('a command reused the delivery id of a different command', {
      deliveryId: cmd.deliveryId,
      platform: cmd.platform,
    });
    return ephemeral(
      'nothing was started: this command arrived with the id of a different, earlier command; send it again',
    );
  }
  return ephemeral(`${mention(cmd.user)} already started ${runLabel}`);
}

async function showStatus(runId: string, cmd: InboundCommand, deps: CommandDeps): Promise<CommandReply> {
  const run = await readTenantRun(runId, cmd, deps);
  if (!run) return noRun(runId);
  const [events, cost] = await Promise.all([deps.timeline(runId), deps.runCost(runId)]);
  const shown = events.slice(-SHOWN_EVENTS);
  const lines = [
    `run \`${run.id}\` · ${run.flow} · ${run.status}`,
    `state: ${formatState(run.snapshot?.value)}`,
    `started ${formatUtc(run.created_at)} UTC by ${mentionOrDash(run.trigger?.actor)}`,
    ...(cost.calls > 0
      ? [`model cost so far: ${costLabel(cost)} (${cost.calls} call${cost.calls === 1 ? '' : 's'})`]
      : []),
    shown.length < events.length ? `timeline (last ${shown.length} of ${events.length}):` : 'timeline:',
    ...shown.map(formatEvent),
  ];
  // The reason may quote a step's or a model's error: it is shown as someone's words.
  if (run.status_reason) return ephemeral([...lines, 'reason:'].join('\n'), run.status_reason);
  return ephemeral(lines.join('\n'));
}

async function listRecentRuns(cmd: InboundCommand, deps: CommandDeps): Promise<CommandReply> {
  const runs = await deps.listRuns({ tenant: cmd.tenant, limit: LISTED_RUNS });
  if (runs.length === 0) return ephemeral('no runs yet; start one with /signoff run <flow> key=value …');
  const nowMs = Date.now();
  const lines = runs.map(
    (run) => `\`${run.id}\` · ${run.flow} · ${run.status} · ${formatAge(nowMs - run.created_at.getTime())} ago`,
  );
  return ephemeral(['latest runs here, newest first:', ...lines].join('\n'));
}

async function controlRun(
  verb: 'cancel' | 'retry' | 'repost',
  runId: string,
  cmd: InboundCommand,
  deps: CommandDeps,
): Promise<CommandReply> {
  const run = await readTenantRun(runId, cmd, deps);
  if (!run) return noRun(runId);
  // The requester and tenant never change, so this check cannot go stale before the write.
  const isAllowed = run.trigger?.actor === cmd.user || deps.admins?.has(cmd.user) === true;
  if (!isAllowed) return ephemeral(`you can't ${verb} run \`${runId}\`: only its requester or an admin can`);
  try {
    if (verb === 'cancel') await deps.cancel(runId, { actor: cmd.user });
    else if (verb === 'retry') await deps.retry(runId, { actor: cmd.user });
    else if (((await deps.repostCards?.(runId, { actor: cmd.user })) ?? 0) === 0) {
      return ephemeral(`run \`${runId}\` has no review waiting for a decision, so there is no card to re-post`);
    }
  } catch (err) {
    if (isSignoffError(err, 'run_not_active') || isSignoffError(err, 'run_not_failed')) {
      // Their message may carry the run's recorded reason: quote it if it could ping.
      return MENTION_LIKE.test(err.message)
        ? ephemeral(`you can't ${verb} run \`${runId}\` now:`, err.message)
        : ephemeral(err.message);
    }
    if (isSignoffError(err, 'run_not_found')) return noRun(runId);
    throw err;
  }
  const done = { cancel: 'cancelled', retry: 'retried', repost: 're-posted the review card of' }[verb];
  return { visibility: 'channel', notice: { text: `${mention(cmd.user)} ${done} ${run.flow} · run \`${runId}\`` } };
}

/** The run if it exists and belongs to the command's tenant; null otherwise, alike. */
async function readTenantRun(runId: string, cmd: InboundCommand, deps: CommandDeps): Promise<RunRecord | null> {
  const run = await deps.getRun(runId);
  return run && isTenantRun(run, cmd) ? run : null;
}

function isTenantRun(run: RunRecord, cmd: InboundCommand): boolean {
  return typeof run.trigger?.tenant === 'string' && run.trigger.tenant === cmd.tenant;
}

function noRun(runId: string): CommandReply {
  return ephemeral(`no run \`${runId}\``);
}

function unknownFlow(flowId: string, flows: FlowSummary[]): CommandReply {
  const known = flows.map((flow) => flow.id).join(', ') || 'none';
  return ephemeral(`no flow "${flowId}"; known flows: ${known}`);
}

/** The engine's schema problems, e.g. "subject: required; body: Too big: …". */
function inputProblems(flowId: string, err: SignoffError): Notice {
  const raw = Array.isArray(err.details?.problems) ? (err.details.problems as string[]) : [err.message];
  const problems = raw.map((p) => p.replace(/Invalid input: expected \w+, received undefined$/, 'required')).join('; ');
  const text = `can't start ${flowId}: ${problems}`;
  return MENTION_LIKE.test(problems)
    ? { text: `can't start ${flowId}: its input is invalid`, quote: problems }
    : { text };
}

function helpText(flows: FlowSummary[]): string {
  const flowLines =
    flows.length === 0 ? ['no flows are loaded'] : flows.map((flow) => `${flow.id}: ${flow.title} (${startsBy(flow)})`);
  return ['usage:', ...USAGE_LINES, 'flows:', ...flowLines].join('\n');
}

/** What starts a flow, in words: `started by /signoff run x, a zendesk webhook (ticket.created)`. */
function startsBy(flow: FlowSummary): string {
  if (flow.triggers.length === 0) return 'it declares no trigger';
  const ways = flow.triggers.map((t) => {
    switch (t.kind) {
      case 'command':
        return `/signoff run ${flow.id}`;
      case 'webhook':
        return `a ${t.source} webhook (${t.events.join(', ')})`;
      case 'schedule':
        return `the schedule ${t.cron}${t.timezone ? ` ${t.timezone}` : ''}`;
    }
  });
  return `started by ${ways.join(', ')}`;
}

/** Logs the real error under a short ref (the request's correlation id, src/ops/correlation.ts) and tells the user only the ref. */
function replyUnexpected(err: unknown, cmd: InboundCommand, command: string, log: Logger = silentLogger): CommandReply {
  const ref = correlationId() ?? newCorrelationId();
  const error =
    err instanceof Error
      ? { name: err.name, message: err.message, code: (err as { code?: unknown }).code, stack: err.stack }
      : { message: String(err) };
  log.error('command failed', {
    ref,
    command,
    platform: cmd.platform,
    tenant: cmd.tenant,
    user: cmd.user,
    deliveryId: cmd.deliveryId,
    error,
  });
  return ephemeral(withReference('something went wrong; try again', ref));
}

function ephemeral(text: string | Notice, quote?: string): CommandReply {
  const notice = typeof text === 'string' ? (quote === undefined ? { text } : { text, quote }) : text;
  return { visibility: 'ephemeral', notice };
}

/** A mention token for a platform user id; anything else is not ours to turn into one. */
function mention(userId: string): string {
  return USER_ID_SHAPE.test(userId) ? `<@${userId}>` : 'someone';
}

function mentionOrDash(userId: unknown): string {
  return typeof userId === 'string' && USER_ID_SHAPE.test(userId) ? `<@${userId}>` : '-';
}

function formatEvent(event: TimelineRow): string {
  return `${event.seq} · ${formatUtc(event.at).slice(11)} · ${event.type} · ${mentionOrDash(event.actor)} · ${formatState(event.state_after)}`;
}

/** `2025-01-31 14:02:09` in UTC. */
function formatUtc(at: Date): string {
  return at.toISOString().slice(0, 19).replace('T', ' ');
}

/** A state value as dotted paths: `reviewing`, `review.waiting`, `a.x, b.y` for parallel states. */
export function formatState(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    return (
      Object.entries(value)
        .map(([key, inner]) => {
          const rest = formatState(inner);
          return rest === '-' ? key : `${key}.${rest}`;
        })
        .join(', ') || '-'
    );
  }
  return '-';
}

/** `45s`, `12m`, `5h`, `3d`: the age of a run at a glance. */
export function formatAge(ageMs: number): string {
  const seconds = Math.max(0, Math.floor(ageMs / 1_000));
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3_600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 172_800) return `${Math.floor(seconds / 3_600)}h`;
  return `${Math.floor(seconds / 86_400)}d`;
}
