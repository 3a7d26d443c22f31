/**
 * Drives the Discord adapter through Discord's own wire protocol: interactions
 * dispatched on the fake gateway (INTERACTION_CREATE) or POSTed signed to
 * /discord/interactions, and what a Discord client would show, read back from
 * the fake (test/fakes/discord): the card's embed and buttons, the interaction
 * responses (ephemeral replies, modals), follow-ups. Used by the contract suite.
 */
import { GatewayDispatchEvents, MessageFlags, type APIInteraction } from 'discord-api-types/v10';
import { createDiscordAdapter, type DiscordAdapter } from '../../adapters/discord/discord-adapter.ts';
import { buttonId, modalId } from '../../adapters/discord/discord-inbound.ts';
import { unescapeText } from '../../adapters/discord/discord-render.ts';
import type { ReviewAction } from '../../src/chat/messages.ts';
import type { ActionReply, CommandReply, EditorForm, SubmissionReply } from '../../src/chat/port.ts';
import { startHttpServer } from '../../src/ops/http.ts';
import type { Sql } from '../../src/store/client.ts';
import { discordStore } from '../../src/store/discord.ts';
import {
  buttonInteraction,
  commandInteraction,
  makeSigner,
  modalInteraction,
  postInteraction,
  type Signer,
} from '../fakes/discord/interactions.ts';
import { startFakeDiscord, type FakeDiscord, type FakeInteraction, type FakeMessage } from '../fakes/discord/rest.ts';
import { until, type PlatformDriver, type SeenCard } from './chat-port.contract.ts';

type Body = Record<string, any>;
export const CHANNEL = '300000000000000001';

/** Shown text: markdown escapes undone, mentions as `@id`. */
export function shown(text: string): string {
  return unescapeText(text.replace(/<@!?([A-Za-z0-9._-]+)>/g, '@$1'));
}

export function toSeenCard(m: FakeMessage): SeenCard | null {
  const embed = m.embeds[0];
  const meta = /^run (\S+) · version (\d+) · (\w+)$/.exec(String(embed?.footer?.text ?? ''));
  if (!embed || !meta) return null;
  const fields = (embed.fields ?? []) as { name: string; value: string }[];
  const value = (name: string) => fields.find((f) => unescapeText(f.name) === name)?.value;
  const buttons = (m.components[0]?.components ?? []) as { custom_id: string }[];
  const ids = buttons.map((b) => /^so:([a-z]+):\d+:(.+)$/.exec(b.custom_id)!);
  const onApproval = fields.findIndex((f) => f.name === 'On approval');
  const cost = fields.findIndex((f) => f.name === 'Cost so far');
  const proposed =
    onApproval < 0
      ? []
      : fields.slice(onApproval + 1, cost).map((f) => {
          const v = unescapeText(f.value);
          const [old, next] = v.includes(' → ') ? (v.split(' → ') as [string, string]) : [null, v];
          return { name: unescapeText(f.name), old, new: next };
        });
  const before = value('Before');
  const body = unescapeText(String(embed.description ?? ''));
  return {
    messageRef: `discord:${m.channel}:${m.id}`,
    runId: meta[1]!,
    version: Number(meta[2]),
    status: meta[3]!,
    reviewRef: ids[0]?.[2] ?? '',
    actions: ids.map((x) => x[1]!),
    statusText: shown(value('Status') ?? ''),
    body,
    diff: before !== undefined ? { before: unescapeText(before), after: unescapeText(value('After') ?? '') } : null,
    proposed,
    allText: [unescapeText(embed.title ?? ''), ...fields.map((f) => unescapeText(f.value)), body].join('\n'),
  };
}

