/**
 * Executes jobs and fires timers. Work this process just committed is run at
 * once (it was inserted already leased to us); everything else (retries after
 * backoff, jobs of a dead worker, due timers) is claimed from Postgres with
 * SKIP LOCKED, woken by NOTIFY, a local timer for work we know is coming, or a
 * slow fallback poll. A step's outcome is fed back through the Committer.
 */
import { describeError, isSignoffError, type SignoffError } from '../errors.ts';
import { withCorrelation } from '../ops/correlation.ts';
import type { Logger } from '../ops/log.ts';
import type { Metrics } from '../ops/metrics.ts';
import type { Sql } from '../store/client.ts';
import {
  claimJobs,
  claimTimers,
  deferJob,
  finishJob,
  msUntilNextDue,
  releaseJobs,
  rescheduleJob,
  waitJob,
  type ClaimedJob,
  type ClaimedTimer,
} from '../store/jobs.ts';
import { appendNote } from '../store/runs.ts';
import type { Committer } from './commit.ts';
import { Executor, runAbortable, sleep } from './executor.ts';
import type { Flow, StepContext, StepOptions } from './flow.ts';
import { servicesFor, type ServicesFactory, type WaitHost } from './step-host.ts';

interface WorkerDeps {
  sql: Sql;
  owner: string;
  flows: ReadonlyMap<string, Flow<any>>;
  committer: Committer;
  log: Logger;
  metrics: Metrics;
  concurrency: number;
  pollMs: number;
  maxRecoveries: number;
  channel: string;
  crashpoints: ReadonlySet<string>;
  /** Handlers of `system` jobs by name (the review desk's chat work). */
  system: ReadonlyMap<string, Required<StepOptions>>;
  services: ServicesFactory | null;
  /** Asks people: opens the waits runs invoke, and the questions steps ask (`personNeeded`). */
  waits: WaitHost | null;
}

/** Rows claimed per query. */
const BATCH = 50;
/** How long a claimed timer is ours before another worker may fire it. */
const TIMER_LEASE_MS = 30_000;
const MAX_BACKOFF_MS = 300_000;
/** Waits for a rate limit that do not use up an attempt, per job; after these, each wait counts. */
const MAX_DEFERRALS = 50;

export class Worker {
  private readonly executor: Executor;
  private stopping = false;
  private loopDone: Promise<void> | null = null;
  private wakeNow: (() => void) | null = null;
  /** A wake arrived while the loop was claiming: claim once more before sleeping. */
  private isWakeWanted = false;
  /** The last claim took as many jobs as there were free slots: a slot freeing up is a reason to claim. */
  private wasSlotBound = false;
  private wakeTimer: NodeJS.Timeout | null = null;
  private wakeAt = Infinity;
  private unlisten: (() => Promise<void>) | null = null;

  constructor(private readonly d: WorkerDeps) {
    this.executor = new Executor(d.concurrency);
  }

