/**
 * The console's HTTP doors on the real server: each POST reaches a small real
 * handler (a toy review desk written here) in the neutral shape, replies come
 * back as JSON, and every refusal is a clear sentence with no internals.
 * Assertions read HTTP answers and console_messages rows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConsoleAdapter, type ConsoleAdapter } from '../../../adapters/console/console-adapter.ts';
import type { ChatHandlers, ChatPort } from '../../../src/chat/port.ts';
import type { MessageRef, ReviewCard } from '../../../src/chat/messages.ts';
import { startHttpServer, type HttpServer } from '../../../src/ops/http.ts';
import { createLogger } from '../../../src/ops/log.ts';
import { consoleStore } from '../../../src/store/console.ts';
import { useTestDb } from '../../helpers/db.ts';

const db = useTestDb();
let adapter: ConsoleAdapter;
let http: HttpServer;
let base: string;
const logLines: string[] = [];

/**
 * A toy desk: `run <title>` posts a card, approve decides it, edit opens a
 * dialog whose submission rewrites the body. Each notice quotes the inbound
 * event verbatim, so the test can check what reached the handler.
 */
function toyDesk(port: ChatPort): ChatHandlers {
  const cards = new Map<string, { ref: MessageRef; card: ReviewCard }>();
  return {
    async command(c) {
      if (c.text === 'explode') throw new Error('relation "runs" does not exist at SELECT secret FROM runs');
      if (!c.text.startsWith('run '))
        return { visibility: 'ephemeral', notice: { text: 'Try /signoff run <title>', quote: JSON.stringify(c) } };
      const card: ReviewCard = {
        title: c.text.slice(4),
        fields: [],
        body: 'draft',
        status: { kind: 'pending', text: 'Waiting for review' },
        actions: ['approve', 'edit'],
        reviewRef: `rev_${c.deliveryId}`,
        version: 1,
        runId: `run_${c.deliveryId}`,
        costLabel: '$0.00 (no model calls)',
      };
      const ref = await port.postCard(c.channel, card, { idempotencyKey: `card:${c.deliveryId}` });
      cards.set(card.reviewRef, { ref, card });
      return { visibility: 'channel', notice: { text: `<@${c.user}> asked for a review`, quote: JSON.stringify(c) } };
    },
    async action(a) {
      const held = cards.get(a.reviewRef);
      if (!held || held.ref !== a.messageRef)
        return { kind: 'ephemeral', notice: { text: 'Not found', quote: JSON.stringify(a) } };
      if (a.action === 'edit') {
        const field = { name: 'body', label: 'Draft', value: held.card.body, isMultiline: true, maxChars: 100 };
        return {
          kind: 'open_editor',
          form: { purpose: 'edit', title: 'Edit draft', reviewRef: a.reviewRef, version: a.version, fields: [field] },
        };
      }
      held.card = {
        ...held.card,
        status: { kind: 'approved', by: a.user, at: '2025-01-02T14:02:00Z', text: `Approved by <@${a.user}>` },
        actions: [],
      };
      await port.updateCard(held.ref, held.card);
      return { kind: 'ok', notice: { text: 'Done', quote: JSON.stringify(a) } };
    },
    async submission(s) {
      const held = cards.get(s.reviewRef)!;
      if (!s.fields.body) return { kind: 'errors', errors: { body: 'Write something' } };
      held.card = { ...held.card, body: s.fields.body, version: s.version + 1 };
      await port.updateCard(held.ref, held.card);
      return { kind: 'ok', notice: { text: 'Saved', quote: JSON.stringify(s) } };
    },
  };
}

beforeAll(async () => {
  adapter = createConsoleAdapter({
    store: consoleStore(db.sql),
    log: createLogger('debug', (line) => logLines.push(line)),
  });
  http = await startHttpServer({ port: 0, host: '127.0.0.1', sql: db.sql, routes: adapter.routes });
  base = `http://127.0.0.1:${http.port}`;
});

afterAll(async () => {
  await adapter?.port.stop();
  await http?.close();
});

async function call(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(5_000),
  });
  return { status: res.status, type: res.headers.get('content-type'), body: (await res.json()) as any };
}

let deliveries = 0;
const command = (text: string, extra: Record<string, unknown> = {}) =>
  call('/api/command', { user: 'alice', channel: 'general', text, deliveryId: `d${++deliveries}`, ...extra });

