/**
 * `POST /webhooks/<source>` on the bot's HTTP server (src/ops/http.ts). In order:
 * the source must be configured (else the same 404 as any unknown route, so a
 * probe learns nothing; RELIABILITY 27); the body is read up to the cap before
 * anything is hashed; the source's preset verifies the raw bytes (./presets.ts);
 * then ./accept.ts records the deliveries and starts their runs in one
 * transaction, and only after COMMIT is the sender answered 2xx. A database
 * failure answers 503, which every provider retries. Refusals are logged with
 * their reason for the operator; the sender sees only the status.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RunTx } from '../../engine/step-host.ts';
import { silentLogger, type Logger } from '../../ops/log.ts';
import { Metrics, type WebhookRejection } from '../../ops/metrics.ts';
import { readBody, sendJson, type Route } from '../../ops/http.ts';
import { insertDeadLetter } from '../../store/webhooks.ts';
import { acceptDeliveries, type Accepted, type WebhookFlow } from './accept.ts';
import { VERIFIERS } from './presets.ts';
import { rejectionOf } from './rejections.ts';
import type { Parsed, SourceSettings, WebhookRequest, WebhookSettings } from './types.ts';
import { isSameSecret } from './verifiers/hmac-core.ts';
import { sha256Hex } from './verifiers/json.ts';
import { SALESFORCE_ACK, salesforceFault } from './verifiers/salesforce.ts';

/** What ingress needs of the engine; `Engine` satisfies it. */
export interface WebhookEngine {
  transaction<T>(fn: (rt: RunTx) => Promise<T>): Promise<T>;
  listFlows(): WebhookFlow[];
}

export interface WebhookRouteOptions {
  settings: WebhookSettings;
  engine: WebhookEngine;
  /** Where the cards of webhook-started runs go (SIGNOFF_DEFAULT_CHANNEL). */
  channel: string;
  log?: Logger;
  /** Counts refusals by source and reason (GET /metrics). Default: a registry of its own, never scraped. */
  metrics?: Metrics;
  /** The clock, in ms (tests). Default Date.now. */
  nowMs?: () => number;
}

const PATH = /^\/webhooks\/([a-z0-9_]{1,40})(?:\/([A-Za-z0-9_-]{1,200}))?\/?$/;

export function webhookRoute(opts: WebhookRouteOptions): Route {
  const log = opts.log ?? silentLogger;
  const metrics = opts.metrics ?? new Metrics();
  return async (req, res) => {
    const url = req.url ?? '';
    if (!url.startsWith('/webhooks/')) return false;
    const m = PATH.exec(url.split('?')[0]!);
    const source = m ? opts.settings.sources[m[1]!] : undefined;
    if (!source || req.method !== 'POST' || !isRightPath(source, m?.[2])) {
      metrics.webhookRejected(source?.name ?? null, pathRejection(source, req.method));
      sendJson(res, 404, { error: 'not found' });
      return true;
    }
    await handle({ ...opts, metrics }, log, source, req, res);
    return true;
  };
}

/** Why a path was refused. The name in it is the sender's text: only a configured source becomes a label. */
function pathRejection(source: SourceSettings | undefined, method: string | undefined): WebhookRejection {
  if (!source) return 'unknown_source';
  // A POST to a Salesforce source refused here carried the wrong path secret.
  return method === 'POST' && source.preset === 'salesforce' ? 'signature' : 'not_found';
}

/** Salesforce's path secret is the last segment, compared in constant time; other presets take none. */
function isRightPath(source: SourceSettings, segment: string | undefined): boolean {
  if (source.preset !== 'salesforce') return segment === undefined;
  let isMatch = false;
  for (const secret of source.secrets) if (segment !== undefined && isSameSecret(secret, segment)) isMatch = true;
  return isMatch;
}

