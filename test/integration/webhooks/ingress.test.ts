/**
 * Webhook ingress end to end on loopback: verified deliveries are recorded in
 * `inbox` with the runs they start, in one transaction, then answered
 * (RELIABILITY 23, 25-27; the golden vectors are test/unit/webhooks).
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDb } from '../../helpers/db.ts';
import { ORG_ID, SF_PATH_SECRET, post, replay, startHarness, type Harness } from './harness.ts';

const db = useTestDb();
let clockMs = Date.now();
let h: Harness;

beforeAll(async () => {
  h = await startHarness(db, { nowMs: () => clockMs });
});
afterAll(async () => {
  await h?.stop();
});

const runsOf = (flow: string) =>
  db.sql<
    { id: string; input: any; trigger: any }[]
  >`SELECT id, input, trigger FROM runs WHERE flow = ${flow} ORDER BY created_at`;
const zendeskTicket = (id: string, subject = 'Printer on fire') => ({
  type: 'zen:event-type:ticket.created',
  account_id: 22129848,
  id: `evt-${id}`,
  subject: `zen:ticket:${id}`,
  time: new Date().toISOString(),
  zendesk_event_version: '2022-11-06',
  detail: { id, subject, description: 'It is on fire', status: 'NEW', requester_id: '8447388090494' },
  event: {},
});

describe('a verified delivery', () => {
  it('is recorded in inbox with the run it started, then answered 200; a retry starts nothing', async () => {
    const first = await post(h, {
      preset: 'zendesk',
      source: 'zendesk',
      body: zendeskTicket('35436'),
      deliveryId: 'inv-35436',
    });
    expect(first.status).toBe(200);
    const [run] = await runsOf('on-ticket');
    expect(run!.input).toEqual({ ticketId: '35436', subject: 'Printer on fire' });
    expect(run!.trigger).toMatchObject({ source: 'webhook:zendesk', channel: 'support', tenant: 'local' });
    const [inbox] = await db.sql`SELECT run_id FROM inbox WHERE source = 'webhook:zendesk' AND key = 'inv-35436'`;
    expect(inbox!.run_id).toBe(run!.id);
    await h.engine.waitFor(run!.id, ['done']);
    // Zendesk retries with the same invocation id (and, for a captured request, the same signed bytes).
    expect((await replay(h, first)).status).toBe(200);
    expect((await replay(h, first, { 'x-zendesk-webhook-invocation-id': 'forged-new-id' })).status).toBe(200);
    expect(await runsOf('on-ticket')).toHaveLength(1);
  });

  it('from every preset starts its flow', async () => {
    const now = Date.now();
    clockMs = now;
    const sent = await Promise.all([
      post(h, { preset: 'github', source: 'github', body: { action: 'opened', issue: { number: 7 } } }),
      post(h, {
        preset: 'jira',
        source: 'jira',
        body: { webhookEvent: 'jira:issue_created', issue: { key: 'OPS-7' } },
      }),
      post(h, {
        preset: 'intercom',
        source: 'intercom',
        body: { type: 'notification_event', id: 'notif_7', topic: 'conversation.user.created', data: { item: {} } },
      }),
      post(h, {
        preset: 'linear',
        source: 'linear',
        body: { action: 'create', type: 'Issue', data: { id: 'lin-7' }, webhookTimestamp: now },
      }),
      post(h, {
        preset: 'stripe',
        source: 'stripe',
        body: { id: 'evt_7', object: 'event', type: 'charge.dispute.created', data: { object: {} } },
        nowMs: now,
      }),
      post(h, { preset: 'standard', source: 'standard', body: { type: 'invoice.paid', data: { id: 'inv_7' } } }),
    ]);
    expect(sent.map((s) => s.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect((await runsOf('on-any')).map((r) => r.input.ref).sort()).toEqual([
      'OPS-7',
      'evt_7',
      'gh-7',
      'inv_7',
      'lin-7',
      'notif_7',
    ]);
  });
});

describe('RELIABILITY 23: a captured valid delivery replayed an hour later', () => {
  it('gets 200 and starts nothing, for GitHub, Jira and Intercom (no signed timestamp), even under a new delivery id', async () => {
    clockMs = Date.now();
    const captured = await Promise.all([
      post(h, {
        preset: 'github',
        source: 'github',
        body: { action: 'opened', issue: { number: 23 } },
        deliveryId: 'gh-23',
      }),
      post(h, {
        preset: 'jira',
        source: 'jira',
        body: { webhookEvent: 'jira:issue_created', issue: { key: 'OPS-23' } },
        deliveryId: 'jira-23',
      }),
      post(h, {
        preset: 'intercom',
        source: 'intercom',
        body: { type: 'notification_event', id: 'notif_23', topic: 'conversation.user.created', data: { item: {} } },
      }),
    ]);
    const before = (await runsOf('on-any')).length;
    clockMs += 60 * 60_000;
    for (const c of captured) expect((await replay(h, c)).status).toBe(200);
    expect((await replay(h, captured[0]!, { 'x-github-delivery': 'new-id' })).status).toBe(200);
    expect((await replay(h, captured[1]!, { 'x-atlassian-webhook-identifier': 'new-id' })).status).toBe(200);
    expect(await runsOf('on-any')).toHaveLength(before);
  });

  it('Linear: a redelivery under the same Linear-Delivery starts nothing; an hour later its signed timestamp is stale (401)', async () => {
    const sent = await post(h, {
      preset: 'linear',
      source: 'linear',
      body: { action: 'create', type: 'Issue', data: { id: 'lin-23' }, webhookTimestamp: Date.now() },
      deliveryId: 'ld-23',
    });
    const before = (await runsOf('on-any')).length;
    expect((await replay(h, sent)).status).toBe(200);
    expect(await runsOf('on-any')).toHaveLength(before);
    const stale = await post(h, {
      preset: 'linear',
      source: 'linear',
      body: { action: 'create', type: 'Issue', data: { id: 'lin-24' }, webhookTimestamp: Date.now() - 3_600_000 },
    });
    expect(stale.status).toBe(401);
    expect(await runsOf('on-any')).toHaveLength(before);
  });
});

describe('HubSpot batches', () => {
  const event = (objectId: number, eventId: number) => ({
    eventId,
    subscriptionId: 2881778,
    portalId: 62515,
    appId: 1160452,
    occurredAt: 1717000000000 + eventId,
    subscriptionType: 'contact.creation',
    attemptNumber: 0,
    objectId,
    changeFlag: 'CREATED',
    changeSource: 'CRM',
    sourceId: 'userId:1',
  });
  it('start one run per event, keyed by subscription, event id and time; a resent batch starts only what is new', async () => {
    clockMs = Date.now();
    expect(
      (await post(h, { preset: 'hubspot', source: 'hubspot', body: [event(101, 1), event(102, 2), event(103, 3)] }))
        .status,
    ).toBe(200);
    expect((await runsOf('on-contact')).map((r) => r.input.contactId).sort()).toEqual(['101', '102', '103']);
    expect((await post(h, { preset: 'hubspot', source: 'hubspot', body: [event(103, 3), event(104, 4)] })).status).toBe(
      200,
    );
    expect((await runsOf('on-contact')).map((r) => r.input.contactId).sort()).toEqual(['101', '102', '103', '104']);
    const keys = await db.sql`SELECT key FROM inbox WHERE source = 'webhook:hubspot' ORDER BY key`;
    expect(keys.map((k) => k.key)).toEqual([
      '2881778:1:1717000000001',
      '2881778:2:1717000000002',
      '2881778:3:1717000000003',
      '2881778:4:1717000000004',
    ]);
  });

  it('RELIABILITY 24: signed for another URL than SIGNOFF_PUBLIC_URL gives 401 and a log line saying what to fix', async () => {
    const res = await post(h, {
      preset: 'hubspot',
      source: 'hubspot',
      body: [event(105, 5)],
      publicUrl: 'http://127.0.0.1:3000',
    });
    expect(res.status).toBe(401);
    expect(
      h.logs.some((l) => l.includes('webhook refused') && l.includes('SIGNOFF_PUBLIC_URL must be the exact public')),
    ).toBe(true);
    expect((await runsOf('on-contact')).map((r) => r.input.contactId)).not.toContain('105');
  });
});

const outbound = (org: string, notificationId: string, leadId: string) => `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>${org}</OrganizationId>
   <ActionId>04k5e000000CaRkAAK</ActionId>
   <SessionId xsi:nil="true"/>
   <EnterpriseUrl>https://example.my.salesforce.com/services/Soap/c/60.0/00D5e000000KQ2e</EnterpriseUrl>
   <PartnerUrl>https://example.my.salesforce.com/services/Soap/u/60.0/00D5e000000KQ2e</PartnerUrl>
   <Notification>
    <Id>${notificationId}</Id>
    <sObject xsi:type="sf:Lead" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>${leadId}</sf:Id>
     <sf:Company>Acme &amp; Sons</sf:Company>
     <sf:Email>ada@acme.example</sf:Email>
    </sObject>
   </Notification>
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>`;

describe('RELIABILITY 25: Salesforce outbound messages', () => {
  it('a wrong OrganizationId gets a SOAP fault and no run; a wrong path secret a plain 404', async () => {
    const res = await post(h, {
      preset: 'salesforce',
      source: 'salesforce',
      body: outbound('00D000000000001AAA', '04l000000000001AAA', '00Q000000000001AAA'),
    });
    expect(res.status).toBe(500);
    expect(res.text).toMatch(/<soapenv:Fault>.*<faultstring>forbidden<\/faultstring>/s);
    const wrongPath = await fetch(`${h.base}/webhooks/salesforce/not-the-secret-0000000000`, {
      method: 'POST',
      body: outbound(ORG_ID, '04l1', '00Q1'),
    });
    expect(wrongPath.status).toBe(404);
    expect(await db.sql`SELECT 1 FROM runs WHERE input->>'ref' LIKE '00Q%'`).toHaveLength(0);
  });

  it('the right org gets Ack true and a run; a duplicate notification Id gets Ack true and no second run', async () => {
    const body = outbound(ORG_ID, '04l5e00000Gx7QzAAJ', '00Q5e00000ZkM3hAAF');
    const first = await post(h, { preset: 'salesforce', source: 'salesforce', body });
    expect(first.status).toBe(200);
    expect(first.text).toContain('<Ack>true</Ack>');
    expect(first.path).toBe(`/webhooks/salesforce/${SF_PATH_SECRET}`);
    const again = await replay(h, first);
    expect([again.status, again.text.includes('<Ack>true</Ack>')]).toEqual([200, true]);
    expect(await db.sql`SELECT 1 FROM runs WHERE input->>'ref' = '00Q5e00000ZkM3hAAF'`).toHaveLength(1);
  });
});

/** An outbound message whose Lead carries its SystemModstamp, as it does when the outbound message selects it. */
const stamped = (notificationId: string, leadId: string, modstamp: string) =>
  outbound(ORG_ID, notificationId, leadId).replace(
    '<sf:Email>ada@acme.example</sf:Email>',
    `<sf:Email>ada@acme.example</sf:Email>\n     <sf:SystemModstamp>${modstamp}</sf:SystemModstamp>`,
  );

