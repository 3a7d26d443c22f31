/**
 * A Salesforce Lead outbound message to a lead-qualification review and back:
 * the message is bound to the org (path secret and OrganizationId), acked, and
 * starts one run; the run reads the lead as it is now (salesforce.get-lead),
 * the card proposes a Salesforce update (Status and Rating, old → new), and an
 * approval PATCHes exactly that, once, with Bearer auth (test/fakes/salesforce.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import leadQualification from '../../../flows/lead-qualification.flow.ts';
import { until } from '../../contract/chat-port.contract.ts';
import { useTestDb } from '../../helpers/db.ts';
import { SALESFORCE_ORG_ID, startFlowHarness, type FlowHarness } from './flow-harness.ts';

const db = useTestDb({ max: 20 });
let h: FlowHarness;

beforeAll(async () => {
  h = await startFlowHarness(db, [leadQualification]);
});
afterAll(async () => {
  await h?.stop();
});

/** An outbound message on Lead as Salesforce sends it (fields as the outbound message selects them). */
const outbound = (org: string, notificationId: string, leadId: string, modstamp: string) =>
  `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>${org}</OrganizationId>
   <ActionId>04k5e000000CaRkAAK</ActionId>
   <SessionId xsi:nil="true"/>
   <EnterpriseUrl>https://acme.my.salesforce.com/services/Soap/c/62.0/00D5e000000KQ2e</EnterpriseUrl>
   <PartnerUrl>https://acme.my.salesforce.com/services/Soap/u/62.0/00D5e000000KQ2e</PartnerUrl>
   <Notification>
    <Id>${notificationId}</Id>
    <sObject xsi:type="sf:Lead" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>${leadId}</sf:Id>
     <sf:Email>ada@old.example</sf:Email>
     <sf:SystemModstamp>${modstamp}</sf:SystemModstamp>
    </sObject>
   </Notification>
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>`;

describe('lead-qualification from a Salesforce outbound message', () => {
  it('a signed, org-bound Lead message becomes a review of the lead as read now, and approval updates it in Salesforce once', async () => {
    h.tools.leads.set('00Q5e00000ZkM3hEAF', {
      Id: '00Q5e00000ZkM3hEAF',
      FirstName: 'Ada',
      LastName: 'Lovelace',
      Email: 'ada@acme.example',
      Company: 'Acme & Sons',
      Title: 'VP Engineering',
      NumberOfEmployees: 500,
      Website: 'https://acme.example',
      Status: 'Open - Not Contacted',
      Rating: null,
      IsConverted: false,
      SystemModstamp: '2026-05-14T09:20:00.000+0000',
    });
    const wrongOrg = await h.post(
      'salesforce',
      outbound('00D000000000001AAA', '04l5e00000Gx7Q0AAJ', '00Q5e00000ZkM3hEAF', '2026-05-14T09:12:03.000Z'),
    );
    expect(wrongOrg.status).toBe(500);
    expect(await db.sql`SELECT 1 FROM runs`).toHaveLength(0);

    const sent = await h.post(
      'salesforce',
      outbound(SALESFORCE_ORG_ID, '04l5e00000Gx7QzAAJ', '00Q5e00000ZkM3hEAF', '2026-05-14T09:12:03.000Z'),
    );
    expect([sent.status, sent.text.includes('<Ack>true</Ack>')]).toEqual([200, true]);
    const runId = await h.runOf('leadId', '00Q5e00000ZkM3hEAF');
    const card = await h.cardOf(runId);
    // The lead as Salesforce holds it now, not the message's older Email.
    expect(card.allText).toContain('New lead: ada@acme.example');
    expect(card.allText).toContain('Acme & Sons');
    expect(card.proposed).toEqual(
      expect.arrayContaining([
        { name: 'lead', old: null, new: '00Q5e00000ZkM3hEAF' },
        { name: 'Status', old: 'Open - Not Contacted', new: expect.any(String) },
        { name: 'Rating', old: '', new: expect.any(String) },
      ]),
    );
    const [review] = await db.sql`SELECT request->'proposedAction' AS action FROM reviews WHERE run_id = ${runId}`;
    expect(review!.action).toMatchObject({ tool: 'salesforce.update-lead', method: 'PATCH' });

    await h.driver.setGroups('sam', ['sales-leads']);
    expect(await h.driver.click('sam', card, 'approve')).toMatchObject({ kind: 'ok' });
    const run = await h.app.engine.waitFor(runId, ['done'], { timeoutMs: 20_000 });
    const proposedStatus = card.proposed.find((f) => f.name === 'Status')!.new;
    expect(run.output).toEqual({ contactId: '00Q5e00000ZkM3hEAF', status: proposedStatus, approvedBy: ['sam'] });
    const patches = h.tools.calls.filter(
      (c) => c.method === 'PATCH' && c.path === '/services/data/v62.0/sobjects/Lead/00Q5e00000ZkM3hEAF',
    );
    expect(patches.map((c) => c.status)).toEqual([204]);
    expect(h.tools.leads.get('00Q5e00000ZkM3hEAF')).toMatchObject({
      Status: proposedStatus,
      Rating: card.proposed.find((f) => f.name === 'Rating')!.new,
    });
    // No person asked for this run: the outcome goes to the card's thread, and no "Your
    // request: …" is sent to a requester that does not exist (it used to fail for good).
    const jobs = await until('the outcome notices to be done', async () => {
      const rows = await db.sql<{ name: string; status: string; user: string | null }[]>`
        SELECT name, status, input->>'user' AS user FROM jobs WHERE run_id = ${runId} AND name LIKE 'review.%'`;
      return rows.every((j) => j.status !== 'queued' && j.status !== 'running') ? rows : undefined;
    });
    expect(jobs.filter((j) => j.status === 'failed')).toEqual([]);
    expect(jobs.filter((j) => j.name === 'review.notify')).toEqual([]);
    expect(jobs.map((j) => j.name)).toContain('review.thread');
  });
});
