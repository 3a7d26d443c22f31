/**
 * The engine's public face: start a run, send it an event, read it, cancel or
 * retry it, wait for it. Every change to a run is one committed transition
 * (src/engine/commit.ts); steps, effects and timers run in the worker
 * (src/engine/worker.ts). Triggers, adapters, the CLI and the benchmark use
 * only this class. It holds no run in memory beyond the ones it is stepping.
 */
import { randomUUID } from 'node:crypto';
import { SignoffError } from '../errors.ts';
import { silentLogger, type Logger } from '../ops/log.ts';
import { Metrics } from '../ops/metrics.ts';
import { wakeChannel, type Db, type Sql } from '../store/client.ts';
import { cancelRunWork, notifyWorkers, requeueFailedJob, resumeWaitingJob } from '../store/jobs.ts';
import { runCost, type RunCost } from '../store/ledger.ts';
import { acknowledgeToolCalls } from '../store/tool-calls.ts';
import {
  appendNote,
  countRunsByStatus,
  listRuns,
  readRun,
  readTimeline,
  type RunRecord,
  type RunSummary,
  type TimelineRow,
} from '../store/runs.ts';
import { Committer, toView, type AfterCommit, type Trigger } from './commit.ts';
import { decideStart, type RunStatus } from './decide.ts';
import { normalizeStep, type Flow, type StepDefinition } from './flow.ts';
import { Waiters, type RunView } from './waiters.ts';
import type { RunGateway, RunTx, ServicesFactory, WaitHost } from './step-host.ts';
import { Worker } from './worker.ts';

export type { RunView } from './waiters.ts';
export type { Trigger } from './commit.ts';
export type { DeliverOptions, RunGateway, RunTx, ServicesFactory, StepScope, WaitHost } from './step-host.ts';

export interface EngineOptions {
  sql: Sql;
  flows: Iterable<Flow<any>>;
  /** Schema of the store; names the NOTIFY channel. Default `signoff`. */
  schema?: string;
  /** Identifies this process in leases. Default a random id. */
  workerId?: string;
  /** Steps and effects run at once by this process. Default 100. */
  concurrency?: number;
  /** Fallback poll for due jobs and timers when no NOTIFY arrives. Default 5 000 ms. */
  pollMs?: number;
  /** A job whose worker died this many times parks its run. Default 3. */
  maxRecoveries?: number;
  log?: Logger;
  /** Where runs and steps are counted (GET /metrics). Default: a registry of its own, never scraped. */
  metrics?: Metrics;
  /** Named crash points that SIGKILL this process (tests only). */
  crashpoints?: ReadonlySet<string>;
  /** The review desk: it asks people for the runs' waits, runs its chat jobs, and closes what a cancel ends. */
  reviews?: ReviewHost;
  /** Models and tools for steps (src/steps/services.ts). Without it, a step that calls one fails. */
  services?: ServicesFactory;
}

/** What the engine needs from the review desk (src/review/desk.ts). */
export interface ReviewHost extends WaitHost {
  /** Handlers of `system` jobs by name. */
  systemJobs: ReadonlyMap<string, StepDefinition>;
  /** Closes the pending reviews of a cancelled run (cards updated, people told), inside `tx`. */
  cancelReviews(tx: Db, runId: string, actor: string | null): Promise<void>;
}

export interface StartOptions {
  /** Caller-chosen run id. Default a random UUID. */
  runId?: string;
  /** Deduplicates starts: a second start with the same key returns the first run. */
  triggerKey?: string;
  trigger?: Trigger;
}

export interface SendOptions {
  /** Who caused the event (a user id), for the audit trail. */
  actor?: string;
  /** A second event with the same key for the same run is reported as a duplicate, not applied. */
  dedupeKey?: string;
}

/** An event from outside the engine: a decision, a webhook update. */
export type RunEvent = { type: string } & Record<string, unknown>;

