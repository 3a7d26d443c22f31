/**
 * Linear: `Linear-Signature` is hex(HMAC-SHA256(secret, body)), and the signed
 * body's `webhookTimestamp` (ms) must be within a minute of our clock, either
 * way (linear.app/developers/webhooks "Securing webhooks"). Verified with
 * @linear/sdk's `LinearWebhookClient` from its `webhooks` subpath: 10 kB that
 * imports only node:crypto (measured: ~2 ms to load), length-checked constant-time
 * compare, and it trusts only the signed body timestamp. Dedupe: `Linear-Delivery`.
 */
import { LinearWebhookClient } from '@linear/sdk/webhooks';
import {
  header,
  refuse,
  refuseStale,
  type Parsed,
  type Refusal,
  type SourceSettings,
  type WebhookRequest,
} from '../types.ts';
import { parseJson, sha256Hex, stringField } from './json.ts';

export function verifyLinearRequest(req: WebhookRequest, source: SourceSettings): Parsed {
  const signature = header(req, 'linear-signature');
  if (!signature) return refuse(401, 'no Linear-Signature header');
  const reason = 'Linear-Signature does not match the body with any configured secret';
  let stale: Refusal | undefined;
  let isValid = false;
  let isUnreadable = false;
  for (const secret of source.secrets) {
    try {
      isValid = new LinearWebhookClient(secret).verify(req.rawBody, signature) || isValid;
    } catch (err) {
      // The SDK checks the HMAC first, then parses the body for its timestamp: a SyntaxError means a genuine, unreadable body.
      if (err instanceof SyntaxError) isUnreadable = true;
      else if (err instanceof Error && /timestamp/i.test(err.message))
        stale = refuseStale(`Linear ${err.message.toLowerCase()} (webhookTimestamp must be within 60 s)`);
    }
  }
  if (isUnreadable && !isValid) return refuse(400, 'the body is not valid JSON');
  if (!isValid) return stale ?? refuse(401, reason);
  const json = parseJson(req.rawBody);
  if (!json.ok) return json;
  const type = (stringField(json.value, 'type') ?? 'unknown').toLowerCase();
  const action = stringField(json.value, 'action');
  const key = header(req, 'linear-delivery') ?? sha256Hex(req.rawBody);
  return { ok: true, deliveries: [{ key, event: action ? `${type}.${action}` : type, payload: json.value }] };
}
