/**
 * `signoff_webhook_rejections_total` labels a refusal by a closed reason, read
 * from the verifier's status and words (src/triggers/webhooks/rejections.ts).
 * This holds that reading to the real verifiers: requests signed as each
 * provider signs them (src/triggers/webhooks/sign.ts), once with a timestamp
 * outside the provider's window and once with the wrong secret, must come out
 * `stale` and `signature`. A verifier that rewords its refusal fails here, not
 * silently in a dashboard.
 */
import { describe, expect, it } from 'vitest';
import { VERIFIERS } from '../../../src/triggers/webhooks/presets.ts';
import { rejectionOf } from '../../../src/triggers/webhooks/rejections.ts';
import { readWebhookSettings } from '../../../src/triggers/webhooks/settings.ts';
import { signWebhook } from '../../../src/triggers/webhooks/sign.ts';
import type { PresetName } from '../../../src/triggers/webhooks/types.ts';

const PUBLIC_URL = 'https://signoff.example.com';
const SECRETS: Partial<Record<PresetName, string>> = {
  zendesk: 'zendesk-secret',
  stripe: 'whsec_stripe-secret',
  hubspot: 'hubspot-secret',
  linear: 'linear-secret',
  standard: `whsec_${Buffer.from('standard-webhooks-secret-32bytes').toString('base64')}`,
};
const settings = readWebhookSettings(
  Object.fromEntries(Object.entries(SECRETS).map(([p, s]) => [`WEBHOOK_${p.toUpperCase()}_SECRET`, s])),
  [],
  PUBLIC_URL,
);
const HOUR_MS = 3_600_000;

/** What the ingress would count for a request signed at `signedAtMs` with `secret`, received now. */
async function reasonFor(preset: PresetName, signedAtMs: number, secret = SECRETS[preset]!) {
  // Linear's timestamp is in the signed body; the others carry it in a header.
  const body = Buffer.from(JSON.stringify({ type: 'Issue', action: 'create', webhookTimestamp: signedAtMs, id: 'e1' }));
  const signed = await signWebhook({ preset, source: preset, secret, body, nowMs: signedAtMs, publicUrl: PUBLIC_URL });
  const parsed = await VERIFIERS[preset](
    { method: 'POST', pathAndQuery: signed.path, headers: signed.headers, rawBody: body, nowMs: Date.now() },
    settings.sources[preset]!,
    PUBLIC_URL,
  );
  return parsed.ok ? 'accepted' : rejectionOf(parsed);
}

describe('webhook rejection reasons', () => {
  it('a timestamp outside the window is stale, for every preset that has a window', async () => {
    expect({
      zendesk: await reasonFor('zendesk', Date.now() + HOUR_MS), // Zendesk refuses only the future side
      stripe: await reasonFor('stripe', Date.now() - HOUR_MS),
      hubspot: await reasonFor('hubspot', Date.now() - HOUR_MS),
      linear: await reasonFor('linear', Date.now() - HOUR_MS),
      standard: await reasonFor('standard', Date.now() - HOUR_MS),
      stripeAhead: await reasonFor('stripe', Date.now() + HOUR_MS),
    }).toEqual({
      zendesk: 'stale',
      stripe: 'stale',
      hubspot: 'stale',
      linear: 'stale',
      standard: 'stale',
      stripeAhead: 'stale',
    });
  });

  it('a fresh request with the wrong secret is a bad signature; with the right one it gets past the signature', async () => {
    const wrong = `whsec_${Buffer.from('another-secret-of-thirty-two-by').toString('base64')}`;
    const presets = Object.keys(SECRETS) as PresetName[];
    const seen = async (secret?: string) =>
      Object.fromEntries(await Promise.all(presets.map(async (p) => [p, await reasonFor(p, Date.now(), secret)])));
    expect(await seen(wrong)).toEqual(Object.fromEntries(presets.map((p) => [p, 'signature'])));
    // HubSpot's body is an array of events: this object is genuine but unreadable, a dead letter (schema).
    expect(await seen()).toEqual({
      zendesk: 'accepted',
      stripe: 'accepted',
      hubspot: 'schema',
      linear: 'accepted',
      standard: 'accepted',
    });
  });
});
