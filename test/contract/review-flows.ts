/**
 * Flows for the chat-port contract suite: one review each, with the policy a
 * case needs. `apply` is the tool the approval guards; its job rows prove it ran
 * once and with exactly the approved content.
 */
import { assign, setup } from 'xstate';
import { z } from 'zod';
import { compileFlow } from '../../src/engine/flow.ts';
import { parsePolicy, type ReviewPolicyInput } from '../../src/review/policy.ts';
import { slot } from '../helpers/flows/slot.ts';

const Input = z.object({ text: z.string().min(1), big: z.string().optional() });
type Input = z.infer<typeof Input>;

interface Decided {
  content: { text: string };
  contentSha256: string;
  by: string[];
  reason?: string;
}

function reviewFlow(id: string, policy: ReviewPolicyInput, channel?: string) {
  const machine = setup({
    types: {} as {
      input: Input;
      context: { input: Input; decided?: Decided; outcome?: string };
      events: { type: string } & Decided;
    },
    actors: { check: slot<Record<string, unknown>, never>(), apply: slot<Decided, Decided>() },
  }).createMachine({
    id,
    context: ({ input }) => ({ input }),
    initial: 'awaitingReview',
    states: {
      awaitingReview: {
        invoke: {
          src: 'check',
          id: 'check',
          input: ({ context }) => ({
            title: `Check "${context.input.text.slice(0, 40)}"`,
            fields: [{ label: 'Ticket', value: context.input.text }],
            content: { text: context.input.text },
            proposedAction: {
              tool: 'crm',
              method: 'PATCH',
              host: 'crm.example.test',
              fields: [{ name: 'note', old: 'none', new: context.input.big ?? 'short' }],
            },
            ...(channel ? { channel } : {}),
          }),
        },
        on: {
          'review.approved': {
            target: 'applying',
            actions: assign({ decided: ({ event }) => event, outcome: 'approved' }),
          },
          'review.rejected': {
            target: 'closed',
            actions: assign({ decided: ({ event }) => event, outcome: 'rejected' }),
          },
          'review.expired': { target: 'closed', actions: assign({ outcome: 'expired' }) },
        },
      },
      applying: {
        invoke: { src: 'apply', id: 'apply', input: ({ context }) => context.decided!, onDone: 'closed' },
      },
      closed: { type: 'final' },
    },
    output: ({ context }) => ({ outcome: context.outcome, decided: context.decided ?? null }),
  });
  return compileFlow({
    id,
    title: `contract flow ${id}`,
    input: Input,
    machine,
    triggers: [{ kind: 'command' }],
    steps: { apply: async (decided: Decided) => decided },
    reviews: { check: parsePolicy(policy) },
  });
}

export const leads = reviewFlow('rv-leads', { approvers: { groups: ['support-leads'] } });
export const anyone = reviewFlow('rv-anyone', { allowSelfApproval: true });
export const quorum = reviewFlow('rv-quorum', { approvers: { users: ['alice', 'bob', 'carol', 'dave'] }, quorum: 2 });
export const shortExpiry = reviewFlow('rv-short', { approvers: { groups: ['support-leads'] }, expiresInMs: 1_500 });
export const escalating = reviewFlow('rv-escalating', {
  approvers: { users: ['carol'] },
  expiresInMs: 4_000,
  remindAtMs: [3_200, 2_400],
  escalateTo: { users: ['dave'] },
  escalateAtMs: 1_600,
  defaultDecision: 'reject',
});
export const nowhere = reviewFlow(
  'rv-nowhere',
  { approvers: { groups: ['support-leads'] }, expiresInMs: 2_500 },
  'no-such-channel',
);

export const contractFlows = [leads, anyone, quorum, shortExpiry, escalating, nowhere];
