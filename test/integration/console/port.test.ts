/**
 * The console adapter as a ChatPort, against real Postgres: every outbound
 * call is a row, idempotent on its key, and survives a new adapter instance.
 * Assertions read console_messages and the adapter's own answers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConsoleAdapter, type ConsoleAdapter } from '../../../adapters/console/console-adapter.ts';
import type { ConsoleStore } from '../../../adapters/console/types.ts';
import { makeMessageRef, parseMessageRef, type MessageRef, type ReviewCard } from '../../../src/chat/messages.ts';
import { isSignoffError } from '../../../src/errors.ts';
import { consoleStore, deleteConsoleMessage } from '../../../src/store/console.ts';
import { useTestDb } from '../../helpers/db.ts';

const db = useTestDb();
let store: ConsoleStore;
let adapter: ConsoleAdapter;

beforeAll(() => {
  // Typed as the adapter's interface: the store must match it structurally.
  store = consoleStore(db.sql);
  adapter = createConsoleAdapter({ store });
});

afterAll(async () => {
  await adapter.port.stop();
});

function card(overrides: Partial<ReviewCard> = {}): ReviewCard {
  return {
    title: 'Reply to ticket #42',
    fields: [{ label: 'Customer', value: 'ACME' }],
    body: 'Dear customer, …',
    status: { kind: 'pending', tally: { approvals: 0, needed: 2 }, text: 'Waiting for review: 0 of 2 approvals' },
    actions: ['approve', 'reject', 'edit'],
    reviewRef: 'rev_1',
    version: 1,
    runId: 'run_1',
    costLabel: '$0.00 (no model calls)',
    ...overrides,
  };
}

async function rowOf(ref: MessageRef) {
  const id = parseMessageRef(ref).parts[1]!;
  const [row] =
    await db.sql`SELECT channel, parent_id::text AS parent, kind, content, author FROM console_messages WHERE id = ${id}::bigint`;
  return row!;
}

/** Resolves to the thrown error, so its code and details can be asserted. */
async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (err: unknown) => err,
  );
}

function expectNotRetryable(err: unknown): void {
  expect(isSignoffError(err, 'input_invalid')).toBe(true);
  expect((err as { details?: { retryable?: boolean } }).details?.retryable).toBe(false);
}

