/**
 * The review desk: human review as a first-class part of the engine (DESIGN §5).
 * A flow invokes a named review; the engine runs its opening job here, which
 * stores the review and queues its card, reminders, escalation and expiry as
 * durable jobs in one transaction. The run then waits with no job at all: the
 * decision (./clicks.ts) or the expiry delivers `review.approved`,
 * `review.rejected` or `review.expired` to it inside the transaction that
 * records it (./outcomes.ts), through the engine's `RunTx`. Chat work goes through the `ChatPort`
 * of the platform the run came from. The desk holds no state of its own: every
 * fact is a row, so any process can pick up any review.
 *
 * Over 300 lines on purpose: it is the one place that turns rows into chat work
 * (post, update, thread, notify, remind, escalate, expire, repost, run notices);
 * policy, cards, clicks, outcomes and budget reviews already live beside it.
 */
import { randomUUID } from 'node:crypto';
import type { ChatPlatform, InboundCommand, MessageRef } from '../chat/messages.ts';
import type { ChatHandlers, ChatPort, CommandReply, Notice } from '../chat/port.ts';
import type { ReviewHost, RunGateway, RunTx } from '../engine/engine.ts';
import { permanentError, type Flow, type StepDefinition } from '../engine/flow.ts';
import { SignoffError } from '../errors.ts';
import { noCrashpoint, type Crashpoint } from '../ops/crashpoint.ts';
import { silentLogger, type Logger } from '../ops/log.ts';
import { Metrics } from '../ops/metrics.ts';
import type { Db, Sql } from '../store/client.ts';
import { enqueueJobs, type ClaimedJob } from '../store/jobs.ts';
import { runCost } from '../store/ledger.ts';
import {
  budgetReviewsOf,
  clearCardRef,
  insertReview,
  listAbandonedReviews,
  lockReview,
  pendingReviewsOfRun,
  readReview,
  readReviewByJob,
  setCardRef,
  type NewReview,
  type ReviewRow,
} from '../store/reviews.ts';
import { readRun } from '../store/runs.ts';
import {
  approvalSha256,
  buildCard,
  clockUtc,
  joinMentions,
  reviewRequestSchema,
  reviewState,
  type DescribedAction,
  type ReviewRequest,
} from './card.ts';
import { Clicks } from './clicks.ts';
import {
  CHAT_JOB,
  chatJob,
  outcomeEvent,
  recordChange,
  type Change,
  type ChatJobName,
  type ReviewTx,
  SYSTEM_ACTOR,
} from './outcomes.ts';
import { budgetReview, type Spent } from './budget.ts';
import { applyExpiry, type ReviewPolicy } from './policy.ts';

export interface DeskOptions {
  sql: Sql;
  /** The engine's flows, for each review's policy. */
  flows: Iterable<Flow<any>>;
  ports: ReadonlyMap<ChatPlatform, ChatPort>;
  /** Platform for runs that did not come from chat (webhooks, schedules, the API). */
  defaultPlatform: ChatPlatform;
  /** Channel for their cards. */
  defaultChannel: string;
  /**
   * Describes a tool call a review proposes (`{ tool, input }`): method, host,
   * the fields it sends (src/steps/tools). Without it, reviews must pass an
   * already described action.
   */
  describeAction?: (tool: string, input: unknown) => Promise<Omit<DescribedAction, 'input'>>;
  log?: Logger;
  /** Named crash points (src/ops/crashpoint.ts), tests only. Default: none. */
  crashpoint?: Crashpoint;
  /** Where time to decision is observed (GET /metrics). Default: a registry of its own, never scraped. */
  metrics?: Metrics;
}

export class ReviewDesk implements ReviewHost {
  readonly systemJobs: ReadonlyMap<string, StepDefinition>;
  private readonly flows = new Map<string, Flow<any>>();
  private readonly clicks: Clicks;
  private readonly log: Logger;
  private readonly metrics: Metrics;
  private runs: RunGateway | null = null;
  private sweeper: NodeJS.Timeout | null = null;

