/**
 * Zendesk webhooks: `X-Zendesk-Webhook-Signature` is base64(HMAC-SHA256(secret,
 * timestamp + body)) with the timestamp from `X-Zendesk-Webhook-Signature-Timestamp`;
 * the body may be empty (developer.zendesk.com/documentation/webhooks/verifying/).
 * Zendesk ships no verifier. It documents no replay window, so none is enforced
 * on the past side (a retry may carry the original timestamp); a timestamp far in
 * the future is refused. Dedupe: `X-Zendesk-Webhook-Invocation-Id`, plus the hash
 * of the signed bytes, because the invocation id header is not signed.
 */
import { header, refuse, refuseStale, type Parsed, type SourceSettings, type WebhookRequest } from '../types.ts';
import { anySecretMatches, digest } from './hmac-core.ts';
import { parseJson, sha256Hex, stringField } from './json.ts';

/** Most a Zendesk timestamp may run ahead of our clock (clock skew), in ms. */
const FUTURE_SKEW_MS = 5 * 60_000;

export function verifyZendeskRequest(req: WebhookRequest, source: SourceSettings): Parsed {
  const signature = header(req, 'x-zendesk-webhook-signature');
  const timestamp = header(req, 'x-zendesk-webhook-signature-timestamp');
  if (!signature || !timestamp) return refuse(401, 'no X-Zendesk-Webhook-Signature or -Signature-Timestamp header');
  const at = Date.parse(timestamp);
  if (Number.isFinite(at) && at - req.nowMs > FUTURE_SKEW_MS)
    return refuseStale('X-Zendesk-Webhook-Signature-Timestamp is in the future');
  const isMatch = anySecretMatches(source.secrets, signature, (secret) =>
    digest('sha256', secret, [timestamp, req.rawBody], 'base64'),
  );
  if (!isMatch)
    return refuse(401, 'X-Zendesk-Webhook-Signature does not match timestamp + body with any configured secret');
  const json = parseJson(req.rawBody);
  if (!json.ok) return json;
  const key = header(req, 'x-zendesk-webhook-invocation-id') ?? sha256Hex(timestamp, req.rawBody);
  // Event webhooks say `zen:event-type:ticket.created`; trigger webhooks carry whatever JSON the trigger builds.
  const type = stringField(json.value, 'type') ?? 'webhook';
  return {
    ok: true,
    deliveries: [{ key, event: type.replace(/^zen:event-type:/, ''), payload: json.value }],
    replayKey: sha256Hex(timestamp, req.rawBody),
  };
}
