/**
 * What an open page sees: the page itself (CSP, nonce, a script that parses),
 * /api/state with data returned verbatim for the page to escape, and the
 * /api/events stream pushing every post, update and thread reply, with
 * keep-alives, and ended by stop().
 */
import { get, createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Script } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConsoleAdapter, type ConsoleAdapter } from '../../../adapters/console/console-adapter.ts';
import { createLiveHub } from '../../../adapters/console/console-live.ts';
import type { ChatHandlers } from '../../../src/chat/port.ts';
import type { ReviewCard } from '../../../src/chat/messages.ts';
import { startHttpServer, type HttpServer } from '../../../src/ops/http.ts';
import { consoleStore } from '../../../src/store/console.ts';
import { useTestDb } from '../../helpers/db.ts';

const db = useTestDb();
let adapter: ConsoleAdapter;
let http: HttpServer;
let base: string;
const streams: IncomingMessage[] = [];

// This file only reads; a handler that is never called is enough to start the port.
const idleHandlers: ChatHandlers = {
  command: async () => ({ visibility: 'ephemeral', notice: { text: 'idle' } }),
  action: async () => ({ kind: 'ok' }),
  submission: async () => ({ kind: 'ok' }),
};

beforeAll(async () => {
  adapter = createConsoleAdapter({ store: consoleStore(db.sql) });
  await adapter.port.start(idleHandlers);
  http = await startHttpServer({ port: 0, host: '127.0.0.1', sql: db.sql, routes: adapter.routes });
  base = `http://127.0.0.1:${http.port}`;
});

afterAll(async () => {
  for (const s of streams) s.destroy();
  await adapter?.port.stop();
  await http?.close();
});

interface Stream {
  text(): string;
  events(): { event: string; data: any }[];
  isEnded(): boolean;
  until(isDone: () => boolean, what: string): Promise<void>;
  close(): void;
}

/** Opens an SSE stream with node:http; `until` waits at most 5 s for what it names. */
function openStream(url: string): Promise<Stream> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      streams.push(res);
      let text = '';
      const listeners = new Set<() => void>();
      res.setEncoding('utf8');
      let isEnded = false;
      const notify = () => {
        for (const l of listeners) l();
      };
      res.on('data', (chunk: string) => {
        text += chunk;
        notify();
      });
      res.once('end', () => {
        isEnded = true;
        notify();
      });
      const until = (isDone: () => boolean, what: string) =>
        new Promise<void>((done, fail) => {
          const timer = setTimeout(() => fail(new Error(`no ${what} within 5 s; got:\n${text}`)), 5_000);
          const check = () => {
            if (isDone()) {
              clearTimeout(timer);
              listeners.delete(check);
              done();
            }
          };
          listeners.add(check);
          check();
        });
      const events = () =>
        text.split('\n\n').flatMap((frame) => {
          const event = /^event: (.*)$/m.exec(frame)?.[1];
          const data = /^data: (.*)$/m.exec(frame)?.[1];
          return event && data ? [{ event, data: JSON.parse(data) }] : [];
        });
      resolve({ text: () => text, events, isEnded: () => isEnded, until, close: () => res.destroy() });
    }).once('error', reject);
  });
}

const hostile = '<!channel> @everyone <@U123> <https://evil|Approve> <script>alert(1)</script>';

function card(overrides: Partial<ReviewCard> = {}): ReviewCard {
  return {
    title: '<script>alert("title")</script>',
    fields: [{ label: '<b>Customer</b>', value: hostile }],
    body: hostile,
    diff: { before: 'old <i>', after: 'new <i>' },
    proposedAction: {
      tool: 'zendesk',
      method: 'PUT',
      host: 'acme.zendesk.com',
      fields: [
        { name: 'status', old: 'open', new: 'solved' },
        { name: 'note', new: 'x'.repeat(10_000) },
      ],
    },
    costLabel: '$0.04',
    status: { kind: 'pending', tally: { approvals: 1, needed: 2 }, text: 'Waiting for review: 1 of 2 approvals' },
    actions: ['approve', 'reject', 'edit', 'delegate'],
    reviewRef: 'rev_live',
    version: 3,
    runId: 'run_live',
    ...overrides,
  };
}