  constructor(private readonly o: DeskOptions) {
    for (const flow of o.flows) this.flows.set(flow.id, flow);
    this.log = o.log ?? silentLogger;
    this.metrics = o.metrics ?? new Metrics();
    this.clicks = new Clicks({
      sql: o.sql,
      portOf: (p) => this.portOf(p),
      log: this.log,
      transaction: (fn) => this.transaction(fn),
    });
    const jobs: Record<ChatJobName | 'run.notice', (input: any) => Promise<void>> = {
      'review.post-card': (i) => this.postCard(i.reviewId, i.repost ?? 0),
      'review.update-card': (i) => this.updateCard(i.reviewId),
      'review.thread': (i) => this.replyInThread(i.reviewId, i.notice, i.key),
      'review.notify': (i) => this.notify(i.reviewId, i.user, i.notice, i.key),
      'review.remind': (i) => this.remind(i.reviewId, i.index),
      'review.escalate': (i) => this.escalate(i.reviewId),
      'review.expire': (i) => this.expire(i.reviewId),
      'run.notice': (i) => this.postRunNotice(i.runId, i.text, i.key),
    };
    this.systemJobs = new Map(
      Object.entries(jobs).map(([name, run]) => [
        name,
        {
          run: (input: any, ctx: { idempotencyKey: string }) => run({ ...input, key: ctx.idempotencyKey }),
          timeoutMs: 15_000,
          maxAttempts: 8,
          backoffMs: 1_000,
        },
      ]),
    );
  }

  /** Starts the sweep that closes reviews their flow moved on from (every `everyMs`, default 2 s). */
  start(everyMs = 2_000): void {
    this.sweeper ??= setInterval(() => {
      this.closeAbandoned().catch((err: unknown) =>
        this.log.warn('closing abandoned reviews failed; will retry', { error: (err as Error).message }),
      );
    }, everyMs);
    this.sweeper.unref();
  }

  stop(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
  }

  /** Inbound chat traffic: commands go to `command`, clicks and dialogs to the review desk. */
  handlers(command: (cmd: InboundCommand) => Promise<CommandReply>): ChatHandlers {
    return { command, action: (a) => this.clicks.action(a), submission: (s) => this.clicks.submission(s) };
  }

  /** The engine this desk serves; its transactions carry decisions to the runs. */
  attach(runs: RunGateway): void {
    this.runs = runs;
  }

  /** The engine's transaction; the outcomes it records are observed once it has committed. */
  private async transaction<T>(fn: (rt: RunTx) => Promise<T>): Promise<T> {
    if (!this.runs) throw new SignoffError('step_not_found', 'the review desk is not attached to an engine');
    const outcomes: ReviewRow[] = [];
    const result = await this.runs.transaction((rt) => {
      const told: ReviewTx = { ...rt, onOutcome: (review) => void outcomes.push(review) };
      return fn(told);
    });
    for (const r of outcomes) {
      // A cancelled review was closed by its run, not decided by anyone.
      if (r.status !== 'cancelled' && r.decided_at)
        this.metrics.reviewDecided(r.flow, r.status, (r.decided_at.getTime() - r.created_at.getTime()) / 1000);
    }
    return result;
  }

  /**
   * A run invoked one of its flow's reviews: store it and queue its card and
   * timed jobs, all in one transaction (a retry after a crash finds the review
   * and stops). A legacy review decided while its job slept hands its outcome over here.
   */
  async openWait(job: ClaimedJob): Promise<void> {
    const row = await this.reviewOf(job);
    await this.transaction(async (rt) => {
      const existing = await readReviewByJob(rt.sql, job.key);
      if (existing && existing.status !== 'pending' && existing.status !== 'cancelled') {
        await rt.deliver(existing.run_id, outcomeEvent(existing, existing.policy), {
          waitKey: job.key,
          dedupeKey: `review:${existing.id}`,
        });
        return;
      }
      if (existing) return;
      const where = await this.whereRunTalks(rt.sql, job.run_id);
      await this.scheduleReview(
        rt,
        await insertReview(rt.sql, { ...row, ...where, channel: row.channel ?? where.channel }),
      );
    });
  }

