/**
 * Presents a benchmark result: the readable table (figures next to the
 * targets signoff aims for) or one JSON object (`--json`). No measuring here.
 */
import type { InteractiveResult } from './interactive.ts';
import type { RestartResult } from './restart.ts';
import type { SlackClickResult } from './slack-clicks.ts';
import type { WebhookResult } from './webhooks.ts';
import type { Params, TrialResult } from './trial.ts';

export interface Machine {
  cores: number;
  cpu: string;
  node: string;
  postgres: string;
  database: string;
  poolSize: number;
  /** RSS of an idle `node --expose-gc --import tsx` process, for reference. */
  runtimeBaselineRssMb: number | null;
}

export interface BenchResult {
  ok: boolean;
  workload: 'hitl-v1';
  system: 'signoff';
  params: Params;
  machine: Machine;
  /** WORKLOAD.md physical limit (a) at C clients; null when pgbench is absent or skipped. */
  pgbenchInsertTps: number | null;
  trial: TrialResult;
  restart: RestartResult | null;
  /** Issue 5's click-ack phase; null with --skip-slack. */
  slack: SlackClickResult | null;
  /** Issue 12's click-ack phase over Discord HTTP interactions; null with --skip-discord. */
  discord: SlackClickResult | null;
  /** Issue 10's interactive phase (what a person waits for); null with --skip-interactive. */
  interactive: InteractiveResult | null;
  /** Issue 13's webhook phase; null with --skip-webhooks. */
  webhooks?: WebhookResult | null;
}

/** Targets from the brief: a figure is flagged when it misses one. */
const TARGETS = { runsPerSec: 1_500, decisionsPerSec: 1_500, p99C1Ms: 8, rssMbAt10k: 100 };

const f0 = (x: number) => x.toLocaleString('en-US', { maximumFractionDigits: 0 });
const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);
const mark = (ok: boolean) => (ok ? 'ok' : 'MISS');

export function formatTable(r: BenchResult): string {
  const t = r.trial;
  const { n, c, l1 } = r.params;
  const rows: [string, string, string][] = [
    [
      'Phase A: runs/s',
      f0(t.phaseA.perSec),
      `>= ${f0(TARGETS.runsPerSec)} ${mark(t.phaseA.perSec >= TARGETS.runsPerSec)}`,
    ],
    [
      'Phase B: decisions/s',
      f0(t.phaseB.perSec),
      `>= ${f0(TARGETS.decisionsPerSec)} ${mark(t.phaseB.perSec >= TARGETS.decisionsPerSec)}`,
    ],
    [
      'node CPU per run, A / B (ms)',
      `${f2(t.phaseA.cpuMsPerItem)} / ${f2(t.phaseB.cpuMsPerItem)}`,
      '(harness process, user + sys)',
    ],
    [
      'decision latency C=1 p50 / p99 (ms)',
      `${f2(t.c1.decide.p50)} / ${f2(t.c1.decide.p99)}`,
      `p99 <= ${TARGETS.p99C1Ms} ${mark(t.c1.decide.p99 <= TARGETS.p99C1Ms)}`,
    ],
    [`decision latency C=${c} p50 / p99 (ms)`, `${f2(t.latencyC.p50)} / ${f2(t.latencyC.p99)}`, ''],
    ['start latency C=1 p50 / p99 (ms)', `${f2(t.c1.start.p50)} / ${f2(t.c1.start.p99)}`, '(reference)'],
    ['RSS after init (MB)', f1(t.memInit.rssMb), `V8 heap in use ${f1(t.memInit.heapUsedMb)} MB`],
    [`RSS with ${f0(n)} waiting (MB)`, f1(t.memWaiting.rssMb), rssTarget(n, t.memWaiting.rssMb)],
    [`  V8 heap in use with ${f0(n)} waiting (MB)`, f1(t.memWaiting.heapUsedMb), ''],
    [
      '  RSS of an idle node --import tsx (MB)',
      r.machine.runtimeBaselineRssMb === null ? 'n/a' : f1(r.machine.runtimeBaselineRssMb),
      '(runtime baseline)',
    ],
    ['engine init (ms)', f0(t.initMs), ''],
    [
      'check',
      t.check.ok ? 'pass' : 'FAIL',
      `${t.check.status.done ?? 0}/${n} done, ${t.check.applyLog.rows} apply rows / ${t.check.applyLog.runs} runs, ${t.check.redelivered} redelivered`,
    ],
  ];
  if (r.restart) rows.push(...restartRows(r.restart));
  else rows.push(['restart trial', 'skipped', '--skip-restart']);
  if (r.slack) rows.push(...slackRows(r.slack));
  else rows.push(['slack click acks', 'skipped', '--skip-slack']);
  if (r.discord) rows.push(...slackRows(r.discord, 'discord'));
  else rows.push(['discord click acks', 'skipped', '--skip-discord']);
  if (r.interactive) rows.push(...interactiveRows(r.interactive));
  else rows.push(['web chat waits', 'skipped', '--skip-interactive']);
  if (r.webhooks) rows.push(...webhookRows(r.webhooks));
  else rows.push(['webhooks', 'skipped', '--skip-webhooks']);
  if (r.pgbenchInsertTps !== null) {
    rows.push([
      `pgbench INSERT tps (${c} clients, 10 s)`,
      f0(r.pgbenchInsertTps),
      `runs/s = ${f2(t.phaseA.perSec / r.pgbenchInsertTps)} x`,
    ]);
  }
  const m = r.machine;
  const header = [
    `signoff HITL benchmark (workload v1): N=${n} C=${c} L1=${l1}, pool ${m.poolSize}`,
    `machine: ${m.cores} cores, ${m.cpu}; node ${m.node}; Postgres ${m.postgres}`,
    `database: ${m.database}`,
  ];
  const problems = [
    ...t.check.problems,
    ...(r.restart?.problems ?? []),
    ...(r.slack?.problems ?? []),
    ...(r.discord?.problems ?? []),
    ...(r.interactive?.problems ?? []),
    ...(r.webhooks?.problems ?? []),
  ].map((p) => `  problem: ${p}`);
  return [...header, '', table(rows), ...problems, '', r.ok ? 'result: PASS' : 'result: FAIL'].join('\n');
}

