/**
 * The bot's one HTTP server. Today it answers GET /healthz; the web chat
 * (adapters/console) and webhook ingress mount their routes here. Unknown
 * routes get a plain 404 with no internals.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignoffError } from '../errors.ts';
import type { Sql } from '../store/client.ts';

export type Route = (req: IncomingMessage, res: ServerResponse) => Promise<boolean> | boolean;

export interface HttpServer {
  readonly server: Server;
  readonly port: number;
  close(): Promise<void>;
}

/** Serves `routes` in order (the first that returns true handled the request), then /healthz, then 404. */
export async function startHttpServer(opts: {
  port: number;
  host: string;
  sql: Sql;
  routes?: Route[];
}): Promise<HttpServer> {
  const routes = [...(opts.routes ?? []), healthz(opts.sql)];
  const server = createServer((req, res) => {
    void handle(routes, req, res);
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

async function handle(routes: Route[], req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    for (const route of routes) if (await route(req, res)) return;
    sendJson(res, 404, { error: 'not found' });
  } catch {
    if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
    else res.end();
  }
}

/**
 * How long /healthz waits for the database. A stalled server or network never answers
 * and never errors, so without this a probe (and the web chat's live dot) would hang.
 */
export const HEALTH_TIMEOUT_MS = 1_500;

/** Whether the database answers `SELECT 1` within HEALTH_TIMEOUT_MS. */
export async function isDatabaseUp(sql: Sql, timeoutMs = HEALTH_TIMEOUT_MS): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
  try {
    return await Promise.race([
      sql`SELECT 1`.then(
        () => true,
        () => false,
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** 200 when the database answers, 503 when it does not (or not in time). */
function healthz(sql: Sql): Route {
  return async (req, res) => {
    if (req.method !== 'GET' || req.url !== '/healthz') return false;
    const isDbUp = await isDatabaseUp(sql);
    sendJson(res, isDbUp ? 200 : 503, { ok: isDbUp, db: isDbUp ? 'up' : 'down' });
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
