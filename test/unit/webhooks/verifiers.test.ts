/**
 * RELIABILITY 20-22 as golden vectors: each provider's documented signing
 * formula computed here with node:crypto (independently of the verifiers), and
 * GitHub's published vector. Valid passes; a one-byte tamper, a wrong secret or
 * a wrong algorithm gives 401; rotation; freshness. Pure: no server, no database.
 */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { VERIFIERS } from '../../../src/triggers/webhooks/presets.ts';
import type { Parsed, PresetName, SourceSettings, WebhookRequest } from '../../../src/triggers/webhooks/types.ts';

const NOW = Date.now();
const PUBLIC_URL = 'https://signoff.example.com';

function source(preset: PresetName, secrets: string[], extra: Partial<SourceSettings> = {}): SourceSettings {
  return { name: preset, preset, secrets, orgId: null, hmac: null, ...extra };
}
function hmac(alg: string, key: string | Buffer, data: string | Buffer, enc: 'hex' | 'base64'): string {
  return createHmac(alg, key).update(data).digest(enc);
}
function request(
  body: string | Buffer,
  headers: Record<string, string>,
  pathAndQuery = '/webhooks/x',
  nowMs = NOW,
): WebhookRequest {
  return { method: 'POST', pathAndQuery, headers, rawBody: Buffer.isBuffer(body) ? body : Buffer.from(body), nowMs };
}
async function verify(
  preset: PresetName,
  req: WebhookRequest,
  secrets: string[],
  publicUrl: string | null = PUBLIC_URL,
): Promise<Parsed> {
  return VERIFIERS[preset](req, source(preset, secrets), publicUrl);
}
/** The body with one byte changed. */
function tamper(body: string): Buffer {
  const bytes = Buffer.from(body);
  bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
  return bytes;
}
const status = (p: Parsed) => (p.ok ? 200 : p.status);

/** Each preset's documented scheme: headers for `body` signed with `secret` by `alg`. */
interface Case {
  preset: PresetName;
  body: string;
  sign(body: string | Buffer, secret: string, alg?: string): Record<string, string>;
  wrongAlg: string;
  path?: string;
}

const zendeskTs = new Date(NOW).toISOString();
const hubspotTs = String(NOW);
const stripeT = Math.floor(NOW / 1000);
const whsec = `whsec_${Buffer.from('standard-webhooks-test-secret!!').toString('base64')}`;
const whKey = (secret: string) => Buffer.from(secret.replace(/^whsec_/, ''), 'base64');