async function handle(
  opts: WebhookRouteOptions & { metrics: Metrics },
  log: Logger,
  source: SourceSettings,
  req: IncomingMessage,
  res: ServerResponse,
) {
  const rawBody = await readBody(req, opts.settings.maxBodyBytes);
  if (!rawBody) {
    log.warn('webhook refused: body over WEBHOOK_MAX_BODY_BYTES', {
      source: source.name,
      maxBodyBytes: opts.settings.maxBodyBytes,
    });
    opts.metrics.webhookRejected(source.name, 'too_large');
    return reply(res, source, 413, { error: 'payload too large' });
  }
  const request: WebhookRequest = {
    method: 'POST',
    pathAndQuery: req.url ?? '',
    headers: req.headers,
    rawBody,
    nowMs: (opts.nowMs ?? Date.now)(),
  };
  let parsed: Parsed;
  try {
    parsed = await VERIFIERS[source.preset](request, source, opts.settings.publicUrl);
  } catch (err) {
    log.error('webhook verifier failed', {
      source: source.name,
      error: err instanceof Error ? err.message : String(err),
    });
    opts.metrics.webhookRejected(source.name, 'verifier_error');
    return reply(res, source, 401, { error: 'invalid signature' });
  }
  const bodySha256 = sha256Hex(rawBody);
  if (!parsed.ok) opts.metrics.webhookRejected(source.name, rejectionOf(parsed));
  if (!parsed.ok && parsed.status !== 400) {
    log.warn('webhook refused', {
      source: source.name,
      preset: source.preset,
      status: parsed.status,
      reason: parsed.reason,
    });
    return reply(res, source, parsed.status, { error: parsed.status === 401 ? 'invalid signature' : 'forbidden' });
  }
  try {
    if (!parsed.ok) {
      // Genuine, but unreadable: kept for an operator, answered 400 (RELIABILITY 26).
      await opts.engine.transaction((rt) =>
        insertDeadLetter(rt.sql, {
          source: source.name,
          deliveryKey: `body:${bodySha256}`,
          event: null,
          flow: null,
          bodySha256,
          payload: null,
          reason: parsed.reason,
        }),
      );
      log.warn('webhook dead-lettered', { source: source.name, reason: parsed.reason, bodySha256 });
      return reply(res, source, 400, { error: 'the payload could not be read; it is kept as a dead letter' });
    }
    const deliveries = parsed.deliveries;
    const accepted = await opts.engine.transaction((rt) =>
      acceptDeliveries(rt, opts.engine.listFlows(), deliveries, parsed.replayKey, {
        source,
        bodySha256,
        channel: opts.channel,
        tenant: opts.settings.tenant,
      }),
    );
    if (accepted.deadLetters > 0) opts.metrics.webhookRejected(source.name, 'schema');
    return answer(res, log, source, accepted);
  } catch (err) {
    log.error('webhook not recorded; the sender will retry', {
      source: source.name,
      error: err instanceof Error ? err.message : String(err),
    });
    return reply(res, source, 503, { error: 'not recorded; try again' });
  }
}

function answer(res: ServerResponse, log: Logger, source: SourceSettings, accepted: Accepted): void {
  const { runIds, staleDeliveries, ...counts } = accepted;
  log.info('webhook accepted', { source: source.name, ...counts, runs: runIds });
  for (const stale of staleDeliveries) {
    log.info('webhook older than the newest seen of its record: acknowledged, nothing started', {
      source: source.name,
      delivery: stale.key,
      record: stale.recordId,
      version: stale.at,
    });
  }
  if (accepted.deadLetters > 0 && source.preset !== 'salesforce') {
    return reply(res, source, 400, {
      error: 'the payload does not fit the flow; it is kept as a dead letter',
      ...counts,
    });
  }
  // Salesforce resends until it reads Ack true, whatever became of the message: a dead letter is kept, so ack it.
  reply(res, source, 200, { ok: true, ...counts });
}

function reply(res: ServerResponse, source: SourceSettings, status: number, body: Record<string, unknown>): void {
  if (source.preset !== 'salesforce') return sendJson(res, status, body);
  const isAck = status === 200;
  const text = isAck ? SALESFORCE_ACK : salesforceFault(String(body.error ?? 'refused'));
  // SOAP 1.1 sends a fault with HTTP 500; a refusal of the path (404) never gets here.
  res.writeHead(isAck ? 200 : 500, {
    'content-type': 'text/xml; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}
