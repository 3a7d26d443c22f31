/**
 * The tools webhook flows read and write their records with, through the real
 * ToolBox against test/fakes/webhook-tools.ts: zendesk.get-ticket,
 * linear.get-issue, salesforce.get-lead and salesforce.update-lead. Each sends
 * the credentials its provider takes and nothing else works; a record that is
 * gone is an answer (`exists: false`), not a failure.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/ops/log.ts';
import { Pacer } from '../../../src/ops/pacing.ts';
import { builtinTools } from '../../../src/steps/tools/registry.ts';
import { ToolBox } from '../../../src/steps/tools/toolbox.ts';
import type { ConnectorSettings, ToolScope } from '../../../src/steps/tools/types.ts';
import { LINEAR_KEYS } from '../../fakes/linear-hubspot.ts';
import { SALESFORCE_TOKEN } from '../../fakes/salesforce.ts';
import { startWebhookTools, type WebhookTools } from '../../fakes/webhook-tools.ts';
import { ZENDESK_ACCOUNT } from '../../fakes/zendesk-tickets.ts';
import { failure } from '../../helpers/toolbox.ts';

let tools: WebhookTools;
const pacers: Pacer[] = [];
const logLines: string[] = [];

beforeAll(async () => {
  tools = await startWebhookTools();
  tools.tickets.set('501', {
    subject: 'Refund please',
    description: 'Order 7 arrived broken.',
    status: 'open',
    priority: 'normal',
    requester_id: 42,
    updated_at: '2026-05-14T09:12:03Z',
  });
  tools.users.set(42, { name: 'Ana Ruiz', email: 'ana@example.com' });
  tools.issues.set('2f1e0000-0000-4000-8000-00000000abcd', {
    identifier: 'ENG-9',
    title: 'Export times out',
    priority: 2,
    stateId: 's',
    stateType: 'started',
  });
  tools.leads.set('00Q5e00000ZkM3hEAF', {
    Id: '00Q5e00000ZkM3hEAF',
    FirstName: 'Ada',
    LastName: 'Lovelace',
    Email: 'ada@acme.example',
    Company: 'Acme',
    Status: 'Open - Not Contacted',
    Rating: null,
    IsConverted: false,
    SystemModstamp: '2026-05-14T09:12:03.000+0000',
  });
  tools.leads.set('00Q5e00000ZkM3iEAF', { Id: '00Q5e00000ZkM3iEAF', IsConverted: true, Status: 'Closed - Converted' });
});
afterEach(() => {
  expect(logLines.join('\n')).not.toMatch(new RegExp(`${ZENDESK_ACCOUNT.apiToken}|${SALESFORCE_TOKEN.slice(-12)}`));
});
afterAll(async () => {
  await Promise.all(pacers.map((p) => p.stop()));
  await tools?.close();
});

function box(connectors: Record<string, ConnectorSettings>): ToolBox {
  const pacer = new Pacer();
  pacers.push(pacer);
  return new ToolBox({
    tools: builtinTools,
    settings: { connectors, egressAllowlist: [], perHostPerMinute: 0, callTimeoutMs: 2_000 },
    pacer,
    log: createLogger('debug', (line) => logLines.push(line)),
  });
}
const scope = (jobKey: string): ToolScope => ({
  runId: 'run-1',
  flowId: 'test',
  jobKey,
  attempt: 1,
  signal: new AbortController().signal,
  allowed: builtinTools.map((t) => t.name),
});
const zendesk = (o: Partial<ConnectorSettings>) => box({ zendesk: { baseUrl: tools.baseUrl, token: null, ...o } });

describe('zendesk.get-ticket', () => {
  it('reads with Basic {email}/token:{token}, or an OAuth token as Bearer, with the requester side-loaded', async () => {
    for (const auth of [
      { token: ZENDESK_ACCOUNT.apiToken, email: ZENDESK_ACCOUNT.email },
      { token: ZENDESK_ACCOUNT.oauthToken, email: null },
    ]) {
      expect(await zendesk(auth).call('zendesk.get-ticket', { ticketId: '501' }, scope('z:1'))).toEqual({
        ticketId: '501',
        exists: true,
        subject: 'Refund please',
        description: 'Order 7 arrived broken.',
        status: 'open',
        priority: 'normal',
        requester: { name: 'Ana Ruiz', email: 'ana@example.com' },
        updatedAt: '2026-05-14T09:12:03Z',
      });
    }
  });

  it('an API token sent as Bearer gets Zendesk’s 401, which fails the call (no retry); a missing ticket is exists: false', async () => {
    const err = await failure(
      zendesk({ token: ZENDESK_ACCOUNT.apiToken, email: null }).call(
        'zendesk.get-ticket',
        { ticketId: '501' },
        scope('z:2'),
      ),
    );
    expect(err.message).toMatch(/401.*Couldn't authenticate you/);
    expect(err.details).toMatchObject({ retryable: false });
    const gone = await zendesk({ token: ZENDESK_ACCOUNT.oauthToken }).call(
      'zendesk.get-ticket',
      { ticketId: '999' },
      scope('z:3'),
    );
    expect(gone).toMatchObject({ ticketId: '999', exists: false, subject: null });
    expect(tools.calls.filter((c) => c.path === '/api/v2/tickets/999.json').map((c) => c.status)).toEqual([404]);
  });
});

describe('linear.get-issue', () => {
  const linear = (token: string) => box({ linear: { baseUrl: tools.baseUrl, token } });
  it('reads by UUID or identifier with a personal API key as is, or an OAuth token as Bearer', async () => {
    const byKey = await linear(LINEAR_KEYS.apiKey).call('linear.get-issue', { issueId: 'ENG-9' }, scope('l:1'));
    expect(byKey).toMatchObject({
      issueId: '2f1e0000-0000-4000-8000-00000000abcd',
      exists: true,
      title: 'Export times out',
      stateType: 'started',
    });
    const byOauth = await linear(`Bearer ${LINEAR_KEYS.oauthToken}`).call(
      'linear.get-issue',
      { issueId: '2f1e0000-0000-4000-8000-00000000abcd' },
      scope('l:2'),
    );
    expect(byOauth).toMatchObject({ identifier: 'ENG-9' });
  });
  it('an API key sent as Bearer is not authenticated; an unknown issue is exists: false', async () => {
    const err = await failure(
      linear(`Bearer ${LINEAR_KEYS.apiKey}`).call('linear.get-issue', { issueId: 'ENG-9' }, scope('l:3')),
    );
    expect(err.message).toMatch(/Authentication required/);
    const gone = await linear(LINEAR_KEYS.apiKey).call('linear.get-issue', { issueId: 'ENG-404' }, scope('l:4'));
    expect(gone).toMatchObject({ issueId: 'ENG-404', exists: false, title: null });
  });
});

describe('salesforce.get-lead and salesforce.update-lead', () => {
  const salesforce = (token: string) => box({ salesforce: { baseUrl: tools.baseUrl, token } });
  it('reads the lead and PATCHes fields with Bearer auth (204); a wrong token gets INVALID_SESSION_ID', async () => {
    const sf = salesforce(SALESFORCE_TOKEN);
    const lead = (await sf.call('salesforce.get-lead', { leadId: '00Q5e00000ZkM3hEAF' }, scope('s:1'))) as any;
    expect(lead).toMatchObject({
      exists: true,
      fields: { Email: 'ada@acme.example', Status: 'Open - Not Contacted', IsConverted: 'false' },
    });
    const set = await sf.call(
      'salesforce.update-lead',
      { leadId: '00Q5e00000ZkM3hEAF', fields: { Status: 'Working - Contacted', Rating: 'Hot' } },
      scope('s:2'),
    );
    expect(set).toEqual({ leadId: '00Q5e00000ZkM3hEAF', fields: { Status: 'Working - Contacted', Rating: 'Hot' } });
    expect(tools.leads.get('00Q5e00000ZkM3hEAF')).toMatchObject({ Status: 'Working - Contacted', Rating: 'Hot' });
    const patches = tools.calls.filter(
      (c) => c.method === 'PATCH' && c.path === '/services/data/v62.0/sobjects/Lead/00Q5e00000ZkM3hEAF',
    );
    expect(patches.map((c) => c.status)).toEqual([204]);
    const err = await failure(
      salesforce('not-the-token').call('salesforce.get-lead', { leadId: '00Q5e00000ZkM3hEAF' }, scope('s:3')),
    );
    expect(err.message).toMatch(/\(401\): INVALID_SESSION_ID: Session expired or invalid/);
  });
  it('a converted lead refuses the update; an unknown lead is exists: false; a bad id is refused before sending', async () => {
    const sf = salesforce(SALESFORCE_TOKEN);
    const err = await failure(
      sf.call('salesforce.update-lead', { leadId: '00Q5e00000ZkM3iEAF', fields: { Rating: 'Hot' } }, scope('s:4')),
    );
    expect(err.message).toMatch(/\(400\): CANNOT_UPDATE_CONVERTED_LEAD: cannot reference converted lead/);
    expect(await sf.call('salesforce.get-lead', { leadId: '00Q5e00000ZkM3jEAF' }, scope('s:5'))).toMatchObject({
      exists: false,
    });
    const before = tools.calls.length;
    await failure(sf.call('salesforce.get-lead', { leadId: '001/../../x' }, scope('s:6')));
    expect(tools.calls.length).toBe(before);
  });
});
