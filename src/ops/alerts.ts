/**
 * Alerts to the operator's channel (SIGNOFF_ALERT_CHANNEL, docs/operations.md
 * "Alerts"). Every bot process runs a small sweep; each turn it
 *   1. records what only this process knows (its open tool circuits),
 *   2. compares what needs a person now (failed and parked runs, the model's
 *      quota, budget pauses, open circuits, dead-letter bursts) with the open
 *      alerts, under a per-schema lock so one process at a time does it:
 *      a new cause opens one row (a claim) and is logged, a gone one is cleared,
 *   3. delivers what is due under a lease: an opened alert is posted once, a
 *      cleared one gets one "resolved" reply under its message.
 * Level, not edge: the sweep reads the state itself, so no way a run can fail
 * (five places in the engine set `failed` or `parked`) is missed, a crash
 * between a fact and its alert loses nothing, and clearing is the same read.
 * The cost is up to one sweep of delay (ALERT_SWEEP_MS, default 15 s).
 */
import type { MessageRef } from '../chat/messages.ts';
import type { ChatPort, Notice } from '../chat/port.ts';
import { describeError } from '../errors.ts';
import {
  countDeadLettersSince,
  readAttentionRuns,
  readObservations,
  readPendingBudgets,
} from '../store/alert-facts.ts';
import {
  claimAlertDeliveries,
  clearAlertsExcept,
  dropObservations,
  openOrRefreshAlert,
  pruneObservations,
  readDbNow,
  readOpenAlerts,
  recordAlertDelivered,
  recordAlertUndelivered,
  recordObservations,
  tryLockAlertSweep,
  type AlertDraft,
  type AlertRow,
  type DeliveryKind,
} from '../store/alerts.ts';
import type { Db, Sql } from '../store/client.ts';
import { draftAlerts, resolvedText, type AlertFacts } from './alert-text.ts';
import { silentLogger, type Logger } from './log.ts';

/** The alerts' slice of the config (src/config.ts fills it). */
export interface AlertSettings {
  /** Where alerts go on the running platform (SIGNOFF_ALERT_CHANNEL): a channel id, or a web chat channel name. Null: only logged. */
  channel: string | null;
  /** Between sweeps (ALERT_SWEEP_MS). Default 15 000 ms. */
  sweepMs: number;
  /** Dead letters of one webhook source within the window that make a burst (ALERT_DEAD_LETTER_BURST). Default 5. */
  deadLetterBurst: number;
  /** The burst window (ALERT_DEAD_LETTER_WINDOW_MS); a burst clears after a window with none. Default 600 000 ms. */
  deadLetterWindowMs: number;
}

export interface AlerterOptions {
  sql: Sql;
  /** The running platform's port; null posts nothing (alerts are still opened, logged and cleared). */
  port: ChatPort | null;
  settings: AlertSettings;
  /** This process, in observations and delivery leases (the engine's worker id). */
  processId: string;
  /** Tool hosts whose circuit is open in this process (src/steps/runtime.ts `openCircuits`). */
  openCircuits?: () => string[];
  /**
   * The time now, for windows, observations and the alert rows. Default the database's
   * clock, which all processes share (a process clock may be skewed); tests pass their own.
   */
  clock?: () => Date;
  log?: Logger;
}

/** How long one delivery may hold an alert: a post takes a second, a paced one a little more. */
const DELIVERY_LEASE_MS = 60_000;
/** Alerts delivered per sweep; the rest wait for the next. */
const DELIVERIES_PER_SWEEP = 20;
/** Longest wait between tries of a delivery that keeps failing. */
const MAX_RETRY_MS = 15 * 60_000;
/** Sweeps an observation outlives its last refresh: a process that stopped refreshing is gone. */
const OBSERVATION_SWEEPS = 3;

export class Alerter {
  private readonly log: Logger;
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> = Promise.resolve();
  private isStopped = false;

  constructor(private readonly o: AlerterOptions) {
    this.log = o.log ?? silentLogger;
  }

  /** Sweeps now and then every `sweepMs`, until `stop()`. */
  start(): void {
    const turn = () => {
      this.inFlight = this.tick().finally(() => {
        if (!this.isStopped) this.timer = setTimeout(turn, this.o.settings.sweepMs).unref();
      });
    };
    turn();
  }

  /** Stops sweeping, lets a turn in flight end, and withdraws this process's observations. */
  async stop(): Promise<void> {
    this.isStopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.inFlight;
    if (this.o.openCircuits) await dropObservations(this.o.sql, this.o.processId).catch(() => {});
  }

