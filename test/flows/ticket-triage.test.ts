/**
 * ticket-triage's machine alone (no database, no engine): driven with XState's
 * pure `initialTransition` / `transition`, and every snapshot stored and
 * restored between events as the engine does (getPersistedSnapshot → JSON →
 * resolveState), so what is asserted here is what a run in Postgres would do.
 */
import { describe, expect, it } from 'vitest';
import { initialTransition, transition, type AnyMachineSnapshot } from 'xstate';
import flow from '../../flows/ticket-triage.flow.ts';
import type { ModelStepOutput, ReviewEvent } from '../../src/authoring/index.ts';

const machine = flow.machine;
const ticket = {
  subject: 'Charged twice',
  body: 'My card was billed twice in May.',
  customer: 'ana@example.com',
  ticketId: '4242',
};
const triage = { category: 'billing', urgency: 'high' } as const;

type Action = { type: string; params?: unknown };
interface Step {
  snapshot: AnyMachineSnapshot;
  invoked: { id: string; src: string; input: unknown }[];
}

/** Stores and restores the snapshot, and lists the steps the transition started. */
function stored([next, actions]: [AnyMachineSnapshot, readonly Action[]]): Step {
  const json = JSON.stringify(machine.getPersistedSnapshot(next));
  const invoked = actions
    .filter((a) => a.type === 'xstate.spawnChild')
    .map((a) => {
      const p = a.params as { id: string; src: string; input: unknown };
      return { id: p.id, src: p.src, input: p.input };
    });
  return { snapshot: machine.resolveState(JSON.parse(json)), invoked };
}

const start = () => stored(initialTransition(machine, ticket));
const send = (at: Step, event: { type: string }) => stored(transition(machine, at.snapshot, event as never));
const done = (id: string, output: unknown) => ({ type: `xstate.done.actor.${id}`, output });

function modelOutput<T>(value: T): ModelStepOutput<T> {
  return {
    value,
    model: 'test-strong',
    offline: false,
    usage: { inputTokens: 1_000, outputTokens: 500 },
    costUsd: 0.006,
  };
}

function decided(
  type: ReviewEvent['type'],
  reply: string,
  extra: { by?: string[]; reason?: string } = {},
): ReviewEvent<{ reply: string }> {
  return {
    type,
    reviewId: 'rv-1',
    by: extra.by ?? [],
    content: { reply },
    contentSha256: `sha-${reply.length}`,
    version: 1,
    decidedAt: '2025-05-01T10:00:00.000Z',
    ...(extra.reason ? { reason: extra.reason } : {}),
  };
}

/** Classified and drafted: the review is waiting. */
function awaitingReview(reply = 'We refunded the duplicate charge.'): Step {
  const drafted = send(send(start(), done('classify', modelOutput(triage))), done('draft', modelOutput({ reply })));
  expect(drafted.snapshot.value).toBe('awaitingReview');
  return drafted;
}

describe('ticket-triage', () => {
  it('classifies, drafts, asks for review naming the helpdesk call, and sends what was approved', () => {
    const first = start();
    expect(first.invoked).toEqual([{ id: 'classify', src: 'classify', input: ticket }]);

    const drafting = send(first, done('classify', modelOutput(triage)));
    expect(drafting.invoked).toEqual([
      { id: 'draft', src: 'draft', input: { ticket, triage, feedback: null, previousDraft: '' } },
    ]);

    const reviewing = send(drafting, done('draft', modelOutput({ reply: 'We refunded the duplicate charge.' })));
    const [request] = reviewing.invoked;
    expect(request).toMatchObject({ id: 'replyReview', src: 'replyReview' });
    expect(request!.input).toEqual({
      title: 'Reply to "Charged twice"',
      fields: [
        { label: 'Customer', value: 'ana@example.com' },
        { label: 'Ticket', value: ticket.body },
        { label: 'Triage', value: 'billing, high urgency' },
        { label: 'Drafted by', value: 'test-strong' },
        { label: 'Draft cost', value: '1,500 tokens, $0.0060' },
      ],
      content: { reply: 'We refunded the duplicate charge.' },
      proposedAction: {
        tool: 'zendesk.reply',
        input: { ticketId: '4242', body: 'We refunded the duplicate charge.', public: true },
      },
    });

    // The approver edited the reply: the edited text is what is sent, under the hash the approval covered.
    const sending = send(reviewing, decided('review.approved', 'We refunded it today.', { by: ['bob'] }));
    expect(sending.snapshot.value).toBe('sending');
    expect(sending.invoked).toEqual([
      { id: 'send', src: 'send', input: { ticket, reply: 'We refunded it today.', contentSha256: 'sha-21' } },
    ]);

    const sent = {
      reply: 'We refunded it today.',
      contentSha256: 'sha-21',
      to: 'ana@example.com',
      ticketId: '4242',
      delivery: 'zendesk',
      idempotencyKey: 'r:send:5',
    };
    const end = send(sending, done('send', sent));
    expect([end.snapshot.status, end.snapshot.value]).toEqual(['done', 'sent']);
    expect(end.snapshot.output).toEqual({ sent, approvedBy: ['bob'], redrafts: 0 });
  });

  it('ignores a decision before there is a review', () => {
    const drafting = send(start(), done('classify', modelOutput(triage)));
    const after = send(drafting, decided('review.approved', 'x', { by: ['bob'] }));
    expect([after.snapshot.value, after.invoked]).toEqual(['drafting', []]);
  });

  it('sends a rejection reason back for a new draft, twice, then ends rejected', () => {
    let at = awaitingReview('Draft one.');
    const drafts = ['Draft two.', 'Draft three.'];
    for (const [i, next] of drafts.entries()) {
      const previous = i === 0 ? 'Draft one.' : drafts[i - 1]!;
      const redrafting = send(at, decided('review.rejected', previous, { by: ['bob'], reason: `too curt ${i + 1}` }));
      expect(redrafting.snapshot.value).toBe('drafting');
      expect(redrafting.invoked).toEqual([
        {
          id: 'draft',
          src: 'draft',
          input: { ticket, triage, feedback: `too curt ${i + 1}`, previousDraft: previous },
        },
      ]);
      at = send(redrafting, done('draft', modelOutput({ reply: next })));
      expect((at.invoked[0]!.input as { content: unknown }).content).toEqual({ reply: next });
    }
    const end = send(at, decided('review.rejected', 'Draft three.', { by: ['bob'], reason: 'still no' }));
    expect([end.snapshot.status, end.snapshot.value, end.invoked]).toEqual(['done', 'rejected', []]);
    expect(end.snapshot.output).toEqual({ sent: null, approvedBy: [], redrafts: 2 });
  });

  it('ends expired when nobody decides, sending nothing', () => {
    const end = send(awaitingReview(), decided('review.expired', 'We refunded the duplicate charge.'));
    expect([end.snapshot.status, end.snapshot.value, end.invoked]).toEqual(['done', 'expired', []]);
    expect(end.snapshot.output).toEqual({ sent: null, approvedBy: [], redrafts: 0 });
  });

  it('proposes no helpdesk call when the ticket has no id, and says the reply is only recorded', () => {
    const { ticketId: _none, ...noId } = ticket;
    const at = stored(initialTransition(machine, noId));
    const reviewing = send(
      send(at, done('classify', modelOutput(triage))),
      done('draft', modelOutput({ reply: 'Hi' })),
    );
    const input = reviewing.invoked[0]!.input as { proposedAction?: unknown; fields: { label: string }[] };
    expect(input.proposedAction).toBeUndefined();
    expect(input.fields.map((f) => f.label)).toContain('Helpdesk');
  });
});
