/**
 * Standard Webhooks (github.com/standard-webhooks/standard-webhooks spec):
 * `webhook-id`, `webhook-timestamp` (s), `webhook-signature: v1,<base64> …`,
 * base64(HMAC-SHA256(base64-decoded `whsec_` secret, `${id}.${ts}.${body}`)),
 * timestamps more than 5 minutes off either way refused. Verified with the
 * spec's own `standardwebhooks` package (constant-time, length-checked, any
 * listed signature may match). Dedupe: `webhook-id`.
 */
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import {
  header,
  refuse,
  refuseStale,
  type Parsed,
  type Refusal,
  type SourceSettings,
  type WebhookRequest,
} from '../types.ts';
import { parseJson, stringField } from './json.ts';

/** The spec's tolerance, and the library's: 5 minutes either way. */
const TOLERANCE_SEC = 300;

export function verifyStandardRequest(req: WebhookRequest, source: SourceSettings): Parsed {
  const id = header(req, 'webhook-id');
  const timestamp = header(req, 'webhook-timestamp');
  const signature = header(req, 'webhook-signature');
  if (!id || !timestamp || !signature)
    return refuse(401, 'no webhook-id, webhook-timestamp or webhook-signature header');
  // Checked against the receiver's clock as the request carries it; the library checks again with its own.
  if (!/^\d{1,12}$/.test(timestamp) || Math.abs(req.nowMs / 1000 - Number(timestamp)) > TOLERANCE_SEC)
    return refuseStale('webhook-timestamp is more than 5 minutes from our clock');
  const reason = 'webhook-signature does not match with any configured secret';
  let stale: Refusal | undefined;
  let isValid = false;
  for (const secret of source.secrets) {
    try {
      // Verify on the raw bytes; we parse ourselves, so bad JSON after a good signature is a 400, not a 401.
      new Webhook(secret).verify(
        req.rawBody,
        { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signature },
        { jsonParse: false },
      );
      isValid = true;
    } catch (err) {
      if (err instanceof WebhookVerificationError && /timestamp/i.test(err.message))
        stale = refuseStale(`webhook-timestamp refused: ${err.message}`);
    }
  }
  if (!isValid) return stale ?? refuse(401, reason);
  const json = parseJson(req.rawBody);
  if (!json.ok) return json;
  return {
    ok: true,
    deliveries: [{ key: id, event: stringField(json.value, 'type') ?? 'unknown', payload: json.value }],
  };
}