function restartRows(rs: RestartResult): [string, string, string][] {
  const p1 = rs.process1;
  const p2 = rs.process2;
  return [
    [
      'restart trial',
      rs.ok ? 'pass' : 'FAIL',
      `process 1 killed by ${p1.killedBy} with ${p2.statusAfterInit.waiting ?? 0} waiting`,
    ],
    ['  process 1: runs/s, RSS waiting (MB)', `${f0(p1.phaseA.perSec)}, ${f1(p1.memWaiting.rssMb)}`, ''],
    ['  process 2: init (ms)', f0(p2.initMs), `${f0(p2.spawnToReadyMs)} ms from spawn`],
    ['  process 2: decisions/s', f0(p2.phaseB.perSec), `p50 / p99 ${f2(p2.latency.p50)} / ${f2(p2.latency.p99)} ms`],
    ['  process 2: draft executions', String(p2.draftCalls), `must be 0 ${mark(p2.draftCalls === 0)}`],
    ['  process 2: apply log', `${p2.applyLog.rows} rows / ${p2.applyLog.runs} runs`, mark(p2.applyLog.ok)],
  ];
}

function slackRows(s: SlackClickResult, platform = 'slack'): [string, string, string][] {
  return [
    [
      `${platform}: ${s.clicks} concurrent clicks, ack p50 / p99 (ms)`,
      `${f1(s.ack.p50)} / ${f1(s.ack.p99)}`,
      `p99 <= ${s.targetP99Ms} ${s.isP99Met ? 'PASS' : 'FAIL'}`,
    ],
    [
      '  ack max / mean (ms)',
      `${f1(s.ack.max)} / ${f1(s.ack.mean)}`,
      `bot pool ${s.botPoolSize}, cards in ${s.channels} channels`,
    ],
    [
      '  committed before ack',
      `${s.committed}/${s.clicks}`,
      `${s.acked} acked; ${s.seenAtAck} seen by a snapshot taken after the ack ${mark(s.ok)}`,
    ],
  ];
}

export function webhookRows(w: WebhookResult): [string, string, string][] {
  return [
    [
      `webhooks: ${w.sent} signed (${w.duplicates} resends), accepted/s`,
      f0(w.acceptedPerSec),
      `${w.accepted}/${w.sent} answered 200`,
    ],
    ['  ack p50 / p99 (ms)', `${f1(w.ack.p50)} / ${f1(w.ack.p99)}`, `max ${f1(w.ack.max)}`],
    ['  runs / distinct deliveries', `${w.runs} / ${w.distinct}`, mark(w.runs === w.distinct)],
  ];
}

function interactiveRows(w: InteractiveResult): [string, string, string][] {
  const row = (what: string, l: InteractiveResult['commandToCard']): [string, string, string] => [
    `web chat: ${what}, p50 / p99 (ms)`,
    `${f1(l.p50)} / ${f1(l.p99)}`,
    `p99 <= ${w.targetP99Ms} ${mark(l.p99 <= w.targetP99Ms)}; max ${f1(l.max)}`,
  ];
  return [
    row(`command -> card (${w.samples})`, w.commandToCard),
    row(`edit-save -> card v+1 (${w.samples})`, w.editToCard),
  ];
}

/** `--only-interactive`: the web chat rows alone. */
export function formatInteractiveOnly(w: InteractiveResult, cpus: { model: string }[], postgres: string): string {
  const header = `signoff web chat waits; machine: ${cpus.length} cores, ${cpus[0]?.model.trim() ?? 'unknown'}; node ${process.version}; Postgres ${postgres}`;
  return [
    header,
    '',
    table(interactiveRows(w)),
    ...w.problems.map((p) => `  problem: ${p}`),
    '',
    w.ok ? 'result: PASS' : 'result: FAIL',
  ].join('\n');
}

/** `--only-slack`: the click-ack rows alone. */
export function formatSlackOnly(
  s: SlackClickResult,
  cpus: { model: string }[],
  postgres: string,
  platform = 'slack',
): string {
  const header = `signoff ${platform} click-ack phase; machine: ${cpus.length} cores, ${cpus[0]?.model.trim() ?? 'unknown'}; node ${process.version}; Postgres ${postgres}`;
  return [
    header,
    '',
    table(slackRows(s, platform)),
    ...s.problems.map((p) => `  problem: ${p}`),
    '',
    s.ok ? 'result: PASS' : 'result: FAIL',
  ].join('\n');
}

function rssTarget(n: number, mb: number): string {
  if (n < 10_000) return `(target <= ${TARGETS.rssMbAt10k} at 10,000: use --n 10000)`;
  return `<= ${TARGETS.rssMbAt10k} ${mark(mb <= TARGETS.rssMbAt10k)}`;
}

function table(rows: [string, string, string][]): string {
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  return rows.map(([a, b, c]) => `${a.padEnd(w0)}  ${b.padStart(w1)}  ${c}`.trimEnd()).join('\n');
}