export class Engine implements RunGateway {
  readonly sql: Sql;
  readonly workerId: string;
  private readonly flows = new Map<string, Flow<any>>();
  private readonly waiters = new Waiters();
  private readonly committer: Committer;
  private readonly worker: Worker;
  private readonly channel: string;
  private readonly pollMs: number;
  private readonly reviews: ReviewHost | null;
  private readonly crashpoints: ReadonlySet<string>;
  private readonly metrics: Metrics;

  constructor(opts: EngineOptions) {
    this.sql = opts.sql;
    this.workerId = opts.workerId ?? `w-${randomUUID().slice(0, 8)}`;
    for (const flow of opts.flows) this.flows.set(flow.id, flow);
    this.channel = wakeChannel(opts.schema ?? 'signoff');
    this.pollMs = opts.pollMs ?? 5_000;
    const log = opts.log ?? silentLogger;
    this.reviews = opts.reviews ?? null;
    this.crashpoints = opts.crashpoints ?? new Set();
    this.metrics = opts.metrics ?? new Metrics();
    for (const flowId of this.flows.keys()) this.metrics.knowFlow(flowId);
    const system = new Map(
      [...(opts.reviews?.systemJobs ?? new Map())].map(([name, def]) => [name, normalizeStep(def)]),
    );
    this.committer = new Committer({
      sql: this.sql,
      owner: this.workerId,
      flows: this.flows,
      log,
      metrics: this.metrics,
      onCommit: (view) => this.waiters.announce(view),
      onWork: (jobs, timerDelays) => this.worker.accept(jobs, timerDelays),
    });
    this.worker = new Worker({
      sql: this.sql,
      owner: this.workerId,
      flows: this.flows,
      committer: this.committer,
      log,
      metrics: this.metrics,
      concurrency: opts.concurrency ?? 100,
      pollMs: this.pollMs,
      maxRecoveries: opts.maxRecoveries ?? 3,
      channel: this.channel,
      crashpoints: this.crashpoints,
      system,
      services: opts.services ?? null,
      waits: opts.reviews ?? null,
    });
    opts.reviews?.attach(this);
  }

  /**
   * Runs `fn` in one transaction whose `start`, `deliver` and `resumeJob` move
   * runs on with it: a webhook's inbox row and the run it starts, or a decision,
   * its audit row and the run's transition, commit together or not at all. The
   * work the transitions create starts once COMMIT returns.
   */
  async transaction<T>(fn: (rt: RunTx) => Promise<T>): Promise<T> {
    const after: AfterCommit = [];
    const result = await this.sql.begin(async (sql) => {
      const rt: RunTx = {
        sql,
        deliver: (runId, event, opts) =>
          this.committer.applyInTx(
            sql,
            runId,
            event,
            {
              actor: opts.actor ?? null,
              dedupeKey: opts.dedupeKey ?? null,
              job: null,
              timerSendId: null,
              waitKey: opts.waitKey ?? null,
            },
            after,
          ),
        start: (flowId, input, opts = {}) => this.startOn(sql, after, flowId, input, opts),
        resumeJob: async (jobKey) => {
          const isResumed = await resumeWaitingJob(sql, jobKey);
          if (isResumed) await notifyWorkers(sql, 'resumed');
          return isResumed;
        },
      };
      const value = await fn(rt);
      // Test hook (RELIABILITY 29): everything is written and nothing committed; none of it may survive.
      if (after.length > 0) this.crashpoint('before-deliver-commit');
      return value;
    });
    // Test hook (RELIABILITY 29): the decision and the transition are committed, nothing after them has run.
    if (after.length > 0) this.crashpoint('after-deliver-commit');
    for (const start of after) start();
    return result as T;
  }

  /** A named crash point (src/ops/crashpoint.ts): SIGKILL when armed. */
  private crashpoint(name: string): void {
    if (this.crashpoints.has(name)) process.kill(process.pid, 'SIGKILL');
  }

