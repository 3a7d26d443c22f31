/**
 * The Bolt listeners: translate (./slack-inbound.ts), hand to `ChatHandlers`,
 * show the answer, acknowledge. Persist, then acknowledge: each handler commits
 * before it resolves, and the ack waits for it, inside Slack's 3 s budget; past
 * the budget, or when the database is down, the person is told to try again
 * (RELIABILITY 1, 8). No flow logic here: who may do what is the desk's call.
 */
import type { App } from '@slack/bolt';
import Bottleneck from 'bottleneck';
import { withReference, type InboundAction } from '../../src/chat/messages.ts';
import type { ActionReply, ChatHandlers, CommandReply, Notice, SubmissionReply } from '../../src/chat/port.ts';
import { correlationId, withCorrelation } from '../../src/ops/correlation.ts';
import type { Logger } from '../../src/ops/log.ts';
import {
  COMMAND,
  mentionToCommand,
  toInboundAction,
  toInboundCommand,
  toInboundSubmission,
  unstorableFields,
} from './slack-inbound.ts';
import {
  ACTION_PREFIX,
  EDITOR_CALLBACK,
  editorErrors,
  noticeMessage,
  plainNotice,
  renderEditor,
} from './slack-render.ts';
import { slackErrorCode, type SlackWeb } from './slack-web.ts';
import type { SlackStore } from './types.ts';

/** What a handler may take before we answer "try again" (Slack's budget is 3 s, network included). */
const ANSWER_BUDGET_MS = 2_500;
/** Slack: a response_url takes 5 messages within 30 minutes. */
const RESPONSE_URL_USES = 5;
const RESPONSE_URL_MS = 30 * 60_000;

const SLOW = 'signoff is slow to record that right now. If nothing shows up in a moment, please try again.';
const NOT_RECORDED = 'signoff could not record that right now; please try again.';

type Body = Record<string, any>;
type Ack = (response?: unknown) => Promise<void>;

export interface ListenerContext {
  handlers(): ChatHandlers | null;
  web: SlackWeb;
  store: SlackStore;
  log: Logger;
  /** A named crash point (tests only; see SlackAdapterOptions.crashpoint). */
  crashpoint(name: string): void;
}

type Settled<T> = { kind: 'value'; value: T } | { kind: 'error'; error: unknown } | { kind: 'slow'; late: Promise<T> };

/** The handler's outcome, or `slow` once the budget is spent (the handler keeps going). */
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

/** A failure told privately, with the correlation id (Slack's trigger or event id) an operator finds in the log. */
function ephemeral(text: string): CommandReply {
  return { visibility: 'ephemeral', notice: { text: withReference(text, correlationId()) } };
}

function commandResponse(reply: CommandReply): Record<string, unknown> {
  return { response_type: reply.visibility === 'channel' ? 'in_channel' : 'ephemeral', ...noticeMessage(reply.notice) };
}

/**
 * Answers through an interaction's response_url; when it is used up (5 times),
 * expired (30 min) or failing, falls back to chat.postEphemeral / postMessage,
 * so the person still hears back (RELIABILITY 65).
 */
export class ResponseUrls {
  private readonly uses = new Map<string, { count: number; firstMs: number }>();

  constructor(
    private readonly web: SlackWeb,
    private readonly log: Logger,
  ) {}

  async send(url: string | undefined, to: { channel: string; user: string }, reply: CommandReply): Promise<void> {
    if (url && this.take(url)) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        signal: AbortSignal.timeout(5_000),
        body: JSON.stringify({ ...commandResponse(reply), replace_original: false }),
      }).catch(() => null);
      if (res?.ok) return;
      this.log.info('slack response_url refused the reply; falling back to the Web API', { status: res?.status ?? 0 });
    }
    const message = { channel: to.channel, ...noticeMessage(reply.notice), unfurl_links: false, unfurl_media: false };
    if (reply.visibility === 'ephemeral') await this.web.call('chat.postEphemeral', { ...message, user: to.user });
    else await this.web.call('chat.postMessage', message);
  }

  /** Counts a use; false when the url is spent or too old to work. */
  private take(url: string): boolean {
    const nowMs = Date.now();
    for (const [key, use] of this.uses) if (nowMs - use.firstMs > RESPONSE_URL_MS) this.uses.delete(key);
    const use = this.uses.get(url) ?? { count: 0, firstMs: nowMs };
    this.uses.set(url, { ...use, count: use.count + 1 });
    return use.count < RESPONSE_URL_USES && nowMs - use.firstMs < RESPONSE_URL_MS;
  }
}