async function startReview(title: string): Promise<{ ref: string; reviewRef: string }> {
  const deliveryId = `d${++deliveries}`;
  await call('/api/command', { user: 'alice', channel: 'general', text: `run ${title}`, deliveryId });
  const [row] = await db.sql`SELECT id::text FROM console_messages WHERE idempotency_key = ${'card:' + deliveryId}`;
  return { ref: `console:general:${row!.id}`, reviewRef: `rev_${deliveryId}` };
}

const GENERIC = { error: 'could not record that; please try again' };

describe('console HTTP API', () => {
  it('answers 503 "not ready" before start, then reaches the handlers', async () => {
    expect(await command('help')).toMatchObject({ status: 503, body: { error: expect.stringMatching(/not ready/) } });
    await adapter.port.start(toyDesk(adapter.port));
    expect((await command('help')).status).toBe(200);
  });

  it('hands a command over verbatim and answers an ephemeral reply only to the caller', async () => {
    const text = `help '; DROP TABLE runs; -- $1 \u202Eevil 😀<!channel>`;
    const res = await command(text, { deliveryId: 'cmd-verbatim' });
    expect(res.status).toBe(200);
    expect(res.type).toMatch(/^application\/json/);
    expect(JSON.parse(res.body.reply.notice.quote)).toEqual({
      platform: 'console',
      tenant: 'local',
      channel: 'general',
      user: 'alice',
      text,
      deliveryId: 'cmd-verbatim',
    });
    expect(res.body.reply.visibility).toBe('ephemeral');
    const [{ n }] = await db.sql<
      [{ n: number }]
    >`SELECT count(*)::int AS n FROM console_messages WHERE idempotency_key LIKE 'command-reply:%'`;
    expect(n).toBe(0);
  });

  it('stores a channel reply once per delivery, with mentions rendered for the page', async () => {
    const body = { user: 'alice', channel: 'general', text: 'run Printer on fire', deliveryId: 'cmd-twice' };
    const first = await call('/api/command', body);
    await call('/api/command', body);
    expect(first.body.notice.parts).toEqual([
      { kind: 'mention', userId: 'alice', name: 'Alice Adams' },
      { kind: 'text', text: ' asked for a review' },
    ]);
    const rows =
      await db.sql`SELECT author, content->>'text' AS text FROM console_messages WHERE idempotency_key = 'command-reply:cmd-twice'`;
    expect(rows).toEqual([{ author: 'signoff', text: '<@alice> asked for a review' }]);
  });

  it('hands a click over in the neutral shape and the handler updates the card', async () => {
    const { ref, reviewRef } = await startReview('Refund');
    const click = {
      user: 'bob',
      channel: 'general',
      messageRef: ref,
      reviewRef,
      action: 'approve',
      version: 1,
      deliveryId: 'click-1',
    };
    const res = await call('/api/action', click);
    expect(res.status).toBe(200);
    expect(res.body.reply.kind).toBe('ok');
    expect(JSON.parse(res.body.reply.notice.quote)).toEqual({ platform: 'console', tenant: 'local', ...click });
    const [row] = await db.sql`SELECT content FROM console_messages WHERE id = ${ref.split(':')[2]!}::bigint`;
    expect(row!.content.status).toEqual({
      kind: 'approved',
      by: 'bob',
      at: '2025-01-02T14:02:00Z',
      text: 'Approved by <@bob>',
    });
  });

  it('returns the dialog a click opens, and submission errors or changes come back', async () => {
    const { ref, reviewRef } = await startReview('Edit me');
    const opened = await call('/api/action', {
      user: 'bob',
      channel: 'general',
      messageRef: ref,
      reviewRef,
      action: 'edit',
      version: 1,
      deliveryId: 'click-2',
    });
    expect(opened.body.reply).toMatchObject({ kind: 'open_editor', form: { purpose: 'edit', reviewRef, version: 1 } });
    const submit = (body: string, deliveryId: string) =>
      call('/api/submission', { user: 'bob', purpose: 'edit', reviewRef, version: 1, fields: { body }, deliveryId });
    expect((await submit('', 'sub-1')).body.reply).toEqual({ kind: 'errors', errors: { body: 'Write something' } });
    const saved = await submit('<script>alert(1)</script>', 'sub-2');
    expect(JSON.parse(saved.body.reply.notice.quote)).toEqual({
      platform: 'console',
      tenant: 'local',
      user: 'bob',
      purpose: 'edit',
      reviewRef,
      version: 1,
      fields: { body: '<script>alert(1)</script>' },
      deliveryId: 'sub-2',
    });
    const [row] = await db.sql`SELECT content FROM console_messages WHERE id = ${ref.split(':')[2]!}::bigint`;
    expect(row!.content).toMatchObject({ body: '<script>alert(1)</script>', version: 2 });
  });

  it('refuses malformed bodies with a clear 400 that reaches no handler', async () => {
    const ok = { user: 'alice', channel: 'general', text: 'help', deliveryId: 'x' };
    const cases: [unknown, RegExp][] = [
      ['{"user":', /not valid JSON/],
      [[1, 2], /must be a JSON object/],
      [{ ...ok, deliveryId: undefined }, /deliveryId is required/],
      [{ ...ok, extra: 1 }, /unknown field\(s\): extra/],
      [{ ...ok, text: 'a\u0000b' }, /text must not contain NUL/],
      [{ ...ok, text: 'x'.repeat(4_001) }, /text must be at most 4000 characters/],
      [{ ...ok, user: 'mallory' }, /unknown user/],
      [{ ...ok, channel: 'random' }, /unknown channel/],
      [{ ...ok, channel: '@bob' }, /owner of a direct-message channel/],
    ];
    for (const [body, error] of cases) {
      expect(await call('/api/command', body)).toMatchObject({
        status: 400,
        body: { error: expect.stringMatching(error) },
      });
    }
    expect((await command('x'.repeat(4_000))).status).toBe(200);
  });

  it('refuses a click naming no card in its channel, and a bad action or version', async () => {
    const { ref, reviewRef } = await startReview('Guarded');
    const click = {
      user: 'bob',
      channel: 'general',
      messageRef: ref,
      reviewRef,
      action: 'approve',
      version: 1,
      deliveryId: 'c',
    };
    for (const [change, error] of [
      [{ messageRef: ref.replace('general', 'support'), channel: 'support' }, /messageRef does not name a card/],
      [{ messageRef: 'console:general:999999' }, /messageRef does not name a card/],
      [{ messageRef: 'slack:C1:1.2' }, /messageRef does not name a card/],
      [{ action: 'approve_all' }, /action must be approve, reject, edit or delegate/],
      [{ version: 1.5 }, /version must be a whole number/],
    ] as const) {
      expect(await call('/api/action', { ...click, ...change })).toMatchObject({
        status: 400,
        body: { error: expect.stringMatching(error) },
      });
    }
  });

  it('refuses bodies over 64 KiB with 413 before parsing, declared or streamed', async () => {
    const big = JSON.stringify({ user: 'alice', channel: 'general', text: 'x'.repeat(70_000), deliveryId: 'big' });
    expect(await call('/api/command', big)).toMatchObject({
      status: 413,
      body: { error: 'request body is larger than 64 KiB' },
    });
    const chunks = [big.slice(0, 40_000), big.slice(40_000)];
    const streamed = new ReadableStream({
      pull(c) {
        const next = chunks.shift();
        if (next) c.enqueue(new TextEncoder().encode(next));
        else c.close();
      },
    });
    const res = await fetch(`${base}/api/command`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: streamed,
      duplex: 'half',
      signal: AbortSignal.timeout(5_000),
    } as RequestInit);
    expect([res.status, await res.json()]).toEqual([413, { error: 'request body is larger than 64 KiB' }]);
  });

  it('refuses anything but JSON with 415', async () => {
    const res = await call('/api/command', 'user=alice', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(res).toMatchObject({ status: 415, body: { error: 'send JSON with content-type: application/json' } });
  });

  it('answers a handler failure with a generic 503 whose correlation id finds the cause in the log', async () => {
    const res = await command('explode');
    expect([res.status, res.body]).toEqual([
      503,
      { ...GENERIC, correlationId: expect.stringMatching(/^[0-9a-f]{12}$/) },
    ]);
    const logged = logLines.map((line) => JSON.parse(line)).find((l) => l.correlationId === res.body.correlationId);
    expect(logged).toMatchObject({
      level: 'error',
      path: '/api/command',
      error: { message: expect.stringContaining('relation "runs"') },
    });
  });

  it('adds a person with groups, which groupsOf then reads', async () => {
    const res = await call('/api/people', { id: 'erin', displayName: 'Erin <Ops>', groups: ['release-managers'] });
    expect(res.status).toBe(200);
    expect(await adapter.port.groupsOf('local', 'erin')).toEqual(['release-managers']);
    expect((await command('help', { user: 'erin', channel: '@erin' })).status).toBe(200);
    expect((await call('/api/people', { id: 'signoff', displayName: 'Bot', groups: [] })).status).toBe(400);
  });

  it('answers 503 again once stopped', async () => {
    await adapter.port.stop();
    expect((await command('help')).status).toBe(503);
  });
});
