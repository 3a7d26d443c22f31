/**
 * Pure: Discord interaction payloads (discord-api-types) to the neutral inbound
 * types, and message refs. The clicker is `member.user` in a guild and `user`
 * in a DM (nanocoai/nanoclaw#1932 lost DM clicks to this); a guild click's role
 * ids come from `member.roles`, a DM has none.
 */
import {
  ComponentType,
  InteractionType,
  type APIInteraction,
  type APIModalSubmitInteraction,
} from 'discord-api-types/v10';
import {
  makeMessageRef,
  parseMessageRef,
  type InboundAction,
  type InboundCommand,
  type InboundSubmission,
  type MessageRef,
  type ReviewAction,
} from '../../src/chat/messages.ts';

/** The tenant of a DM: no guild, no roles. */
export const DM_TENANT = '@me';
const ACTIONS: readonly ReviewAction[] = ['approve', 'reject', 'edit', 'delegate'];

/** Button custom_id: `so:<action>:<version>:<reviewRef>` (components/reference.mdx: at most 100 characters). */
export function buttonId(action: ReviewAction, version: number, reviewRef: string): string {
  return `so:${action}:${version}:${reviewRef}`;
}
/** Modal custom_id: `sm:<purpose>:<version>:<reviewRef>`; routed by id, so a submit survives a restart. */
export function modalId(purpose: InboundSubmission['purpose'], version: number, reviewRef: string): string {
  return `sm:${purpose}:${version}:${reviewRef}`;
}

function parseId(prefix: string, id: string): { name: string; version: number; reviewRef: string } | null {
  const m = new RegExp(`^${prefix}:([a-z]+):(\\d{1,9}):(.+)$`).exec(id);
  return m ? { name: m[1]!, version: Number(m[2]), reviewRef: m[3]! } : null;
}

export function discordRef(channel: string, messageId: string, rootId?: string): MessageRef {
  return rootId ? makeMessageRef('discord', channel, messageId, rootId) : makeMessageRef('discord', channel, messageId);
}

/** channel, message id, and the message a reply hangs under (itself for a top-level message). */
export function discordRefParts(ref: string): { channel: string; messageId: string; rootId: string } | null {
  try {
    const { platform, parts } = parseMessageRef(ref);
    if (platform !== 'discord' || parts.length < 2) return null;
    return { channel: parts[0]!, messageId: parts[1]!, rootId: parts[2] ?? parts[1]! };
  } catch {
    return null;
  }
}

/** Who acted, where, and the role ids the payload shows (null in a DM: no roles there). */
export function actorOf(
  i: APIInteraction,
): { tenant: string; user: string; channel: string; roleIds: string[] | null } | null {
  const user = i.member?.user?.id ?? i.user?.id;
  const channel = i.channel?.id ?? i.channel_id;
  if (!user || !channel) return null;
  return { tenant: i.guild_id ?? DM_TENANT, user, channel, roleIds: i.member ? i.member.roles : null };
}

/** `/signoff <sub> [text]` as the text a typed command would have: `run ticket-triage subject=…`. */
export function toInboundCommand(i: APIInteraction): InboundCommand | null {
  const who = actorOf(i);
  if (i.type !== InteractionType.ApplicationCommand || !who || i.data.name !== 'signoff') return null;
  const sub = (i.data as { options?: { name: string; options?: { name: string; value?: unknown }[] }[] }).options?.[0];
  if (!sub) return null;
  const rest = sub.options?.find((o) => o.name === 'text')?.value;
  const text = `${sub.name} ${typeof rest === 'string' ? rest : ''}`.trim();
  return { platform: 'discord', tenant: who.tenant, channel: who.channel, user: who.user, text, deliveryId: i.id };
}

export function toInboundAction(i: APIInteraction): InboundAction | null {
  const who = actorOf(i);
  if (i.type !== InteractionType.MessageComponent || !who || !i.message) return null;
  const id = parseId('so', i.data.custom_id);
  if (!id || !ACTIONS.includes(id.name as ReviewAction)) return null;
  return {
    platform: 'discord',
    tenant: who.tenant,
    channel: who.channel,
    user: who.user,
    reviewRef: id.reviewRef,
    action: id.name as ReviewAction,
    messageRef: discordRef(who.channel, i.message.id),
    version: id.version,
    deliveryId: i.id,
  };
}

/** A modal's text inputs joined back by field name (`text#0`, `text#1` … are one long draft). */
export function toInboundSubmission(i: APIInteraction): InboundSubmission | null {
  const who = actorOf(i);
  if (i.type !== InteractionType.ModalSubmit || !who) return null;
  const id = parseId('sm', i.data.custom_id);
  if (!id || !['edit', 'reject', 'delegate'].includes(id.name)) return null;
  const parts: { name: string; index: number; value: string }[] = [];
  for (const c of (i as APIModalSubmitInteraction).data.components) {
    const inputs =
      c.type === ComponentType.Label ? [c.component] : c.type === ComponentType.ActionRow ? c.components : [];
    for (const input of inputs) {
      if (input.type !== ComponentType.TextInput) continue;
      const [name = '', index = '0'] = input.custom_id.split('#');
      parts.push({ name, index: Number(index), value: input.value });
    }
  }
  const fields: Record<string, string> = {};
  for (const p of parts.sort((a, b) => a.index - b.index)) fields[p.name] = (fields[p.name] ?? '') + p.value;
  return {
    platform: 'discord',
    tenant: who.tenant,
    user: who.user,
    purpose: id.name as InboundSubmission['purpose'],
    reviewRef: id.reviewRef,
    version: id.version,
    fields,
    deliveryId: i.id,
  };
}
