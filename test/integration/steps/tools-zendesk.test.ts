/**
 * Zendesk as its documentation describes it, against the fake helpdesk over
 * real HTTP: credentials (an API token as Basic `{email}/token:{token}`, an
 * OAuth token as Bearer, anything else Zendesk's 401), Idempotency-Key honoured
 * for ticket creation only, and `zendesk.reply` reconciled on a retry: the
 * comment an earlier attempt made is found, so a lost answer never becomes a
 * second public reply (RELIABILITY 71, I2).
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { ToolDefinition } from '../../../src/steps/tools/types.ts';
import { zendeskAuth } from '../../../src/steps/tools/connectors/connector.ts';
import { ZENDESK_AGENT, type FakeTools } from '../../fakes/tool-servers.ts';
import { failure, TOKEN, toolScope, useToolBoxes } from '../../helpers/toolbox.ts';

const boxes = useToolBoxes();
const { toolBox } = boxes;
const scope = toolScope;
let fake: FakeTools;
beforeEach(() => {
  fake = boxes.state.fake;
});

const reply = { ticketId: 42, body: 'Fixed in 1.2.3.' };

/** A keyed tool on the one Zendesk write that honours Idempotency-Key: creating a ticket. */
const createTicket: ToolDefinition<{ body: string }, { ticketId: string; duplicate?: boolean }> = {
  name: 'test.create-ticket',
  connector: 'zendesk',
  description: 'test',
  safety: 'keyed',
  isWrite: true,
  input: z.object({ body: z.string() }),
  output: z.object({ ticketId: z.string(), duplicate: z.boolean().optional() }),
  async call(input, ctx) {
    const res = await ctx.http.request({
      method: 'POST',
      url: `${ctx.settings.baseUrl}/api/v2/tickets.json`,
      headers: zendeskAuth(ctx.settings),
      body: { ticket: { comment: { body: input.body } } },
    });
    return { ticketId: String((res.body as { ticket: { id: number } }).ticket.id) };
  },
  fromConflict: () => ({ ticketId: 'unknown', duplicate: true }),
  describe: () => ({ tool: 'test.create-ticket', method: 'POST', host: 'fake', fields: [] }),
};

