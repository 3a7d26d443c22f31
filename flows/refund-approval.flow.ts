/**
 * refund-approval: `/signoff run refund-approval charge=ch_… amount=1500
 * currency=usd reason="…"`, or a Stripe `charge.dispute.created` webhook. The
 * cheap model briefs finance; under SINGLE_APPROVER_LIMIT_CENTS one finance
 * approver decides, from it up two of the three must approve (one reject
 * vetoes). The approved refund goes to Stripe with `stripe.refund`, which sends
 * the step's stable key as `Idempotency-Key`, so a retry after a lost response
 * refunds once. A dispute Stripe says can no longer be refunded
 * (`is_charge_refundable: false`) ends without asking anyone.
 */
import { z } from 'zod';
import {
  assign,
  defineFlow,
  modelStep,
  review,
  setup,
  toolStep,
  type ModelStepOutput,
} from '../src/authoring/index.ts';

/** Refunds below this many cents need one finance approver; from it up, two of three. */
export const SINGLE_APPROVER_LIMIT_CENTS = 50_000;

const Refund = z.object({
  charge: z.string().regex(/^ch_[A-Za-z0-9]{1,100}$/, 'charge must be a Stripe charge id (ch_…)'),
  /** Cents (the currency's smallest unit). Commands pass text: "1500" is read as 1500. */
  amount: z.coerce.number().int().positive().max(99_999_999),
  currency: z
    .string()
    .regex(/^[a-z]{3}$/, 'currency is a 3-letter ISO code in lower case')
    .default('usd'),
  reason: z.string().min(1).max(500).default('requested by the customer'),
  /** The dispute that asked for it, when a webhook did. */
  dispute: z
    .string()
    .regex(/^dp_[A-Za-z0-9]{1,100}$/)
    .optional(),
  /** Stripe's `is_charge_refundable` on the dispute; true for a command. */
  refundable: z.boolean().default(true),
});
type Refund = z.infer<typeof Refund>;

const Brief = z.object({ brief: z.string().min(1).max(1_000) });

/** The Dispute object inside Stripe's `charge.dispute.created` event (docs.stripe.com/api/disputes/object). */
interface DisputeEvent {
  data: {
    object: {
      id: string;
      charge: string;
      amount: number;
      currency: string;
      reason: string;
      is_charge_refundable: boolean;
    };
  };
}

function refundCall(r: Refund) {
  return {
    tool: 'stripe.refund',
    input: {
      charge: r.charge,
      amount: r.amount,
      currency: r.currency,
      reason: r.dispute ? ('fraudulent' as const) : ('requested_by_customer' as const),
    },
  };
}

const money = (r: Refund) => `${(r.amount / 100).toFixed(2)} ${r.currency.toUpperCase()}`;

const brief = modelStep({
  route: 'cheap',
  prompt: new URL('./prompts/refund-approval.summary.md', import.meta.url),
  output: Brief,
  maxOutputTokens: 200,
  vars: (r: Refund) => ({
    charge: r.charge,
    amount: money(r),
    reason: r.reason,
    source: r.dispute ? `Stripe dispute ${r.dispute}` : 'a person asked',
  }),
});

const policy = {
  approvers: { groups: ['finance'] },
  allowEdit: false,
  expiresInMs: 2 * 24 * 60 * 60_000,
  remindAtMs: [24 * 60 * 60_000],
};
const oneApprover = review<{ brief: string }>({ ...policy, quorum: 1 });
const twoApprovers = review<{ brief: string }>({ ...policy, quorum: 2 });

const refund = toolStep<Refund>('stripe.refund', (r) => refundCall(r).input, { maxAttempts: 6 });

function request(context: { refund: Refund; brief: string }) {
  return {
    title: `Refund ${money(context.refund)} on ${context.refund.charge}`,
    fields: [
      { label: 'Reason', value: context.refund.reason },
      ...(context.refund.dispute ? [{ label: 'Dispute', value: context.refund.dispute }] : []),
      {
        label: 'Approvals needed',
        value: context.refund.amount < SINGLE_APPROVER_LIMIT_CENTS ? '1 of finance' : '2 of finance',
      },
    ],
    content: { brief: context.brief },
    proposedAction: refundCall(context.refund),
  };
}

const machine = setup({
  types: {} as { input: Refund; context: { refund: Refund; brief: string; approvedBy: string[]; refundId: string } },
  actors: { brief, oneApprover, twoApprovers, refund },
  guards: {
    isRefundable: ({ context }) => context.refund.refundable,
    isSmall: ({ context }) => context.refund.amount < SINGLE_APPROVER_LIMIT_CENTS,
  },
}).createMachine({
  id: 'refund-approval',
  context: ({ input }) => ({ refund: input, brief: '', approvedBy: [], refundId: '' }),
  initial: 'checking',
  states: {
    checking: { always: [{ guard: 'isRefundable', target: 'briefing' }, { target: 'notRefundable' }] },
    briefing: {
      invoke: {
        src: 'brief',
        input: ({ context }) => context.refund,
        onDone: {
          target: 'routing',
          actions: assign({
            brief: ({ event }) =>
              (event.output as ModelStepOutput<{ brief: string }>).value?.brief ??
              'No brief: the model answer was unusable.',
          }),
        },
      },
    },
    routing: { always: [{ guard: 'isSmall', target: 'awaitingOne' }, { target: 'awaitingTwo' }] },
    awaitingOne: {
      invoke: { src: 'oneApprover', input: ({ context }) => request(context) },
      on: {
        'review.approved': { target: 'refunding', actions: assign({ approvedBy: ({ event }) => event.by }) },
        'review.rejected': { target: 'rejected' },
        'review.expired': { target: 'expired' },
      },
    },
    awaitingTwo: {
      invoke: { src: 'twoApprovers', input: ({ context }) => request(context) },
      on: {
        'review.approved': { target: 'refunding', actions: assign({ approvedBy: ({ event }) => event.by }) },
        'review.rejected': { target: 'rejected' },
        'review.expired': { target: 'expired' },
      },
    },
    refunding: {
      invoke: {
        src: 'refund',
        input: ({ context }) => context.refund,
        onDone: {
          target: 'refunded',
          actions: assign({ refundId: ({ event }) => (event.output as { refundId: string }).refundId }),
        },
      },
    },
    refunded: { type: 'final' },
    notRefundable: { type: 'final' },
    rejected: { type: 'final' },
    expired: { type: 'final' },
  },
  output: ({ context }) => ({ refundId: context.refundId, approvedBy: context.approvedBy }),
});

export default defineFlow({
  id: 'refund-approval',
  title: 'Refund a Stripe charge after finance approves (two of three from the limit up)',
  input: Refund,
  triggers: [
    { kind: 'command' },
    {
      kind: 'webhook',
      source: 'stripe',
      events: ['charge.dispute.created'],
      input: ({ data: { object: d } }: DisputeEvent) => ({
        charge: d.charge,
        amount: d.amount,
        currency: d.currency,
        reason: `dispute: ${d.reason}`,
        dispute: d.id,
        refundable: d.is_charge_refundable,
      }),
    },
  ],
  tools: ['stripe.refund'],
  machine,
});
