/**
 * `npm run bench`: signoff's own harness for the HITL workload
 * (/work/shared/WORKLOAD.md). Owns the command line and the order of a round:
 * server (DATABASE_URL or a durable embedded Postgres), optional pgbench INSERT
 * probe, the trial on `peer_signoff`, the restart trial on
 * `peer_signoff_restart`, the Slack click-ack phase on `peer_signoff_slack`
 * (bench/slack-clicks.ts), the web chat waits on `peer_signoff_interactive`
 * (bench/interactive.ts), then the table (or `--json`). Exits 1 when a check fails.
 *
 *   npm run bench -- [--n 2000] [--c 32] [--l1 200] [--json] [--skip-restart] [--skip-pgbench]
 *                    [--skip-slack | --only-slack] [--skip-discord | --only-discord] [--skip-interactive | --only-interactive]
 *                    [--skip-digest | --only-digest] [--digest-runs 100000]
 *                    [--skip-webhooks | --only-webhooks]
 *
 * Also the entry point of the restart trial's children (`--child-phase-a`,
 * `--child-phase-b`), which bench/restart.ts spawns.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { freshDatabase, hasPgbench, openServer, pgbenchInsertProbe } from './db.ts';
import { digestTrial, formatDigestBench } from './digest.ts';
import { interactiveTrial } from './interactive.ts';
import { formatInteractiveOnly, formatSlackOnly, formatTable, webhookRows, type BenchResult } from './report.ts';
import { childMain, restartTrial } from './restart.ts';
import { slackClickTrial } from './slack-clicks.ts';
import { webhookTrial } from './webhooks.ts';
import { discordClickTrial } from './discord-clicks.ts';
import { runTrial, type Params } from './trial.ts';
import { assertTicketSize } from './workload.ts';

const TRIAL_DB = 'peer_signoff';
const PGBENCH_SECONDS = 10;
/** Issue 5: the acknowledgement latency of this many concurrent clicks. */
const SLACK_CLICKS = 200;
/** Issue 13: signed webhooks sent, 10% of them resends. */
const WEBHOOKS = 1_000;
/** Issue 10: samples of each web chat wait. */
const INTERACTIVE_SAMPLES = 50;

function parse() {
  const { values } = parseArgs({
    options: {
      n: { type: 'string', default: '2000' },
      c: { type: 'string', default: '32' },
      l1: { type: 'string', default: '200' },
      json: { type: 'boolean', default: false },
      'skip-restart': { type: 'boolean', default: false },
      'skip-pgbench': { type: 'boolean', default: false },
      'skip-slack': { type: 'boolean', default: false },
      'only-slack': { type: 'boolean', default: false },
      'skip-discord': { type: 'boolean', default: false },
      'only-discord': { type: 'boolean', default: false },
      'skip-interactive': { type: 'boolean', default: false },
      'only-interactive': { type: 'boolean', default: false },
      'skip-digest': { type: 'boolean', default: false },
      'only-digest': { type: 'boolean', default: false },
      'digest-runs': { type: 'string', default: '100000' },
      'skip-webhooks': { type: 'boolean', default: false },
      'only-webhooks': { type: 'boolean', default: false },
      'child-phase-a': { type: 'boolean', default: false },
      'child-phase-b': { type: 'boolean', default: false },
    },
    strict: true,
  });
  const params: Params = { n: positive(values.n, 'n'), c: positive(values.c, 'c'), l1: positive(values.l1, 'l1') };
  const child = values['child-phase-a'] ? 'phase-a' : values['child-phase-b'] ? 'phase-b' : null;
  if (values['skip-slack'] && values['only-slack']) throw new Error('--skip-slack and --only-slack exclude each other');
  return {
    params,
    child,
    json: values.json,
    skipRestart: values['skip-restart'],
    skipPgbench: values['skip-pgbench'],
    skipSlack: values['skip-slack'],
    onlySlack: values['only-slack'],
    skipDiscord: values['skip-discord'],
    onlyDiscord: values['only-discord'],
    skipInteractive: values['skip-interactive'],
    onlyInteractive: values['only-interactive'],
    skipDigest: values['skip-digest'],
    onlyDigest: values['only-digest'],
    digestRuns: positive(values['digest-runs'], 'digest-runs'),
    skipWebhooks: values['skip-webhooks'],
    onlyWebhooks: values['only-webhooks'],
  };
}