  /** The review row a job asks for, checked (and its tool call described) before anything is written. */
  private async reviewOf(
    job: ClaimedJob,
  ): Promise<Omit<NewReview, 'tenant' | 'platform' | 'channel' | 'requested_by'> & { channel: string | undefined }> {
    const flow = this.flows.get(job.flow);
    const policy = flow?.reviewPolicies.get(job.name) as ReviewPolicy | undefined;
    if (!flow || !policy) throw permanentError(`flow "${job.flow}" has no review "${job.name}"`);
    const parsed = reviewRequestSchema.safeParse(job.input);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; ');
      throw permanentError(`review "${job.name}" was requested with invalid input: ${problems}`);
    }
    const { channel, content, ...request } = parsed.data;
    const shown = {
      ...request,
      ...(request.proposedAction ? { proposedAction: await this.described(job, request.proposedAction) } : {}),
    };
    return {
      id: randomUUID(),
      run_id: job.run_id,
      flow: flow.id,
      job_key: job.key,
      name: job.name,
      channel,
      policy,
      request: shown,
      content,
      content_sha256: approvalSha256(content, shown),
      expiresInMs: policy.expiresInMs ?? null,
    };
  }

  /** A proposed tool call as its tool describes it, input kept (the approval's hash covers it). */
  private async described(
    job: ClaimedJob,
    action: NonNullable<ReviewRequest['proposedAction']>,
  ): Promise<DescribedAction> {
    if ('method' in action) return action;
    if (!this.o.describeAction)
      throw permanentError(`review "${job.name}" names tool "${action.tool}", but no tool can describe it here`);
    try {
      return { ...(await this.o.describeAction(action.tool, action.input)), input: action.input };
    } catch (err) {
      throw permanentError(
        `review "${job.name}" proposes a call of "${action.tool}" that cannot be described: ${(err as Error).message}`,
        err,
      );
    }
  }

  /** Where a run's cards and notices go: the chat it came from, else the default channel. */
  private async whereRunTalks(
    db: Db,
    runId: string,
  ): Promise<{ tenant: string; platform: string; channel: string; requested_by: string }> {
    const run = await readRun(db, runId);
    if (!run) throw permanentError(`run ${runId} is gone`);
    const trigger = run.trigger as { source?: string; actor?: string; channel?: string; tenant?: string };
    const isChat = trigger.source !== undefined && this.o.ports.has(trigger.source as ChatPlatform);
    return {
      tenant: trigger.tenant ?? 'local',
      platform: isChat ? trigger.source! : this.o.defaultPlatform,
      channel: (isChat ? trigger.channel : undefined) ?? this.o.defaultChannel,
      requested_by: trigger.actor ?? SYSTEM_ACTOR,
    };
  }

  /** Queues a message to a run's channel (a paused run), inside the caller's transaction. */
  async tellRun(tx: Db, runId: string, text: string): Promise<void> {
    const [run] = await tx<{ flow: string }[]>`SELECT flow FROM runs WHERE id = ${runId}`;
    if (!run) return;
    await enqueueJobs(tx, [
      {
        key: `run:${runId}:notice:${randomUUID()}`,
        runId,
        flow: run.flow,
        kind: 'system',
        name: 'run.notice',
        input: { runId, text },
        delayMs: 0,
        ...CHAT_JOB,
      },
    ]);
  }

  private async postRunNotice(runId: string, text: string, key: string): Promise<void> {
    const where = await this.whereRunTalks(this.o.sql, runId);
    await this.portOf(where.platform).postMessage(where.channel, { text }, { idempotencyKey: key });
  }

  /**
   * A step asked a person a question (src/engine/worker.ts sets its job waiting
   * in `tx`): today the one question is a run over its budget (./budget.ts).
   */
  async askAboutJob(tx: Db, job: ClaimedJob, question: { kind: string } & Record<string, unknown>): Promise<void> {
    if (question.kind !== 'budget') throw permanentError(`the review desk cannot ask "${question.kind}" questions`);
    const earlier = await budgetReviewsOf(tx, job.key);
    const where = await this.whereRunTalks(tx, job.run_id);
    const review = await insertReview(
      tx,
      budgetReview(job, question as unknown as Spent, this.flows.get(job.flow), where, earlier.count + 1),
    );
    await this.scheduleReview(this.rawTx(tx), review);
  }

  /** A transaction opened by someone else (the worker), for writes that deliver nothing to runs. */
  private rawTx(tx: Db): RunTx {
    const refuse = async (): Promise<never> => {
      throw new SignoffError('step_failed', 'this transaction cannot move runs on');
    };
    return { sql: tx, deliver: refuse, start: refuse, resumeJob: refuse };
  }

  /** Queues the card and the timed jobs (each has a fixed key) and audits the request once, inside `rt`. */
  private async scheduleReview(rt: RunTx, review: ReviewRow): Promise<void> {
    const policy = review.policy as ReviewPolicy;
    const jobs = [chatJob(review, 'review.post-card', 'card-post', {})];
    const expiresInMs = policy.expiresInMs;
    if (expiresInMs !== undefined) {
      // Times are offsets from creation; each job re-checks the stored expiry on the DB clock.
      const at = (offsetMs: number) => Math.max(0, expiresInMs - offsetMs);
      (policy.remindAtMs ?? []).forEach((ms, index) =>
        jobs.push(chatJob(review, 'review.remind', `remind:${index}`, { index }, at(ms))),
      );
      if (policy.escalateTo)
        jobs.push(chatJob(review, 'review.escalate', 'escalate', {}, at(policy.escalateAtMs ?? 0)));
      jobs.push(chatJob(review, 'review.expire', 'expire', {}, at(0) + 20));
    }
    await enqueueJobs(rt.sql, jobs);
    const locked = await lockReview(rt.sql, review.id);
    await recordChange(rt, locked!.review, policy, {
      actor: review.requested_by,
      action: 'request',
      outcome: 'accepted',
      now: locked!.now,
      deliveryId: 'request',
    });
  }

  /** Closes a cancelled run's pending reviews in the cancelling transaction. */
  async cancelReviews(tx: Db, runId: string, actor: string | null): Promise<void> {
    for (const pending of await pendingReviewsOfRun(tx, runId))
      await this.close(this.rawTx(tx), pending.id, actor ?? 'signoff');
  }

  /** Closes pending reviews whose flow moved on without them (a timeout, a cancel): run by the sweeper. */
  async closeAbandoned(): Promise<number> {
    const ids = await listAbandonedReviews(this.o.sql, 100);
    for (const id of ids) await this.transaction((rt) => this.close(rt, id, 'signoff'));
    return ids.length;
  }

  private async close(rt: RunTx, reviewId: string, actor: string): Promise<void> {
    const locked = await lockReview(rt.sql, reviewId);
    if (!locked || locked.review.status !== 'pending') return;
    await recordChange(rt, locked.review, locked.review.policy, {
      actor,
      action: 'cancel',
      outcome: 'accepted',
      now: locked.now,
      deliveryId: 'cancel',
      patch: { status: 'cancelled' },
      ...(actor !== SYSTEM_ACTOR ? { thread: { text: `Cancelled by ${mentionOf(actor)}.` } } : {}),
    });
  }

  /**
   * Posts a run's pending review cards again, as new messages (RELIABILITY 59: the
   * first was deleted or its channel archived). Clicks on an old card are refused
   * from then on: they no longer name the card of record. Returns how many.
   */
  async repostCards(runId: string, opts: { actor: string }): Promise<number> {
    const pending = await pendingReviewsOfRun(this.o.sql, runId);
    for (const review of pending) {
      await this.transaction(async (rt) => {
        const locked = await lockReview(rt.sql, review.id);
        if (!locked || locked.review.status !== 'pending') return;
        await clearCardRef(rt.sql, review.id);
        await recordChange(rt, locked.review, locked.review.policy, {
          actor: opts.actor,
          action: 'repost',
          outcome: 'accepted',
          now: locked.now,
        });
        await enqueueJobs(rt.sql, [
          chatJob(locked.review, 'review.post-card', `card-post:${locked.review.seq}`, { repost: locked.review.seq }),
        ]);
      });
    }
    return pending.length;
  }

  private async postCard(reviewId: string, repost: number): Promise<void> {
    const review = await this.mustRead(reviewId);
    const port = this.portOf(review.platform);
    const key = repost > 0 ? `review:${review.id}:card:${repost}` : `review:${review.id}:card`;
    (this.o.crashpoint ?? noCrashpoint)('before-card-post');
    const ref = await port.postCard(
      review.channel,
      buildCard(review, review.policy, await runCost(this.o.sql, review.run_id)),
      { idempotencyKey: key },
    );
    // A decision may have landed while we posted: show it if so.
    if ((await setCardRef(this.o.sql, review.id, ref)) !== review.seq) await this.updateCard(review.id);
  }

  private async updateCard(reviewId: string): Promise<void> {
    const review = await this.mustRead(reviewId);
    if (!review.card_ref) return; // not posted yet: the post renders the latest state
    await this.portOf(review.platform).updateCard(
      review.card_ref as MessageRef,
      buildCard(review, review.policy, await runCost(this.o.sql, review.run_id)),
    );
  }

  private async replyInThread(reviewId: string, notice: Notice, key: string): Promise<void> {
    const review = await this.mustRead(reviewId);
    if (!review.card_ref) throw new SignoffError('step_failed', 'the card is not posted yet; the reply will follow it');
    await this.portOf(review.platform).replyInThread(review.card_ref as MessageRef, notice, { idempotencyKey: key });
  }

  private async notify(reviewId: string, user: string, notice: Notice, key: string): Promise<void> {
    const review = await this.mustRead(reviewId);
    await this.portOf(review.platform).notifyUser(review.tenant, user, notice, { idempotencyKey: key });
  }

  private async remind(reviewId: string, index: number): Promise<void> {
    await this.timed(reviewId, `remind:${index}`, (review, policy, now) => {
      if (review.reminders_sent > index) return null;
      const left = review.expires_at ? ` It expires at ${clockUtc(review.expires_at)}.` : '';
      const who = policy.approvers.users?.length ? ` ${joinMentions(policy.approvers.users)}` : '';
      return {
        action: 'remind',
        patch: { reminders_sent: index + 1 },
        thread: { text: `Reminder:${who} this review is still waiting.${left}` },
        now,
      };
    });
  }

  private async escalate(reviewId: string): Promise<void> {
    await this.timed(reviewId, 'escalate', (review, policy, now) => {
      if (review.is_escalated || !policy.escalateTo) return null;
      const users = policy.escalateTo.users ?? [];
      const groups = (policy.escalateTo.groups ?? []).join(', ');
      const to = [users.length ? joinMentions(users) : '', groups].filter(Boolean).join(' and ');
      const notice = {
        text: `Escalated to ${to}: "${(review.request as { title: string }).title}" has not been decided (run ${review.run_id}).`,
      };
      return {
        action: 'escalate',
        patch: { is_escalated: true },
        thread: notice,
        dms: users.map((user) => ({ user, notice })),
        now,
      };
    });
  }

  private async expire(reviewId: string): Promise<void> {
    await this.timed(reviewId, 'expire', (review, policy, now) => {
      const next = applyExpiry(policy, reviewState(review), now.toISOString());
      if (next.status === 'pending') {
        const waitMs = (review.expires_at?.getTime() ?? now.getTime()) - now.getTime();
        throw Object.assign(new SignoffError('step_failed', 'not yet expired'), { retryAfterMs: Math.max(50, waitMs) });
      }
      return { action: 'expire', patch: { status: next.status }, now };
    });
  }

  /** A timed job: under the lock, on a still-pending review, record what `decide` returns (once, by its key). */
  private async timed(
    reviewId: string,
    key: string,
    decide: (r: ReviewRow, p: ReviewPolicy, now: Date) => Omit<Change, 'actor' | 'outcome'> | null,
  ): Promise<void> {
    await this.transaction(async (rt) => {
      const locked = await lockReview(rt.sql, reviewId);
      if (!locked || locked.review.status !== 'pending') return;
      const change = decide(locked.review, locked.review.policy, locked.now);
      if (!change) return;
      await recordChange(rt, locked.review, locked.review.policy, {
        ...change,
        actor: 'signoff',
        outcome: 'accepted',
        deliveryId: key,
      });
    });
  }

  private portOf(platform: string): ChatPort {
    const port = this.o.ports.get(platform as ChatPlatform);
    if (!port) throw permanentError(`no chat adapter for "${platform}" is running`);
    return port;
  }

  private async mustRead(reviewId: string): Promise<ReviewRow> {
    const review = await readReview(this.o.sql, reviewId);
    if (!review) throw permanentError(`review ${reviewId} is gone`);
    return review;
  }
}

/** A chat user as a mention; an operator's `cli:<user>` (the signoff CLI) is no chat user, so it is named as is. */
function mentionOf(actor: string): string {
  return actor.startsWith('cli:') ? `${actor.slice(4)} (signoff CLI)` : `<@${actor}>`;
}
