/**
 * Drives the Slack adapter through Slack's own wire protocol: signed slash
 * commands, `block_actions` and `view_submission` requests to POST /slack/events
 * (HTTP mode), and what a Slack client would show, read back from the fake
 * Slack (test/fakes/slack): the card's blocks, ephemeral replies at the
 * response_url, the modal views.open received. Used by the contract suite.
 */
import { randomUUID } from 'node:crypto';
import { createSlackAdapter } from '../../adapters/slack/slack-adapter.ts';
import type { ReviewAction } from '../../src/chat/messages.ts';
import type { ActionReply, CommandReply, EditorForm, SubmissionReply } from '../../src/chat/port.ts';
import { startHttpServer } from '../../src/ops/http.ts';
import type { Sql } from '../../src/store/client.ts';
import { slackStore } from '../../src/store/slack.ts';
import {
  blockActionsPayload,
  FORM,
  interactionBody,
  postToBot,
  signed,
  slashCommandBody,
  viewSubmissionPayload,
} from '../fakes/slack/requests.ts';
import { startFakeSlack, type FakeMessage, type FakeSlack } from '../fakes/slack/web-api.ts';
import type { PlatformDriver, SeenCard } from './chat-port.contract.ts';

export const SIGNING_SECRET = 'test-signing-secret';
/** The channel runs start in (a Slack channel id of the fake workspace). */
const CHANNEL = 'C0SUPPORT';

/** Slack's three entities back to text. */
export function decode(text: string): string {
  return text.replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&amp;', '&');
}

/** Shown text of a message: its sections' mrkdwn decoded, mentions as `@id`. */
export function shownText(blocks: any[], fallback: string): string {
  const sections = blocks.filter((b) => b.type === 'section' && b.text).map((b) => b.text.text as string);
  return decode((sections.length > 0 ? sections.join('') : fallback).replace(/<@([^>|]+)>/g, '@$1'));
}