  async start(): Promise<void> {
    const listener = await this.d.sql.listen(this.d.channel, () => this.wake());
    this.unlisten = () => listener.unlisten();
    this.loopDone = this.loop();
  }

  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    this.wake();
    await this.loopDone;
    const unfinished = await this.executor.drain(graceMs);
    const released = await releaseJobs(this.d.sql, this.d.owner, unfinished);
    if (released > 0) await this.d.sql.notify(this.d.channel, 'released');
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    await this.unlisten?.();
    this.d.log.info('worker stopped', { owner: this.d.owner, released });
  }

  /** Work this process just committed: jobs leased to us, and timers to wake for. */
  accept(jobs: ClaimedJob[], timerDelaysMs: number[]): void {
    for (const job of jobs) this.execute(job);
    for (const ms of timerDelaysMs) this.wakeIn(ms);
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      let isBusy = false;
      this.isWakeWanted = false;
      try {
        isBusy = await this.claimOnce();
      } catch (err) {
        this.d.log.error('claiming work failed; retrying', { error: describeError(err).message });
        await sleep(1_000);
      }
      if (!isBusy && !this.stopping) await this.idle();
    }
  }

  /** Claims one batch of due jobs and timers; true when there may be more. */
  private async claimOnce(): Promise<boolean> {
    const free = this.executor.free;
    const jobs = free > 0 ? await claimJobs(this.d.sql, this.d.owner, Math.min(free, BATCH)) : [];
    this.wasSlotBound = free < BATCH && jobs.length === free;
    for (const job of jobs) this.execute(job);
    const timers = await claimTimers(this.d.sql, this.d.owner, BATCH, TIMER_LEASE_MS);
    await Promise.all(timers.map((t) => this.fire(t)));
    return jobs.length === BATCH || timers.length === BATCH;
  }

  private async idle(): Promise<void> {
    const next = await msUntilNextDue(this.d.sql).catch(() => null);
    if (this.isWakeWanted || this.stopping) return;
    const ms = next === null ? this.d.pollMs : Math.min(this.d.pollMs, next + 5);
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.wakeNow = resolve;
      timer = setTimeout(resolve, ms);
    });
    clearTimeout(timer);
    this.wakeNow = null;
  }

  /**
   * Work may be due now (a NOTIFY, a local commit, a freed slot). A wake that
   * arrives while the loop is claiming is remembered, not lost: the loop claims
   * again before it sleeps. Polling is only the safety net.
   */
  private wake(): void {
    this.isWakeWanted = true;
    this.wakeNow?.();
  }

  /** Wakes the loop in `ms` (keeps only the earliest pending wake). */
  private wakeIn(ms: number): void {
    const at = Date.now() + ms;
    if (ms > this.d.pollMs || at >= this.wakeAt) return;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeAt = at;
    this.wakeTimer = setTimeout(() => {
      this.wakeAt = Infinity;
      this.wakeTimer = null;
      this.wake();
    }, ms + 5);
  }

  private execute(job: ClaimedJob): void {
    const opts =
      job.kind === 'system' ? this.d.system.get(job.name) : this.d.flows.get(job.flow)?.stepOptions.get(job.name);
    if (job.recoveries > this.d.maxRecoveries) {
      void this.parkRun(job, `step "${job.child_id ?? job.name}" crashed its worker ${job.recoveries} times`);
      return;
    }
    if (!opts) {
      void this.parkRun(job, `flow "${job.flow}" has no step "${job.name}" in this deployment`);
      return;
    }
    this.executor.submit({
      key: job.key,
      timeoutMs: opts.timeoutMs,
      // Every line the job logs carries its key as correlation id (src/ops/correlation.ts).
      run: (signal) =>
        withCorrelation(job.key, () => this.runJob(job, opts, signal)).finally(() => {
          if (this.wasSlotBound) this.wake();
        }),
    });
  }

  private async runJob(job: ClaimedJob, opts: Required<StepOptions>, signal: AbortSignal): Promise<void> {
    let output: unknown;
    let error: unknown;
    const startedAt = performance.now();
    try {
      const ctx: StepContext = {
        runId: job.run_id,
        flowId: job.flow,
        idempotencyKey: job.key,
        attempt: job.attempts,
        signal,
        services: servicesFor(this.d.services, this.d.flows, job, signal),
      };
      const waits = this.d.waits;
      const run = job.kind === 'review' && waits ? () => waits.openWait(job) : () => opts.run(job.input, ctx);
      const raw = await runAbortable(run, signal);
      output = raw === undefined ? null : JSON.parse(JSON.stringify(raw));
    } catch (err) {
      error = err;
    }
    if (this.stopping && signal.aborted) return;
    this.d.metrics.stepAttempted(job, (performance.now() - startedAt) / 1000);
    this.crashpoint(`after-step:${job.name}`);
    try {
      if (error === undefined) await this.succeed(job, output);
      else await this.fail(job, opts, error);
    } catch (err) {
      // The lease will expire and the job will run again: at-least-once, never lost.
      this.d.log.error('could not record step outcome', { job: job.key, error: describeError(err).message });
    }
  }

  private async succeed(job: ClaimedJob, output: unknown): Promise<void> {
    // An opened wait's row stands for it until its outcome is delivered (which closes it).
    if (job.kind === 'review') {
      await waitJob(this.d.sql, job.key, this.d.owner, job.attempts);
      return;
    }
    // Effects and chat work feed nothing back.
    if (job.kind !== 'step') {
      await finishJob(this.d.sql, job.key, this.d.owner, job.attempts, 'done', null);
      return;
    }
    const event = { type: `xstate.done.actor.${job.child_id}`, output };
    await this.d.committer.apply(job.run_id, event, {
      actor: null,
      dedupeKey: null,
      timerSendId: null,
      job: { key: job.key, attempt: job.attempts, childId: job.child_id! },
    });
  }

  private async fail(job: ClaimedJob, opts: Required<StepOptions>, err: unknown): Promise<void> {
    const error = describeError(err);
    if (isSignoffError(err, 'step_blocked')) return this.block(job, err);
    if (isSignoffError(err, 'person_needed') && this.d.waits && job.kind === 'step') return this.askPerson(job, err);
    const isRetryable = !(isSignoffError(err) && err.details?.retryable === false);
    const waitMs = retryAfterMs(err);
    if (
      isRetryable &&
      waitMs > 0 &&
      (err as SignoffError).details?.defer === true &&
      (await deferJob(this.d.sql, job.key, this.d.owner, job.attempts, waitMs, error, MAX_DEFERRALS))
    ) {
      this.d.metrics.stepRetried(job, 'deferred');
      this.d.log.warn('rate limited; rescheduled', { job: job.key, delayMs: waitMs, error: error.message });
      this.wakeIn(waitMs);
      return;
    }
    if (isRetryable && job.attempts < job.max_attempts) {
      const backoff = Math.min(opts.backoffMs * 2 ** (job.attempts - 1), MAX_BACKOFF_MS);
      const delay = Math.max(backoff, waitMs);
      if (await rescheduleJob(this.d.sql, job.key, this.d.owner, job.attempts, delay, error))
        this.d.metrics.stepRetried(job, 'backoff');
      this.d.log.warn('step failed; will retry', {
        job: job.key,
        attempt: job.attempts,
        delayMs: delay,
        error: error.message,
      });
      this.wakeIn(delay);
      return;
    }
    this.d.metrics.stepFailed(job);
    if (job.kind === 'effect' || job.kind === 'system') {
      if (await finishJob(this.d.sql, job.key, this.d.owner, job.attempts, 'failed', error)) {
        await appendNote(this.d.sql, job.run_id, {
          type: `${job.kind}.failed`,
          data: { [job.kind]: job.name, error },
          actor: null,
        });
      }
      return;
    }
    await this.d.committer.apply(job.run_id, { type: `xstate.error.actor.${job.child_id}`, error } as any, {
      actor: null,
      dedupeKey: null,
      timerSendId: null,
      job: { key: job.key, attempt: job.attempts, childId: job.child_id! },
    });
  }

  /**
   * A step that needs a person (quota gone, an unsafe tool's unknown outcome):
   * the run is parked as `blocked:<reason>` and its people are told, in one
   * transaction. `/signoff retry` re-runs the step once someone has looked.
   */
  private async block(job: ClaimedJob, err: SignoffError): Promise<void> {
    const reason = `blocked:${String(err.details?.block ?? 'unknown')}: ${err.message}`;
    const parked = await this.d.sql.begin(async (t) => {
      if (!(await finishJob(t, job.key, this.d.owner, job.attempts, 'failed', describeError(err)))) return false;
      await appendNote(t, job.run_id, {
        type: 'run.blocked',
        data: { reason, job: job.key },
        actor: null,
        status: 'parked',
        reason,
      });
      await this.d.waits?.tellRun(t, job.run_id, `Run ${job.run_id} is paused: ${err.message}`);
      return true;
    });
    if (!parked) return;
    this.d.metrics.runFinished(job.flow, 'parked');
    this.d.committer.forget(job.run_id);
    this.d.log.error('run paused for a person', { alert: true, runId: job.run_id, reason });
    await this.d.sql.notify(this.d.channel, 'blocked');
  }

  /**
   * A step asked a person a question: its job waits and the question is asked
   * in one transaction, so it is asked exactly once per pause; the answer
   * re-queues the job (`RunTx.resumeJob`).
   */
  private async askPerson(job: ClaimedJob, err: SignoffError): Promise<void> {
    const question = err.details?.question as { kind: string } & Record<string, unknown>;
    const isAsked = await this.d.sql.begin(async (t) => {
      if (!(await waitJob(t, job.key, this.d.owner, job.attempts))) return false;
      await this.d.waits!.askAboutJob(t, job, question);
      return true;
    });
    if (isAsked)
      this.d.log.warn('step waits for a person', {
        runId: job.run_id,
        job: job.key,
        question: question.kind,
        why: err.message,
      });
  }

  private async fire(timer: ClaimedTimer): Promise<void> {
    try {
      await this.d.committer.apply(timer.run_id, timer.event, {
        actor: 'timer',
        dedupeKey: null,
        job: null,
        timerSendId: timer.send_id,
      });
    } catch (err) {
      this.d.log.error('timer could not fire; it will be retried', {
        runId: timer.run_id,
        timer: timer.send_id,
        error: describeError(err).message,
      });
    }
  }

  private async parkRun(job: ClaimedJob, reason: string): Promise<void> {
    try {
      if (await finishJob(this.d.sql, job.key, this.d.owner, job.attempts, 'failed', { message: reason })) {
        await appendNote(this.d.sql, job.run_id, {
          type: 'run.parked',
          data: { reason, job: job.key },
          actor: null,
          status: 'parked',
          reason,
        });
        this.d.metrics.runFinished(job.flow, 'parked');
        this.d.committer.forget(job.run_id);
        this.d.log.warn('run parked', { runId: job.run_id, reason });
      }
    } catch (err) {
      this.d.log.error('could not park run', { runId: job.run_id, error: describeError(err).message });
    }
  }

  /** Test hook: SIGKILL this process at a named point (RELIABILITY case 29). */
  private crashpoint(name: string): void {
    if (this.d.crashpoints.has(name)) process.kill(process.pid, 'SIGKILL');
  }
}

function retryAfterMs(err: unknown): number {
  const e = err as { retryAfterMs?: unknown; details?: { retryAfterMs?: unknown } } | null;
  const ms = e?.details?.retryAfterMs ?? e?.retryAfterMs;
  return typeof ms === 'number' && ms > 0 ? ms : 0;
}
