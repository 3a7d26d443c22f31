/**
 * Turns an event into a committed transition: read the run (or reuse the
 * snapshot this process just wrote), decide with the flow's machine, and write
 * the result in one fenced statement. A lost race (another writer moved the
 * run on) re-reads and decides again. Owns the small cache of runs this
 * process is stepping, and the parking of runs that cannot go on.
 */
import type { EventObject } from 'xstate';
import { describeError, isSignoffError, SignoffError } from '../errors.ts';
import type { Logger } from '../ops/log.ts';
import type { FinishedStatus, Metrics } from '../ops/metrics.ts';
import type { Db, Sql } from '../store/client.ts';
import type { ClaimedJob } from '../store/jobs.ts';
import { dropTimer, cancelStaleJob, holdsJob, holdsTimer } from '../store/jobs.ts';
import { hasSqlState, UNIQUE_VIOLATION } from '../store/sqlstate.ts';
import {
  appendNote,
  commitTransition,
  findRunId,
  insertRun,
  listRunsOnOtherVersions,
  lockRunHead,
  readRunHead,
  type RunHead,
  type RunRecord,
  type WritePlan,
} from '../store/runs.ts';
import { activeStatus, decideEvent, restore, type Decision, type RunStatus, type StoredSnapshot } from './decide.ts';
import type { Flow } from './flow.ts';
import type { RunView } from './waiters.ts';

/** Who and where started a run. */
export interface Trigger {
  /** Where it came from: `slack`, `discord`, `console`, `webhook:<provider>`, `schedule`, `api`. */
  source?: string;
  /** Who asked (a platform user id): the requester of its reviews. */
  actor?: string;
  /** Channel to post its cards in. */
  channel?: string;
  /** Workspace, guild or local tenant: only people of the same tenant may see or touch the run. */
  tenant?: string;
}

/** Why an event is being applied, and the claim it must be fenced on. */
export interface ApplyContext {
  actor: string | null;
  dedupeKey: string | null;
  job: { key: string; attempt: number; childId: string } | null;
  timerSendId: string | null;
  /**
   * The wait (a review) whose outcome this event is, by the key its child was
   * invoked with: the child completes with it. A wait the run has left (or
   * re-invoked) makes the event stale: nothing is delivered.
   */
  waitKey?: string | null;
}

/** Work a transaction committed, started once it has (see `applyInTx`). */
export type AfterCommit = (() => void)[];

export interface ApplyResult {
  status: RunStatus;
  duplicate: boolean;
}

interface CommitterDeps {
  sql: Sql;
  owner: string;
  flows: ReadonlyMap<string, Flow<any>>;
  log: Logger;
  /** Counts started and finished runs; absent in tests that build a committer alone. */
  metrics?: Metrics;
  onCommit: (view: RunView) => void;
  onWork: (jobs: ClaimedJob[], timerDelaysMs: number[]) => void;
}

/** Lease margin beyond a step's timeout, so a step that times out still owns its job when it reports. */
const LEASE_MARGIN_MS = 5_000;
/** Lost races before giving up: only a pathological hot run gets near this. */
const MAX_CONFLICTS = 50;
/** Statuses a run ends in (until someone retries it). */
const FINISHED: ReadonlySet<RunStatus> = new Set<RunStatus>(['done', 'failed', 'cancelled', 'parked']);

export class Committer {
  /** Runs with steps in flight in this process: their next commit needs no read. */
  private readonly hot = new Map<string, RunHead>();

  constructor(private readonly d: CommitterDeps) {}

  /**
   * Creates a run with its first transition's work, on the pool or inside a
   * caller's transaction `db` (then its jobs start from `after`, once COMMIT
   * returns). A second insert with the same id or trigger key returns the first run.
   */
  async insert(
    flow: Flow,
    runId: string,
    input: unknown,
    dec: Decision,
    opts: { triggerKey?: string; trigger?: Trigger },
    db: Db = this.d.sql,
    after: AfterCommit | null = null,
  ) {
    const plan = this.plan(flow, dec, null);
    const inserted = await insertRun(
      db,
      {
        id: runId,
        flow: flow.id,
        flowVersion: flow.version,
        status: dec.status,
        snapshot: dec.snapshot,
        input,
        output: dec.output,
        triggerKey: opts.triggerKey ?? null,
        trigger: opts.trigger ?? {},
      },
      {
        kind: 'event',
        type: 'xstate.init',
        event: null,
        actor: opts.trigger?.actor ?? null,
        stateBefore: null,
        stateAfter: dec.snapshot.value,
        dedupeKey: null,
      },
      plan,
      this.d.owner,
    );
    if (!inserted) {
      const existing = await findRunId(db, runId, opts.triggerKey ?? null);
      return { runId: existing ?? runId, isNew: false };
    }
    const done = () => this.committed(flow, runId, 1, dec, plan);
    if (after) after.push(done);
    else done();
    return { runId, isNew: true };
  }

