/**
 * Drives the local web chat through its own wire protocol: the JSON API the
 * page uses (POST /api/action, /api/submission, /api/command) and the state it
 * renders (GET /api/state). Used by the contract suite and the review tests.
 */
import { randomUUID } from 'node:crypto';
import { createConsoleAdapter } from '../../adapters/console/console-adapter.ts';
import type { MessageView, Segment } from '../../adapters/console/console-render.ts';
import { startHttpServer } from '../../src/ops/http.ts';
import { consoleStore, deleteConsoleMessage } from '../../src/store/console.ts';
import type { Sql } from '../../src/store/client.ts';
import type { PlatformDriver, SeenCard } from './chat-port.contract.ts';

export async function makeConsoleDriver({ sql }: { sql: Sql }): Promise<PlatformDriver> {
  const store = consoleStore(sql);
  const adapter = createConsoleAdapter({ store });
  const http = await startHttpServer({ port: 0, host: '127.0.0.1', sql, routes: adapter.routes });
  const base = `http://127.0.0.1:${http.port}`;
  const post = async (path: string, body: unknown) => {
    const res = await fetch(base + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as { reply?: any; error?: string };
    if (!res.ok) throw new Error(`${path} answered ${res.status}: ${json.error}`);
    return json.reply;
  };
  const messages = async (): Promise<MessageView[]> => {
    const res = await fetch(`${base}/api/state`);
    return ((await res.json()) as { messages: MessageView[] }).messages;
  };
  const words = (parts: Segment[]) => parts.map((p) => (p.kind === 'text' ? p.text : `@${p.userId}`)).join('');
  const noticeText = (m: MessageView) =>
    m.kind === 'text' ? words(m.notice.parts) + (m.notice.quote ? ` ${m.notice.quote}` : '') : '';

  const driver: PlatformDriver = {
    port: adapter.port,
    tenant: 'local',
    channel: 'support',
    command: (user, channel, text) => post('/api/command', { user, channel, text, deliveryId: randomUUID() }),
    click: (user, card, action, opts = {}) =>
      post('/api/action', {
        user,
        channel: card.messageRef.split(':')[1],
        messageRef: card.messageRef,
        reviewRef: opts.reviewRef ?? card.reviewRef,
        action,
        version: opts.version ?? card.version,
        deliveryId: opts.deliveryId ?? randomUUID(),
      }),
    submit: (user, form, fields, opts = {}) =>
      post('/api/submission', {
        user,
        purpose: form.purpose,
        reviewRef: form.reviewRef,
        version: form.version,
        fields,
        deliveryId: opts.deliveryId ?? randomUUID(),
      }),
    async cards(channel) {
      const seen = (await messages())
        .filter((m) => m.kind === 'card' && m.channel === channel)
        .map((m) => toSeen(m as Extract<MessageView, { kind: 'card' }>));
      // A card shows the moment it is posted, a few ms before the desk records it as the card of
      // record. A person cannot click in those ms; a test can. So a card counts as shown once it
      // is recorded, or once the desk moved on from it (as the Slack driver does).
      const recorded = await sql<
        { ref: string }[]
      >`SELECT card_ref AS ref FROM reviews WHERE card_ref = ANY(${seen.map((c) => c.messageRef)})`;
      const refs = new Set(recorded.map((r) => r.ref));
      return seen.filter((c) => refs.has(c.messageRef) || c.status !== 'pending');
    },
    async thread(messageRef) {
      const id = messageRef.split(':').at(-1);
      return (await messages()).filter((m) => m.parentId === id).map(noticeText);
    },
    async dms(user) {
      return (await messages()).filter((m) => m.channel === `@${user}`).map(noticeText);
    },
    async setGroups(user, groups) {
      await store.upsertPerson('local', { id: user, displayName: user, groups });
    },
    async deleteMessage(messageRef) {
      await deleteConsoleMessage(sql, 'local', messageRef.split(':').at(-1)!);
    },
    failGroupLookups(isFailing) {
      adapter.faults.failGroupLookups = isFailing;
    },
    close: () => http.close(),
  };

  function toSeen(m: Extract<MessageView, { kind: 'card' }>): SeenCard {
    const c = m.card;
    const proposed = c.proposedAction?.fields.map((f) => ({ name: f.name, old: f.old, new: f.new })) ?? [];
    return {
      messageRef: m.ref,
      reviewRef: c.reviewRef,
      runId: c.runId,
      version: c.version,
      status: c.status.kind,
      actions: c.actions.map((a) => a.action),
      statusText: `${words(c.status.parts)} ${c.status.tally ?? ''}`.trim(),
      body: c.body.text,
      diff: c.diff,
      proposed,
      allText: [
        c.title,
        ...c.fields.flatMap((f) => [f.label, f.value]),
        c.body.text,
        ...proposed.map((p) => p.new),
      ].join('\n'),
    };
  }
  return driver;
}