/** The Events API events we subscribe to (manifest.yml `bot_events`; a test compares). */
export const BOT_EVENTS = ['app_mention'] as const;

/**
 * Mentions handled at once per process: each holds a pooled connection (its
 * event row's transaction) while its command takes another, so an unbounded
 * burst could take the whole pool and wait on itself.
 */
const MENTIONS_AT_ONCE = 4;

/**
 * Recorded clicks decided at once per process. Fewer than the pool, and few
 * enough that a burst's acks (one small commit each) are not starved of the
 * event loop by the decisions behind them.
 */
const DECISIONS_AT_ONCE = 4;

/** What a recorded click carries: the click, and where to answer it. */
interface RecordedClick {
  action: InboundAction;
  replyTo: ReplyTo;
}
interface ReplyTo {
  response_url?: string;
  trigger_id?: string;
  channel: { id: string };
  user: { id: string };
}

/** Decides recorded clicks and answers them; `replay` picks up those a dead process left. */
export interface ClickDecider {
  replay(olderThanMs: number): Promise<number>;
}

export function registerListeners(app: App, ctx: ListenerContext): ClickDecider {
  const replies = new ResponseUrls(ctx.web, ctx.log);
  const mentions = new Bottleneck({ maxConcurrent: MENTIONS_AT_ONCE });
  const decisions = new Bottleneck({ maxConcurrent: DECISIONS_AT_ONCE });
  // Under the click's trigger id, whether decided now or replayed by another process.
  const decide = (click: RecordedClick): Promise<void> =>
    withCorrelation(click.action.deliveryId, async () => {
      const handlers = ctx.handlers();
      if (!handlers) throw new Error('not started');
      const reply = await handlers.action(click.action);
      await showActionReply(ctx, replies, click.replyTo, reply).catch((err: unknown) =>
        ctx.log.warn('could not show a slack click reply', { error: (err as Error).message }),
      );
    });
  app.command(COMMAND, ({ body, ack }) => onCommand(ctx, replies, body, ack as Ack));
  app.action(new RegExp(`^${ACTION_PREFIX}approve$`), ({ body, ack }) =>
    onDecision(ctx, replies, body, ack as Ack, (click) => {
      void decisions
        .schedule(() => {
          ctx.crashpoint('slack-click-acked'); // recorded and acknowledged: the replay must decide it
          return decide(click);
        })
        .then(() => ctx.store.finishClick(click.action.deliveryId))
        .catch((err: unknown) =>
          ctx.log.error('a recorded slack click could not be decided yet; it will be replayed', {
            deliveryId: click.action.deliveryId,
            error: (err as Error).message,
          }),
        );
    }),
  );
  app.action(new RegExp(`^${ACTION_PREFIX}(reject|edit|delegate)$`), ({ body, ack }) =>
    onAction(ctx, replies, body, ack as Ack),
  );
  app.view(EDITOR_CALLBACK, ({ body, ack }) => onSubmission(ctx, body, ack as Ack));
  app.event(BOT_EVENTS[0], ({ body }) => mentions.schedule(() => onMention(ctx, body)));
  return {
    replay: (olderThanMs) => ctx.store.replayClicks(olderThanMs, 50, (payload) => decide(payload as RecordedClick)),
  };
}

/**
 * Approve: record the click, acknowledge, then decide (RELIABILITY 1). The ack
 * waits only for the inbox row, so a burst of clicks is acknowledged in
 * milliseconds; the decision follows at once, its refusal (if any) is answered
 * through the response_url, and the card update shows the outcome. A click
 * whose process dies in between is decided by `replay`, once (the desk dedupes
 * by delivery id).
 */