  async apply(runId: string, event: EventObject, ctx: ApplyContext): Promise<ApplyResult> {
    for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
      // A dedupe key needs the read: it checks the key in the same query.
      const head =
        (attempt === 0 && !ctx.dedupeKey ? this.hot.get(runId) : undefined) ??
        (await readRunHead(this.d.sql, runId, ctx.dedupeKey));
      if (!head) throw new SignoffError('run_not_found', `no run ${runId}`);
      if (head.duplicate) return { status: head.status as RunStatus, duplicate: true };
      const outcome = await this.tryApply(this.d.sql, runId, head, event, ctx, null).catch((err: unknown) => {
        if (ctx.dedupeKey && hasSqlState(err, UNIQUE_VIOLATION)) return 'duplicate' as const;
        throw err;
      });
      if (outcome === 'duplicate') return { status: head.status as RunStatus, duplicate: true };
      if (outcome) return outcome;
      this.hot.delete(runId);
      // A step result or timer whose claim was taken over (our lease expired) can never
      // commit: give it up now rather than re-deciding until MAX_CONFLICTS (RELIABILITY D33).
      if (!(await this.holdsClaim(runId, ctx))) {
        this.d.log.warn('claim lost to another worker; outcome given up', {
          runId,
          job: ctx.job?.key,
          timer: ctx.timerSendId,
        });
        return { status: head.status as RunStatus, duplicate: false };
      }
    }
    throw new SignoffError('db_unavailable', `run ${runId} is too busy right now; try again`);
  }

  /**
   * Applies `event` inside the caller's transaction `tx`: the run row is locked,
   * so there is no race to lose, and the transition commits (or rolls back) with
   * whatever else `tx` writes, such as the click that decided a review and its
   * audit row. The jobs it creates are leased to this process and are started
   * from `after` once the caller's COMMIT has returned.
   */
  async applyInTx(
    tx: Db,
    runId: string,
    event: EventObject,
    ctx: ApplyContext,
    after: AfterCommit,
  ): Promise<ApplyResult> {
    const head = await lockRunHead(tx, runId, ctx.dedupeKey);
    if (!head) throw new SignoffError('run_not_found', `no run ${runId}`);
    if (head.duplicate) return { status: head.status as RunStatus, duplicate: true };
    const outcome = await this.tryApply(tx, runId, head, event, ctx, after);
    // Under the row lock the version fence always holds; a miss means the lock was not ours.
    if (!outcome) throw new SignoffError('db_unavailable', `run ${runId} changed under its lock; try again`);
    this.hot.delete(runId);
    return outcome;
  }

  /** Whether the claim this event is fenced on (if any) is still ours. */
  private async holdsClaim(runId: string, ctx: ApplyContext): Promise<boolean> {
    if (ctx.job && !(await holdsJob(this.d.sql, ctx.job.key, this.d.owner, ctx.job.attempt))) return false;
    if (ctx.timerSendId && !(await holdsTimer(this.d.sql, runId, ctx.timerSendId, this.d.owner))) return false;
    return true;
  }

  /** One decide-and-write attempt on `db` (the pool, or a caller's transaction); null when another writer got there first. */
  private async tryApply(
    db: Db,
    runId: string,
    head: RunHead,
    event: EventObject,
    ctx: ApplyContext,
    after: AfterCommit | null,
  ): Promise<ApplyResult | null> {
    const isInternal = ctx.job !== null || ctx.timerSendId !== null || Boolean(ctx.waitKey);
    if (head.status !== 'running' && head.status !== 'waiting') {
      if (isInternal) return this.discard(db, runId, ctx, head.status as RunStatus);
      throw new SignoffError('run_not_active', `run ${runId} is ${head.status}; it takes no more events`);
    }
    const childId = ctx.job?.childId ?? (ctx.waitKey ? childOfJob(head.snapshot, ctx.waitKey) : undefined);
    if (
      (ctx.job || ctx.waitKey) &&
      (!childId || head.snapshot.children?.[childId]?.job !== (ctx.job?.key ?? ctx.waitKey))
    ) {
      return this.discard(db, runId, ctx, head.status as RunStatus);
    }
    const flow = this.d.flows.get(head.flow);
    if (!flow)
      throw new SignoffError('flow_not_found', `run ${runId} belongs to flow "${head.flow}", which is not loaded`);
    const gone = head.flow_version !== flow.version ? missingState(flow, head.snapshot) : null;
    if (gone) return this.park(db, runId, head, ctx, gone);
    let dec: Decision;
    try {
      dec = decideEvent(flow, runId, head.version + 1, head.snapshot, event, childId);
    } catch (err) {
      if (isInternal && isSignoffError(err, 'flow_invalid')) return this.park(db, runId, head, ctx, err.message);
      throw err;
    }
    const w = { db, after, childId };
    if (!dec.changed) return this.unchanged(w, flow, runId, head, event, ctx);
    if (dec.machineError !== undefined && ctx.job) return this.failRun(w, flow, runId, head, event, ctx);
    return this.write(w, flow, runId, head, event, ctx, dec);
  }

  private async write(
    w: WriteTarget,
    flow: Flow,
    runId: string,
    head: RunHead,
    event: EventObject,
    ctx: ApplyContext,
    dec: Decision,
    kind: 'event' | 'note' = 'event',
    reason: string | null = null,
  ) {
    const seq = head.version + 1;
    const error = (event as { error?: unknown }).error;
    const plan = this.plan(flow, dec, ctx);
    reason ??= dec.status === 'failed' ? `flow failed: ${describeError(dec.machineError).message}` : null;
    const ok = await commitTransition(w.db, {
      runId,
      flow: flow.id,
      seq,
      snapshot: dec.snapshot,
      status: dec.status,
      output: dec.output,
      reason,
      event: {
        kind,
        type: event.type,
        event,
        actor: ctx.actor,
        stateBefore: head.snapshot.value,
        stateAfter: dec.snapshot.value,
        dedupeKey: ctx.dedupeKey,
      },
      plan,
      owner: this.d.owner,
      timerSendId: ctx.timerSendId,
      waitKey: ctx.waitKey ?? null,
      job: ctx.job && {
        key: ctx.job.key,
        attempt: ctx.job.attempt,
        outcome: error === undefined ? 'done' : 'failed',
        error: error ?? null,
      },
    });
    if (!ok) return null;
    const done = () => this.committed(flow, runId, seq, dec, plan, reason);
    if (w.after) w.after.push(done);
    else done();
    return { status: dec.status, duplicate: false };
  }

  /** The state ignored the event. Outside events are refused; a step or wait result still closes its child. */
  private async unchanged(
    w: WriteTarget,
    flow: Flow,
    runId: string,
    head: RunHead,
    event: EventObject,
    ctx: ApplyContext,
  ) {
    if (ctx.timerSendId) return this.discard(w.db, runId, ctx, head.status as RunStatus);
    if (!w.childId) {
      throw new SignoffError(
        'event_not_accepted',
        `run ${runId} is in state ${JSON.stringify(head.snapshot.value)}, which does not accept "${event.type}"`,
      );
    }
    const children = { ...head.snapshot.children };
    delete children[w.childId];
    const snapshot = { ...head.snapshot, children };
    const status: RunStatus = activeStatus(children);
    return this.write(w, flow, runId, head, event, ctx, {
      ...emptyWork(),
      snapshot,
      status,
      output: undefined,
      changed: true,
      machineError: undefined,
    });
  }

  /** A step failed for good and the flow has no onError: the run fails, its snapshot kept for a retry. */
  private async failRun(
    w: WriteTarget,
    flow: Flow,
    runId: string,
    head: RunHead,
    event: EventObject,
    ctx: ApplyContext,
  ) {
    const error = (event as { error?: unknown }).error;
    const dec: Decision = {
      ...emptyWork(),
      snapshot: head.snapshot,
      status: 'failed',
      output: undefined,
      changed: true,
      machineError: error,
    };
    const reason = `step "${w.childId}" failed: ${describeError(error).message}`;
    return this.write(w, flow, runId, head, { ...event, type: 'step.failed' }, ctx, dec, 'note', reason);
  }

  private async park(db: Db, runId: string, head: RunHead, ctx: ApplyContext, reason: string): Promise<ApplyResult> {
    await appendNote(db, runId, { type: 'run.parked', data: { reason }, actor: null, status: 'parked', reason });
    // Counted once written: inside a caller's transaction that then rolls back, one too many (rare).
    this.d.metrics?.runFinished(head.flow, 'parked');
    this.d.log.warn('run parked', { runId, reason });
    this.hot.delete(runId);
    if (ctx.job || ctx.timerSendId || ctx.waitKey) return this.discard(db, runId, ctx, 'parked');
    throw new SignoffError('run_not_active', `run ${runId} is parked: ${reason}`);
  }

  /** A late step result, timer or wait outcome for a state the run has left: close the claim, change nothing. */
  private async discard(db: Db, runId: string, ctx: ApplyContext, status: RunStatus): Promise<ApplyResult> {
    if (ctx.job) await cancelStaleJob(db, ctx.job.key, this.d.owner);
    if (ctx.timerSendId) await dropTimer(db, runId, ctx.timerSendId, this.d.owner);
    return { status, duplicate: false };
  }

  async parkOrphanedRuns(): Promise<string[]> {
    const parked: string[] = [];
    for (const flow of this.d.flows.values()) {
      for (const run of await listRunsOnOtherVersions(this.d.sql, flow.id, flow.version)) {
        const gone = missingState(flow, run.snapshot);
        if (!gone) continue;
        await appendNote(this.d.sql, run.id, {
          type: 'run.parked',
          data: { reason: gone },
          actor: null,
          status: 'parked',
          reason: gone,
        });
        this.d.metrics?.runFinished(flow.id, 'parked');
        parked.push(run.id);
      }
    }
    return parked;
  }

  forget(runId: string): void {
    this.hot.delete(runId);
  }

  private plan(flow: Flow, dec: Decision, ctx: ApplyContext | null): WritePlan {
    const reRaised = new Set(dec.timers.map((t) => t.sendId));
    const cancelTimers = dec.cancelTimers.filter((id) => !reRaised.has(id));
    if (ctx?.timerSendId && !reRaised.has(ctx.timerSendId)) cancelTimers.push(ctx.timerSendId);
    return {
      jobs: dec.jobs.map((j) => {
        const o = flow.stepOptions.get(j.name)!;
        return {
          key: j.key,
          kind: j.kind,
          name: j.name,
          child_id: j.childId,
          input: j.input,
          max_attempts: o.maxAttempts,
          lease_ms: o.timeoutMs + LEASE_MARGIN_MS,
        };
      }),
      timers: dec.timers.map((t) => ({ send_id: t.sendId, event: t.event, delay_ms: t.delayMs })),
      cancelJobs: dec.cancelJobs.filter((k) => k !== ctx?.job?.key),
      cancelTimers,
    };
  }

  private committed(
    flow: Flow,
    runId: string,
    seq: number,
    dec: Decision,
    plan: WritePlan,
    reason: string | null = null,
  ): void {
    // Called once COMMIT returned; every write follows an active head, so a final status here is a finish.
    if (seq === 1) this.d.metrics?.runStarted(flow.id);
    if (FINISHED.has(dec.status)) this.d.metrics?.runFinished(flow.id, dec.status as FinishedStatus);
    if (dec.jobs.some((j) => j.kind === 'step')) {
      this.hot.set(runId, {
        flow: flow.id,
        flow_version: flow.version,
        status: dec.status,
        snapshot: dec.snapshot,
        version: seq,
        duplicate: false,
      });
    } else {
      this.hot.delete(runId);
    }
    this.d.onCommit({
      id: runId,
      flow: flow.id,
      status: dec.status,
      reason,
      state: dec.snapshot.value,
      context: dec.snapshot.context,
      output: dec.output,
      version: seq,
    });
    if (plan.jobs.length > 0 || plan.timers.length > 0) {
      const jobs = plan.jobs.map((j) => ({ ...j, run_id: runId, flow: flow.id, attempts: 1, recoveries: 0 }));
      this.d.onWork(
        jobs,
        dec.timers.map((t) => t.delayMs),
      );
    }
  }
}

/** Where a write goes: the pool, or a caller's transaction whose COMMIT starts the work (`after`). */
interface WriteTarget {
  db: Db;
  after: AfterCommit | null;
  childId: string | undefined;
}

/** The id of the child invoked with job key `key`, if the run still has it. */
function childOfJob(snapshot: StoredSnapshot, key: string): string | undefined {
  return Object.entries(snapshot.children ?? {}).find(([, child]) => child.job === key)?.[0];
}

function emptyWork() {
  return { jobs: [], timers: [], cancelJobs: [], cancelTimers: [] };
}

/** A reason when the run's state is gone from the flow's current machine, else null. */
function missingState(flow: Flow, snapshot: StoredSnapshot): string | null {
  try {
    restore(flow, snapshot);
    return null;
  } catch {
    return `flow "${flow.id}" changed since this run started: its state ${JSON.stringify(snapshot.value)} no longer exists; migrate or cancel the run`;
  }
}

export function toView(run: RunRecord): RunView {
  return {
    id: run.id,
    flow: run.flow,
    status: run.status as RunStatus,
    reason: run.status_reason,
    state: run.snapshot?.value,
    context: run.snapshot?.context,
    output: run.output,
    version: run.version,
  };
}