/** The modal as the person sees it. */
export function formOf(data: Body): EditorForm {
  const [, purpose, version, reviewRef] = /^sm:([a-z]+):(\d+):(.+)$/.exec(data.custom_id)!;
  const fields = new Map<string, EditorForm['fields'][number]>();
  for (const c of data.components as Body[]) {
    const input = c.component;
    const name = String(input.custom_id).replace(/#\d+$/, '');
    const prior = fields.get(name);
    fields.set(name, {
      name,
      label: c.label,
      value: (prior?.value ?? '') + (input.value ?? ''),
      isMultiline: input.style === 2,
      maxChars: input.max_length,
    });
  }
  return {
    purpose: purpose as EditorForm['purpose'],
    title: data.title,
    reviewRef: reviewRef!,
    version: Number(version),
    fields: [...fields.values()],
  };
}

export type DiscordDriver = PlatformDriver & {
  fake: FakeDiscord;
  adapter: DiscordAdapter;
  deliver(payload: APIInteraction): Promise<FakeInteraction>;
  botUrl: string;
  signer: Signer;
};

export async function makeDiscordDriver(
  { sql }: { sql: Sql },
  mode: 'gateway' | 'http' = 'gateway',
): Promise<DiscordDriver> {
  const fake = await startFakeDiscord();
  fake.setRoles('bob', ['support-leads']);
  fake.setRoles('carol', ['support-leads']);
  fake.setRoles('dave', ['release-managers']);
  const signer = makeSigner();
  const adapter = createDiscordAdapter({
    settings: {
      token: fake.botToken,
      apiUrl: fake.apiUrl,
      applicationId: null,
      guildId: null,
      publicKey: mode === 'http' ? signer.publicKeyHex : null,
    },
    store: discordStore(sql),
    roleCacheMs: 0,
    waitGuildTimeoutMs: 200,
    freeIdentifiesPerMinute: 1_000,
  });
  const http = await startHttpServer({ port: 0, host: '127.0.0.1', sql, routes: adapter.routes });
  const botUrl = `http://127.0.0.1:${http.port}/discord/interactions`;
  const sent = new Map<string, APIInteraction>();

  /** Delivers an interaction the way `mode` says and waits for its first answer. */
  async function deliver(payload: APIInteraction): Promise<FakeInteraction> {
    const entry = fake.interactions.get(payload.id) ?? fake.track(payload);
    if (mode === 'gateway') fake.gateway.dispatch(GatewayDispatchEvents.InteractionCreate, payload);
    else {
      const res = await postInteraction(botUrl, signer, payload);
      if (res.status !== 202) throw new Error(`/discord/interactions answered ${res.status}`);
    }
    return until('an interaction response', async () => entry.callbacks.length > 0 && entry, 10_000);
  }
  /** A redelivery (same delivery id) sends the very same interaction again. */
  function once(deliveryId: string | undefined, make: () => APIInteraction): APIInteraction {
    if (!deliveryId) return make();
    const payload = sent.get(deliveryId) ?? { ...make(), id: deliveryId };
    sent.set(deliveryId, payload);
    return payload;
  }
  const replyText = (entry: FakeInteraction) => unescapeText(String(entry.callbacks[0]?.data?.content ?? ''));

  const driver: DiscordDriver = {
    fake,
    adapter,
    deliver,
    botUrl,
    signer,
    tenant: fake.guildId,
    channel: CHANNEL,
    port: adapter.port,
    async command(user, channel, text): Promise<CommandReply> {
      const [sub = 'help', ...rest] = text.split(' ');
      const entry = await deliver(commandInteraction(fake, { user, channel }, sub, rest.join(' ')));
      const first = entry.callbacks[0]!;
      if (first.type === 5) await until('the deferred answer', async () => (entry.original?.edits ?? 0) > 0, 20_000);
      const isEphemeral = ((first.data?.flags ?? 0) & MessageFlags.Ephemeral) !== 0;
      const textShown = first.type === 5 ? unescapeText(entry.original!.content) : replyText(entry);
      return { visibility: isEphemeral ? 'ephemeral' : 'channel', notice: { text: textShown } };
    },
    async click(user, card, action: ReviewAction, opts = {}): Promise<ActionReply> {
      const [, channel, id] = card.messageRef.split(':') as [string, string, string];
      const message = fake.messages.find((m) => m.id === id);
      if (!message) throw new Error(`no message ${id}`);
      const payload = once(opts.deliveryId, () =>
        buttonInteraction(
          fake,
          { user, channel },
          fake.toApi(message),
          buttonId(action, opts.version ?? card.version, opts.reviewRef ?? card.reviewRef),
        ),
      );
      const entry = await deliver(payload);
      if (action === 'approve') await decided(payload.id);
      const first = entry.callbacks[0]!;
      if (first.type === 9) return { kind: 'open_editor', form: formOf(first.data!) };
      if (first.type === 4) return { kind: 'ephemeral', notice: { text: replyText(entry) } };
      const followUp = entry.followUps.find((m) => m.isEphemeral);
      return followUp ? { kind: 'ephemeral', notice: { text: unescapeText(followUp.content) } } : { kind: 'ok' };
    },
    async submit(user, form, fields, opts = {}): Promise<SubmissionReply> {
      const values: Record<string, string> = {};
      for (const [name, value] of Object.entries(fields)) {
        for (let i = 0; i * 4_000 < Math.max(1, value.length); i++)
          values[`${name}#${i}`] = value.slice(i * 4_000, (i + 1) * 4_000);
      }
      const payload = once(opts.deliveryId, () =>
        modalInteraction(fake, { user, channel: CHANNEL }, modalId(form.purpose, form.version, form.reviewRef), values),
      );
      const entry = await deliver(payload);
      const text = replyText(entry);
      return text.startsWith('Not saved:')
        ? { kind: 'errors', errors: { _: text } }
        : { kind: 'ok', ...(text ? { notice: { text } } : {}) };
    },
    async cards(channel) {
      const seen = fake
        .inChannel(channel)
        .filter((m) => !m.replyTo)
        .map(toSeenCard)
        .filter((c): c is SeenCard => c !== null);
      // As on Slack: a card counts as shown once the desk recorded it (or moved on from it).
      const recorded = await sql<
        { ref: string }[]
      >`SELECT card_ref AS ref FROM reviews WHERE card_ref = ANY(${seen.map((c) => c.messageRef)})`;
      const refs = new Set(recorded.map((r) => r.ref));
      return seen.filter((c) => refs.has(c.messageRef) || c.status !== 'pending');
    },
    async thread(messageRef) {
      const [, channel, id] = messageRef.split(':') as [string, string, string];
      return fake
        .inChannel(channel)
        .filter((m) => m.replyTo === id)
        .map((m) => shown(m.content));
    },
    async dms(user) {
      return fake.inChannel(`D${user}`).map((m) => shown(m.content));
    },
    async setGroups(user, groups) {
      fake.setRoles(user, groups);
    },
    async deleteMessage(messageRef) {
      fake.deleteMessage(messageRef.split(':')[2]!);
    },
    failGroupLookups(isFailing) {
      fake.faults.failRoles = isFailing;
    },
    async close() {
      await adapter.port.stop();
      await http.close();
      await fake.close();
    },
  };
  async function decided(id: string): Promise<void> {
    await until(`click ${id} decided`, async () => {
      const [row] = await sql<
        { done: boolean }[]
      >`SELECT done_at IS NOT NULL AS done FROM inbox WHERE source = 'discord:click' AND key = ${id}`;
      return !row || row.done;
    });
  }
  return driver;
}