async function onDecision(
  ctx: ListenerContext,
  replies: ResponseUrls,
  body: Body,
  ack: Ack,
  decideLater: (click: RecordedClick) => void,
): Promise<void> {
  const action = toInboundAction(body);
  if (!action || !ctx.handlers()) return ack();
  const replyTo: ReplyTo = {
    channel: { id: String(body.channel?.id) },
    user: { id: String(body.user?.id) },
    ...(body.response_url ? { response_url: String(body.response_url) } : {}),
  };
  const click: RecordedClick = { action, replyTo };
  const outcome = await within(ctx.store.recordClick(action.deliveryId, click), ANSWER_BUDGET_MS);
  if (outcome.kind !== 'value') {
    if (outcome.kind === 'error')
      ctx.log.error('slack click not recorded', {
        deliveryId: action.deliveryId,
        error: (outcome.error as Error).message,
      });
    await ack();
    return replies
      .send(
        replyTo.response_url,
        { channel: replyTo.channel.id, user: replyTo.user.id },
        ephemeral(outcome.kind === 'slow' ? SLOW : NOT_RECORDED),
      )
      .catch((err: unknown) =>
        ctx.log.warn('could not tell a person their click was not recorded', { error: (err as Error).message }),
      );
  }
  await ack();
  if (outcome.value) decideLater(click); // a redelivered click was recorded (and is being decided) already
}

async function onCommand(ctx: ListenerContext, replies: ResponseUrls, body: Body, ack: Ack): Promise<void> {
  const cmd = toInboundCommand(body);
  const handlers = ctx.handlers();
  if (!cmd || !handlers) return ack(commandResponse(ephemeral(NOT_RECORDED)));
  const outcome = await within(handlers.command(cmd), ANSWER_BUDGET_MS);
  if (outcome.kind === 'value') ctx.crashpoint('slack-command-started'); // the run committed, no answer yet
  if (outcome.kind === 'value') return ack(commandResponse(outcome.value));
  if (outcome.kind === 'error') {
    ctx.log.error('slack command failed', { deliveryId: cmd.deliveryId, error: (outcome.error as Error).message });
    return ack(commandResponse(ephemeral(`${NOT_RECORDED} Nothing was started.`)));
  }
  await ack(commandResponse(ephemeral(SLOW)));
  // It did finish after all (a run, once, by its trigger key): say so, where they typed it.
  outcome.late
    .then((reply) => replies.send(cmd.responseRef, cmd, reply))
    .catch((err: unknown) =>
      ctx.log.warn('a slow slack command ended without an answer', {
        deliveryId: cmd.deliveryId,
        error: (err as Error).message,
      }),
    );
}

async function onAction(ctx: ListenerContext, replies: ResponseUrls, body: Body, ack: Ack): Promise<void> {
  const startedMs = Date.now();
  const action = toInboundAction(body);
  const handlers = ctx.handlers();
  if (!action || !handlers) return ack();
  const outcome = await within(handlers.action(action), ANSWER_BUDGET_MS);
  const reply: ActionReply =
    outcome.kind === 'value'
      ? outcome.value
      : { kind: 'ephemeral', notice: ephemeral(outcome.kind === 'slow' ? SLOW : NOT_RECORDED).notice };
  if (outcome.kind === 'error')
    ctx.log.error('slack click failed', { deliveryId: action.deliveryId, error: (outcome.error as Error).message });
  const followUp = showActionReply(ctx, replies, body, reply).catch((err: unknown) =>
    ctx.log.warn('could not show a slack click reply', { error: (err as Error).message }),
  );
  // Shown before the ack when it is quick; the ack never waits past the budget.
  await within(followUp, Math.max(0, ANSWER_BUDGET_MS - (Date.now() - startedMs)));
  await ack();
}

