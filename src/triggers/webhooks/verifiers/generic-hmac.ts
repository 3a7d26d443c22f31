/**
 * The `hmac` preset, for a sender none of the others match: which header,
 * algorithm, encoding and prefix, and whether a timestamp is signed, are
 * WEBHOOK_<S>_* variables (./types.ts `HmacScheme`, docs/webhooks.md).
 * With a signed timestamp, ±toleranceSec is enforced both ways.
 */
import { header, refuse, refuseStale, type Parsed, type SourceSettings, type WebhookRequest } from '../types.ts';
import { anySecretMatches, digest } from './hmac-core.ts';
import { parseJson, sha256Hex, stringField } from './json.ts';

export function verifyHmacRequest(req: WebhookRequest, source: SourceSettings): Parsed {
  const scheme = source.hmac;
  if (!scheme) return refuse(401, 'the hmac preset needs WEBHOOK_<SOURCE>_HEADER');
  const signature = header(req, scheme.header);
  if (!signature || !signature.startsWith(scheme.prefix))
    return refuse(401, `no ${scheme.header} header starting with "${scheme.prefix}"`);
  const parts: (string | Buffer)[] = [req.rawBody];
  if (scheme.signed === 'timestamp-body') {
    const timestamp = scheme.timestampHeader ? header(req, scheme.timestampHeader) : null;
    if (!timestamp || !/^\d{1,12}$/.test(timestamp))
      return refuse(401, `no ${scheme.timestampHeader ?? 'timestamp'} header in seconds`);
    if (Math.abs(req.nowMs / 1000 - Number(timestamp)) > scheme.toleranceSec)
      return refuseStale(`the timestamp is outside ±${scheme.toleranceSec} s`);
    parts.unshift(timestamp, scheme.separator);
  }
  const received = signature.slice(scheme.prefix.length);
  const normalised = scheme.encoding === 'hex' ? received.toLowerCase() : received;
  if (
    !anySecretMatches(source.secrets, normalised, (secret) => digest(scheme.algorithm, secret, parts, scheme.encoding))
  ) {
    return refuse(401, `${scheme.header} does not match with any configured secret`);
  }
  const json = parseJson(req.rawBody);
  if (!json.ok) return json;
  const key = (scheme.idHeader ? header(req, scheme.idHeader) : null) ?? sha256Hex(...parts);
  const event =
    (scheme.eventHeader ? header(req, scheme.eventHeader) : null) ?? stringField(json.value, 'type') ?? 'webhook';
  return { ok: true, deliveries: [{ key, event, payload: json.value }], replayKey: sha256Hex(...parts) };
}
