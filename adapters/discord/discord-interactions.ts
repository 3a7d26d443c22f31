/**
 * Interactions, whichever way they came (gateway or HTTP): translate, hand to
 * `ChatHandlers`, answer through the REST callback within Discord's 3 s. A
 * command and an Approve click are recorded in `inbox` by interaction id before
 * they are acknowledged, so a duplicate (a second process, a gateway resume, an
 * HTTP redelivery) starts nothing (RELIABILITY 16, 17, 54); a `40060` from a
 * second acknowledgement is quiet. Slow commands are deferred (type 5) and the
 * original edited (15). Edit opens its modal as the first response, from the
 * message itself when the desk is slow (19). No flow logic: the desk decides.
 */
import { InteractionResponseType, InteractionType, MessageFlags, type APIInteraction } from 'discord-api-types/v10';
import type { ActionReply, ChatHandlers, Notice } from '../../src/chat/port.ts';
import { withReference, type InboundAction } from '../../src/chat/messages.ts';
import { correlationId } from '../../src/ops/correlation.ts';
import type { Logger } from '../../src/ops/log.ts';
import { actorOf, toInboundAction, toInboundCommand, toInboundSubmission } from './discord-inbound.ts';
import { editorFromMessage, noticeBody, renderModal } from './discord-render.ts';
import type { DiscordRest } from './discord-rest.ts';
import type { DiscordStore } from './types.ts';

type Body = Record<string, any>;
/** What a handler may take before we answer (Discord's 3 s include the network both ways). */
const ANSWER_BUDGET_MS = 2_200;
/** Edit's modal must be the first response: past this, it is built from the message (RELIABILITY 19). */
const EDIT_BUDGET_MS = 1_200;
const SLOW = 'signoff is slow to record that right now. If nothing shows up in a moment, please try again.';
const NOT_RECORDED = 'signoff could not record that right now; please try again.';

/** Role ids each person showed in their latest interaction (null: a DM, which has no roles). */
export class Members {
  private readonly seen = new Map<string, string[] | null>();
  set(tenant: string, user: string, roleIds: string[] | null): void {
    this.seen.set(`${tenant}\u0000${user}`, roleIds);
  }
  get(tenant: string, user: string): string[] | null | undefined {
    return this.seen.get(`${tenant}\u0000${user}`);
  }
}

export interface InteractionContext {
  handlers(): ChatHandlers | null;
  rest: DiscordRest;
  store: DiscordStore;
  members: Members;
  log: Logger;
}

/** A recorded Approve click: the click, the clicker's roles, and the token to answer on. */
export interface RecordedClick {
  action: InboundAction;
  roleIds: string[] | null;
  interaction: APIInteraction;
}

type Settled<T> = { kind: 'value'; value: T } | { kind: 'error'; error: unknown } | { kind: 'slow'; late: Promise<T> };

async function within<T>(work: Promise<T>, budgetMs: number): Promise<Settled<T>> {
  let timer: NodeJS.Timeout | undefined;
  const slow = new Promise<Settled<T>>((resolve) => {
    timer = setTimeout(() => resolve({ kind: 'slow', late: work }), budgetMs);
  });
  const settled = work.then(
    (value): Settled<T> => ({ kind: 'value', value }),
    (error: unknown): Settled<T> => ({ kind: 'error', error }),
  );
  try {
    return await Promise.race([settled, slow]);
  } finally {
    clearTimeout(timer);
  }
}

const ephemeral = (notice: Notice): Body => ({
  type: InteractionResponseType.ChannelMessageWithSource,
  data: { ...noticeBody(notice), flags: MessageFlags.Ephemeral },
});

/** A failure told privately, with the correlation id (the interaction id) an operator finds in the log (RELIABILITY 78). */
const failure = (text: string): Body => ephemeral({ text: withReference(text, correlationId()) });

