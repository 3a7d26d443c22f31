/**
 * ticket-triage's machine alone (no database, no engine): driven with XState's
 * pure `initialTransition` / `transition`, and every snapshot stored and
 * restored between events as the engine does (getPersistedSnapshot → JSON →
 * resolveState), so what is asserted here is what a run in Postgres would do.
 * Started by a webhook, it first reads the ticket where it lives (RELIABILITY 28).
 */
import { describe, expect, it } from 'vitest';
import { initialTransition, transition, type AnyMachineSnapshot } from 'xstate';
import flow from '../../flows/ticket-triage.flow.ts';
import { fromLinear, fromZendesk, type TicketFields } from '../../flows/ticket-triage.read.ts';
import type { ModelStepOutput, ReviewEvent, WebhookTrigger } from '../../src/authoring/index.ts';

const machine = flow.machine;
const ticket = {
  subject: 'Charged twice',
  body: 'My card was billed twice in May.',
  customer: 'ana@example.com',
  ticketId: '4242',
};
const triage = { category: 'billing', urgency: 'high' } as const;

type Action = { type: string; params?: unknown };
type CardFields = { label: string; value: string }[];
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

/** Zendesk's ticket-created event as delivered (trimmed), and the ticket-triage trigger that maps it. */
const webhooks = flow.triggers.filter((t): t is WebhookTrigger => t.kind === 'webhook');
const zendeskTrigger = webhooks.find((t) => t.source === 'zendesk')!;
const linearTrigger = webhooks.find((t) => t.source === 'linear')!;
const created = {
  type: 'zen:event-type:ticket.created',
  detail: { id: '35436', subject: 'Charged twice', description: 'Billed twice in May.', requester_id: '8447' },
};
/** zendesk.get-ticket's answer for a ticket whose subject and body changed after it was created. */
const readNow = {
  ticketId: '35436',
  exists: true,
  subject: 'Charged twice, and now a third time',
  description: 'Billed twice in May, and again today.',
  status: 'open',
  priority: 'high',
  requester: { name: 'Ana Ruiz', email: 'ana@example.com' },
  updatedAt: '2026-05-14T09:20:00Z',
};

function fromWebhook(trigger: WebhookTrigger, payload: unknown): Step {
  return stored(initialTransition(machine, flow.input.parse(trigger.input(payload))));
}