const CASES: Case[] = [
  {
    // developer.zendesk.com/documentation/webhooks/verifying: base64(HMACSHA256(TIMESTAMP + BODY))
    preset: 'zendesk',
    body: JSON.stringify({ type: 'zen:event-type:ticket.created', id: 'e1', detail: { id: '35436', subject: 'Help' } }),
    sign: (b, s, alg = 'sha256') => ({
      'x-zendesk-webhook-signature': hmac(alg, s, Buffer.concat([Buffer.from(zendeskTs), Buffer.from(b)]), 'base64'),
      'x-zendesk-webhook-signature-timestamp': zendeskTs,
      'x-zendesk-webhook-invocation-id': 'inv-1',
    }),
    wrongAlg: 'sha1',
  },
  {
    // HubSpot v3: base64(HMAC-SHA256(secret, method + uri + body + timestamp))
    preset: 'hubspot',
    path: '/webhooks/hubspot',
    body: JSON.stringify([
      {
        eventId: 1,
        subscriptionId: 12345,
        portalId: 62515,
        occurredAt: 1564113600000,
        subscriptionType: 'contact.creation',
        objectId: 123,
      },
    ]),
    sign: (b, s, alg = 'sha256') => ({
      'x-hubspot-request-timestamp': hubspotTs,
      'x-hubspot-signature-v3': hmac(
        alg,
        s,
        Buffer.concat([Buffer.from(`POST${PUBLIC_URL}/webhooks/hubspot`), Buffer.from(b), Buffer.from(hubspotTs)]),
        'base64',
      ),
    }),
    wrongAlg: 'sha512',
  },
  {
    // Linear: hex(HMAC-SHA256(secret, body)); webhookTimestamp in the body
    preset: 'linear',
    body: JSON.stringify({
      action: 'create',
      type: 'Issue',
      data: { id: 'iss-1', title: 'Bug' },
      webhookTimestamp: NOW,
    }),
    sign: (b, s, alg = 'sha256') => ({
      'linear-signature': hmac(alg, s, b, 'hex'),
      'linear-delivery': 'd-1',
      'linear-event': 'Issue',
    }),
    wrongAlg: 'sha1',
  },
  {
    preset: 'jira',
    body: JSON.stringify({ webhookEvent: 'jira:issue_created', issue: { key: 'OPS-1' } }),
    sign: (b, s, alg = 'sha256') => ({
      'x-hub-signature': `${alg}=${hmac(alg, s, b, 'hex')}`,
      'x-atlassian-webhook-identifier': 'j-1',
    }),
    wrongAlg: 'sha1',
  },
  {
    preset: 'intercom',
    body: JSON.stringify({
      type: 'notification_event',
      id: 'notif_1',
      topic: 'conversation.user.created',
      data: { item: {} },
    }),
    sign: (b, s, alg = 'sha1') => ({ 'x-hub-signature': `${alg}=${hmac(alg, s, b, 'hex')}` }),
    wrongAlg: 'sha256',
  },
  {
    preset: 'github',
    body: JSON.stringify({ action: 'opened', issue: { number: 1 } }),
    sign: (b, s, alg = 'sha256') => ({
      'x-hub-signature-256': `sha256=${hmac(alg, s, b, 'hex')}`,
      'x-github-delivery': 'g-1',
      'x-github-event': 'issues',
    }),
    wrongAlg: 'sha1',
  },
  {
    // docs.stripe.com/webhooks: v1 = hex(HMAC-SHA256(secret, `${t}.${body}`))
    preset: 'stripe',
    body: JSON.stringify({
      id: 'evt_1',
      object: 'event',
      type: 'charge.dispute.created',
      data: { object: { id: 'dp_1' } },
    }),
    sign: (b, s, alg = 'sha256') => ({
      'stripe-signature': `t=${stripeT},v1=${hmac(alg, s, Buffer.concat([Buffer.from(`${stripeT}.`), Buffer.from(b)]), 'hex')}`,
    }),
    wrongAlg: 'sha1',
  },
  {
    // Standard Webhooks spec: v1,base64(HMAC-SHA256(base64decode(secret), `${id}.${ts}.${body}`))
    preset: 'standard',
    body: JSON.stringify({ type: 'invoice.paid', timestamp: new Date(NOW).toISOString(), data: {} }),
    sign: (b, s, alg = 'sha256') => ({
      'webhook-id': 'msg_1',
      'webhook-timestamp': String(stripeT),
      'webhook-signature': `v1,${hmac(alg, whKey(s), Buffer.concat([Buffer.from(`msg_1.${stripeT}.`), Buffer.from(b)]), 'base64')}`,
    }),
    wrongAlg: 'sha512',
  },
];

describe('RELIABILITY 20: golden vectors per provider', () => {
  it("GitHub's published vector verifies (its body is not JSON, so the verified body is then refused with 400, not 401)", async () => {
    const req = request('Hello, World!', {
      'x-hub-signature-256': 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17',
    });
    expect(status(await verify('github', req, ["It's a Secret to Everybody"]))).toBe(400);
    expect(status(await verify('github', req, ["It's a secret to everybody"]))).toBe(401);
  });

  for (const c of CASES) {
    const secret = c.preset === 'standard' ? whsec : `${c.preset}-secret`;
    const path = c.path ?? '/webhooks/x';
    it(`${c.preset}: valid passes; one-byte tamper, wrong secret, wrong algorithm give 401`, async () => {
      const valid = await verify(c.preset, request(c.body, c.sign(c.body, secret), path), [secret]);
      expect(valid.ok, JSON.stringify(valid)).toBe(true);
      expect(status(await verify(c.preset, request(tamper(c.body), c.sign(c.body, secret), path), [secret]))).toBe(401);
      const other =
        c.preset === 'standard'
          ? `whsec_${Buffer.from('another-secret-entirely-here').toString('base64')}`
          : 'not-the-secret';
      expect(status(await verify(c.preset, request(c.body, c.sign(c.body, other), path), [secret]))).toBe(401);
      expect(status(await verify(c.preset, request(c.body, c.sign(c.body, secret, c.wrongAlg), path), [secret]))).toBe(
        401,
      );
      expect(status(await verify(c.preset, request(c.body, {}, path), [secret]))).toBe(401);
    });
    it(`${c.preset}: any configured secret verifies (rotation), none of them gives 401`, async () => {
      const req = request(c.body, c.sign(c.body, secret), path);
      expect(
        (
          await verify(c.preset, req, [
            c.preset === 'standard' ? `whsec_${Buffer.from('old-secret-old-secret').toString('base64')}` : 'old',
            secret,
          ])
        ).ok,
      ).toBe(true);
      expect(status(await verify(c.preset, req, ['old', 'older']))).toBe(401);
    });
  }

  it("names each delivery by the provider's own id and normalised event", async () => {
    const keys: Record<string, [string, string]> = {};
    for (const c of CASES) {
      const secret = c.preset === 'standard' ? whsec : `${c.preset}-secret`;
      const parsed = await verify(c.preset, request(c.body, c.sign(c.body, secret), c.path ?? '/webhooks/x'), [secret]);
      if (parsed.ok) keys[c.preset] = [parsed.deliveries[0]!.key, parsed.deliveries[0]!.event];
    }
    expect(keys).toEqual({
      zendesk: ['inv-1', 'ticket.created'],
      hubspot: ['12345:1:1564113600000', 'contact.creation'],
      linear: ['d-1', 'issue.create'],
      jira: ['j-1', 'issue_created'],
      intercom: ['notif_1', 'conversation.user.created'],
      github: ['g-1', 'issues.opened'],
      stripe: ['evt_1', 'charge.dispute.created'],
      standard: ['msg_1', 'invoice.paid'],
    });
  });
});

