/**
 * Schedules declared in flow files (`triggers: [{ kind: 'schedule', cron, timezone, input }]`),
 * fired by a ticker in every bot process. Each tick computes the due slots of
 * each schedule (./cron.ts: croner plus our DST rules) and claims each one by
 * inserting its `schedule_fires` row in the same transaction that starts its
 * run, so a slot fires once across all processes (RELIABILITY 38), and a crash
 * between the claim and the start leaves neither.
 *
 * Catch-up (docs/schedules.md): a process's first tick looks back. The latest
 * slot at or before now that has not fired fires once if it is at most
 * `catchupHours` old; the slots missed before it, and a latest one older than
 * that, are skipped with a log line. Later ticks fire every slot since the
 * previous tick. A slot fired more than one tick after its time is marked late.
 *
 * The clock is injected (`clock`), so tests move time; machines never read one:
 * the slot reaches the run in its input.
 */
import { randomUUID } from 'node:crypto';
import type { RunTx } from '../engine/engine.ts';
import type { TriggerSpec } from '../engine/flow.ts';
import { describeError, SignoffError } from '../errors.ts';
import { silentLogger, type Logger } from '../ops/log.ts';
import type { Db } from '../store/client.ts';
import { claimSlot, latestFires, type ScheduleFire } from '../store/schedules.ts';
import {
  compileCron,
  latestSlotAtOrBefore,
  MAX_SLOTS,
  nextSlotAfter,
  slotsBetween,
  wallClock,
  type CronSpec,
} from './cron.ts';

/** What a scheduled run is told about the slot it was started for. */
export interface ScheduleSlot {
  scheduleId: string;
  /** The slot, ISO in UTC. */
  slotAt: string;
  /** Fired by catch-up or after a stall: more than one tick after its time. */
  isLate: boolean;
}

/** A schedule as a flow file declares it. */
export interface ScheduleTrigger {
  kind: 'schedule';
  /** 5 fields (minute first) or 6 (second first), croner syntax, e.g. `0 9 * * MON`. */
  cron: string;
  /** IANA zone the cron's wall-clock times are in. Default UTC. */
  timezone?: string;
  /** Stable id of the schedule (its slots are claimed under it). Default `<flow>/<index among its schedules>`. */
  name?: string;
  /**
   * Recorded on the run's trigger: its channel and tenant (whose run it is); default
   * SIGNOFF_DEFAULT_CHANNEL and the chat's own tenant. The review desk posts the cards of
   * runs not started from chat in SIGNOFF_DEFAULT_CHANNEL whatever this says.
   */
  channel?: string;
  tenant?: string;
  /** The run's input: a value, or a function of the slot. Default `{}`. */
  input?: Record<string, unknown> | ((slot: ScheduleSlot) => unknown);
}

/** One loaded schedule. */
export interface Schedule {
  id: string;
  flowId: string;
  trigger: ScheduleTrigger;
  spec: CronSpec;
}

/** A flow as the scheduler needs it. */
export interface ScheduledFlow {
  id: string;
  triggers: readonly TriggerSpec[];
}

/** What `/signoff schedules` shows of one schedule. */
export interface ScheduleStatus {
  id: string;
  flowId: string;
  cron: string;
  timezone: string;
  /** The next slot, and it in the schedule's local time (`2026-12-07 09:00:00`). */
  next: Date | null;
  nextLocal: string | null;
  lastFired: ScheduleFire | null;
}

export interface SchedulerOptions {
  /** Opens the transaction a claim and its run share (`Engine.transaction`). */
  transaction<T>(fn: (rt: RunTx) => Promise<T>): Promise<T>;
  /** Reads the last fires. */
  sql: Db;
  flows: Iterable<ScheduledFlow>;
  /** The time now. Default the system clock; tests pass their own. */
  clock?: () => Date;
  /** Between ticks. Default 30 000 ms (SCHEDULE_TICK_MS). */
  tickMs?: number;
  /** How old a missed slot may be and still fire at start-up. Default 6 (SCHEDULE_CATCHUP_HOURS). */
  catchupHours?: number;
  /** The run's trigger when the schedule names no channel or tenant. */
  defaults?: { channel?: string; tenant?: string };
  log?: Logger;
}

/** One slot this process claimed and started. */
export interface FiredSlot {
  scheduleId: string;
  slotAt: Date;
  runId: string;
  isLate: boolean;
}

/** The schedules of loaded flows; throws `flow_invalid` for a bad cron or zone, or two schedules with one id. */
export function schedulesOf(flows: Iterable<ScheduledFlow>): Schedule[] {
  const schedules: Schedule[] = [];
  for (const flow of flows) {
    const own = flow.triggers.filter((t): t is TriggerSpec & ScheduleTrigger => t.kind === 'schedule');
    own.forEach((trigger, index) => {
      schedules.push({
        id: trigger.name ?? `${flow.id}/${index}`,
        flowId: flow.id,
        trigger,
        spec: compileCron(trigger.cron, trigger.timezone),
      });
    });
  }
  const ids = schedules.map((s) => s.id);
  const twice = ids.find((id, i) => ids.indexOf(id) !== i);
  if (twice)
    throw new SignoffError('flow_invalid', `two schedules are named "${twice}"; give one a different \`name\``);
  return schedules;
}

export class Scheduler {
  private readonly schedules: Schedule[];
  private readonly clock: () => Date;
  private readonly tickMs: number;
  private readonly catchupMs: number;
  private readonly log: Logger;
  /** The previous tick's time; null before the first (which does catch-up). */
  private lastTickAt: Date | null = null;
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<unknown> = Promise.resolve();
  private isStopped = false;

