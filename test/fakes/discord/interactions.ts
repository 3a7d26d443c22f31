/**
 * Interactions as Discord delivers them, typed with discord-api-types so the
 * real client reads every field it expects: a `/signoff` chat-input command,
 * a button click on a message, a modal submission. And the Ed25519 signer
 * of HTTP interactions (interactions/overview.mdx "Setting Up an Endpoint"):
 * `X-Signature-Ed25519` over `X-Signature-Timestamp + raw body`, a key pair
 * made here with node:crypto.
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import {
  ApplicationCommandOptionType,
  ApplicationCommandType,
  ComponentType,
  InteractionType,
  type APIChatInputApplicationCommandInteraction,
  type APIInteraction,
  type APIInteractionGuildMember,
  type APIMessageComponentButtonInteraction,
  type APIModalSubmitInteraction,
  type APIUser,
} from 'discord-api-types/v10';
import { snowflake, type FakeDiscord } from './rest.ts';

type Body = Record<string, any>;

export interface Where {
  user: string;
  channel: string;
  isDm?: boolean;
}

function user(id: string): APIUser {
  return { id, username: id, discriminator: '0', global_name: id, avatar: null };
}

/** Guild interactions carry `member` (with its role ids and `member.user`); DMs carry `user` only. */
function who(fake: FakeDiscord, w: Where): Body {
  if (w.isDm) return { user: user(w.user), context: 1 };
  const member: APIInteractionGuildMember = {
    user: user(w.user),
    roles: fake.memberRoles.get(w.user) ?? [],
    joined_at: new Date().toISOString(),
    deaf: false,
    mute: false,
    permissions: '0',
    flags: 0 as never,
  };
  return {
    member,
    guild_id: fake.guildId,
    guild: { id: fake.guildId, features: [], locale: 'en-US' },
    guild_locale: 'en-US',
    context: 0,
  };
}

function base(fake: FakeDiscord, w: Where): Body {
  return {
    id: snowflake(),
    application_id: fake.applicationId,
    token: `itok-${snowflake()}`,
    version: 1,
    locale: 'en-US',
    app_permissions: '0',
    entitlements: [],
    authorizing_integration_owners: {},
    attachment_size_limit: 8_388_608,
    channel: { id: w.channel, type: w.isDm ? 1 : 0 },
    channel_id: w.channel,
    ...who(fake, w),
  };
}

/** `/signoff <sub> text:<rest>` as a chat-input command. */
export function commandInteraction(
  fake: FakeDiscord,
  w: Where,
  sub: string,
  text: string,
): APIChatInputApplicationCommandInteraction {
  const options = text ? [{ name: 'text', type: ApplicationCommandOptionType.String as const, value: text }] : [];
  return {
    ...base(fake, w),
    type: InteractionType.ApplicationCommand,
    data: {
      id: snowflake(),
      name: 'signoff',
      type: ApplicationCommandType.ChatInput,
      options: [{ name: sub, type: ApplicationCommandOptionType.Subcommand, options }],
    },
  } as unknown as APIChatInputApplicationCommandInteraction;
}

/** A click on a button (`customId`) of the posted message `message` (as the API returns it). */
export function buttonInteraction(
  fake: FakeDiscord,
  w: Where,
  message: Body,
  customId: string,
): APIMessageComponentButtonInteraction {
  return {
    ...base(fake, w),
    type: InteractionType.MessageComponent,
    message: message as never,
    data: { custom_id: customId, component_type: ComponentType.Button },
  } as unknown as APIMessageComponentButtonInteraction;
}

/** A submitted modal: each value in a Label's text input, under the input's custom_id. */
export function modalInteraction(
  fake: FakeDiscord,
  w: Where,
  customId: string,
  values: Record<string, string>,
): APIModalSubmitInteraction {
  const components = Object.entries(values).map(([id, value]) => ({
    type: ComponentType.Label as const,
    id: 1,
    component: { type: ComponentType.TextInput as const, id: 2, custom_id: id, value },
  }));
  return {
    ...base(fake, w),
    type: InteractionType.ModalSubmit,
    data: { custom_id: customId, components },
  } as unknown as APIModalSubmitInteraction;
}

export interface Signer {
  publicKeyHex: string;
  headers(body: string, timestampSeconds?: number): Record<string, string>;
}

/** A fresh Ed25519 key pair; `headers` signs a body the way Discord does. */
export function makeSigner(): Signer {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  return { publicKeyHex: raw.toString('hex'), headers: (body, ts) => signedHeaders(privateKey, body, ts) };
}

function signedHeaders(
  key: KeyObject,
  body: string,
  timestampSeconds = Math.floor(Date.now() / 1_000),
): Record<string, string> {
  const ts = String(timestampSeconds);
  return {
    'content-type': 'application/json',
    'x-signature-timestamp': ts,
    'x-signature-ed25519': sign(null, Buffer.from(ts + body), key).toString('hex'),
  };
}

/** POSTs a signed interaction to the bot's endpoint; returns the HTTP answer. */
export async function postInteraction(
  url: string,
  signer: Signer,
  payload: APIInteraction | Body,
): Promise<{ status: number; body: Body | null }> {
  const body = JSON.stringify(payload);
  const res = await fetch(url, { method: 'POST', headers: signer.headers(body), body });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Body) : null };
}
