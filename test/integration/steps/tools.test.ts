/**
 * The ToolBox against the fake tool APIs over real HTTP (RELIABILITY 70, 71,
 * 73, 83). Each test drives `call()` as the engine would, once per attempt
 * with the same job key, and asserts on what the fake server saw: calls,
 * Idempotency-Keys and applied effects (I2: at most one effect per key).
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { HttpStatusError } from '../../../src/steps/tools/http.ts';
import { builtinTools } from '../../../src/steps/tools/registry.ts';
import type { ToolDefinition } from '../../../src/steps/tools/types.ts';
import { zendeskAuth } from '../../../src/steps/tools/connectors/connector.ts';
import { startFakeTools, type FakeTools } from '../../fakes/tool-servers.ts';
import { failure, toolScope, useToolBoxes } from '../../helpers/toolbox.ts';

const boxes = useToolBoxes();
const { toolBox } = boxes;
const scope = toolScope;
let fake: FakeTools;
beforeEach(() => {
  fake = boxes.state.fake;
});

const reply = { ticketId: 42, body: 'Fixed in 1.2.3.' };

describe('RELIABILITY 71: tool API outcomes', () => {
  // Zendesk's own rules (credentials, which writes honour a key, finding a lost reply): tools-zendesk.test.ts.
  it('5xx is retried with the same job, and an idempotent write lands once', async () => {
    const box = toolBox();
    fake.next({ status: 503 });
    expect(
      (await failure(box.call('zendesk.update', { ticketId: 42, status: 'pending' }, scope()))).details,
    ).toMatchObject({ retryable: true });
    await box.call('zendesk.update', { ticketId: 42, status: 'pending' }, scope({ attempt: 2 }));
    expect(fake.effects).toHaveLength(1);
    expect(fake.state.tickets.get('42')!.status).toBe('pending');
  });

  it.each([
    [
      400,
      'hubspot.update-contact',
      { contactId: '901', properties: { phone: 'x' } },
      { status: 'error', message: 'Property values were not valid: phone', category: 'VALIDATION_ERROR' },
      'Property values were not valid: phone',
    ],
    [
      422,
      'zendesk.update',
      { ticketId: 42, status: 'open' },
      { error: 'RecordInvalid', description: 'Status: closed prevents ticket update' },
      'RecordInvalid: Status: closed prevents ticket update',
    ],
  ])('%i is permanent: not retried, the provider message surfaced', async (status, tool, input, body, words) => {
    fake.next({ status, body });
    const err = await failure(toolBox().call(tool, input, scope()));
    expect(err.details).toMatchObject({ retryable: false });
    expect(err.message).toContain(words);
    expect(err.message).toContain(`(${status})`);
    expect(fake.calls).toHaveLength(1);
  });

  it('a provider message is trimmed to 300 characters', async () => {
    fake.next({ status: 400, body: { message: 'x'.repeat(5_000) } });
    const err = await failure(
      toolBox().call('hubspot.update-contact', { contactId: '1', properties: { a: 'b' } }, scope()),
    );
    expect(err.message.length).toBeLessThan(420);
  });

  it('429 asks to come back after Retry-After', async () => {
    fake.next({ status: 429, retryAfter: 20 });
    const err = await failure(toolBox().call('zendesk.update', { ticketId: 42, status: 'pending' }, scope()));
    expect(err.details).toMatchObject({ retryable: true, defer: true, retryAfterMs: 20_000 });
  });

  it("Linear's RATELIMITED GraphQL error, in a 400 or a 200, is a wait, not a refusal", async () => {
    const limited = { errors: [{ message: 'Rate limit exceeded', extensions: { code: 'RATELIMITED' } }] };
    fake.next({ status: 400, body: limited }, { status: 200, body: limited });
    for (let i = 0; i < 2; i++) {
      const err = await failure(toolBox().call('linear.update-issue', { issueId: 'ENG-7', priority: 2 }, scope()));
      expect(err.details).toMatchObject({ retryable: true, defer: true, retryAfterMs: 60_000 });
    }
    fake.next({
      status: 400,
      body: { errors: [{ message: 'Invalid priority', extensions: { code: 'INVALID_INPUT' } }] },
    });
    const refused = await failure(toolBox().call('linear.update-issue', { issueId: 'ENG-7', priority: 2 }, scope()));
    expect(refused.details).toMatchObject({ retryable: false });
  });

  it.each(['hang', 'drop-after-accept'] as const)(
    'an unsafe tool whose outcome is unknown (%s) blocks the run for a person, with no second call',
    async (kind) => {
      fake.next({ kind });
      const err = await failure(toolBox().call('linear.comment', { issueId: 'ENG-7', body: 'Deployed.' }, scope()));
      expect(err.code).toBe('step_blocked');
      expect(err.details).toMatchObject({ retryable: false, block: 'needs_human' });
      expect(err.message).toMatch(/outcome is unknown.*retry or cancel the run/);
      expect(fake.calls).toHaveLength(1);
      expect(fake.calls[0]!.headers.authorization).toBe('lin_api_test');
    },
  );

  it('a 504 from a gateway on an unsafe tool is an unknown outcome too; a 503 is retried', async () => {
    fake.next({ status: 504 }, { status: 503 });
    const comment = { issueId: 'ENG-7', body: 'Deployed.' };
    expect((await failure(toolBox().call('linear.comment', comment, scope()))).details).toMatchObject({
      block: 'needs_human',
    });
    expect((await failure(toolBox().call('linear.comment', comment, scope()))).details).toMatchObject({
      retryable: true,
    });
  });

  it('an idempotent tool that timed out is simply retried', async () => {
    fake.next({ kind: 'hang' });
    const err = await failure(toolBox().call('zendesk.update', { ticketId: 42, status: 'pending' }, scope()));
    expect(err.details).toMatchObject({ retryable: true });
    expect(err.message).toMatch(/no answer .* within 300 ms/);
  });

  it('an unsafe call that surely never arrived (connection refused) is retried, not blocked', async () => {
    const closed = await startFakeTools();
    await closed.close();
    const box = toolBox({ connectors: { linear: { baseUrl: closed.baseUrl, token: 'lin_api_test' } } });
    const err = await failure(box.call('linear.comment', { issueId: 'ENG-7', body: 'x' }, scope()));
    expect(err.code).toBe('step_failed');
    expect(err.details).toMatchObject({ retryable: true });
    expect(err.message).toMatch(/before the request was sent \(ECONNREFUSED\)/);
  });
});

describe('reconcilable tools', () => {
  // A note whose presence can be looked up: the lookup decides whether to send again.
  const addNote: ToolDefinition<{ ticketId: string; body: string }, { ticketId: string; wasFound: boolean }> = {
    name: 'test.add-note',
    connector: 'zendesk',
    description: 'test',
    safety: 'reconcilable',
    isWrite: true,
    input: z.object({ ticketId: z.string(), body: z.string() }),
    output: z.object({ ticketId: z.string(), wasFound: z.boolean() }),
    async call(input, ctx) {
      await ctx.http.request({
        method: 'PUT',
        url: `${ctx.settings.baseUrl}/api/v2/tickets/${input.ticketId}.json`,
        headers: zendeskAuth(ctx.settings),
        body: { ticket: { comment: { body: input.body } } },
      });
      return { ticketId: String(input.ticketId), wasFound: false };
    },
    async reconcile(input, ctx) {
      const res = await ctx.http.request({
        method: 'GET',
        url: `${ctx.settings.baseUrl}/api/v2/tickets/${input.ticketId}/comments.json`,
        headers: zendeskAuth(ctx.settings),
      });
      const comments = (res.body as { comments: { body: string }[] }).comments;
      return comments.some((c) => c.body === input.body) ? { ticketId: String(input.ticketId), wasFound: true } : null;
    },
    describe: () => ({ tool: 'test.add-note', method: 'PUT', host: 'fake', fields: [] }),
  };
  const note = { ticketId: '7', body: 'note 1' };

  it('on a retry, an earlier attempt that happened is found and not repeated', async () => {
    const box = toolBox({ tools: [addNote] });
    fake.next({ kind: 'drop-after-accept' });
    await failure(box.call('test.add-note', note, scope({ allowed: ['test.add-note'] })));
    expect(await box.call('test.add-note', note, scope({ allowed: ['test.add-note'], attempt: 2 }))).toEqual({
      ticketId: '7',
      wasFound: true,
    });
    expect(fake.calls.map((c) => c.method)).toEqual(['PUT', 'GET']);
    expect(fake.effects).toHaveLength(1);
  });

  it('on a retry, an earlier attempt that did not happen is sent again', async () => {
    const box = toolBox({ tools: [addNote] });
    fake.next({ status: 502 });
    await failure(box.call('test.add-note', note, scope({ allowed: ['test.add-note'] })));
    expect(await box.call('test.add-note', note, scope({ allowed: ['test.add-note'], attempt: 2 }))).toEqual({
      ticketId: '7',
      wasFound: false,
    });
    expect(fake.calls.map((c) => c.method)).toEqual(['PUT', 'GET', 'PUT']);
    expect(fake.effects).toHaveLength(1);
  });
});

describe('RELIABILITY 73: a host that keeps failing', () => {
  const update = { ticketId: 42, status: 'pending' };

  it('opens the circuit after 5 failures, fails fast without calling, half-opens after the cool-off and closes on success', async () => {
    const box = toolBox({ circuit: { coolOffMs: 300 } });
    fake.down(60_000);
    for (let i = 1; i <= 5; i += 1)
      expect((await failure(box.call('zendesk.update', update, scope({ attempt: i })))).message).toMatch(
        /answered 503/,
      );
    const fast = await failure(box.call('zendesk.update', update, scope()));
    expect(fast.message).toMatch(/circuit open/);
    expect(fast.details).toMatchObject({ retryable: true, defer: true });
    expect(fast.details!.retryAfterMs).toBeGreaterThan(0);
    expect(fake.calls).toHaveLength(5);
    fake.down(false);
    await new Promise((r) => setTimeout(r, 350));
    await box.call('zendesk.update', update, scope());
    await box.call('zendesk.update', update, scope());
    expect(fake.calls).toHaveLength(7);
  });

  it('a failed trial opens it again', async () => {
    const box = toolBox({ circuit: { coolOffMs: 200 } });
    fake.down(60_000);
    for (let i = 0; i < 5; i += 1) await failure(box.call('zendesk.update', update, scope()));
    await new Promise((r) => setTimeout(r, 250));
    expect((await failure(box.call('zendesk.update', update, scope()))).message).toMatch(/answered 503/);
    expect((await failure(box.call('zendesk.update', update, scope()))).message).toMatch(/circuit open/);
    expect(fake.calls).toHaveLength(6);
  });
});

describe('RELIABILITY 83: only the tools a flow lists', () => {
  it.each([
    [
      'a real tool the flow does not list',
      'hubspot.update-contact',
      /flow "ticket-triage" may not call tool "hubspot.update-contact"/,
    ],
    ['a tool that does not exist', 'delete_contact', /asked for tool "delete_contact", which does not exist/],
  ])('refuses %s: nothing sent, the refusal reported and logged', async (_what, name, words) => {
    const refusals: unknown[] = [];
    const err = await failure(
      toolBox({ refusals }).call(
        name,
        { contactId: '1', properties: { a: 'b' } },
        scope({ allowed: ['zendesk.reply'] }),
      ),
    );
    expect(err.code).toBe('tool_refused');
    expect(err.details).toMatchObject({ retryable: false });
    expect(err.message).toMatch(words);
    expect(fake.calls).toHaveLength(0);
    expect(refusals).toEqual([{ runId: 'run-1', tool: name, reason: err.message }]);
    const warned = boxes.state.logLines
      .map((l) => JSON.parse(l))
      .filter((l) => l.level === 'warn' && l.msg === 'tool call refused');
    expect(warned).toMatchObject([{ runId: 'run-1', tool: name }]);
  });
});

describe('RELIABILITY 70: input is validated before anything is sent', () => {
  it.each([
    ['zendesk.reply', { body: 'no ticket' }, 'ticketId'],
    ['linear.update-issue', { issueId: 'ENG-7', priority: 'high' }, 'priority'],
    ['zendesk.reply', { ticketId: '42/../../users/me', body: 'x' }, 'ticketId'],
  ])('%s with %j is permanent, naming the field, with zero calls', async (tool, input, fieldName) => {
    const err = await failure(toolBox().call(tool, input, scope()));
    expect(err.details).toMatchObject({ retryable: false });
    expect(err.message).toContain(`tool "${tool}" was given invalid input: ${fieldName}`);
    expect(fake.calls).toHaveLength(0);
  });

  it('an answer in an unexpected shape is permanent', async () => {
    const tool: ToolDefinition = {
      ...builtinTools.find((t) => t.name === 'zendesk.update')!,
      call: async () => ({ nope: true }),
    };
    const err = await failure(
      toolBox({ tools: [tool] }).call('zendesk.update', { ticketId: 1, status: 'open' }, scope()),
    );
    expect(err.message).toMatch(/answered in an unexpected shape: ticketId/);
  });
});

describe('local mode', () => {
  it('a connector that is not configured answers locally and sends nothing', async () => {
    const out = await toolBox({ connectors: {} }).call('zendesk.reply', reply, scope());
    expect(out).toEqual({ ticketId: '42', local: true });
    expect(fake.calls).toHaveLength(0);
    expect(boxes.state.logLines.join('\n')).toContain(
      'not sent: zendesk is not configured (set ZENDESK_URL and ZENDESK_TOKEN)',
    );
  });

  it('describe() shows the call a card would approve, for configured and local connectors', () => {
    expect(toolBox().describe('zendesk.update', { ticketId: 42, status: 'solved' }).host).toBe(
      new URL(fake.baseUrl).host,
    );
    expect(toolBox({ connectors: {} }).describe('zendesk.update', { ticketId: 42, status: 'solved' }).host).toMatch(
      /local mode/,
    );
  });
});

it('HttpStatusError is what a tool sees for a status of 400 and up (a reconcile may treat 404 as "not there")', async () => {
  const seen: unknown[] = [];
  const probe: ToolDefinition = {
    ...builtinTools.find((t) => t.name === 'http.get')!,
    async call(input, ctx) {
      await ctx.http
        .request({ method: 'GET', url: (input as { url: string }).url })
        .catch((e: unknown) => seen.push(e));
      return { status: 404, body: null };
    },
  };
  await toolBox({ tools: [probe] }).call('http.get', { url: `${fake.baseUrl}/no-such-page` }, scope());
  expect(seen[0]).toBeInstanceOf(HttpStatusError);
  expect((seen[0] as HttpStatusError).response.status).toBe(404);
});