describe('RELIABILITY 25: Salesforce notifications out of order', () => {
  const lead = '00Q5e00000ZkM9zAAF';
  const runsOfLead = () => db.sql`SELECT id FROM runs WHERE input->>'ref' = ${lead}`;
  const ledger = () =>
    db.sql`SELECT version_at, delivery_key FROM webhook_record_versions WHERE source = 'webhook:salesforce' AND record_id = ${lead}`;

  it('RELIABILITY 25: an older notification arriving after a newer one gets Ack true, starts nothing, is logged, and leaves the newer version in place', async () => {
    const newer = await post(h, {
      preset: 'salesforce',
      source: 'salesforce',
      body: stamped('04l5e00000Gx7R2AAJ', lead, '2026-05-14T09:20:00.000Z'),
    });
    expect([newer.status, newer.text.includes('<Ack>true</Ack>')]).toEqual([200, true]);
    expect(await runsOfLead()).toHaveLength(1);
    // Salesforce retried the older notification later than the newer one: a different Id, an older stamp.
    const older = await post(h, {
      preset: 'salesforce',
      source: 'salesforce',
      body: stamped('04l5e00000Gx7R1AAJ', lead, '2026-05-14T09:12:03.000Z'),
    });
    expect([older.status, older.text.includes('<Ack>true</Ack>')]).toEqual([200, true]);
    expect(await runsOfLead()).toHaveLength(1);
    expect(await ledger()).toEqual([
      { version_at: new Date('2026-05-14T09:20:00.000Z'), delivery_key: '04l5e00000Gx7R2AAJ' },
    ]);
    expect(
      h.logs.some(
        (l) =>
          l.includes('webhook older than the newest seen of its record') &&
          l.includes('04l5e00000Gx7R1AAJ') &&
          l.includes(lead),
      ),
    ).toBe(true);
    // The older one is claimed in inbox like any other: its resend is a duplicate, not a second look.
    expect((await replay(h, older)).status).toBe(200);
    expect(
      await db.sql`SELECT 1 FROM inbox WHERE source = 'webhook:salesforce' AND key = '04l5e00000Gx7R1AAJ'`,
    ).toHaveLength(1);
  });

  it('a notification as new as the one seen starts nothing; a newer one starts a run and moves the version on', async () => {
    const same = await post(h, {
      preset: 'salesforce',
      source: 'salesforce',
      body: stamped('04l5e00000Gx7R3AAJ', lead, '2026-05-14T09:20:00.000Z'),
    });
    expect(same.status).toBe(200);
    expect(await runsOfLead()).toHaveLength(1);
    const newest = await post(h, {
      preset: 'salesforce',
      source: 'salesforce',
      body: stamped('04l5e00000Gx7R4AAJ', lead, '2026-05-14T09:31:10.000Z'),
    });
    expect(newest.status).toBe(200);
    expect(await runsOfLead()).toHaveLength(2);
    expect((await ledger())[0]).toEqual({
      version_at: new Date('2026-05-14T09:31:10.000Z'),
      delivery_key: '04l5e00000Gx7R4AAJ',
    });
  });

  it('two notifications of the same new version at once (two outbound messages on one change) start one run', async () => {
    const other = '00Q5e00000ZkM8yAAF';
    const sent = await Promise.all(
      ['04l5e00000Gx7S1AAJ', '04l5e00000Gx7S2AAJ', '04l5e00000Gx7S3AAJ'].map((id) =>
        post(h, { preset: 'salesforce', source: 'salesforce', body: stamped(id, other, '2026-05-14T10:00:00.000Z') }),
      ),
    );
    expect(sent.map((r) => [r.status, r.text.includes('<Ack>true</Ack>')])).toEqual([
      [200, true],
      [200, true],
      [200, true],
    ]);
    expect(await db.sql`SELECT 1 FROM runs WHERE input->>'ref' = ${other}`).toHaveLength(1);
  });
});

