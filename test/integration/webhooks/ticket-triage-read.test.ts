/**
 * ticket-triage started by signed webhooks, on real parts: the ingress on a
 * loopback HTTP server, the engine and review desk on Postgres, the web chat,
 * the offline model, and test/fakes/webhook-h.tools.ts as Zendesk and Linear.
 * The run reads the ticket through the read tool before drafting, so what the
 * card shows is the ticket as it is now, whatever order the events came in
 * (RELIABILITY 28).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ticketTriage from '../../../flows/ticket-triage.flow.ts';
import { useTestDb } from '../../helpers/db.ts';
import { startFlowHarness, type FlowHarness } from './flow-harness.ts';

const db = useTestDb({ max: 20 });
let h: FlowHarness;

beforeAll(async () => {
  h = await startFlowHarness(db, [ticketTriage]);
});
afterAll(async () => {
  await h?.stop();
});

/** A Zendesk event for ticket `id`, as Zendesk sends it (trimmed). */
const zendeskEvent = (type: string, id: string, detail: Record<string, unknown>) => ({
  type: `zen:event-type:${type}`,
  account_id: 22129848,
  id: `evt-${type}-${id}`,
  subject: `zen:ticket:${id}`,
  time: '2026-05-14T09:12:03.872Z',
  zendesk_event_version: '2022-11-06',
  detail: { id, requester_id: '8447388090494', ...detail },
  event: {},
});

describe('ticket-triage from a Zendesk ticket-created webhook', () => {
  it('reads the ticket through zendesk.get-ticket as the configured agent, and the card shows it as read', async () => {
    h.tools.users.set(8447388090494, { name: 'Ana Ruiz', email: 'ana@example.com' });
    h.tools.tickets.set('35436', {
      subject: 'Charged twice for May',
      description: 'I was charged twice for my May invoice (INV-20931).',
      status: 'new',
      priority: 'high',
      requester_id: 8447388090494,
      updated_at: '2026-05-14T09:12:03Z',
    });
    const created = zendeskEvent('ticket.created', '35436', { subject: 'Charged twice for May', description: 'x' });
    expect((await h.post('zendesk', created, 'inv-35436')).status).toBe(200);
    const card = await h.cardOf(await h.runOf('ticketId', '35436'));
    expect(card.allText).toContain('Reply to "Charged twice for May"');
    expect(card.allText).toContain('Ana Ruiz <ana@example.com>');
    const reads = h.tools.calls.filter((c) => c.path === '/api/v2/tickets/35436.json');
    expect(reads.map((c) => [c.method, c.status])).toEqual([['GET', 200]]);
    expect(card.proposed).toContainEqual({ name: 'ticket', old: null, new: '35436' });
  });

  it('RELIABILITY 28: an update delivered before its create: the create starts one run, which drafts from the updated ticket', async () => {
    // In Zendesk the subject was changed after creation; the subject_changed event overtakes the create.
    h.tools.tickets.set('35437', {
      subject: 'Charged twice, and now a third time',
      description: 'Billed twice in May, and again today.',
      status: 'open',
      priority: 'urgent',
      requester_id: 8447388090494,
      updated_at: '2026-05-14T09:20:00Z',
    });
    const update = zendeskEvent('ticket.subject_changed', '35437', { subject: 'Charged twice, and now a third time' });
    expect((await h.post('zendesk', update, 'inv-35437-update')).status).toBe(200);
    expect(await db.sql`SELECT 1 FROM runs WHERE input->>'ticketId' = '35437'`).toHaveLength(0);
    const created = zendeskEvent('ticket.created', '35437', { subject: 'Charged twice', description: 'Billed twice.' });
    expect((await h.post('zendesk', created, 'inv-35437-create')).status).toBe(200);
    const runId = await h.runOf('ticketId', '35437');
    const card = await h.cardOf(runId);
    expect(card.allText).toContain('Reply to "Charged twice, and now a third time"');
    expect(card.allText).toContain('Billed twice in May, and again today.');
    expect(card.allText).not.toContain('Reply to "Charged twice"');
    const [run] =
      await db.sql`SELECT snapshot->'context'->'ticket'->>'subject' AS subject FROM runs WHERE id = ${runId}`;
    expect(run!.subject).toBe('Charged twice, and now a third time');
    const inbox =
      await db.sql`SELECT key, run_id FROM inbox WHERE source = 'webhook:zendesk' AND key LIKE 'inv-35437%'`;
    expect(inbox.map((r) => [r.key, r.run_id === null])).toEqual(
      expect.arrayContaining([
        ['inv-35437-update', true],
        ['inv-35437-create', false],
      ]),
    );
  });

  it('a ticket solved before its create arrives ends the run with no card and no reply', async () => {
    h.tools.tickets.set('35438', {
      subject: 'Printer on fire',
      description: 'It is on fire',
      status: 'solved',
      priority: null,
      requester_id: 8447388090494,
      updated_at: '2026-05-14T09:30:00Z',
    });
    const created = zendeskEvent('ticket.created', '35438', { subject: 'Printer on fire', description: 'fire' });
    expect((await h.post('zendesk', created, 'inv-35438')).status).toBe(200);
    const run = await h.app.engine.waitFor(await h.runOf('ticketId', '35438'), ['done'], { timeoutMs: 15_000 });
    expect(run.output).toEqual({ sent: null, approvedBy: [], redrafts: 0 });
    const [row] = await db.sql`SELECT snapshot->>'value' AS state FROM runs WHERE id = ${run.id}`;
    expect(row!.state).toBe('closed');
    expect(await db.sql`SELECT 1 FROM reviews WHERE run_id = ${run.id}`).toHaveLength(0);
  });
});

describe('ticket-triage from a Linear issue-create webhook', () => {
  it('reads the issue through linear.get-issue with the API key as is, and drafts from it', async () => {
    h.tools.issues.set('9d0f2c3e-1b1a-4d5e-9a51-6c1f3a2b7e10', {
      identifier: 'ENG-41',
      title: 'Crash on login with SSO',
      description: 'Since 2.3 the app crashes after the SSO redirect.',
      priority: 2,
      stateId: 'state-started',
      stateType: 'started',
      creator: { name: 'Kim Lee', email: 'kim@example.com' },
    });
    const event = {
      action: 'create',
      type: 'Issue',
      data: { id: '9d0f2c3e-1b1a-4d5e-9a51-6c1f3a2b7e10', identifier: 'ENG-41', title: 'Crash on login' },
      webhookTimestamp: Date.now(),
    };
    expect((await h.post('linear', event, 'ld-41')).status).toBe(200);
    const card = await h.cardOf(await h.runOf('issueId', '9d0f2c3e-1b1a-4d5e-9a51-6c1f3a2b7e10'));
    expect(card.allText).toContain('Reply to "ENG-41: Crash on login with SSO"');
    expect(card.allText).toContain('Kim Lee <kim@example.com>');
    const read = h.tools.calls.filter((c) => c.path === '/graphql');
    expect(read.map((c) => c.status)).toEqual([200]);
    expect(card.proposed).toEqual([]);
  });
});