describe('ticket-triage started by a webhook', () => {
  it('reads the Zendesk ticket before anything else; the command path reads nothing', () => {
    const first = fromWebhook(zendeskTrigger, created);
    expect(first.snapshot.value).toBe('reading');
    expect(first.invoked).toEqual([
      {
        id: 'readTicket',
        src: 'readTicket',
        input: {
          subject: 'Charged twice',
          body: 'Billed twice in May.',
          ticketId: '35436',
          customer: 'Zendesk user 8447',
          readFrom: 'zendesk',
        },
      },
    ]);
    expect(start().invoked.map((i) => i.src)).toEqual(['classify']);
  });

  it('RELIABILITY 28: an update delivered before the create: the create’s stale fields are replaced by the ticket as read', () => {
    const first = fromWebhook(zendeskTrigger, created);
    const read = fromZendesk(first.invoked[0]!.input as TicketFields, readNow);
    const classifying = send(first, done('readTicket', read));
    const canonical = {
      subject: 'Charged twice, and now a third time',
      body: 'Billed twice in May, and again today.',
      ticketId: '35436',
      customer: 'Ana Ruiz <ana@example.com>',
      readFrom: 'zendesk',
    };
    expect(classifying.invoked).toEqual([{ id: 'classify', src: 'classify', input: canonical }]);
    const reviewing = send(
      send(classifying, done('classify', modelOutput(triage))),
      done('draft', modelOutput({ reply: 'Refunded both.' })),
    );
    const request = reviewing.invoked[0]!.input as { title: string; fields: CardFields; proposedAction: unknown };
    expect(request.title).toBe('Reply to "Charged twice, and now a third time"');
    expect(request.fields).toContainEqual({
      label: 'Read',
      value: 'Zendesk ticket 35436 as read from Zendesk (updated 2026-05-14T09:20:00Z)',
    });
    expect(request.proposedAction).toEqual({
      tool: 'zendesk.reply',
      input: { ticketId: '35436', body: 'Refunded both.', public: true },
    });
  });

  it('ends without a card when the ticket was solved or deleted before the create arrived', () => {
    for (const [answer, state] of [
      [{ ...readNow, status: 'solved' }, 'closed'],
      [{ ...readNow, exists: false, subject: null, description: null, status: null }, 'gone'],
    ] as const) {
      const first = fromWebhook(zendeskTrigger, created);
      const end = send(first, done('readTicket', fromZendesk(first.invoked[0]!.input as TicketFields, answer)));
      expect([end.snapshot.status, end.snapshot.value, end.invoked]).toEqual(['done', state, []]);
      expect(end.snapshot.output).toEqual({ sent: null, approvedBy: [], redrafts: 0 });
    }
  });

  it('takes an id-only event, and drafts from the delivered fields only when Zendesk is not configured (local mode)', () => {
    const idOnly = fromWebhook(zendeskTrigger, { detail: { id: 77 } });
    expect(idOnly.invoked[0]!.input).toMatchObject({
      ticketId: '77',
      subject: 'Zendesk ticket 77',
      readFrom: 'zendesk',
    });
    const delivered = fromWebhook(zendeskTrigger, created).invoked[0]!.input as TicketFields;
    const local = fromZendesk(delivered, {
      ...readNow,
      subject: null,
      description: null,
      requester: null,
      local: true,
    });
    expect(local).toEqual({
      outcome: 'open',
      ticket: delivered,
      note: 'Zendesk ticket 35436 as the webhook delivered it (no ZENDESK_URL)',
    });
  });

  it('reads a Linear issue by its id, drafts from it, and proposes no helpdesk call (there is no ticket to reply on)', () => {
    const first = fromWebhook(linearTrigger, {
      action: 'create',
      type: 'Issue',
      data: { id: 'c0ffee00-0000-4000-8000-000000000007', identifier: 'ENG-7', title: 'Crash on login' },
    });
    expect(first.invoked[0]).toMatchObject({
      src: 'readTicket',
      input: { issueId: 'c0ffee00-0000-4000-8000-000000000007', readFrom: 'linear', subject: 'ENG-7: Crash on login' },
    });
    const read = fromLinear(first.invoked[0]!.input as TicketFields, {
      exists: true,
      identifier: 'ENG-7',
      title: 'Crash on login with SSO',
      description: 'Since 2.3 the app crashes after the SSO redirect.',
      stateType: 'started',
      creator: 'Kim Lee <kim@example.com>',
      updatedAt: '2026-05-14T10:00:00Z',
    });
    const classifying = send(first, done('readTicket', read));
    expect(classifying.invoked[0]!.input).toMatchObject({
      subject: 'ENG-7: Crash on login with SSO',
      body: 'Since 2.3 the app crashes after the SSO redirect.',
      customer: 'Kim Lee <kim@example.com>',
    });
    const reviewing = send(
      send(classifying, done('classify', modelOutput(triage))),
      done('draft', modelOutput({ reply: 'Fixed in 2.3.1.' })),
    );
    expect((reviewing.invoked[0]!.input as { proposedAction?: unknown }).proposedAction).toBeUndefined();
    const done2 = send(first, done('readTicket', { ...read, outcome: 'closed' }));
    expect(done2.snapshot.value).toBe('closed');
  });

  it('refuses a webhook input that names a source without the id to read there', () => {
    expect(flow.input.safeParse({ subject: 's', body: 'b', readFrom: 'zendesk' }).error?.issues[0]).toMatchObject({
      path: ['ticketId'],
      message: 'readFrom=zendesk needs the ticketId to read',
    });
    expect(flow.input.safeParse({ subject: 's', body: 'b', readFrom: 'linear', ticketId: '1' }).success).toBe(false);
  });
});
