/**
 * HTTP interactions: POST /discord/interactions on the bot's server, when
 * DISCORD_PUBLIC_KEY is set (interactions/overview.mdx "Setting Up an Endpoint").
 * The Ed25519 signature over `X-Signature-Timestamp + raw body` is checked on
 * the raw bytes before anything is parsed; any failure (missing or non-hex
 * headers, a bad key, a wrong signature, a timestamp more than 300 s away either
 * way) is a 401, never a 500 (RELIABILITY 14). PING gets PONG. Everything else is
 * answered through the REST callback, then with a 202 and no body (the
 * documented way to answer over REST; PLATFORMS "HTTP endpoint").
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { InteractionResponseType, InteractionType, type APIInteraction } from 'discord-api-types/v10';
import { readBody, sendJson, type Route } from '../../src/ops/http.ts';
import type { Logger } from '../../src/ops/log.ts';

export const INTERACTIONS_PATH = '/discord/interactions';
/** Discord documents no window; Slack's 300 s, both ways, so a captured request cannot be replayed later (RELIABILITY 54). */
const MAX_SKEW_SECONDS = 300;
/** DER prefix of an Ed25519 SubjectPublicKeyInfo; the 32 raw key bytes follow. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** The hex public key from the Developer Portal as a key object; throws when it is not 32 hex bytes. */
export function publicKeyOf(hex: string): KeyObject {
  if (!/^[0-9a-f]{64}$/i.test(hex)) throw new Error('DISCORD_PUBLIC_KEY must be 64 hex characters');
  return createPublicKey({
    key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(hex, 'hex')]),
    format: 'der',
    type: 'spki',
  });
}

/** Why a request is refused, or null when its signature and timestamp hold. */
export function verifyInteraction(
  raw: Buffer,
  headers: IncomingMessage['headers'],
  key: KeyObject,
  nowSeconds: number,
): string | null {
  const ts = headers['x-signature-timestamp'];
  const signature = headers['x-signature-ed25519'];
  if (typeof ts !== 'string' || !/^\d{1,12}$/.test(ts)) return 'missing or non-numeric timestamp';
  if (Math.abs(nowSeconds - Number(ts)) > MAX_SKEW_SECONDS) return 'timestamp outside the 300 s window';
  if (typeof signature !== 'string' || !/^[0-9a-f]{128}$/i.test(signature)) return 'missing or malformed signature';
  try {
    return verify(null, Buffer.concat([Buffer.from(ts), raw]), key, Buffer.from(signature, 'hex'))
      ? null
      : 'signature mismatch';
  } catch {
    return 'signature unreadable';
  }
}

export function interactionsRoute(o: {
  key: KeyObject;
  maxBodyBytes: number;
  log: Logger;
  handle: (i: APIInteraction) => Promise<void>;
}): Route {
  return async (req, res) => {
    if (req.method !== 'POST' || new URL(req.url ?? '/', 'http://discord.invalid').pathname !== INTERACTIONS_PATH)
      return false;
    const isTooLarge = Number(req.headers['content-length'] ?? 0) > o.maxBodyBytes;
    const raw = isTooLarge ? (req.resume(), null) : await readBody(req, o.maxBodyBytes);
    if (raw === null) return (sendJson(res, 413, { error: 'request body too large' }), true);
    const refusal = verifyInteraction(raw, req.headers, o.key, Math.floor(Date.now() / 1_000));
    if (refusal) {
      o.log.warn('security: refused a Discord interaction request', { reason: refusal, sizeBytes: raw.length });
      return (sendJson(res, 401, { error: 'invalid request signature' }), true);
    }
    let interaction: APIInteraction;
    try {
      interaction = JSON.parse(raw.toString('utf8')) as APIInteraction;
    } catch {
      return (sendJson(res, 400, { error: 'unreadable body' }), true);
    }
    if (interaction.type === InteractionType.Ping)
      return (sendJson(res, 200, { type: InteractionResponseType.Pong }), true);
    await o.handle(interaction);
    res.writeHead(202).end();
    return true;
  };
}
