/**
 * `npm start`: read the config, open the database (DATABASE_URL, or an
 * embedded Postgres in .data/pg so a fresh machine needs no server), migrate,
 * load flows/, park runs a deploy orphaned, start the engine's workers and the
 * HTTP server. SIGTERM/SIGINT stop claiming work, let in-flight steps finish
 * (SHUTDOWN_GRACE_MS), hand the rest back, and exit 0.
 */
import { join } from 'node:path';
import { readConfig, redactUrl, type Config } from './config.ts';
import { Engine } from './engine/engine.ts';
import { loadFlows } from './engine/registry.ts';
import { describeError } from './errors.ts';
import { startHttpServer } from './ops/http.ts';
import { createLogger, type Logger } from './ops/log.ts';
import { connect } from './store/client.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './store/embedded.ts';
import { migrate } from './store/migrate.ts';

async function openDatabase(config: Config, log: Logger): Promise<{ url: string; embedded: EmbeddedPostgres | null }> {
  if (config.databaseUrl) {
    log.info('using Postgres from DATABASE_URL', { url: redactUrl(config.databaseUrl) });
    return { url: config.databaseUrl, embedded: null };
  }
  const embedded = await startEmbeddedPostgres({ dataDir: join(config.dataDir, 'pg') });
  log.info('started embedded Postgres (set DATABASE_URL to use your own server)', { dataDir: embedded.dataDir, port: embedded.port });
  return { url: embedded.url, embedded };
}

async function main(): Promise<void> {
  const config = readConfig();
  const log = createLogger(config.logLevel);
  const db = await openDatabase(config, log);
  const sql = connect({ url: db.url, schema: config.schema, max: config.poolSize });
  const applied = await migrate(sql, config.schema);
  if (applied.length > 0) log.info('applied migrations', { applied });
  const flows = await loadFlows(config.flowsDir);
  const engine = new Engine({
    sql, schema: config.schema, flows, log, concurrency: config.workerConcurrency,
    pollMs: config.workerPollMs, crashpoints: config.crashpoints,
  });
  const parked = await engine.parkOrphanedRuns();
  if (parked.length > 0) log.warn('parked runs whose state a flow change removed', { runs: parked });
  await engine.start();
  const http = await startHttpServer({ port: config.port, host: config.host, sql });
  log.info('signoff is running', { url: `http://${config.host}:${http.port}`, flows: flows.map((f) => f.id) });

  let isStopping = false;
  const shutdown = async (signal: string) => {
    if (isStopping) return;
    isStopping = true;
    log.info('shutting down', { signal });
    await http.close();
    await engine.stop(config.shutdownGraceMs);
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