async function answer(ctx: InteractionContext, i: APIInteraction, body: Body): Promise<void> {
  const outcome = await ctx.rest.respond(i, body);
  // Another process (or an earlier delivery) answered it: nothing more to do (RELIABILITY 16).
  if (outcome === 'acknowledged')
    ctx.log.info('discord: interaction already acknowledged elsewhere', { interaction: i.id });
  if (outcome === 'expired')
    ctx.log.warn('discord: interaction expired before we answered (over 3 s)', { interaction: i.id, type: body.type });
}

/** Handles one interaction; never throws (a failure is told to the person when Discord still listens). */
export async function handleInteraction(
  ctx: InteractionContext,
  i: APIInteraction,
  decideLater: (click: RecordedClick) => void,
): Promise<void> {
  const who = actorOf(i);
  if (who) ctx.members.set(who.tenant, who.user, who.roleIds);
  try {
    if (i.type === InteractionType.ApplicationCommand) return await onCommand(ctx, i);
    if (i.type === InteractionType.ModalSubmit) return await onSubmission(ctx, i);
    if (i.type !== InteractionType.MessageComponent) return;
    const action = toInboundAction(i);
    if (action?.action === 'approve')
      return await onDecision(ctx, i, { action, roleIds: who?.roleIds ?? null, interaction: i }, decideLater);
    if (action) return await onAction(ctx, i, action);
  } catch (err) {
    ctx.log.error('discord interaction failed', { interaction: i.id, error: (err as Error).message });
  }
}

async function onCommand(ctx: InteractionContext, i: APIInteraction): Promise<void> {
  const cmd = toInboundCommand(i);
  const handlers = ctx.handlers();
  if (!cmd || !handlers) return answer(ctx, i, failure(NOT_RECORDED));
  const claimed = await within(ctx.store.claim(i.id), ANSWER_BUDGET_MS / 2);
  if (claimed.kind !== 'value') return answer(ctx, i, failure(claimed.kind === 'slow' ? SLOW : NOT_RECORDED));
  if (!claimed.value)
    return ctx.log.info('discord: duplicate command delivery; another process has it', { interaction: i.id });
  const work = handlers.command(cmd);
  const outcome = await within(work, ANSWER_BUDGET_MS / 2);
  if (outcome.kind === 'value') {
    const reply = outcome.value;
    return answer(
      ctx,
      i,
      reply.visibility === 'channel'
        ? { type: InteractionResponseType.ChannelMessageWithSource, data: noticeBody(reply.notice) }
        : ephemeral(reply.notice),
    );
  }
  if (outcome.kind === 'error') {
    ctx.log.error('discord command failed', { interaction: i.id, error: (outcome.error as Error).message });
    return answer(ctx, i, failure(`${NOT_RECORDED} Nothing was started.`));
  }
  // Slow: defer (type 5, "thinking"), then edit the original when the work ends (RELIABILITY 15).
  const isPublic = cmd.text.startsWith('run ');
  await answer(ctx, i, {
    type: InteractionResponseType.DeferredChannelMessageWithSource,
    data: isPublic ? {} : { flags: MessageFlags.Ephemeral },
  });
  // The initial response is out: the rest goes on after this returns (an HTTP delivery gets its 202 now).
  void outcome.late
    .catch(() => ({
      visibility: 'ephemeral' as const,
      notice: { text: withReference(`${NOT_RECORDED} Nothing was started.`, correlationId()) },
    }))
    .then((reply) => ctx.rest.followUp(i, noticeBody(reply.notice), { edit: true, key: `discord:command:${i.id}` }))
    .catch((err: unknown) =>
      ctx.log.warn('a slow discord command ended without an answer', {
        interaction: i.id,
        error: (err as Error).message,
      }),
    );
}