  /** Starts claiming due jobs and timers (recovery after a restart is just this). */
  async start(): Promise<void> {
    await this.worker.start();
  }

  /** Stops claiming, lets in-flight steps finish for `graceMs`, hands the rest back. */
  async stop(graceMs = 10_000): Promise<void> {
    await this.worker.stop(graceMs);
  }

  flow(flowId: string): Flow<any> {
    const flow = this.flows.get(flowId);
    if (!flow) {
      const known = [...this.flows.keys()].join(', ') || 'none';
      throw new SignoffError('flow_not_found', `no flow named "${flowId}" (known: ${known})`);
    }
    return flow;
  }

  /** Starts a run, or returns the existing one for the same id or trigger key. */
  async startRun(flowId: string, input: unknown, opts: StartOptions = {}): Promise<{ runId: string; isNew: boolean }> {
    return this.startOn(this.sql, null, flowId, input, opts);
  }

  /** Checks the input, then inserts the run on `db`; inside a caller's transaction its work starts from `after`. */
  private async startOn(db: Db, after: AfterCommit | null, flowId: string, input: unknown, opts: StartOptions) {
    const flow = this.flow(flowId);
    const parsed = flow.input.safeParse(input);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`);
      throw new SignoffError('input_invalid', `invalid input for "${flowId}": ${problems.join('; ')}`, {
        details: { problems },
      });
    }
    const runId = opts.runId ?? randomUUID();
    return this.committer.insert(flow, runId, parsed.data, decideStart(flow, runId, parsed.data), opts, db, after);
  }

  /** Sends an outside event (a decision, a webhook update) to a run. */
  async send(
    runId: string,
    event: RunEvent,
    opts: SendOptions = {},
  ): Promise<{ status: RunStatus; duplicate: boolean }> {
    if (!event || typeof event.type !== 'string' || event.type.length === 0 || event.type.length > 200) {
      throw new SignoffError('event_invalid', 'an event needs a non-empty string "type"');
    }
    if (event.type.startsWith('xstate.')) {
      throw new SignoffError('event_invalid', `event type "${event.type}" is reserved for the engine`);
    }
    return this.committer.apply(runId, event, {
      actor: opts.actor ?? null,
      dedupeKey: opts.dedupeKey ?? null,
      job: null,
      timerSendId: null,
    });
  }

  async getRun(runId: string): Promise<RunRecord | null> {
    return readRun(this.sql, runId);
  }

  async timeline(runId: string): Promise<TimelineRow[]> {
    return readTimeline(this.sql, runId);
  }

  /** The loaded flows, by id, with their titles (for help and error replies). */
  listFlows(): { id: string; title: string; triggers: Flow['triggers'] }[] {
    return [...this.flows.values()]
      .map((f) => ({ id: f.id, title: f.title, triggers: f.triggers }))
      .sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  /** The most recent runs of one tenant, newest first (`limit` default 10, at most 100). */
  async listRuns(opts: { tenant: string; limit?: number }): Promise<RunSummary[]> {
    return listRuns(this.sql, { tenant: opts.tenant, limit: opts.limit ?? 10 });
  }

  /** What a run's model calls have cost so far (the model_calls ledger). */
  async runCost(runId: string): Promise<RunCost> {
    return runCost(this.sql, runId);
  }

  /** Run status -> count for runs whose id starts with `prefix`. */
  async countByStatus(prefix: string): Promise<Record<string, number>> {
    return countRunsByStatus(this.sql, prefix);
  }

  /** Cancels an active, failed or parked run: its open jobs and timers go with it. */
  async cancel(runId: string, opts: { actor?: string; reason?: string } = {}): Promise<void> {
    const run = await this.mustRead(runId);
    if (run.status === 'done' || run.status === 'cancelled') {
      throw new SignoffError('run_not_active', `run ${runId} is already ${run.status}`);
    }
    const reason = opts.reason ?? `cancelled by ${opts.actor ?? 'an operator'}`;
    await this.sql.begin(async (tx) => {
      await appendNote(tx, runId, {
        type: 'run.cancelled',
        data: { reason },
        actor: opts.actor ?? null,
        status: 'cancelled',
        reason,
      });
      await cancelRunWork(tx, runId);
      await this.reviews?.cancelReviews(tx, runId, opts.actor ?? null);
    });
    this.metrics.runFinished(run.flow, 'cancelled');
    if (this.reviews) await this.sql.notify(this.channel, 'cancelled');
    this.committer.forget(runId);
    this.waiters.announce({ ...toView(run), status: 'cancelled', reason, version: run.version + 1 });
  }

  /** Retries a failed (or crash-parked) run: its failed step runs again with fresh attempts. */
  async retry(runId: string, opts: { actor?: string } = {}): Promise<void> {
    const run = await this.mustRead(runId);
    if (run.status !== 'failed' && run.status !== 'parked') {
      throw new SignoffError(
        'run_not_failed',
        `run ${runId} is ${run.status}; only failed or parked runs can be retried`,
      );
    }
    const keys = Object.values(run.snapshot.children ?? {}).map((c: any) => c.job as string);
    const requeued = await this.sql.begin(async (tx) => {
      let n = 0;
      for (const key of keys) if (await requeueFailedJob(tx, runId, key)) n++;
      // A person looked: calls whose outcome was unknown may be made again.
      if (n > 0) await acknowledgeToolCalls(tx, keys);
      if (n > 0)
        await appendNote(tx, runId, {
          type: 'run.retried',
          data: { jobs: keys },
          actor: opts.actor ?? null,
          status: 'running',
          reason: null,
        });
      return n;
    });
    if (requeued === 0) {
      throw new SignoffError(
        'run_not_failed',
        `run ${runId} has no failed step to retry (${run.status_reason ?? 'no reason recorded'}); cancel it instead`,
      );
    }
    await this.sql.notify(this.channel, 'retry');
  }

  /**
   * Resolves with the run once `until` holds (or its status is one of `until`),
   * rejects with `wait_timeout` after `timeoutMs`. Commits by this process wake
   * it at once (and one it just made spares the first read); commits by others
   * are seen by polling every `pollMs` (default 200 ms).
   */
  async waitFor(
    runId: string,
    until: RunStatus[] | ((run: RunView) => boolean),
    opts: { timeoutMs?: number; pollMs?: number } = {},
  ): Promise<RunView> {
    const test = Array.isArray(until) ? (r: RunView) => until.includes(r.status) : until;
    const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
    let resolveLocal!: (r: RunView) => void;
    const local = new Promise<RunView>((r) => (resolveLocal = r));
    const remove = this.waiters.add(runId, test, resolveLocal);
    let known = this.waiters.latest(runId);
    try {
      for (;;) {
        const view = known ?? toView(await this.mustRead(runId));
        known = undefined;
        if (test(view)) return view;
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new SignoffError(
            'wait_timeout',
            `run ${runId} did not reach the expected state in time (it is ${view.status})`,
          );
        }
        let timer: NodeJS.Timeout | undefined;
        const tick = new Promise<null>((r) => (timer = setTimeout(() => r(null), Math.min(left, opts.pollMs ?? 200))));
        const hit = await Promise.race([local, tick]);
        clearTimeout(timer);
        if (hit) return hit;
      }
    } finally {
      remove();
    }
  }

  /** Parks active runs whose current state no longer exists in their flow (after a deploy). */
  async parkOrphanedRuns(): Promise<string[]> {
    return this.committer.parkOrphanedRuns();
  }

  private async mustRead(runId: string): Promise<RunRecord> {
    const run = await readRun(this.sql, runId);
    if (!run) throw new SignoffError('run_not_found', `no run ${runId}`);
    return run;
  }
}