describe('RELIABILITY 26: a valid signature with a body the flow cannot take', () => {
  it('invalid JSON: 400, a dead-letter row with the raw-body hash, no run, the server still up', async () => {
    const res = await post(h, {
      preset: 'zendesk',
      source: 'zendesk',
      body: '{"type": "zen:event-type:ticket.created", oops',
    });
    expect(res.status).toBe(400);
    expect(res.text).not.toMatch(/at .*\.ts|SyntaxError/);
    const sha = createHash('sha256').update(res.body).digest('hex');
    const [row] =
      await db.sql`SELECT source, body_sha256, reason, payload FROM webhook_dead_letters WHERE body_sha256 = ${sha}`;
    expect(row).toEqual({ source: 'zendesk', body_sha256: sha, reason: 'the body is not valid JSON', payload: null });
    expect((await fetch(`${h.base}/healthz`)).status).toBe(200);
  });

  it("a payload failing the flow's schema: 400 and a dead letter naming the flow and the problem; a retry adds nothing", async () => {
    const res = await post(h, {
      preset: 'zendesk',
      source: 'zendesk',
      body: zendeskTicket('not-a-number'),
      deliveryId: 'inv-bad',
    });
    expect(res.status).toBe(400);
    const rows =
      await db.sql`SELECT flow, event, reason, payload->'detail'->>'id' AS ticket FROM webhook_dead_letters WHERE delivery_key = 'inv-bad'`;
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ flow: 'on-ticket', event: 'ticket.created', ticket: 'not-a-number' });
    expect(rows[0]!.reason).toMatch(/invalid input for "on-ticket": ticketId/);
    await replay(h, res);
    expect(await db.sql`SELECT 1 FROM webhook_dead_letters WHERE delivery_key = 'inv-bad'`).toHaveLength(1);
    expect(await db.sql`SELECT 1 FROM runs WHERE input->>'ticketId' = 'not-a-number'`).toHaveLength(0);
  });
});