/** Approve: record, acknowledge (deferred update), then decide; a refusal is told privately, the card shows the rest. */
async function onDecision(
  ctx: InteractionContext,
  i: APIInteraction,
  click: RecordedClick,
  decideLater: (click: RecordedClick) => void,
): Promise<void> {
  if (!ctx.handlers()) return answer(ctx, i, failure(NOT_RECORDED));
  const recorded = await within(ctx.store.recordClick(i.id, click), ANSWER_BUDGET_MS);
  if (recorded.kind !== 'value') {
    if (recorded.kind === 'error')
      ctx.log.error('discord click not recorded', { interaction: i.id, error: (recorded.error as Error).message });
    return answer(ctx, i, failure(recorded.kind === 'slow' ? SLOW : NOT_RECORDED));
  }
  if (!recorded.value)
    return ctx.log.info('discord: duplicate click delivery; recorded already', { interaction: i.id });
  await answer(ctx, i, { type: InteractionResponseType.DeferredMessageUpdate });
  decideLater(click);
}

/** Decides a recorded click and tells the clicker when refused (a follow-up on the token, or the channel once it expired). */
export async function decideClick(ctx: InteractionContext, click: RecordedClick): Promise<void> {
  const handlers = ctx.handlers();
  if (!handlers) throw new Error('not started');
  ctx.members.set(click.action.tenant, click.action.user, click.roleIds);
  const reply = await handlers.action(click.action);
  if (reply.kind !== 'ephemeral') return;
  await ctx.rest
    .followUp(
      click.interaction,
      { ...noticeBody(reply.notice), flags: MessageFlags.Ephemeral },
      { edit: false, key: `discord:click:${click.interaction.id}` },
    )
    .catch((err: unknown) =>
      ctx.log.warn('could not tell a discord clicker the outcome', { error: (err as Error).message }),
    );
}

async function onAction(ctx: InteractionContext, i: APIInteraction, action: InboundAction): Promise<void> {
  const handlers = ctx.handlers();
  if (!handlers) return answer(ctx, i, failure(NOT_RECORDED));
  const outcome = await within(handlers.action(action), action.action === 'edit' ? EDIT_BUDGET_MS : ANSWER_BUDGET_MS);
  let reply: ActionReply;
  if (outcome.kind === 'value') reply = outcome.value;
  else if (outcome.kind === 'slow' && action.action === 'edit' && 'message' in i && i.message) {
    ctx.log.warn('discord: the desk is slow; opening the edit modal from the message', { interaction: i.id });
    reply = { kind: 'open_editor', form: editorFromMessage(i.message as Body, action.version, action.reviewRef) };
  } else {
    if (outcome.kind === 'error')
      ctx.log.error('discord click failed', { interaction: i.id, error: (outcome.error as Error).message });
    reply = {
      kind: 'ephemeral',
      notice: { text: withReference(outcome.kind === 'slow' ? SLOW : NOT_RECORDED, correlationId()) },
    };
  }
  if (reply.kind === 'open_editor')
    return answer(ctx, i, { type: InteractionResponseType.Modal, data: renderModal(reply.form) });
  if (reply.kind === 'ephemeral') return answer(ctx, i, ephemeral(reply.notice));
  return answer(ctx, i, { type: InteractionResponseType.DeferredMessageUpdate });
}

async function onSubmission(ctx: InteractionContext, i: APIInteraction): Promise<void> {
  const sub = toInboundSubmission(i);
  const handlers = ctx.handlers();
  if (!sub || !handlers)
    return answer(ctx, i, ephemeral({ text: 'This form could not be read; please open it again.' }));
  const outcome = await within(handlers.submission(sub), ANSWER_BUDGET_MS);
  if (outcome.kind !== 'value') {
    if (outcome.kind === 'error')
      ctx.log.error('discord dialog failed', { interaction: i.id, error: (outcome.error as Error).message });
    return answer(ctx, i, failure(outcome.kind === 'slow' ? SLOW : NOT_RECORDED));
  }
  const reply = outcome.value;
  // A modal cannot stay open with errors on Discord: the refusal (a stale version too, RELIABILITY 58) is told privately.
  if (reply.kind === 'errors')
    return answer(ctx, i, ephemeral({ text: `Not saved: ${Object.values(reply.errors).join(' ')}` }));
  if (reply.notice) return answer(ctx, i, ephemeral(reply.notice));
  return answer(ctx, i, { type: InteractionResponseType.DeferredMessageUpdate });
}
