/**
 * `npm start`: read the config, open the database (DATABASE_URL, or an
 * embedded Postgres in .data/pg so a fresh machine needs no server), migrate,
 * load flows/, park runs a deploy orphaned, open the HTTP server and the chat
 * connection, and only then start the engine's workers. SIGTERM/SIGINT stop claiming work, let in-flight steps finish
 * (SHUTDOWN_GRACE_MS), hand the rest back, and exit 0.
 */
import { join } from 'node:path';
import { createConsoleAdapter } from '../adapters/console/console-adapter.ts';
import { createDiscordAdapter } from '../adapters/discord/discord-adapter.ts';
import { registerCommands } from '../adapters/discord/discord-register.ts';
import { createSlackAdapter } from '../adapters/slack/slack-adapter.ts';
import { credentialValues, readConfig, redactUrl, type Config } from './config.ts';
import { Engine } from './engine/engine.ts';
import { loadFlows } from './engine/registry.ts';
import { describeError } from './errors.ts';
import { crashpointsFrom } from './ops/crashpoint.ts';
import { Alerter } from './ops/alerts.ts';
import { startHttpServer } from './ops/http.ts';
import { chatCheck, engineCheck } from './ops/readiness.ts';
import { createLogger, type Logger } from './ops/log.ts';
import { Metrics } from './ops/metrics.ts';
import { metricsRoute } from './ops/metrics-route.ts';
import { handleStrayRejections } from './ops/stray-rejections.ts';
import { ReviewDesk } from './review/desk.ts';
import { connect } from './store/client.ts';
import { consoleStore } from './store/console.ts';
import { discordStore } from './store/discord.ts';
import { slackStore } from './store/slack.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres, type SupervisionEvent } from './store/embedded.ts';
import { migrate } from './store/migrate.ts';
import { createStepRuntime } from './steps/runtime.ts';
import { handleCommand, makeCommandDeps } from './triggers/commands.ts';
import { commandKeysOf } from './triggers/input-keys.ts';
import { Scheduler } from './triggers/schedules.ts';
import { deadLetterControl } from './triggers/webhooks/dead-letters.ts';
import { webhookRoute } from './triggers/webhooks/ingress.ts';

/** The embedded server exited by itself: say so, and exit for the process manager if it cannot come back. */
function onEmbeddedEvent(event: SupervisionEvent, log: Logger): void {
  if (event.kind === 'exited') log.error('embedded Postgres exited; restarting it', { outcome: event.outcome });
  if (event.kind === 'restarted') log.warn('embedded Postgres is back', { attempt: event.attempt });
  if (event.kind !== 'gave_up') return;
  log.error('embedded Postgres is gone; exiting so a process manager can restart signoff', { error: event.message });
  process.stderr.write(`signoff stopped: ${event.message}\n`);
  process.exit(1);
}

async function openDatabase(config: Config, log: Logger): Promise<{ url: string; embedded: EmbeddedPostgres | null }> {
  if (config.databaseUrl) {
    log.info('using Postgres from DATABASE_URL', { url: redactUrl(config.databaseUrl) });
    return { url: config.databaseUrl, embedded: null };
  }
  const embedded = await startEmbeddedPostgres({
    dataDir: join(config.dataDir, 'pg'),
    onSupervision: (event) => onEmbeddedEvent(event, log),
  });
  log.info('started embedded Postgres (set DATABASE_URL to use your own server)', {
    dataDir: embedded.dataDir,
    port: embedded.port,
  });
  return { url: embedded.url, embedded };
}

/** Local demo mode unless sign-in is configured (readConfig refuses a non-loopback HOST without it). */
function webChatAccess(config: Config) {
  const { auth, publicUrl } = config.webChat;
  return auth === 'invite' && publicUrl ? { mode: 'invite' as const, publicUrl } : { mode: 'local' as const };
}

