/**
 * lead-qualification's machine alone, through XState's pure transitions with
 * each snapshot stored and restored as the engine does. Includes RELIABILITY 28:
 * the webhook's event is only an id; the card and the write use the contact as
 * read when the run starts, so an update delivered before the creation (out of
 * order) cannot make the flow act on stale data, and a contact gone since ends it.
 */
import { describe, expect, it } from 'vitest';
import { initialTransition, transition, type AnyMachineSnapshot } from 'xstate';
import flow from '../../flows/lead-qualification.flow.ts';
import type { WebhookTrigger } from '../../src/authoring/index.ts';

const machine = flow.machine;
type Action = { type: string; params?: unknown };
interface At {
  snapshot: AnyMachineSnapshot;
  invoked: { src: string; input: any }[];
}
function stored([next, actions]: [AnyMachineSnapshot, readonly Action[]]): At {
  const json = JSON.stringify(machine.getPersistedSnapshot(next));
  const invoked = actions
    .filter((a) => a.type === 'xstate.spawnChild')
    .map((a) => a.params as { src: string; input: unknown });
  return { snapshot: machine.resolveState(JSON.parse(json)), invoked };
}
const send = (at: At, event: object) => stored(transition(machine, at.snapshot, event as never));
const done = (id: string, output: unknown) => ({ type: `xstate.done.actor.${id}`, output });
const decided = (type: string, content: { summary: string; status: string }, by = ['sam']) => ({
  type,
  reviewId: 'rv',
  by,
  content,
  contentSha256: 'h',
  version: 1,
  decidedAt: '2026-01-01T00:00:00Z',
});

const event = {
  eventId: 100,
  subscriptionId: 2881778,
  portalId: 62515,
  occurredAt: 1717000000000,
  subscriptionType: 'contact.creation',
  objectId: 512,
};
const webhook = flow.triggers.find((t): t is WebhookTrigger => t.kind === 'webhook' && t.source === 'hubspot')!;
const salesforce = flow.triggers.find((t): t is WebhookTrigger => t.kind === 'webhook' && t.source === 'salesforce')!;
/** As HubSpot holds it now: the email changed after creation, in an update that may be delivered before it. */
const current = {
  crm: 'hubspot',
  recordId: '512',
  exists: true,
  updatedAt: '2026-01-02T00:00:00Z',
  properties: { email: 'ada@new.example', company: 'Acme', hs_lead_status: 'NEW', lifecyclestage: 'lead' },
};
const scored = {
  value: { score: 82, summary: 'VP at a 500-person company.' },
  model: 'cheap',
  offline: false,
  usage: { inputTokens: 1, outputTokens: 1 },
  costUsd: 0,
};

describe('lead-qualification', () => {
  it('starts from a HubSpot contact.creation event with only its id, and reads the contact first', () => {
    expect(webhook).toMatchObject({ source: 'hubspot', events: ['contact.creation'] });
    const input = flow.input.parse(webhook.input(event));
    expect(input).toEqual({ contactId: '512', occurredAt: 1717000000000 });
    const first = stored(initialTransition(machine, input));
    expect(first.invoked).toEqual([expect.objectContaining({ src: 'fetchContact', input })]);
  });

  it('RELIABILITY 28: scores, shows and writes the contact as read now, old -> new on the card, and writes what was approved', () => {
    const fetched = send(stored(initialTransition(machine, { contactId: '512' })), done('fetchContact', current));
    expect(fetched.invoked[0]).toMatchObject({ src: 'scoreLead', input: current });
    const reviewing = send(fetched, done('scoreLead', scored));
    const card = reviewing.invoked[0]!.input;
    expect(card.title).toBe('New lead: ada@new.example');
    expect(card.content).toEqual({ summary: 'VP at a 500-person company.', status: 'OPEN' });
    expect(card.proposedAction).toEqual({
      tool: 'hubspot.update-contact',
      input: {
        contactId: '512',
        properties: { hs_lead_status: 'OPEN', lifecyclestage: 'salesqualifiedlead' },
        previous: { hs_lead_status: 'NEW', lifecyclestage: 'lead' },
      },
    });
    const updating = send(reviewing, decided('review.approved', { summary: 'Edited.', status: 'in_progress ' }));
    expect(updating.invoked[0]).toMatchObject({ src: 'update', input: { status: 'IN_PROGRESS' } });
    const end = send(updating, done('update', { contactId: '512', properties: {} }));
    expect(end.snapshot.value).toBe('updated');
    expect(end.snapshot.output).toEqual({ contactId: '512', status: 'IN_PROGRESS', approvedBy: ['sam'] });
  });

  it('ends without asking anyone when the contact is gone (deleted or merged since the event)', () => {
    const gone = send(
      stored(initialTransition(machine, { contactId: '512' })),
      done('fetchContact', { crm: 'hubspot', recordId: '512', properties: {}, exists: false, updatedAt: null }),
    );
    expect([gone.snapshot.value, gone.invoked]).toEqual(['gone', []]);
  });

  it('refuses a status HubSpot does not have, and a rejection writes nothing', () => {
    const reviewing = send(
      send(stored(initialTransition(machine, { contactId: '512' })), done('fetchContact', current)),
      done('scoreLead', scored),
    );
    expect(send(reviewing, decided('review.approved', { summary: 's', status: 'HOT' })).snapshot.value).toBe(
      'invalidStatus',
    );
    const rejected = send(reviewing, decided('review.rejected', { summary: 's', status: 'OPEN' }));
    expect([rejected.snapshot.value, rejected.invoked]).toEqual(['rejected', []]);
  });
});

