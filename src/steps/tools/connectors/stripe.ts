/**
 * Stripe tools (STRIPE_API_KEY, a restricted key that may create refunds;
 * STRIPE_URL defaults to https://api.stripe.com). A refund is `keyed`: the tool
 * box sends the step's key as `Idempotency-Key`, which Stripe honours for 24 h,
 * replaying the first response to a retry with the same key and refusing the
 * key with other parameters (docs.stripe.com/api/idempotent_requests). So a
 * retry after a lost response refunds once.
 */
import { z } from 'zod';
import type { ToolDefinition } from '../types.ts';
import { apiUrl, bearer, cardHost, field } from './connector.ts';

const refundInput = z.object({
  /** The charge to refund (`ch_…`), e.g. the disputed charge. */
  charge: z.string().regex(/^ch_[A-Za-z0-9]{1,100}$/, 'must be a Stripe charge id (ch_…)'),
  /** In the currency's smallest unit (cents); the whole remaining amount when left out. */
  amount: z.number().int().positive().max(99_999_999).optional(),
  currency: z
    .string()
    .regex(/^[a-z]{3}$/)
    .optional(),
  reason: z.enum(['duplicate', 'fraudulent', 'requested_by_customer']).optional(),
});

const refundOutput = z.object({
  refundId: z.string(),
  status: z.string(),
  amount: z.number().int(),
  local: z.boolean().optional(),
});

type RefundInput = z.infer<typeof refundInput>;
type RefundOutput = z.infer<typeof refundOutput>;

export const stripeRefund: ToolDefinition<RefundInput, RefundOutput> = {
  name: 'stripe.refund',
  connector: 'stripe',
  description: 'Refund a Stripe charge (all of it, or `amount` cents).',
  input: refundInput,
  output: refundOutput,
  safety: 'keyed',
  isWrite: true,
  async call(input, ctx) {
    const form = new URLSearchParams({ charge: input.charge });
    if (input.amount !== undefined) form.set('amount', String(input.amount));
    if (input.reason) form.set('reason', input.reason);
    const res = await ctx.http.request({
      method: 'POST',
      url: apiUrl(ctx.settings, '/v1/refunds'),
      headers: bearer(ctx.settings),
      body: form,
    });
    // Stripe answers the Refund object: `{ id: 're_…', object: 'refund', amount, status, charge, … }`.
    const body = res.body as { id?: unknown; status?: unknown; amount?: unknown } | null;
    return {
      refundId: String(body?.id ?? ''),
      status: String(body?.status ?? 'unknown'),
      amount: Number(body?.amount ?? input.amount ?? 0),
    };
  },
  local(input) {
    return { refundId: 're_local', status: 'succeeded', amount: input.amount ?? 0, local: true };
  },
  describe(input, settings) {
    const amount =
      input.amount === undefined
        ? 'the whole charge'
        : `${(input.amount / 100).toFixed(2)} ${(input.currency ?? '').toUpperCase()}`.trim();
    return {
      tool: 'stripe.refund',
      method: 'POST',
      host: cardHost(settings),
      fields: [
        field('charge', input.charge),
        field('amount', amount),
        ...(input.reason ? [field('reason', input.reason)] : []),
      ],
    };
  },
};