  /** One turn: observe, reconcile, deliver. Never throws: a failed turn is logged and the next one tries again. */
  async tick(): Promise<void> {
    try {
      const now = this.o.clock?.() ?? (await readDbNow(this.o.sql));
      await this.observe(now);
      await this.reconcile(now);
      await this.deliver();
    } catch (err) {
      this.log.error('alert sweep failed; the next one tries again', { error: describeError(err).message });
    }
  }

  private async observe(now: Date): Promise<void> {
    if (!this.o.openCircuits) return;
    const seen = this.o.openCircuits().map((host) => ({ cause: `circuit:${host}`, detail: { host } }));
    await recordObservations(this.o.sql, this.o.processId, seen, now);
  }

  /** Opens new causes and clears gone ones; skipped while another process does it. */
  private async reconcile(now: Date): Promise<void> {
    const changes = await this.o.sql.begin(async (tx) => {
      if (!(await tryLockAlertSweep(tx))) return null;
      const open = await readOpenAlerts(tx);
      const drafts = draftAlerts(await this.readFacts(tx, now), {
        deadLetterBurst: this.o.settings.deadLetterBurst,
        deadLetterWindowMs: this.o.settings.deadLetterWindowMs,
        openCauses: new Set(open.keys()),
      });
      const opened: AlertDraft[] = [];
      for (const draft of drafts) {
        if ((await openOrRefreshAlert(tx, draft, now, this.o.settings.channel)).isNew) opened.push(draft);
      }
      const cleared = await clearAlertsExcept(
        tx,
        drafts.map((d) => d.cause),
        now,
      );
      return { opened, cleared };
    });
    for (const draft of changes?.opened ?? []) this.logOpened(draft);
    for (const alert of changes?.cleared ?? [])
      this.log.info('alert resolved', { alert: true, cause: alert.cause, text: resolvedText(alert) });
  }

  private async readFacts(tx: Db, now: Date): Promise<AlertFacts> {
    const ms = (n: number) => new Date(now.getTime() - n);
    await pruneObservations(tx, ms(OBSERVATION_SWEEPS * this.o.settings.sweepMs));
    return {
      runs: await readAttentionRuns(tx),
      budgets: await readPendingBudgets(tx),
      deadLetters: await countDeadLettersSince(tx, ms(this.o.settings.deadLetterWindowMs)),
      circuits: await readObservations(tx, ms(OBSERVATION_SWEEPS * this.o.settings.sweepMs)),
    };
  }

  private logOpened(draft: AlertDraft): void {
    const fields = { alert: true, cause: draft.cause, text: draft.message, quote: draft.quote, count: draft.count };
    if (this.o.settings.channel === null || this.o.port === null)
      this.log.warn('alert (SIGNOFF_ALERT_CHANNEL is not set, so it is only logged)', fields);
    else this.log.warn('alert', { ...fields, channel: this.o.settings.channel });
  }

  /** Posts opened alerts and replies under cleared ones, each once. */
  private async deliver(): Promise<void> {
    if (!this.o.port) return;
    const due = await claimAlertDeliveries(this.o.sql, this.o.processId, DELIVERY_LEASE_MS, DELIVERIES_PER_SWEEP);
    for (const alert of due) await this.deliverOne(this.o.port, alert);
  }

  private async deliverOne(port: ChatPort, alert: AlertRow & { delivery: DeliveryKind }): Promise<void> {
    try {
      const ref =
        alert.delivery === 'post'
          ? await port.postMessage(alert.channel!, noticeOf(alert), { idempotencyKey: `alert:${alert.id}` })
          : await port.replyInThread(
              alert.posted_ref as MessageRef,
              { text: resolvedText(alert) },
              { idempotencyKey: `alert:${alert.id}:resolved` },
            );
      await recordAlertDelivered(this.o.sql, alert.id, this.o.processId, alert.delivery, ref);
    } catch (err) {
      const details = (err as { details?: { retryable?: unknown; retryAfterMs?: unknown } }).details;
      const isFinal = details?.retryable === false;
      const backoffMs = Math.min(MAX_RETRY_MS, this.o.settings.sweepMs * 2 ** Math.min(alert.attempts, 10));
      const retryInMs = typeof details?.retryAfterMs === 'number' ? details.retryAfterMs : backoffMs;
      const error = describeError(err).message;
      await recordAlertUndelivered(this.o.sql, alert.id, this.o.processId, error, { retryInMs, isFinal });
      this.log.error(isFinal ? 'alert could not be posted; giving up' : 'alert not posted yet; trying again', {
        cause: alert.cause,
        channel: alert.channel,
        error,
        ...(isFinal ? { fix: 'check SIGNOFF_ALERT_CHANNEL names a channel the bot is in' } : { retryInMs }),
      });
    }
  }
}

function noticeOf(alert: AlertRow): Notice {
  return alert.quote ? { text: alert.message, quote: alert.quote } : { text: alert.message };
}