describe('RELIABILITY 21: rotation inside one header', () => {
  const stripe = CASES.find((c) => c.preset === 'stripe')!;
  const standard = CASES.find((c) => c.preset === 'standard')!;
  it('Stripe: two v1 where only the second is valid passes; both invalid gives 401', async () => {
    const good = stripe.sign(stripe.body, 'stripe-secret')['stripe-signature']!.split(',v1=')[1]!;
    const bad = 'a'.repeat(64);
    expect(
      (
        await verify('stripe', request(stripe.body, { 'stripe-signature': `t=${stripeT},v1=${bad},v1=${good}` }), [
          'stripe-secret',
        ])
      ).ok,
    ).toBe(true);
    expect(
      status(
        await verify(
          'stripe',
          request(stripe.body, { 'stripe-signature': `t=${stripeT},v1=${bad},v1=${'b'.repeat(64)}` }),
          ['stripe-secret'],
        ),
      ),
    ).toBe(401);
  });
  it('Standard Webhooks: two signatures where only the second is valid passes; both invalid gives 401', async () => {
    const headers = standard.sign(standard.body, whsec);
    const bad = `v1,${Buffer.alloc(32, 7).toString('base64')}`;
    expect(
      (
        await verify(
          'standard',
          request(standard.body, { ...headers, 'webhook-signature': `${bad} ${headers['webhook-signature']}` }),
          [whsec],
        )
      ).ok,
    ).toBe(true);
    expect(
      status(
        await verify('standard', request(standard.body, { ...headers, 'webhook-signature': `${bad} ${bad}` }), [whsec]),
      ),
    ).toBe(401);
  });
});

describe('RELIABILITY 22: freshness', () => {
  it('Stripe: a timestamp 301 s old or 301 s ahead is refused', async () => {
    const body = CASES.find((c) => c.preset === 'stripe')!.body;
    for (const t of [stripeT - 301, stripeT + 301]) {
      const sig = hmac('sha256', 'k', `${t}.${body}`, 'hex');
      expect(status(await verify('stripe', request(body, { 'stripe-signature': `t=${t},v1=${sig}` }), ['k']))).toBe(
        401,
      );
    }
    const sig = hmac('sha256', 'k', `${stripeT - 299}.${body}`, 'hex');
    expect(
      (await verify('stripe', request(body, { 'stripe-signature': `t=${stripeT - 299},v1=${sig}` }), ['k'])).ok,
    ).toBe(true);
  });
  it('Standard Webhooks: a timestamp 301 s off either way is refused', async () => {
    const body = '{"type":"x"}';
    for (const t of [stripeT - 301, stripeT + 301]) {
      const sig = hmac('sha256', whKey(whsec), `msg_2.${t}.${body}`, 'base64');
      const headers = { 'webhook-id': 'msg_2', 'webhook-timestamp': String(t), 'webhook-signature': `v1,${sig}` };
      expect(status(await verify('standard', request(body, headers), [whsec]))).toBe(401);
    }
  });
  it('HubSpot: older than 5 min, more than 5 min ahead, or not a number is refused', async () => {
    const body = '[]';
    for (const ts of [String(NOW - 300_001), String(NOW + 300_001), 'NaN', '']) {
      const sig = hmac('sha256', 'k', `POST${PUBLIC_URL}/webhooks/hubspot${body}${ts}`, 'base64');
      const req = request(
        body,
        { 'x-hubspot-request-timestamp': ts, 'x-hubspot-signature-v3': sig },
        '/webhooks/hubspot',
      );
      expect(status(await verify('hubspot', req, ['k']))).toBe(401);
    }
  });
  it('Linear: a webhookTimestamp more than 60 s off either way is refused', async () => {
    for (const at of [Date.now() - 61_000, Date.now() + 61_000]) {
      const body = JSON.stringify({ action: 'create', type: 'Issue', data: {}, webhookTimestamp: at });
      expect(
        status(await verify('linear', request(body, { 'linear-signature': hmac('sha256', 'k', body, 'hex') }), ['k'])),
      ).toBe(401);
    }
  });
});

