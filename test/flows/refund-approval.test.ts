/**
 * refund-approval's machine alone: the threshold picks one approver or two of
 * three, a Stripe dispute maps to its input, a dispute Stripe can no longer
 * refund ends at once, and the refund is exactly the call the card showed.
 */
import { describe, expect, it } from 'vitest';
import { initialTransition, transition, type AnyMachineSnapshot } from 'xstate';
import flow, { SINGLE_APPROVER_LIMIT_CENTS } from '../../flows/refund-approval.flow.ts';
import type { WebhookTrigger } from '../../src/authoring/index.ts';

const machine = flow.machine;
type Action = { type: string; params?: unknown };
interface At {
  snapshot: AnyMachineSnapshot;
  invoked: { src: string; input: any }[];
}
function stored([next, actions]: [AnyMachineSnapshot, readonly Action[]]): At {
  const json = JSON.stringify(machine.getPersistedSnapshot(next));
  return {
    snapshot: machine.resolveState(JSON.parse(json)),
    invoked: actions.filter((a) => a.type === 'xstate.spawnChild').map((a) => a.params as never),
  };
}
const send = (at: At, event: object) => stored(transition(machine, at.snapshot, event as never));
const done = (id: string, output: unknown) => ({ type: `xstate.done.actor.${id}`, output });
const briefed = {
  value: { brief: 'A customer asks for money back.' },
  model: 'cheap',
  offline: false,
  usage: { inputTokens: 1, outputTokens: 1 },
  costUsd: 0,
};
const start = (input: Record<string, unknown>) => stored(initialTransition(machine, flow.input.parse(input)));

const dispute = {
  id: 'evt_1',
  type: 'charge.dispute.created',
  data: {
    object: {
      id: 'dp_1Q2w3E',
      object: 'dispute',
      charge: 'ch_3Abc',
      amount: 120_000,
      currency: 'eur',
      reason: 'fraudulent',
      status: 'warning_needs_response',
      is_charge_refundable: true,
    },
  },
};

describe('refund-approval', () => {
  it('a command under the limit asks one finance approver, then refunds exactly what the card showed', () => {
    const reviewing = send(start({ charge: 'ch_1', amount: '1500', reason: 'double charge' }), done('brief', briefed));
    expect(reviewing.snapshot.value).toBe('awaitingOne');
    const card = reviewing.invoked[0]!;
    expect(card).toMatchObject({
      src: 'oneApprover',
      input: {
        title: 'Refund 15.00 USD on ch_1',
        proposedAction: {
          tool: 'stripe.refund',
          input: { charge: 'ch_1', amount: 1500, currency: 'usd', reason: 'requested_by_customer' },
        },
      },
    });
    const refunding = send(reviewing, {
      type: 'review.approved',
      reviewId: 'r',
      by: ['fin-1'],
      content: { brief: 'x' },
      contentSha256: 'h',
      version: 1,
      decidedAt: 't',
    });
    expect(refunding.invoked[0]!.input).toMatchObject({ charge: 'ch_1', amount: 1500 });
    expect(
      send(refunding, done('refund', { refundId: 're_1', status: 'succeeded', amount: 1500 })).snapshot.output,
    ).toEqual({ refundId: 're_1', approvedBy: ['fin-1'] });
  });

  it(`a Stripe dispute from ${SINGLE_APPROVER_LIMIT_CENTS} cents up needs two of finance; a reject ends it without a refund`, () => {
    const webhook = flow.triggers.find((t): t is WebhookTrigger => t.kind === 'webhook')!;
    expect(webhook).toMatchObject({ source: 'stripe', events: ['charge.dispute.created'] });
    const input = webhook.input(dispute);
    expect(input).toEqual({
      charge: 'ch_3Abc',
      amount: 120_000,
      currency: 'eur',
      reason: 'dispute: fraudulent',
      dispute: 'dp_1Q2w3E',
      refundable: true,
    });
    const reviewing = send(start(input as Record<string, unknown>), done('brief', briefed));
    expect([reviewing.snapshot.value, reviewing.invoked[0]!.src]).toEqual(['awaitingTwo', 'twoApprovers']);
    const rejected = send(reviewing, {
      type: 'review.rejected',
      reviewId: 'r',
      by: ['fin-2'],
      content: { brief: 'x' },
      contentSha256: 'h',
      version: 1,
      decidedAt: 't',
    });
    expect([rejected.snapshot.value, rejected.invoked]).toEqual(['rejected', []]);
  });

  it('a dispute Stripe says is no longer refundable ends at once, asking no one', () => {
    const first = start({ charge: 'ch_2', amount: 900, refundable: false });
    expect([first.snapshot.value, first.invoked]).toEqual(['notRefundable', []]);
  });

  it('refuses input Stripe would refuse, before a run exists', () => {
    expect(flow.input.safeParse({ charge: 'py_1', amount: 10 }).success).toBe(false);
    expect(flow.input.safeParse({ charge: 'ch_1', amount: -5 }).success).toBe(false);
  });
});