describe('Zendesk: credentials, keys and the reply found again', () => {
  it('5xx on a reply is retried; the retry looks for the comment first, finds none, and sends once', async () => {
    const box = toolBox();
    fake.next({ status: 503 });
    const first = await failure(box.call('zendesk.reply', reply, scope({ attempt: 1 })));
    expect(first.details).toMatchObject({ retryable: true });
    const out = await box.call('zendesk.reply', reply, scope({ attempt: 2 }));
    expect(out).toEqual({ ticketId: '42', status: 'open', priority: null, tags: [], commentId: '100001' });
    expect(fake.calls.map((c) => `${c.method} ${c.path}`)).toEqual([
      'PUT /api/v2/tickets/42.json',
      'GET /api/v2/users/me.json',
      'GET /api/v2/tickets/42/comments.json?sort_order=desc&per_page=100',
      'PUT /api/v2/tickets/42.json',
    ]);
    expect(fake.state.tickets.get('42')!.comments).toMatchObject([
      { body: 'Fixed in 1.2.3.', public: true, author_id: ZENDESK_AGENT.id },
    ]);
  });

  it('an approved reply whose PUT was applied but whose answer was lost leaves exactly one public comment', async () => {
    // Zendesk ignores Idempotency-Key on updates, so only the lookup keeps the retry from replying twice.
    const box = toolBox();
    fake.next({ kind: 'drop-after-accept' });
    expect((await failure(box.call('zendesk.reply', reply, scope()))).details).toMatchObject({ retryable: true });
    const out = await box.call('zendesk.reply', reply, scope({ attempt: 2 }));
    expect(out).toEqual({ ticketId: '42', commentId: '100001', reconciled: true });
    expect(fake.state.tickets.get('42')!.comments.filter((c) => c.public)).toHaveLength(1);
    expect(fake.calls.filter((c) => c.method === 'PUT')).toHaveLength(1);
  });

  it('a lookup that cannot be made fails the attempt; nothing is sent blindly', async () => {
    const box = toolBox();
    fake.next({ kind: 'drop-after-accept' }, { status: 500 });
    await failure(box.call('zendesk.reply', reply, scope()));
    expect((await failure(box.call('zendesk.reply', reply, scope({ attempt: 2 })))).details).toMatchObject({
      retryable: true,
    });
    expect(fake.calls.filter((c) => c.method === 'PUT')).toHaveLength(1);
  });

  it('a reply by someone else with the same words, or an internal note, is not taken for ours', async () => {
    fake.state.tickets.set('42', {
      status: 'open',
      priority: null,
      tags: [],
      comments: [
        {
          id: 7,
          type: 'Comment',
          author_id: 1234,
          body: reply.body,
          plain_body: reply.body,
          public: true,
          created_at: new Date().toISOString(),
        },
        {
          id: 8,
          type: 'Comment',
          author_id: ZENDESK_AGENT.id,
          body: reply.body,
          plain_body: reply.body,
          public: false,
          created_at: new Date().toISOString(),
        },
      ],
    });
    await toolBox().call('zendesk.reply', reply, scope({ attempt: 2 }));
    expect(fake.state.tickets.get('42')!.comments.map((c) => c.id)).toEqual([7, 8, 100003]);
  });

  it.each([
    ['an API token as Bearer', { token: TOKEN, email: null }],
    ['a wrong API token', { token: 'zd-wrong', email: ZENDESK_AGENT.email }],
    ["another agent's email", { token: TOKEN, email: 'other@example.com' }],
    ['no credentials', { token: null }],
  ])('Zendesk refuses %s with 401, and nothing is changed', async (_what, auth) => {
    const box = toolBox({ connectors: { zendesk: { baseUrl: fake.baseUrl, ...auth } } });
    const err = await failure(box.call('zendesk.reply', reply, scope()));
    expect(err.details).toMatchObject({ retryable: false });
    expect(err.message).toContain("(401): Couldn't authenticate you");
    expect(fake.state.tickets.size).toBe(0);
  });

  it('an API token goes as Basic {email}/token:{token}; an OAuth token as Bearer', async () => {
    await toolBox().call('zendesk.update', { ticketId: 42, status: 'pending' }, scope());
    const basic = Buffer.from(`${ZENDESK_AGENT.email}/token:${TOKEN}`).toString('base64');
    expect(fake.calls[0]!.headers.authorization).toBe(`Basic ${basic}`);
    await toolBox({
      connectors: { zendesk: { baseUrl: fake.baseUrl, token: ZENDESK_AGENT.oauthToken, email: null } },
    }).call('zendesk.update', { ticketId: 42, status: 'open' }, scope());
    expect(fake.calls[1]!.headers.authorization).toBe(`Bearer ${ZENDESK_AGENT.oauthToken}`);
    expect(fake.state.tickets.get('42')!.status).toBe('open');
  });

  it('a keyed creation retried after a lost answer is replayed by Zendesk; a 409 for a used key counts as success', async () => {
    const box = toolBox({ tools: [createTicket] });
    const allowed = scope({ allowed: ['test.create-ticket'] });
    fake.next({ kind: 'drop-after-accept' });
    await failure(box.call('test.create-ticket', { body: 'Printer offline' }, allowed));
    expect(await box.call('test.create-ticket', { body: 'Printer offline' }, { ...allowed, attempt: 2 })).toEqual({
      ticketId: '1001',
    });
    expect(fake.countByKey('run-1:send:1')).toBe(2);
    expect(fake.effectsByKey('run-1:send:1')).toHaveLength(1);
    fake.next({ kind: 'conflict' });
    expect(await box.call('test.create-ticket', { body: 'Printer offline' }, { ...allowed, attempt: 3 })).toEqual({
      ticketId: 'unknown',
      duplicate: true,
    });
  });
});
