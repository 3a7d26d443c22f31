/**
 * GET /metrics on the bot's HTTP server (./http.ts): the registry of one
 * `Metrics` in the Prometheus text format. With METRICS_TOKEN set, a scrape
 * must send `Authorization: Bearer <token>` (compared in constant time); with
 * none, /metrics is served only while HOST is loopback (src/config.ts decides),
 * because it tells anyone who can reach it what the bot is doing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { sendJson, type Route } from './http.ts';
import type { Metrics, MetricsSettings } from './metrics.ts';

export function metricsRoute(metrics: Metrics, settings: MetricsSettings): Route {
  return async (req, res) => {
    if ((req.url ?? '').split('?')[0] !== '/metrics' || !settings.isServed) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      sendJson(res, 405, { error: 'method not allowed' });
      return true;
    }
    if (settings.token !== null && !hasToken(req, settings.token)) {
      res.setHeader('www-authenticate', 'Bearer realm="signoff metrics"');
      sendJson(res, 401, { error: 'unauthorized' });
      return true;
    }
    const text = await metrics.registry.metrics();
    res.writeHead(200, {
      'content-type': metrics.registry.contentType,
      'content-length': Buffer.byteLength(text),
      'cache-control': 'no-store',
    });
    res.end(req.method === 'HEAD' ? undefined : text);
    return true;
  };
}

/** Whether the request carries the bearer token; digests first, so the comparison's time says nothing about it. */
function hasToken(req: IncomingMessage, token: string): boolean {
  const match = /^Bearer ([^\s]+)$/.exec(req.headers.authorization ?? '');
  if (!match) return false;
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(match[1]!), digest(token));
}