  constructor(private readonly o: SchedulerOptions) {
    this.schedules = schedulesOf(o.flows);
    this.clock = o.clock ?? (() => new Date());
    this.tickMs = o.tickMs ?? 30_000;
    this.catchupMs = (o.catchupHours ?? 6) * 3_600_000;
    this.log = o.log ?? silentLogger;
  }

  /** Ticks now, then every `tickMs`, until `stop`. A failing tick is logged; the next one tries again. */
  start(): void {
    if (this.schedules.length === 0) return;
    const loop = () => {
      this.ticking = this.tick()
        .catch((err: unknown) => this.log.error('schedule tick failed', { error: describeError(err) }))
        .finally(() => {
          if (!this.isStopped) this.timer = setTimeout(loop, this.tickMs);
        });
    };
    loop();
  }

  /** Stops ticking and waits for a tick in flight. */
  async stop(): Promise<void> {
    this.isStopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.ticking;
  }

  /** Fires what is due now; returns the slots this process claimed. */
  async tick(): Promise<FiredSlot[]> {
    const now = this.clock();
    const last = await latestFires(
      this.o.sql,
      this.schedules.map((s) => s.id),
    );
    const fired: FiredSlot[] = [];
    let reachedAt = now;
    for (const schedule of this.schedules) {
      const lastAt = last.get(schedule.id)?.slot_at ?? null;
      const due = this.lastTickAt ? this.sinceLastTick(schedule, lastAt, now) : this.catchUp(schedule, lastAt, now);
      // Too many slots for one tick: the next tick goes on from the last one taken.
      if (due.length === MAX_SLOTS && due[due.length - 1]!.getTime() < reachedAt.getTime())
        reachedAt = due[due.length - 1]!;
      for (const slotAt of due) {
        const result = await this.fire(schedule, slotAt, now);
        if (result === 'failed') reachedAt = new Date(Math.min(reachedAt.getTime(), slotAt.getTime() - 1));
        else if (result) fired.push(result);
      }
    }
    this.lastTickAt = reachedAt;
    return fired;
  }

  /** Every schedule with its next slot (local time) and the last slot fired. */
  async list(): Promise<ScheduleStatus[]> {
    const now = this.clock();
    const last = await latestFires(
      this.o.sql,
      this.schedules.map((s) => s.id),
    );
    return this.schedules.map((s) => {
      const next = nextSlotAfter(s.spec, now);
      return {
        id: s.id,
        flowId: s.flowId,
        cron: s.trigger.cron,
        timezone: s.spec.timezone,
        next,
        nextLocal: next ? wallClock(next, s.spec.timezone) : null,
        lastFired: last.get(s.id) ?? null,
      };
    });
  }

  private sinceLastTick(schedule: Schedule, lastAt: Date | null, now: Date): Date[] {
    const from = lastAt && lastAt.getTime() > this.lastTickAt!.getTime() ? lastAt : this.lastTickAt!;
    return slotsBetween(schedule.spec, from, now);
  }

  /** The first tick: the latest unfired slot, if recent enough; what was missed before it is logged, not fired. */
  private catchUp(schedule: Schedule, lastAt: Date | null, now: Date): Date[] {
    const latest = latestSlotAtOrBefore(schedule.spec, now);
    if (!latest || (lastAt && latest.getTime() <= lastAt.getTime())) return [];
    const hasOlderMissed =
      lastAt !== null && slotsBetween(schedule.spec, lastAt, new Date(latest.getTime() - 1), 1).length > 0;
    if (hasOlderMissed) {
      this.log.info('schedule: skipping missed slots older than the latest one', {
        schedule: schedule.id,
        after: lastAt!.toISOString(),
        before: latest.toISOString(),
      });
    }
    const ageMs = now.getTime() - latest.getTime();
    if (ageMs > this.catchupMs) {
      this.log.info('schedule: skipping a missed slot older than the catch-up window (SCHEDULE_CATCHUP_HOURS)', {
        schedule: schedule.id,
        slot: latest.toISOString(),
        ageHours: Math.round(ageMs / 360_000) / 10,
      });
      return [];
    }
    return [latest];
  }

  /** Claims the slot and starts its run in one transaction; null when another process had it, `failed` when rolled back. */
  private async fire(schedule: Schedule, slotAt: Date, now: Date): Promise<FiredSlot | null | 'failed'> {
    const isLate = now.getTime() - slotAt.getTime() > this.tickMs;
    const slot: ScheduleSlot = { scheduleId: schedule.id, slotAt: slotAt.toISOString(), isLate };
    const t = schedule.trigger;
    const input = typeof t.input === 'function' ? t.input(slot) : (t.input ?? {});
    try {
      return await this.o.transaction(async (rt) => {
        const runId = randomUUID();
        if (!(await claimSlot(rt.sql, { scheduleId: schedule.id, slotAt, runId, isLate }))) return null;
        const channel = t.channel ?? this.o.defaults?.channel;
        const tenant = t.tenant ?? this.o.defaults?.tenant;
        await rt.start(schedule.flowId, input, {
          runId,
          triggerKey: `schedule:${schedule.id}:${slot.slotAt}`,
          trigger: { source: 'schedule', ...(channel ? { channel } : {}), ...(tenant ? { tenant } : {}) },
        });
        if (isLate)
          this.log.info('schedule: fired a missed slot late', { schedule: schedule.id, slot: slot.slotAt, runId });
        return { scheduleId: schedule.id, slotAt, runId, isLate };
      });
    } catch (err) {
      // Rolled back: nothing claimed, so the next tick tries this slot again (an invalid input is the flow file's to fix).
      this.log.error("schedule: could not start the slot's run", {
        schedule: schedule.id,
        slot: slot.slotAt,
        error: describeError(err),
      });
      return 'failed';
    }
  }
}