describe('RELIABILITY 24: HubSpot signs the configured public URL', () => {
  const body = CASES.find((c) => c.preset === 'hubspot')!.body;
  const signedFor = (url: string) => ({
    'x-hubspot-request-timestamp': hubspotTs,
    'x-hubspot-signature-v3': hmac('sha256', 'k', `POST${url}${body}${hubspotTs}`, 'base64'),
    // What a TLS-terminating proxy adds: never used to rebuild the URL.
    host: '10.0.0.7:3000',
    'x-forwarded-proto': 'http',
    'x-forwarded-host': 'evil.example',
  });
  it("verifies behind a proxy with SIGNOFF_PUBLIC_URL, decoding HubSpot's escapes in the query", async () => {
    const path = '/webhooks/hubspot?portal=1%3A2%2C3';
    const parsed = await verify(
      'hubspot',
      request(body, signedFor(`${PUBLIC_URL}/webhooks/hubspot?portal=1:2,3`), path),
      ['k'],
    );
    expect(parsed.ok).toBe(true);
  });
  it('fails with a reason naming SIGNOFF_PUBLIC_URL when it is not the URL HubSpot posted to', async () => {
    const parsed = await verify(
      'hubspot',
      request(body, signedFor(`${PUBLIC_URL}/webhooks/hubspot`), '/webhooks/hubspot'),
      ['k'],
      'http://10.0.0.7:3000',
    );
    expect(parsed).toMatchObject({ ok: false, status: 401 });
    expect(parsed.ok ? '' : parsed.reason).toMatch(/SIGNOFF_PUBLIC_URL must be the exact public base URL/);
  });
});

describe('Salesforce notifications carry their record version (RELIABILITY 25)', () => {
  const ORG = '00D5e000000KQ2eEAG';
  const message = (fields: string) =>
    `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>` +
    `<notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>${ORG}</OrganizationId>` +
    `<Notification><Id>04l1</Id><sObject xsi:type="sf:Lead" xmlns:sf="urn:sobject.enterprise.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">` +
    `<sf:Id>00Q5e00000ZkM3hEAF</sf:Id>${fields}</sObject></Notification></notifications></soapenv:Body></soapenv:Envelope>`;
  const parse = (fields: string) =>
    VERIFIERS.salesforce(request(message(fields), {}), source('salesforce', ['s'], { orgId: ORG }), null) as Parsed;
  const versionOf = (p: Parsed) => (p.ok ? p.deliveries[0]!.version : 'refused');

  it('from SystemModstamp, else LastModifiedDate, as an ISO instant; none without either', () => {
    expect(versionOf(parse('<sf:SystemModstamp>2026-05-14T09:20:00.000Z</sf:SystemModstamp>'))).toEqual({
      recordId: '00Q5e00000ZkM3hEAF',
      at: '2026-05-14T09:20:00.000Z',
    });
    expect(
      versionOf(
        parse(
          '<sf:LastModifiedDate>2026-05-14T09:12:03.000Z</sf:LastModifiedDate><sf:SystemModstamp>2026-05-14T09:12:04.000Z</sf:SystemModstamp>',
        ),
      ),
    ).toEqual({ recordId: '00Q5e00000ZkM3hEAF', at: '2026-05-14T09:12:04.000Z' });
    expect(versionOf(parse('<sf:LastModifiedDate>2026-05-14T09:12:03.000Z</sf:LastModifiedDate>'))).toMatchObject({
      at: '2026-05-14T09:12:03.000Z',
    });
    expect(versionOf(parse('<sf:Email>a@b.example</sf:Email>'))).toBeUndefined();
    expect(versionOf(parse('<sf:SystemModstamp>yesterday</sf:SystemModstamp>'))).toBeUndefined();
  });
});