describe('console ChatPort', () => {
  it('posts a card once per idempotency key and returns the first ref to a repeat', async () => {
    const first = await adapter.port.postCard('general', card(), { idempotencyKey: 'run_1:review:1' });
    const again = await adapter.port.postCard('general', card({ title: 'changed' }), {
      idempotencyKey: 'run_1:review:1',
    });
    expect(again).toBe(first);
    expect(parseMessageRef(first)).toEqual({ platform: 'console', parts: ['general', expect.stringMatching(/^\d+$/)] });
    const rows =
      await db.sql`SELECT content->>'title' AS title FROM console_messages WHERE idempotency_key = 'run_1:review:1'`;
    expect(rows.map((r) => r.title)).toEqual(['Reply to ticket #42']);
  });

  it('gives the same single row to concurrent posts with one key', async () => {
    const refs = await Promise.all(
      [1, 2, 3, 4].map(() => adapter.port.postMessage('general', { text: 'once' }, { idempotencyKey: 'race' })),
    );
    expect(new Set(refs).size).toBe(1);
    const [{ n }] = await db.sql<
      [{ n: number }]
    >`SELECT count(*)::int AS n FROM console_messages WHERE idempotency_key = 'race'`;
    expect(n).toBe(1);
  });

  it('replaces a card in place on update', async () => {
    const ref = await adapter.port.postCard('support', card(), { idempotencyKey: 'update-me' });
    const decided = card({
      status: { kind: 'approved', by: 'bob', at: '2025-01-02T14:02:00Z', text: 'Approved by <@bob> at 14:02 UTC' },
      actions: [],
    });
    await adapter.port.updateCard(ref, decided);
    expect(await rowOf(ref)).toMatchObject({ channel: 'support', kind: 'card', content: decided });
    const [{ n }] = await db.sql<
      [{ n: number }]
    >`SELECT count(*)::int AS n FROM console_messages WHERE channel = 'support'`;
    expect(n).toBe(1);
  });

  it('replies in the thread of a card, and a reply to a reply joins the same thread', async () => {
    const cardRef = await adapter.port.postCard('general', card(), { idempotencyKey: 'threaded' });
    const cardId = parseMessageRef(cardRef).parts[1];
    const reply = await adapter.port.replyInThread(cardRef, { text: '<@bob> approved' }, { idempotencyKey: 'reply-1' });
    const nested = await adapter.port.replyInThread(reply, { text: 'second' }, { idempotencyKey: 'reply-2' });
    const repeat = await adapter.port.replyInThread(cardRef, { text: 'other words' }, { idempotencyKey: 'reply-1' });
    expect(repeat).toBe(reply);
    expect(await rowOf(reply)).toMatchObject({
      parent: cardId,
      kind: 'text',
      author: 'signoff',
      content: { text: '<@bob> approved' },
    });
    expect(await rowOf(nested)).toMatchObject({ parent: cardId, content: { text: 'second' } });
  });

  it("sends a DM to the person's own channel", async () => {
    await adapter.port.notifyUser('local', 'bob', { text: 'You have a review waiting' }, { idempotencyKey: 'dm-1' });
    await adapter.port.notifyUser('local', 'bob', { text: 'You have a review waiting' }, { idempotencyKey: 'dm-1' });
    const rows = await db.sql`SELECT channel, content FROM console_messages WHERE idempotency_key = 'dm-1'`;
    expect(rows).toEqual([{ channel: '@bob', content: { text: 'You have a review waiting' } }]);
  });

  it('refuses unknown channels, people and messages as not retryable', async () => {
    const key = { idempotencyKey: 'nowhere' };
    expectNotRetryable(await failureOf(adapter.port.postCard('no-such-channel', card(), key)));
    expectNotRetryable(await failureOf(adapter.port.postMessage('no-such-channel', { text: 'x' }, key)));
    expectNotRetryable(await failureOf(adapter.port.notifyUser('local', 'nobody', { text: 'x' }, key)));
    expectNotRetryable(await failureOf(adapter.port.notifyUser('other-tenant', 'bob', { text: 'x' }, key)));
    const unknown = makeMessageRef('console', 'general', '999999999');
    expectNotRetryable(await failureOf(adapter.port.updateCard(unknown, card())));
    expectNotRetryable(await failureOf(adapter.port.replyInThread(unknown, { text: 'x' }, key)));
    expectNotRetryable(await failureOf(adapter.port.updateCard('slack:C1:1.2' as MessageRef, card())));
    const [{ n }] = await db.sql<
      [{ n: number }]
    >`SELECT count(*)::int AS n FROM console_messages WHERE idempotency_key = 'nowhere'`;
    expect(n).toBe(0);
  });

  it('treats a deleted card, or a ref naming the wrong channel, as gone', async () => {
    const ref = await adapter.port.postCard('general', card(), { idempotencyKey: 'to-delete' });
    const id = parseMessageRef(ref).parts[1]!;
    expectNotRetryable(await failureOf(adapter.port.updateCard(makeMessageRef('console', 'support', id), card())));
    expect(await deleteConsoleMessage(db.sql, 'local', id)).toBe(true);
    expectNotRetryable(await failureOf(adapter.port.updateCard(ref, card({ version: 2 }))));
    expectNotRetryable(await failureOf(adapter.port.replyInThread(ref, { text: 'late' }, { idempotencyKey: 'late' })));
    expect((await rowOf(ref)).content).toEqual(card());
  });

  it('reads groups from the people table, [] for a stranger, and fails when told to', async () => {
    expect(await adapter.port.groupsOf('local', 'bob')).toEqual(['support-leads']);
    expect(await adapter.port.groupsOf('local', 'alice')).toEqual([]);
    expect(await adapter.port.groupsOf('local', 'mallory')).toEqual([]);
    adapter.faults.failGroupLookups = true;
    try {
      await expect(adapter.port.groupsOf('local', 'bob')).rejects.toThrow(/group lookup failed/);
    } finally {
      adapter.faults.failGroupLookups = false;
    }
    await store.upsertPerson('local', { id: 'bob', displayName: 'Bob Brown', groups: [] });
    expect(await adapter.port.groupsOf('local', 'bob')).toEqual([]);
  });

  it('loses nothing to a restart: a new adapter on the same schema sees and dedupes earlier posts', async () => {
    const before = await adapter.port.postCard('general', card({ title: 'survives' }), { idempotencyKey: 'restart' });
    const restarted = createConsoleAdapter({ store: consoleStore(db.sql) });
    expect(await restarted.port.postCard('general', card(), { idempotencyKey: 'restart' })).toBe(before);
    await restarted.port.updateCard(before, card({ title: 'updated after restart' }));
    expect((await rowOf(before)).content).toMatchObject({ title: 'updated after restart' });
    expect(await restarted.port.groupsOf('local', 'carol')).toEqual(['support-leads']);
  });

  it('keeps tenants apart', async () => {
    const other = createConsoleAdapter({ store, tenant: 'acme' });
    const ref = await other.port.postMessage('general', { text: 'acme only' }, { idempotencyKey: 'restart' });
    const local = await store.recentMessages('local', 1000);
    expect(local.some((m) => m.kind === 'text' && m.notice.text === 'acme only')).toBe(false);
    expect((await store.recentMessages('acme', 10)).map((m) => makeMessageRef('console', m.channel, m.id))).toEqual([
      ref,
    ]);
  });
});