function positive(text: string, name: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got "${text}"`);
  return n;
}

/** RSS of an idle `node --expose-gc --import tsx` (tsx's loader thread alone is ~30 MB): what signoff adds is the rest. */
function runtimeBaselineRssMb(): number | null {
  try {
    const out = execFileSync(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', '-e', 'gc(); gc(); process.stdout.write(String(process.memoryUsage().rss))'],
      { encoding: 'utf8', timeout: 30_000 },
    );
    return Number(out) / 2 ** 20;
  } catch {
    return null;
  }
}

function progress(msg: string): void {
  process.stderr.write(`bench: ${msg}\n`);
}

async function main(): Promise<number> {
  const args = parse();
  assertTicketSize();
  if (args.child) {
    await childMain(args.child, args.params);
    return 0;
  }
  const { n, c, l1 } = args.params;
  const server = await openServer();
  try {
    if (args.onlySlack) {
      const slack = await slackClickTrial(server.url, SLACK_CLICKS, progress);
      const machine = {
        cores: os.cpus().length,
        cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
        node: process.version,
        postgres: server.version,
      };
      process.stdout.write(
        args.json
          ? `${JSON.stringify({ ok: slack.ok, machine, slack })}\n`
          : `${formatSlackOnly(slack, os.cpus(), server.version)}\n`,
      );
      return slack.ok ? 0 : 1;
    }
    if (args.onlyDigest) {
      const digest = await digestTrial(server.url, args.digestRuns, progress);
      process.stdout.write(
        args.json ? `${JSON.stringify({ ok: digest.ok, digest })}\n` : `${formatDigestBench(digest)}\n`,
      );
      return digest.ok ? 0 : 1;
    }
    if (args.onlyDiscord) {
      const discord = await discordClickTrial(server.url, SLACK_CLICKS, progress);
      process.stdout.write(
        args.json
          ? `${JSON.stringify({ ok: discord.ok, discord })}\n`
          : `${formatSlackOnly(discord, os.cpus(), server.version, 'discord')}\n`,
      );
      return discord.ok ? 0 : 1;
    }
    if (args.onlyInteractive) {
      const waits = await interactiveTrial(server.url, INTERACTIVE_SAMPLES, progress);
      process.stdout.write(
        args.json
          ? `${JSON.stringify({ ok: waits.ok, interactive: waits })}\n`
          : `${formatInteractiveOnly(waits, os.cpus(), server.version)}\n`,
      );
      return waits.ok ? 0 : 1;
    }
    if (args.onlyWebhooks) {
      const webhooks = await webhookTrial(server.url, WEBHOOKS, progress);
      process.stdout.write(
        args.json
          ? `${JSON.stringify({ ok: webhooks.ok, webhooks })}\n`
          : `${webhookRows(webhooks)
              .map((r) => r.join('  '))
              .join('\n')}\n${webhooks.problems.join('\n')}\n${webhooks.ok ? 'result: PASS' : 'result: FAIL'}\n`,
      );
      return webhooks.ok ? 0 : 1;
    }
    let pgbenchInsertTps: number | null = null;
    if (!args.skipPgbench && hasPgbench()) {
      progress(`pgbench INSERT probe, ${c} clients, ${PGBENCH_SECONDS} s`);
      pgbenchInsertTps = await pgbenchInsertProbe(server.url, c, PGBENCH_SECONDS);
    }
    progress(`trial on ${TRIAL_DB}: N=${n} C=${c} L1=${l1}`);
    const trial = await runTrial(await freshDatabase(server.url, TRIAL_DB), args.params);
    let restart = null;
    if (!args.skipRestart) {
      progress('restart survival trial');
      restart = await restartTrial(server.url, args.params);
    }
    let slack = null;
    if (!args.skipSlack) {
      progress(`slack click-ack phase: ${SLACK_CLICKS} concurrent clicks against the bot`);
      slack = await slackClickTrial(server.url, SLACK_CLICKS, progress);
    }
    let discord = null;
    if (!args.skipDiscord) {
      progress(`discord click-ack phase: ${SLACK_CLICKS} concurrent signed clicks over HTTP interactions`);
      discord = await discordClickTrial(server.url, SLACK_CLICKS, progress);
    }
    let interactive = null;
    if (!args.skipInteractive) {
      progress(`web chat waits: ${INTERACTIVE_SAMPLES} commands and edits against the bot`);
      interactive = await interactiveTrial(server.url, INTERACTIVE_SAMPLES, progress);
    }
    // Issue 14: one weekly digest over 100,000 runs.
    const digest = args.skipDigest
      ? null
      : (progress('weekly digest at scale'), await digestTrial(server.url, args.digestRuns, progress));
    let webhooks = null;
    if (!args.skipWebhooks) {
      progress(`webhooks: ${WEBHOOKS} signed deliveries against the bot`);
      webhooks = await webhookTrial(server.url, WEBHOOKS, progress);
    }
    const cpus = os.cpus();
    const result: BenchResult = {
      ok:
        trial.check.ok &&
        (restart?.ok ?? true) &&
        (slack?.ok ?? true) &&
        (discord?.ok ?? true) &&
        (interactive?.ok ?? true) &&
        (digest?.ok ?? true) &&
        (webhooks?.ok ?? true),
      workload: 'hitl-v1',
      system: 'signoff',
      params: args.params,
      machine: {
        cores: cpus.length,
        cpu: cpus[0]?.model.trim() ?? 'unknown',
        node: process.version,
        postgres: server.version,
        database: server.label,
        poolSize: Number(process.env.POOL_SIZE ?? 10),
        runtimeBaselineRssMb: runtimeBaselineRssMb(),
      },
      pgbenchInsertTps,
      trial,
      restart,
      slack,
      discord,
      interactive,
      webhooks,
    };
    const digestText = digest ? `\n${formatDigestBench(digest)}` : '';
    process.stdout.write(
      args.json ? `${JSON.stringify({ ...result, digest })}\n` : `${formatTable(result)}${digestText}\n`,
    );
    return result.ok ? 0 : 1;
  } finally {
    await server.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(2);
  },
);