export function toSeenCard(m: FakeMessage): SeenCard | null {
  const byId = (prefix: string) => m.blocks.filter((b) => String(b.block_id ?? '').startsWith(prefix));
  const title = byId('title')[0]?.text?.text as string | undefined;
  const meta = decode(byId('meta')[0]?.elements?.[0]?.text ?? '');
  const runId = /run `([^`]+)`/.exec(meta)?.[1];
  if (title === undefined || !runId) return null;
  const status = byId('status:')[0];
  const buttons = byId('signoff_card:v')[0]?.elements ?? [];
  const fieldTexts = (prefix: string) =>
    byId(prefix).flatMap((b) => b.fields.map((f: any) => decode(f.text) as string));
  const proposed = fieldTexts('proposed_fields').map((t) => {
    const [, name = '', value = ''] = /^\*(.*?)\*\n([\s\S]*)$/.exec(t) ?? [];
    const [old, next] = value.includes(' → ') ? (value.split(' → ') as [string, string]) : [null, value];
    return { name, old, new: next };
  });
  const body = decode(
    byId('body:')
      .map((b) => b.text.text)
      .join(''),
  );
  const diffText = decode(byId('diff')[0]?.text?.text ?? '');
  const diff = diffText ? /^\*Before\*\n([\s\S]*)\n\*After\*\n([\s\S]*)$/.exec(diffText) : null;
  return {
    messageRef: `slack:${m.channel}:${m.ts}`,
    reviewRef: buttons[0]?.value ?? '',
    runId,
    version: Number(/version (\d+)/.exec(meta)?.[1]),
    status: String(status?.block_id).slice('status:'.length),
    actions: buttons.map((b: any) => String(b.action_id).replace(/^signoff_/, '')),
    statusText: decode(String(status?.text?.text ?? '').replace(/<@([^>|]+)>/g, '@$1')),
    body,
    diff: diff ? { before: diff[1]!, after: diff[2]! } : null,
    proposed,
    allText: [title, ...fieldTexts('fields'), body, ...proposed.map((p) => p.new)].join('\n'),
  };
}

/** The editor form as the person sees it in the modal. */
function formOf(view: any): EditorForm {
  const meta = JSON.parse(view.private_metadata) as { r: string; v: number; p: EditorForm['purpose'] };
  const fields = new Map<string, EditorForm['fields'][number]>();
  for (const block of view.blocks as any[]) {
    const name = String(block.block_id).replace(/#\d+$/, '');
    const prior = fields.get(name);
    const value = (prior?.value ?? '') + (block.element.initial_value ?? '');
    fields.set(name, {
      name,
      label: block.label.text,
      value,
      isMultiline: block.element.multiline,
      maxChars: block.element.max_length,
    });
  }
  return { purpose: meta.p, title: view.title.text, reviewRef: meta.r, version: meta.v, fields: [...fields.values()] };
}

/**
 * `http`: signed POSTs to /slack/events. `socket`: envelopes on the fake's Socket
 * Mode websocket, answered by the envelope's ack.
 */
export async function makeSlackDriver(
  { sql }: { sql: Sql },
  mode: 'http' | 'socket' = 'http',
): Promise<PlatformDriver & { fake: FakeSlack }> {
  const fake = await startFakeSlack({ channels: [CHANNEL] });
  // The same people as the console's default world: bob and carol lead support, dave manages releases.
  fake.setGroups('bob', ['support-leads']);
  fake.setGroups('carol', ['support-leads']);
  fake.setGroups('dave', ['release-managers']);
  const adapter = createSlackAdapter({
    settings: {
      botToken: fake.botToken,
      apiUrl: fake.apiUrl,
      signingSecret: mode === 'http' ? SIGNING_SECRET : null,
      appToken: mode === 'socket' ? fake.appToken : null,
    },
    store: slackStore(sql),
    groupCacheMs: 0,
    channelIntervalMs: 50,
    isTierPaced: false,
  });
  const http = await startHttpServer({ port: 0, host: '127.0.0.1', sql, routes: adapter.routes });
  const bot = `http://127.0.0.1:${http.port}`;
  /** A form body (slash command, or `payload=` for interactivity) delivered the way `mode` says; returns the ack's body. */
  const send = async (body: string): Promise<Record<string, any>> => {
    if (mode === 'socket') {
      const form = Object.fromEntries(new URLSearchParams(body));
      const envelope = form.payload
        ? fake.socket.send('interactive', JSON.parse(form.payload))
        : fake.socket.send('slash_commands', form);
      const ack = await fake.socket.ack(envelope, 10_000);
      if (!ack) throw new Error('the adapter did not acknowledge the envelope');
      return ack;
    }
    const res = await postToBot(bot, signed(SIGNING_SECRET, body, FORM));
    if (res.status !== 200) throw new Error(`/slack/events answered ${res.status}: ${await res.text()}`);
    const text = await res.text();
    return text ? (JSON.parse(text) as Record<string, any>) : {};
  };

  const driver: PlatformDriver & { fake: FakeSlack } = {
    fake,
    tenant: fake.teamId,
    channel: CHANNEL,
    // In Socket Mode, port.start resolves once the socket is connected (Slack's hello).
    port: adapter.port,
    async command(user, channel, text): Promise<CommandReply> {
      const ack = await send(
        slashCommandBody({
          team: fake.teamId,
          channel,
          user,
          text,
          triggerId: fake.newTrigger(),
          responseUrl: fake.newResponseUrl(),
        }),
      );
      return {
        visibility: ack.response_type === 'in_channel' ? 'channel' : 'ephemeral',
        notice: { text: decode(ack.text ?? '') },
      };
    },
    async click(user, card, action: ReviewAction, opts = {}): Promise<ActionReply> {
      const [, channel, ts] = card.messageRef.split(':') as [string, string, string];
      const triggerId = opts.deliveryId ?? fake.newTrigger();
      const responseUrl = fake.newResponseUrl();
      await send(
        interactionBody(
          blockActionsPayload({
            team: fake.teamId,
            channel,
            user,
            messageTs: ts,
            actionId: `signoff_${action}`,
            blockId: `signoff_card:v${opts.version ?? card.version}`,
            value: opts.reviewRef ?? card.reviewRef,
            triggerId,
            responseUrl,
          }),
        ),
      );
      // Approve is acknowledged once recorded and decided just after: wait for the decision.
      if (action === 'approve') await decided(triggerId);
      const view = fake.views.find((v) => v.triggerId === triggerId);
      if (view) return { kind: 'open_editor', form: formOf(view.view) };
      const said = fake.ephemerals.find((e) => e.url === responseUrl);
      if (!said) return { kind: 'ok' };
      // Only an ephemeral answer is private to the clicker; an in_channel one is for everyone.
      const notice = { text: decode(said.text) };
      return said.responseType === 'ephemeral' ? { kind: 'ephemeral', notice } : { kind: 'ok', notice };
    },
    async submit(user, form, fields, opts = {}): Promise<SubmissionReply> {
      const values: Record<string, string> = {};
      for (const [name, value] of Object.entries(fields)) {
        for (let i = 0; i * 3_000 < Math.max(1, value.length); i++)
          values[`${name}#${i}`] = value.slice(i * 3_000, (i + 1) * 3_000);
      }
      const privateMetadata = JSON.stringify({ r: form.reviewRef, v: form.version, p: form.purpose, c: CHANNEL });
      const ack = await send(
        interactionBody(
          viewSubmissionPayload({
            team: fake.teamId,
            user,
            viewId: opts.deliveryId ?? `V-${randomUUID()}`,
            privateMetadata,
            values,
          }),
        ),
      );
      if (ack.response_action !== 'errors') return { kind: 'ok' };
      const errors = Object.fromEntries(
        Object.entries(ack.errors as Record<string, string>).map(([id, text]) => [id.replace(/#\d+$/, ''), text]),
      );
      return { kind: 'errors', errors };
    },
    async cards(channel) {
      const seen = fake
        .inChannel(channel)
        .filter((m) => m.threadTs === null)
        .map(toSeenCard)
        .filter((c): c is SeenCard => c !== null);
      // Slack shows a card the moment chat.postMessage lands, a few ms before the desk records it as
      // the card of record. A person cannot click in those ms; a test can. So a card counts as shown
      // once it is recorded, or once the desk moved on from it (re-posted).
      const recorded = await sql<
        { ref: string }[]
      >`SELECT card_ref AS ref FROM reviews WHERE card_ref = ANY(${seen.map((c) => c.messageRef)})`;
      const refs = new Set(recorded.map((r) => r.ref));
      return seen.filter((c) => refs.has(c.messageRef) || c.status !== 'pending');
    },
    async thread(messageRef) {
      const [, channel, ts] = messageRef.split(':') as [string, string, string];
      return fake
        .inChannel(channel)
        .filter((m) => m.threadTs === ts)
        .map((m) => shownText(m.blocks, m.text));
    },
    async dms(user) {
      return fake.inChannel(`D${user}`).map((m) => shownText(m.blocks, m.text));
    },
    async setGroups(user, groups) {
      fake.setGroups(user, groups);
    },
    async deleteMessage(messageRef) {
      const [, channel, ts] = messageRef.split(':') as [string, string, string];
      fake.deleteMessage(channel, ts);
    },
    failGroupLookups(isFailing) {
      fake.faults.failGroups = isFailing;
    },
    async close() {
      await adapter.port.stop();
      await http.close();
      await fake.close();
    },
  };
  /** Resolves once the recorded click with this delivery id has been decided (or was never recorded). */
  async function decided(deliveryId: string): Promise<void> {
    for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
      const [row] = await sql<
        { done: boolean }[]
      >`SELECT done_at IS NOT NULL AS done FROM inbox WHERE source = 'slack:click' AND key = ${deliveryId}`;
      if (!row || row.done) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`click ${deliveryId} was not decided within 10 s`);
  }

  return driver;
}
