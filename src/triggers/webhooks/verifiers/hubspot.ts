/**
 * HubSpot v3 request signatures, written here because the official helper is
 * weak (@hubspot/api-client `Signature.isValid` defaults to v1, compares with
 * `===`, and skips the age check when the timestamp is not a number).
 *
 * developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/request-validation:
 * `X-HubSpot-Signature-v3` = base64(HMAC-SHA256(client secret,
 * method + URI + body + timestamp)), no separators, with `X-HubSpot-Request-Timestamp`
 * in ms; requests older than 5 minutes are refused. The URI is the full URL the
 * request was sent to, with a fixed set of percent-escapes decoded. We sign the
 * *configured* public URL (SIGNOFF_PUBLIC_URL), never one rebuilt from Host or
 * X-Forwarded-* (a sender controls those). A body holds up to 100 events with no
 * delivery id; `eventId` is not unique on its own, so each event is keyed by
 * (subscriptionId, eventId, occurredAt).
 */
import {
  header,
  refuse,
  refuseStale,
  type Delivery,
  type Parsed,
  type SourceSettings,
  type WebhookRequest,
} from '../types.ts';
import { anySecretMatches, digest } from './hmac-core.ts';
import { parseJson } from './json.ts';

/** HubSpot: "reject the request if the timestamp is older than 5 minutes". The same bound ahead, for skew. */
export const HUBSPOT_WINDOW_MS = 5 * 60_000;
/** Most events HubSpot puts in one request. */
const MAX_EVENTS = 100;
/** The escapes HubSpot decodes before signing; every other escape stays as sent. */
const DECODED: Readonly<Record<string, string>> = {
  '%3A': ':',
  '%2F': '/',
  '%3F': '?',
  '%40': '@',
  '%21': '!',
  '%24': '$',
  '%27': "'",
  '%28': '(',
  '%29': ')',
  '%2A': '*',
  '%2C': ',',
  '%3B': ';',
};

/** The URI HubSpot signs for a request to `pathAndQuery` under `publicUrl`. */
export function hubspotSignedUri(publicUrl: string, pathAndQuery: string): string {
  return `${publicUrl.replace(/\/+$/, '')}${pathAndQuery}`.replace(
    /%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)/gi,
    (m) => DECODED[m.toUpperCase()]!,
  );
}

/** The v3 signature of a request (what HubSpot computes, and what our `npm run webhook` sends). */
export function hubspotSignature(
  secret: string,
  method: string,
  uri: string,
  rawBody: Buffer,
  timestamp: string,
): string {
  return digest('sha256', secret, [method, uri, rawBody, timestamp], 'base64');
}

export function verifyHubspotRequest(req: WebhookRequest, source: SourceSettings, publicUrl: string | null): Parsed {
  const signature = header(req, 'x-hubspot-signature-v3');
  const timestamp = header(req, 'x-hubspot-request-timestamp');
  if (!signature || !timestamp) return refuse(401, 'no X-HubSpot-Signature-v3 or X-HubSpot-Request-Timestamp header');
  // Digits only: a NaN timestamp must not skip the age check (the official helper's gap).
  if (!/^\d{1,16}$/.test(timestamp)) return refuse(401, 'X-HubSpot-Request-Timestamp is not a number of milliseconds');
  const ageMs = req.nowMs - Number(timestamp);
  if (ageMs > HUBSPOT_WINDOW_MS || ageMs < -HUBSPOT_WINDOW_MS)
    return refuseStale(`X-HubSpot-Request-Timestamp is ${Math.round(ageMs / 1000)} s from now (allowed ±300 s)`);
  if (!publicUrl) return refuse(401, 'HubSpot v3 signs the public URL; set SIGNOFF_PUBLIC_URL');
  const uri = hubspotSignedUri(publicUrl, req.pathAndQuery);
  const isMatch = anySecretMatches(source.secrets, signature, (secret) =>
    hubspotSignature(secret, req.method, uri, req.rawBody, timestamp),
  );
  if (!isMatch) {
    return refuse(
      401,
      `HubSpot v3 signature does not verify for ${req.method} ${uri}: SIGNOFF_PUBLIC_URL must be the exact public ` +
        "base URL HubSpot posts to (behind a TLS-terminating proxy, the https address, not the internal one), and the secret the app's client secret",
    );
  }
  return parseEvents(req.rawBody);
}

function parseEvents(rawBody: Buffer): Parsed {
  const json = parseJson(rawBody);
  if (!json.ok) return json;
  if (!Array.isArray(json.value) || json.value.length === 0 || json.value.length > MAX_EVENTS) {
    return refuse(400, `a HubSpot body is an array of 1 to ${MAX_EVENTS} events`);
  }
  const deliveries: Delivery[] = [];
  for (const event of json.value as Record<string, unknown>[]) {
    const { subscriptionId, eventId, occurredAt, subscriptionType } = event ?? {};
    if (
      ![subscriptionId, eventId, occurredAt].every((v) => typeof v === 'number' || typeof v === 'string') ||
      typeof subscriptionType !== 'string'
    ) {
      return refuse(400, 'a HubSpot event needs subscriptionId, eventId, occurredAt and subscriptionType');
    }
    deliveries.push({
      key: `${String(subscriptionId)}:${String(eventId)}:${String(occurredAt)}`,
      event: subscriptionType,
      payload: event,
    });
  }
  return { ok: true, deliveries };
}