describe('lead-qualification from a Salesforce Lead outbound message', () => {
  /** One Notification as the Salesforce verifier hands it to the trigger. */
  const notification = {
    organizationId: '00D5e000000KQ2eEAG',
    notificationId: '04l5e00000Gx7QzAAJ',
    type: 'Lead',
    fields: { Id: '00Q5e00000ZkM3hEAF', Email: 'ada@old.example', SystemModstamp: '2026-05-14T09:12:03.000Z' },
  };
  /** The lead as salesforce.get-lead reads it now, mapped by the flow's fetch step. */
  const lead = {
    crm: 'salesforce',
    recordId: '00Q5e00000ZkM3hEAF',
    exists: true,
    updatedAt: '2026-05-14T09:20:00.000Z',
    properties: {
      FirstName: 'Ada',
      LastName: 'Lovelace',
      Email: 'ada@acme.example',
      Company: 'Acme',
      Title: 'VP Engineering',
      Status: 'Open - Not Contacted',
      Rating: null,
      IsConverted: 'false',
    },
  };
  const fromSalesforce = () => stored(initialTransition(machine, flow.input.parse(salesforce.input(notification))));

  it('maps the notification to its lead id and reads the lead first', () => {
    expect(salesforce).toMatchObject({ source: 'salesforce', events: ['lead'] });
    const first = fromSalesforce();
    expect(first.invoked).toEqual([
      expect.objectContaining({ src: 'fetchContact', input: { leadId: '00Q5e00000ZkM3hEAF' } }),
    ]);
  });

  it('proposes a Salesforce update of Status and Rating, old -> new, and writes exactly what was approved', () => {
    const scoring = send(fromSalesforce(), done('fetchContact', lead));
    expect(scoring.invoked[0]).toMatchObject({ src: 'scoreLead', input: lead });
    const reviewing = send(scoring, done('scoreLead', scored));
    const card = reviewing.invoked[0]!.input;
    expect(card.title).toBe('New lead: ada@acme.example');
    expect(card.fields).toContainEqual({
      label: 'Status values',
      value: 'Open - Not Contacted, Working - Contacted, Closed - Not Converted',
    });
    expect(card.content).toEqual({ summary: 'VP at a 500-person company.', status: 'Working - Contacted' });
    expect(card.proposedAction).toEqual({
      tool: 'salesforce.update-lead',
      input: {
        leadId: '00Q5e00000ZkM3hEAF',
        fields: { Status: 'Working - Contacted', Rating: 'Hot' },
        previous: { Status: 'Open - Not Contacted', Rating: '' },
      },
    });
    // The reviewer closed it instead, typed in lower case: written as Salesforce spells it.
    const updating = send(
      reviewing,
      decided('review.approved', { summary: 'No budget.', status: 'closed - not converted' }),
    );
    expect(updating.invoked[0]).toMatchObject({ src: 'update', input: { status: 'Closed - Not Converted' } });
    const end = send(updating, done('update', { leadId: '00Q5e00000ZkM3hEAF', fields: {} }));
    expect(end.snapshot.output).toEqual({
      contactId: '00Q5e00000ZkM3hEAF',
      status: 'Closed - Not Converted',
      approvedBy: ['sam'],
    });
  });

  it('refuses a HubSpot status for a Salesforce lead; a lead converted or deleted since ends the run unasked', () => {
    const reviewing = send(send(fromSalesforce(), done('fetchContact', lead)), done('scoreLead', scored));
    expect(send(reviewing, decided('review.approved', { summary: 's', status: 'OPEN' })).snapshot.value).toBe(
      'invalidStatus',
    );
    const gone = send(fromSalesforce(), done('fetchContact', { ...lead, exists: false }));
    expect([gone.snapshot.value, gone.invoked]).toEqual(['gone', []]);
  });

  it('takes one id, a HubSpot contact or a Salesforce lead, not both and not neither', () => {
    expect(flow.input.safeParse({ contactId: '1', leadId: '00Q5e00000ZkM3hEAF' }).success).toBe(false);
    expect(flow.input.safeParse({}).error?.issues[0]?.message).toMatch(/give contactId .* or leadId/);
    expect(flow.input.safeParse({ leadId: '001000000000001' }).error?.issues[0]?.message).toMatch(/Salesforce Lead id/);
  });
});
