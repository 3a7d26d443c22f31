/**
 * The bot's one HTTP server. It answers the health probes GET /healthz and GET
 * /readyz (./readiness.ts); the web chat (adapters/console) and webhook ingress
 * mount their routes here. Every request runs under a correlation id
 * (./correlation.ts: a webhook's delivery id header, else a fresh id), sent back
 * as `x-correlation-id`. Unknown routes get a plain 404 with no internals.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describeError, SignoffError } from '../errors.ts';
import type { Sql } from '../store/client.ts';
import { toCorrelationId, withCorrelation } from './correlation.ts';
import { silentLogger, type Logger } from './log.ts';
import { answerProbe, databaseCheck, migrationsCheck, type ReadinessCheck } from './readiness.ts';

export type Route = (req: IncomingMessage, res: ServerResponse) => Promise<boolean> | boolean;

export interface HttpServer {
  readonly server: Server;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Serves the probes, then `routes` in order (the first that returns true handled the request), then 404.
 * /readyz checks the database, the migrations of `schema` when given, and each of `ready`.
 */
export async function startHttpServer(opts: {
  port: number;
  host: string;
  sql: Sql;
  routes?: Route[];
  schema?: string;
  ready?: ReadinessCheck[];
  log?: Logger;
}): Promise<HttpServer> {
  const checks = [
    databaseCheck(opts.sql),
    ...(opts.schema ? [migrationsCheck(opts.sql, opts.schema)] : []),
    ...(opts.ready ?? []),
  ];
  const routes = [probes(checks), ...(opts.routes ?? [])];
  const log = opts.log ?? silentLogger;
  const server = createServer((req, res) => {
    const id = toCorrelationId(deliveryIdOf(req));
    res.setHeader('x-correlation-id', id);
    withCorrelation(id, () => void handle(routes, req, res, log));
  });
  server.listen(opts.port, opts.host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new SignoffError(
              'config_invalid',
              `port ${opts.port} on ${opts.host} is already in use (another signoff?); stop it or set PORT`,
              { cause: err },
            )
          : err,
      ),
    );
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

/**
 * Headers that carry a sender's own delivery id (GitHub, Standard Webhooks, Linear, Jira,
 * Zendesk), then a proxy's request id: the correlation id an operator can match to the
 * sender's delivery log. Unverified, so only a safe shape is taken (toCorrelationId).
 */
const DELIVERY_ID_HEADERS = [
  'x-github-delivery',
  'webhook-id',
  'linear-delivery',
  'x-atlassian-webhook-identifier',
  'x-zendesk-webhook-invocation-id',
  'x-request-id',
];

function deliveryIdOf(req: IncomingMessage): string | undefined {
  for (const name of DELIVERY_ID_HEADERS) {
    const value = req.headers[name];
    if (typeof value === 'string' && value !== '') return value;
  }
  return undefined;
}

async function handle(routes: Route[], req: IncomingMessage, res: ServerResponse, log: Logger): Promise<void> {
  try {
    for (const route of routes) if (await route(req, res)) return;
    sendJson(res, 404, { error: 'not found' });
  } catch (err) {
    // The log line carries the correlation id; the answer carries only that id.
    const correlationId = String(res.getHeader('x-correlation-id'));
    log.error('http request failed', { method: req.method, path: pathOf(req), error: describeError(err) });
    if (!res.headersSent) sendJson(res, 500, { error: 'internal error', correlationId });
    else res.end();
  }
}

function pathOf(req: IncomingMessage): string {
  return new URL(req.url ?? '/', 'http://signoff.invalid').pathname;
}

/** GET /healthz and GET /readyz (./readiness.ts). */
function probes(checks: readonly ReadinessCheck[]): Route {
  return async (req, res) => {
    const path = pathOf(req);
    if (req.method !== 'GET' || (path !== '/healthz' && path !== '/readyz')) return false;
    await answerProbe(path, checks, sendJson, res);
    return true;
  };
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** Reads at most `maxBytes` of a request body; null when it is larger (the rest is drained, never buffered or hashed). */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let sizeBytes = 0;
    const onData = (chunk: Buffer) => {
      sizeBytes += chunk.length;
      if (sizeBytes <= maxBytes) return void chunks.push(chunk);
      req.off('data', onData);
      req.resume();
      resolve(null);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}
