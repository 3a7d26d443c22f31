/**
 * The `X-Hub-Signature` family: an HMAC of the raw body, hex, after an
 * algorithm prefix. None of them signs a timestamp, so replays are stopped by
 * the inbox alone: the delivery id, and (because the id header is not signed)
 * the body's hash as a second key (RELIABILITY 23).
 *
 * - GitHub: `X-Hub-Signature-256: sha256=<hex>`, delivery `X-GitHub-Delivery`, the same on
 *   redelivery (docs.github.com "Validating webhook deliveries"). Verified with
 *   @octokit/webhooks-methods, which checks the length and compares in constant time.
 * - Jira admin webhooks with a secret: `X-Hub-Signature: sha256=<hex>` (WebSub style),
 *   delivery `X-Atlassian-Webhook-Identifier`, unchanged across retries
 *   (developer.atlassian.com/cloud/jira/platform/webhooks/#secure-admin-webhooks).
 *   Written here: jira.js's helper is types plus one function we do not need a dependency for.
 * - Intercom: `X-Hub-Signature: sha1=<hex>`, HMAC-SHA1 with the app's client secret; the
 *   notification's `id` (`notif_…`) is the key (developers.intercom.com webhooks). Intercom ships no verifier.
 */
import { verify as verifyGithub } from '@octokit/webhooks-methods';
import { header, refuse, type Parsed, type SourceSettings, type WebhookRequest } from '../types.ts';
import { anySecretMatches, digest } from './hmac-core.ts';
import { parseJson, sha256Hex, stringField } from './json.ts';

export async function verifyGithubRequest(req: WebhookRequest, source: SourceSettings): Promise<Parsed> {
  const signature = header(req, 'x-hub-signature-256');
  if (!signature) return refuse(401, 'no X-Hub-Signature-256 header');
  const body = req.rawBody.toString('utf8');
  let isValid = false;
  // Every secret is tried (rotation); the library compares in constant time after a length check.
  for (const secret of source.secrets)
    if (body.length > 0 && (await verifyGithub(secret, body, signature))) isValid = true;
  if (!isValid) return refuse(401, 'X-Hub-Signature-256 does not match the body with any configured secret');
  const json = parseJson(req.rawBody);
  if (!json.ok) return json;
  const event = header(req, 'x-github-event') ?? 'unknown';
  const action = stringField(json.value, 'action');
  const key = header(req, 'x-github-delivery') ?? sha256Hex(req.rawBody);
  return {
    ok: true,
    deliveries: [{ key, event: action ? `${event}.${action}` : event, payload: json.value }],
    replayKey: sha256Hex(req.rawBody),
  };
}

export function verifyJiraRequest(req: WebhookRequest, source: SourceSettings): Parsed {
  const isValid = hubSignature(req, source, 'sha256');
  if (!isValid.ok) return isValid;
  const json = parseJson(req.rawBody);
  if (!json.ok) return json;
  const key = header(req, 'x-atlassian-webhook-identifier') ?? sha256Hex(req.rawBody);
  const event = (stringField(json.value, 'webhookEvent') ?? 'unknown').replace(/^jira:/, '');
  return { ok: true, deliveries: [{ key, event, payload: json.value }], replayKey: sha256Hex(req.rawBody) };
}

export function verifyIntercomRequest(req: WebhookRequest, source: SourceSettings): Parsed {
  const isValid = hubSignature(req, source, 'sha1');
  if (!isValid.ok) return isValid;
  const json = parseJson(req.rawBody);
  if (!json.ok) return json;
  const key = stringField(json.value, 'id') ?? sha256Hex(req.rawBody);
  return {
    ok: true,
    deliveries: [{ key, event: stringField(json.value, 'topic') ?? 'unknown', payload: json.value }],
    replayKey: sha256Hex(req.rawBody),
  };
}

/** `X-Hub-Signature: <algorithm>=<hex>`; another algorithm than the provider's is refused, never downgraded. */
function hubSignature(req: WebhookRequest, source: SourceSettings, algorithm: 'sha1' | 'sha256') {
  const signature = header(req, 'x-hub-signature');
  if (!signature) return refuse(401, 'no X-Hub-Signature header');
  const prefix = `${algorithm}=`;
  if (!signature.startsWith(prefix)) return refuse(401, `X-Hub-Signature must start with ${prefix}`);
  const received = signature.slice(prefix.length).toLowerCase();
  const isMatch = anySecretMatches(source.secrets, received, (secret) =>
    digest(algorithm, secret, [req.rawBody], 'hex'),
  );
  return isMatch
    ? { ok: true as const }
    : refuse(401, 'X-Hub-Signature does not match the body with any configured secret');
}