async function showActionReply(
  ctx: ListenerContext,
  replies: ResponseUrls,
  body: Body | ReplyTo,
  reply: ActionReply,
): Promise<void> {
  const to = { channel: String(body.channel?.id), user: String(body.user?.id) };
  if (reply.kind === 'ephemeral')
    return replies.send(body.response_url, to, { visibility: 'ephemeral', notice: reply.notice });
  if (reply.kind !== 'open_editor') return; // the card update shows what happened
  try {
    await ctx.web.call('views.open', { trigger_id: body.trigger_id, view: renderEditor(reply.form, to.channel) });
  } catch (err) {
    const code = slackErrorCode(err);
    // The trigger lives 3 s and opens one view (RELIABILITY 66): nothing changed, click again.
    const text =
      code === 'expired_trigger_id' || code === 'exchanged_trigger_id'
        ? 'That took too long to open. Please click the button again.'
        : 'Could not open the form; please try again.';
    if (!code) ctx.log.warn('slack views.open failed', { error: (err as Error).message });
    await replies.send(body.response_url, to, ephemeral(text));
  }
}

async function onSubmission(ctx: ListenerContext, body: Body, ack: Ack): Promise<void> {
  const parsed = toInboundSubmission(body);
  const handlers = ctx.handlers();
  const fail = (text: string, blockIds: string[]) =>
    ack({ response_action: 'errors', errors: editorErrors({ _: withReference(text, correlationId()) }, blockIds) });
  if (!parsed || !handlers)
    return fail('This form could not be read; please open it again.', Object.keys(body.view?.state?.values ?? {}));
  const unstorable = unstorableFields(parsed.submission.fields);
  if (Object.keys(unstorable).length > 0)
    return ack({ response_action: 'errors', errors: editorErrors(unstorable, parsed.blockIds) });
  const outcome = await within(handlers.submission(parsed.submission), ANSWER_BUDGET_MS);
  if (outcome.kind !== 'value') {
    if (outcome.kind === 'error') ctx.log.error('slack dialog failed', { error: (outcome.error as Error).message });
    return fail(outcome.kind === 'slow' ? SLOW : NOT_RECORDED, parsed.blockIds);
  }
  const reply: SubmissionReply = outcome.value;
  if (reply.kind === 'errors') {
    // A stale version lands here too (RELIABILITY 58): the modal stays open with the reason.
    const plain = Object.fromEntries(Object.entries(reply.errors).map(([name, text]) => [name, plainNotice({ text })]));
    return ack({ response_action: 'errors', errors: editorErrors(plain, parsed.blockIds) });
  }
  await ack();
  if (reply.notice) await tell(ctx, parsed.meta.c, parsed.submission.user, reply.notice);
}

async function tell(ctx: ListenerContext, channel: string, user: string, notice: Notice): Promise<void> {
  await ctx.web
    .call('chat.postEphemeral', { channel, user, ...noticeMessage(notice) })
    .catch((err: unknown) => ctx.log.warn('could not confirm a slack dialog', { error: (err as Error).message }));
}

/**
 * `@signoff status <run>` and the rest: the mention's text is a command. The
 * event id is recorded with the answer, once across processes; a retry of a
 * delivery that failed is processed again (RELIABILITY 6, 7, 12).
 */
async function onMention(ctx: ListenerContext, body: Body): Promise<void> {
  const event = body.event as Body;
  // Our own posts and other bots' never start anything: no loops (RELIABILITY 10).
  if (event.bot_id || event.subtype) return;
  const cmd = mentionToCommand(body);
  const handlers = ctx.handlers();
  if (!cmd) return;
  if (!handlers) throw new Error('not started yet');
  await ctx.store.onceEvent(cmd.deliveryId, async () => {
    ctx.crashpoint('slack-event-recorded'); // the inbox row is written, the command not run: Slack retries
    const reply = await handlers.command(cmd);
    const threadTs = String(event.thread_ts ?? event.ts);
    if (reply.visibility === 'ephemeral') {
      await ctx.web.call('chat.postEphemeral', {
        channel: cmd.channel,
        user: cmd.user,
        thread_ts: threadTs,
        ...noticeMessage(reply.notice),
      });
    } else {
      await ctx.web.postOnce(
        cmd.channel,
        { thread_ts: threadTs, ...noticeMessage(reply.notice) },
        `mention:${cmd.deliveryId}`,
      );
    }
  });
}