async function main(): Promise<void> {
  const config = readConfig();
  // `npm run discord:register`: register the slash command and exit; nothing else starts.
  if (process.argv[2] === 'discord:register') {
    if (!config.discord) throw new Error('set DISCORD_TOKEN (and DISCORD_GUILD_ID for one guild) to register commands');
    await registerCommands(config.discord, (line) => process.stdout.write(`${line}\n`));
    process.exit(0);
  }
  // Pretty for a person at a terminal, JSON for everything else; secrets redacted by value and by key.
  const log = createLogger(config.logLevel, undefined, {
    format: config.logFormat === 'auto' ? (process.stderr.isTTY ? 'pretty' : 'json') : config.logFormat,
    secrets: credentialValues(config),
    patterns: config.model.redactPatterns,
  });
  handleStrayRejections(log);
  const db = await openDatabase(config, log);
  const sql = connect({ url: db.url, schema: config.schema, max: config.poolSize });
  const applied = await migrate(sql, config.schema);
  if (applied.length > 0) log.info('applied migrations', { applied });
  const flows = await loadFlows(config.flowsDir);
  const inputKeys = new Map(flows.map((f) => [f.id, commandKeysOf(f)]));
  const crashpoint = crashpointsFrom(config.crashpoints);
  // One registry for this process, handed down like the logger; GET /metrics serves it.
  const metrics = new Metrics({ sql, processMetrics: true });
  // Slack when its variables are set (HTTP: POST /slack/events on our server; or Socket Mode),
  // Discord when DISCORD_TOKEN is set (gateway, or POST /discord/interactions with DISCORD_PUBLIC_KEY),
  // else the local web chat. Either way `chat.routes` mounts on the HTTP server below.
  const chat = config.slack
    ? createSlackAdapter({ settings: config.slack, store: slackStore(sql), log, crashpoint, metrics })
    : config.discord
      ? createDiscordAdapter({ settings: config.discord, store: discordStore(sql), log, crashpoint, metrics })
      : createConsoleAdapter({ store: consoleStore(sql), log, access: webChatAccess(config) });
  const ports = new Map([[chat.port.platform, chat.port]]);
  // The web chat serves one tenant, `local`; a Slack bot token serves one workspace (its reviews' tenant).
  const steps = createStepRuntime({
    config,
    sql,
    log,
    ports,
    metrics,
    ...(config.slack || config.discord ? {} : { tenants: new Map([['console', 'local']]) }),
  });
  // A card's "On approval" is described by the tool a review names (its method, host and fields).
  const desk = new ReviewDesk({
    sql,
    flows,
    ports,
    defaultPlatform: chat.port.platform,
    defaultChannel: config.defaultChannel,
    log,
    describeAction: steps.describeAction,
    crashpoint,
    metrics,
  });
  if (steps.isOffline)
    log.info('model steps use the built-in offline model (set OPENAI_API_KEY or OPENAI_BASE_URL for a real one)');
  const engine = new Engine({
    sql,
    schema: config.schema,
    flows,
    log,
    concurrency: config.workerConcurrency,
    pollMs: config.workerPollMs,
    crashpoints: config.crashpoints,
    reviews: desk,
    services: steps.services,
    metrics,
  });
  // Started after the engine (below): a slot's run starts working as soon as its claim commits.
  const scheduler = new Scheduler({
    transaction: (fn) => engine.transaction(fn),
    sql,
    flows,
    log,
    tickMs: config.schedules.tickMs,
    catchupHours: config.schedules.catchupHours,
    defaults: { channel: config.defaultChannel, ...(config.slack ? {} : { tenant: 'local' }) },
  });
  // Alerts to SIGNOFF_ALERT_CHANNEL (docs/operations.md "Alerts"): every process sweeps, one at a time decides.
  const alerter = new Alerter({
    sql,
    port: chat.port,
    settings: config.alerts,
    processId: engine.workerId,
    openCircuits: () => steps.openCircuits(),
    log,
  });
  const parked = await engine.parkOrphanedRuns();
  if (parked.length > 0) log.warn('parked runs whose state a flow change removed', { runs: parked });
  // Bind before claiming: a start that fails here (port taken, chat unreachable) exits holding no work.
  let isRunning = false;
  const webhooks = webhookRoute({ settings: config.webhooks, engine, channel: config.defaultChannel, log, metrics });
  const http = await startHttpServer({
    port: config.port,
    host: config.host,
    sql,
    routes: [metricsRoute(metrics, config.metrics), ...chat.routes, webhooks],
    // /readyz: the database, every migration applied, the chat adapter connected, the workers running.
    schema: config.schema,
    ready: [chatCheck(chat.port.platform, () => chat.port.isReady?.() ?? true), engineCheck(() => isRunning)],
    log,
  });
  if (!config.metrics.isServed)
    log.warn('GET /metrics is off: HOST is beyond loopback and METRICS_TOKEN is not set (docs/operations.md)');
  await chat.port.start(
    desk.handlers((cmd) =>
      handleCommand(
        cmd,
        makeCommandDeps(engine, {
          log,
          admins: config.admins,
          repostCards: (runId, opts) => desk.repostCards(runId, opts),
          inputKeys: (id) => inputKeys.get(id) ?? null,
          schedules: () => scheduler.list(),
          deadLetters: deadLetterControl(engine, config.webhooks, config.defaultChannel),
        }),
      ),
    ),
  );
  await engine.start();
  desk.start();
  scheduler.start();
  alerter.start();
  isRunning = true;
  const url = `http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${http.port}`;
  const where =
    chat.port.platform === 'console'
      ? { webChat: 'open the url in a browser', url }
      : config.discord
        ? {
            chat: 'discord',
            url,
            discordMode: config.discord.publicKey ? `HTTP interactions at ${url}/discord/interactions` : 'gateway',
          }
        : {
            chat: chat.port.platform,
            url,
            slackEvents: config.slack?.appToken ? 'Socket Mode' : `${url}/slack/events`,
          };
  log.info('signoff is running', {
    ...where,
    flows: flows.map((f) => f.id),
    webhooks: Object.keys(config.webhooks.sources).map((name) => `${url}/webhooks/${name}`),
  });

  let isStopping = false;
  const shutdown = async (signal: string) => {
    if (isStopping) return;
    isStopping = true;
    isRunning = false; // /readyz says 503 at once, so a load balancer stops sending work
    log.info('shutting down', { signal });
    await chat.port.stop();
    await http.close();
    await scheduler.stop();
    await alerter.stop();
    desk.stop();
    await engine.stop(config.shutdownGraceMs);
    await steps.stop();
    await sql.end({ timeout: 5 });
    await db.embedded?.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`signoff could not start: ${describeError(err).message}\n`);
  process.exit(1);
});
