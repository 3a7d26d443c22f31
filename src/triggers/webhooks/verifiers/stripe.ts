/**
 * Stripe: `Stripe-Signature: t=<s>,v1=<hex>[,v1=…]`, hex(HMAC-SHA256(endpoint
 * secret, `${t}.${body}`)), refused when older than 300 s
 * (docs.stripe.com/webhooks#verify-events). Verified with stripe-node's own
 * `webhooks.constructEvent` (it accepts any matching v1, which is how
 * Stripe rolls a secret, and compares in constant time). It has no future bound,
 * so we add one. Dedupe: the event id `evt_…`, the same on every retry.
 */
import Stripe from 'stripe';
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

/** Stripe's default tolerance, in seconds, and our bound ahead of our clock. */
export const STRIPE_TOLERANCE_SEC = 300;

export function verifyStripeRequest(req: WebhookRequest, source: SourceSettings): Parsed {
  const signature = header(req, 'stripe-signature');
  if (!signature) return refuse(401, 'no Stripe-Signature header');
  const t = /(?:^|,)t=(\d{1,12})(?:,|$)/.exec(signature)?.[1];
  if (t && Number(t) * 1000 - req.nowMs > STRIPE_TOLERANCE_SEC * 1000)
    return refuseStale('Stripe-Signature timestamp is in the future');
  const reason = 'Stripe-Signature does not match the body with any configured secret';
  let stale: Refusal | undefined;
  let isValid = false;
  for (const secret of source.secrets) {
    try {
      Stripe.webhooks.constructEvent(req.rawBody, signature, secret, STRIPE_TOLERANCE_SEC, undefined, req.nowMs);
      isValid = true;
    } catch (err) {
      // The signature held and the event did not parse: the body is the problem, parsed below.
      if (err instanceof SyntaxError) isValid = true;
      else if (err instanceof Error && /tolerance/i.test(err.message))
        stale = refuseStale('Stripe-Signature timestamp is older than 300 s');
    }
  }
  if (!isValid) return stale ?? refuse(401, reason);
  const json = parseJson(req.rawBody);
  if (!json.ok) return json;
  const id = stringField(json.value, 'id');
  if (!id) return refuse(400, 'a Stripe event needs an id');
  return {
    ok: true,
    deliveries: [{ key: id, event: stringField(json.value, 'type') ?? 'unknown', payload: json.value }],
  };
}