describe('console page, state and live stream', () => {
  it('serves the page under a strict CSP whose nonce is on its one script and style', async () => {
    const res = await fetch(`${base}/`, { signal: AbortSignal.timeout(5_000) });
    const html = await res.text();
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const csp = res.headers.get('content-security-policy')!;
    const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
    expect(csp).toMatch(/^default-src 'none';/);
    expect(html.match(/<script nonce="([^"]+)">/g)).toEqual([`<script nonce="${nonce}">`]);
    expect(html).toContain(`<style nonce="${nonce}">`);
    const script = /<script nonce="[^"]+">([\s\S]*)<\/script>/.exec(html)![1]!;
    expect(() => new Script(script)).not.toThrow();
    expect(script).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
  });

  it('returns people, channels and messages with every text verbatim for the page to escape', async () => {
    const ref = await adapter.port.postCard('general', card(), { idempotencyKey: 'state-card' });
    await adapter.port.replyInThread(
      ref,
      { text: '<@bob> approved; <@U999> too', quote: hostile },
      { idempotencyKey: 'state-reply' },
    );
    const res = await fetch(`${base}/api/state`, { signal: AbortSignal.timeout(5_000) });
    const state = (await res.json()) as any;
    expect(state.tenant).toBe('local');
    expect(state.people.map((p: any) => [p.id, p.groups])).toEqual([
      ['alice', []],
      ['bob', ['support-leads']],
      ['carol', ['support-leads']],
      ['dave', ['release-managers']],
    ]);
    expect(state.channels.map((c: any) => c.id)).toEqual(['general', 'support', '@alice', '@bob', '@carol', '@dave']);
    const [cardMessage, reply] = state.messages;
    expect(cardMessage).toMatchObject({ ref, parentId: null, kind: 'card', author: { id: 'signoff', isBot: true } });
    expect(cardMessage.card).toMatchObject({
      title: '<script>alert("title")</script>',
      fields: [{ label: '<b>Customer</b>', value: hostile }],
      body: { label: 'Draft (written by the model)', text: hostile },
      diff: { before: 'old <i>', after: 'new <i>' },
      costLabel: '$0.04',
      version: 3,
      status: {
        kind: 'pending',
        at: null,
        tally: '1 of 2 approvals',
        parts: [{ kind: 'text', text: 'Waiting for review: 1 of 2 approvals' }],
      },
      actions: [
        { action: 'approve', label: 'Approve' },
        { action: 'reject', label: 'Reject' },
        { action: 'edit', label: 'Edit' },
        { action: 'delegate', label: 'Delegate' },
      ],
    });
    expect(cardMessage.card.proposedAction.fields[1]).toMatchObject({ name: 'note', old: null, isTruncated: true });
    expect(reply).toMatchObject({ parentId: cardMessage.id, kind: 'text' });
    expect(reply.notice).toEqual({
      parts: [
        { kind: 'mention', userId: 'bob', name: 'Bob Brown' },
        { kind: 'text', text: ' approved; ' },
        { kind: 'mention', userId: 'U999', name: 'U999' },
        { kind: 'text', text: ' too' },
      ],
      quote: hostile,
    });
  });

  it('pushes every post, update and thread reply to every open stream', async () => {
    const pages = await Promise.all([openStream(`${base}/api/events`), openStream(`${base}/api/events`)]);
    await Promise.all(pages.map((p) => p.until(() => p.text().includes(': connected'), 'connected comment')));
    const ref = await adapter.port.postCard('support', card({ title: 'live card' }), { idempotencyKey: 'live-card' });
    await adapter.port.updateCard(
      ref,
      card({
        title: 'live card',
        status: { kind: 'approved', by: 'bob', at: '2025-01-02T14:02:00Z', text: 'Approved by <@bob> at 14:02 UTC' },
        actions: [],
      }),
    );
    await adapter.port.replyInThread(ref, { text: 'done' }, { idempotencyKey: 'live-reply' });
    for (const page of pages) {
      await page.until(() => page.events().length >= 3, 'three events');
      const [posted, updated, replied] = page.events().map((e) => e.data.message);
      expect(posted).toMatchObject({ ref, kind: 'card', card: { title: 'live card', status: { kind: 'pending' } } });
      expect(updated.card.status).toEqual({
        kind: 'approved',
        at: '2025-01-02T14:02:00Z',
        tally: null,
        parts: [
          { kind: 'text', text: 'Approved by ' },
          { kind: 'mention', userId: 'bob', name: 'Bob Brown' },
          { kind: 'text', text: ' at 14:02 UTC' },
        ],
      });
      expect(updated.card.actions).toEqual([]);
      expect(replied).toMatchObject({ parentId: posted.id, notice: { parts: [{ kind: 'text', text: 'done' }] } });
    }
  });

  it('sends keep-alive comments on a quiet stream and forgets a client that left', async () => {
    const hub = createLiveHub({ keepAliveMs: 20 });
    const server = createServer((req, res) => hub.attach(req, res)).listen(0, '127.0.0.1');
    try {
      await new Promise((r) => server.once('listening', r));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      const [leaving, staying] = await Promise.all([openStream(url), openStream(url)]);
      await leaving.until(() => leaving.text().includes(': keep-alive'), 'keep-alive comment');
      expect(hub.openStreams).toBe(2);
      leaving.close();
      await expect.poll(() => hub.openStreams, { timeout: 5_000 }).toBe(1);
      hub.closeAll();
      await staying.until(staying.isEnded, 'end of stream');
      expect(hub.openStreams).toBe(0);
    } finally {
      server.close();
    }
  });

  it('ends every stream on stop and refuses new ones', async () => {
    const page = await openStream(`${base}/api/events`);
    await page.until(() => page.text().includes(': connected'), 'connected comment');
    await adapter.port.stop();
    await page.until(page.isEnded, 'end of stream');
    const res = await fetch(`${base}/api/events`, { signal: AbortSignal.timeout(5_000) });
    expect(res.status).toBe(503);
    await res.body?.cancel();
  });
});