describe('RELIABILITY 27: unknown route or provider', () => {
  it('gets the generic 404, with no stack, for an unconfigured source, a GET, or a path past the source', async () => {
    for (const [method, path] of [
      ['POST', '/webhooks/shopify'],
      ['GET', '/webhooks/zendesk'],
      ['POST', '/webhooks/zendesk/extra'],
      ['POST', '/webhooks/../etc'],
    ]) {
      const res = await fetch(`${h.base}${path}`, { method, body: method === 'POST' ? '{}' : undefined });
      expect([res.status, await res.text()]).toEqual([404, '{"error":"not found"}']);
    }
  });
  it('a body over the cap is refused before it is hashed (413)', async () => {
    const res = await fetch(`${h.base}/webhooks/github`, { method: 'POST', body: Buffer.alloc(1_048_577, 0x20) });
    expect(res.status).toBe(413);
  });
});

describe('persist, then acknowledge', () => {
  it("a delivery that cannot be recorded gets 503 and starts nothing; the provider's retry then starts it once", async () => {
    await db.sql`ALTER TABLE inbox RENAME TO inbox_away`;
    let first: Awaited<ReturnType<typeof post>>;
    try {
      first = await post(h, {
        preset: 'zendesk',
        source: 'zendesk',
        body: zendeskTicket('5030', 'Down'),
        deliveryId: 'inv-503',
      });
    } finally {
      await db.sql`ALTER TABLE inbox_away RENAME TO inbox`;
    }
    expect([first.status, first.text]).toEqual([503, '{"error":"not recorded; try again"}']);
    expect(await db.sql`SELECT 1 FROM runs WHERE input->>'ticketId' = '5030'`).toHaveLength(0);
    expect(h.logs.some((l) => l.includes('webhook not recorded; the sender will retry'))).toBe(true);
    expect((await replay(h, first)).status).toBe(200);
    expect((await replay(h, first)).status).toBe(200);
    expect(await db.sql`SELECT 1 FROM runs WHERE input->>'ticketId' = '5030'`).toHaveLength(1);
  });
});
