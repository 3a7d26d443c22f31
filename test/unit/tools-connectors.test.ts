/**
 * The built-in tools as data: names are unique, every configured connector has
 * a local mode whose output fits its schema, keyed tools know what a 409
 * means, inputs refuse ids that could walk a URL path, and `describe()` shows
 * the exact call for a review card (RELIABILITY 83).
 */
import { describe, expect, it } from 'vitest';
import { builtinTools } from '../../src/steps/tools/registry.ts';
import type { ToolDefinition } from '../../src/steps/tools/types.ts';

const byName = (name: string): ToolDefinition => builtinTools.find((t) => t.name === name)!;
const zendesk = { baseUrl: 'https://acme.zendesk.com', token: 'secret-token' };
const unconfigured = { baseUrl: '', token: null };

const SAMPLES: Record<string, unknown> = {
  'zendesk.reply': { ticketId: 42, body: 'Thanks, fixed.' },
  'zendesk.update': { ticketId: '42', status: 'solved' },
  'linear.update-issue': { issueId: 'ENG-7', priority: 2 },
  'linear.comment': { issueId: 'ENG-7', body: 'Seen.' },
  'hubspot.update-contact': { contactId: '901', properties: { lifecyclestage: 'customer' } },
  'http.get': { url: 'https://example.com/x' },
  'http.post-json': { url: 'https://example.com/x', body: { a: 1 } },
  'hubspot.get-contact': { contactId: '901' },
  'stripe.refund': { charge: 'ch_3Kq1', amount: 2_500, currency: 'usd' },
  'zendesk.get-ticket': { ticketId: '42' },
  'linear.get-issue': { issueId: 'ENG-7' },
  'salesforce.get-lead': { leadId: '00Q5e00000ZkM3hEAF' },
  'salesforce.update-lead': { leadId: '00Q5e00000ZkM3h', fields: { Status: 'Working - Contacted' } },
};

describe('builtin tools', () => {
  it('have unique names and a sample input each', () => {
    const names = builtinTools.map((t) => t.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names.sort()).toEqual(Object.keys(SAMPLES).sort());
  });

  it.each(builtinTools.filter((t) => t.connector !== 'http').map((t) => [t.name, t] as const))(
    '%s has a deterministic local mode shaped like its output',
    (_name, tool) => {
      const input = tool.input.parse(SAMPLES[tool.name]);
      const first = tool.output.parse(tool.local!(input));
      expect(first).toMatchObject({ local: true });
      expect(tool.local!(input)).toEqual(first);
    },
  );

  it('the generic http tools have no local mode and are never trusted writes in disguise', () => {
    expect(byName('http.get')).toMatchObject({ safety: 'idempotent', isWrite: false });
    expect(byName('http.get').local).toBeUndefined();
    expect(byName('http.post-json')).toMatchObject({ safety: 'unsafe', isWrite: true });
  });

  it('keyed tools say what a 409 duplicate means', () => {
    // Stripe never answers 409 for a key already used (it replays the first response); its 409
    // `idempotency_key_in_use` means a concurrent request holds the key (docs.stripe.com/error-codes).
    for (const tool of builtinTools.filter((t) => t.safety === 'keyed' && t.name !== 'stripe.refund')) {
      expect(tool.fromConflict ?? tool.reconcile, tool.name).toBeTypeOf('function');
    }
  });

  it.each([
    ['zendesk.reply', { ticketId: '1/../../users', body: 'x' }],
    ['zendesk.reply', { body: 'x' }],
    ['zendesk.update', { ticketId: 42 }],
    ['linear.update-issue', { issueId: 'ENG-7', priority: 'high' }],
    ['linear.comment', { issueId: '../viewer', body: 'x' }],
    ['hubspot.update-contact', { contactId: '901?archived=true', properties: { a: 'b' } }],
    ['hubspot.update-contact', { contactId: '901', properties: {} }],
    ['zendesk.get-ticket', { ticketId: '42.json?include=users' }],
    ['linear.get-issue', { issueId: 'ENG 7' }],
    ['salesforce.get-lead', { leadId: '001000000000001AAA' }],
    ['salesforce.update-lead', { leadId: '00Q5e00000ZkM3h/../x', fields: { Status: 'x' } }],
    ['salesforce.update-lead', { leadId: '00Q5e00000ZkM3h', fields: { 'Status; DROP': 'x' } }],
  ])('%s refuses %j', (name, input) => {
    expect(byName(name).input.safeParse(input).success).toBe(false);
  });
});

describe('describe()', () => {
  it('shows a reply as the PUT it is, on the configured host, without the token', () => {
    const tool = byName('zendesk.reply');
    const call = tool.describe(tool.input.parse(SAMPLES['zendesk.reply']), zendesk);
    expect(call).toEqual({
      tool: 'zendesk.reply',
      method: 'PUT',
      host: 'acme.zendesk.com',
      fields: [
        { name: 'ticket', new: '42' },
        { name: 'public reply', new: 'Thanks, fixed.' },
      ],
    });
    expect(JSON.stringify(call)).not.toContain('secret-token');
  });

  it('shows old values where the input carries them', () => {
    const tool = byName('hubspot.update-contact');
    const input = tool.input.parse({
      contactId: '901',
      properties: { lifecyclestage: 'customer', phone: '+1 555' },
      previous: { lifecyclestage: 'lead' },
    });
    expect(tool.describe(input, { baseUrl: 'https://api.hubapi.com', token: null }).fields).toEqual([
      { name: 'contact', new: '901' },
      { name: 'lifecyclestage', old: 'lead', new: 'customer' },
      { name: 'phone', new: '+1 555' },
    ]);
  });

  it('says when nothing will be sent, and names the URL host for generic calls', () => {
    const update = byName('zendesk.update');
    expect(update.describe(update.input.parse(SAMPLES['zendesk.update']), unconfigured).host).toMatch(/local mode/);
    const post = byName('http.post-json');
    expect(post.describe(post.input.parse(SAMPLES['http.post-json']), unconfigured)).toEqual({
      tool: 'http.post-json',
      method: 'POST',
      host: 'example.com',
      fields: [
        { name: 'url', new: 'https://example.com/x' },
        { name: 'body', new: '{"a":1}' },
      ],
    });
  });
});
