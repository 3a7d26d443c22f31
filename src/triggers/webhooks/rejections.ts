/**
 * A verifier's refusal (./types.ts) as the closed set of reasons
 * `signoff_webhook_rejections_total` counts. The verifiers say why in words for
 * the operator's log; this reads the status, and for a 401 whether it was
 * the clock (`isStale`: a replay window, a timestamp ahead or behind), so a
 * metric label never carries free text. test/integration/ops/metrics.test.ts
 * sends a stale and a badly signed request and checks both are told apart.
 */
import type { WebhookRejection } from '../../ops/metrics.ts';
import type { Refusal } from './types.ts';

export function rejectionOf(refusal: Refusal): WebhookRejection {
  if (refusal.status === 400) return 'schema';
  if (refusal.status === 403) return 'forbidden';
  return refusal.isStale ? 'stale' : 'signature';
}
