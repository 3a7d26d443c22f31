/**
 * When a schedule's slots are: a cron expression read in an IANA time zone by
 * croner, with our own DST rules on top (docs/schedules.md), because croner's
 * follow Vixie cron and differ from what a person reading "02:30 every day"
 * expects:
 *
 * - A slot whose wall-clock time does not exist that day (spring forward) is
 *   skipped. Croner runs a fixed-time job at the first valid time after the gap
 *   instead; we drop any instant whose local time does not match the pattern.
 * - A slot whose wall-clock time exists twice (fall back) fires once, at the
 *   first occurrence. Croner runs interval jobs on both; we drop the second.
 *
 * Pure: every function takes the instants it compares; nothing here reads a clock.
 */
import { Cron } from 'croner';
import { SignoffError } from '../errors.ts';

/** A compiled schedule expression: croner's pattern plus the zone its wall-clock times are in. */
export interface CronSpec {
  readonly cron: Cron;
  readonly timezone: string;
}

/** Most slots one enumeration returns: a bound on work per tick, whatever the expression. */
export const MAX_SLOTS = 1_000;
/** How far back a repeated wall-clock time is looked for: the largest DST shift in the tz database is 2 h. */
const REPEAT_PROBES_MS = [30, 60, 90, 120].map((m) => m * 60_000);

/** Parses `expr` (5 or 6 fields, seconds first when 6) in `timezone`; throws `flow_invalid` saying what is wrong. */
export function compileCron(expr: string, timezone = 'UTC'): CronSpec {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
  } catch {
    throw new SignoffError('flow_invalid', `unknown time zone "${timezone}"; use an IANA name such as Europe/Berlin`);
  }
  try {
    // paused: croner only computes here; it never starts a timer of its own.
    return { cron: new Cron(expr, { timezone, paused: true, mode: '5-or-6-parts' }), timezone };
  } catch (cause) {
    throw new SignoffError('flow_invalid', `invalid cron expression "${expr}": ${(cause as Error).message}`, { cause });
  }
}

/** The local wall-clock time of `at` in `timezone`, to the second: `2026-10-25 02:30:00`. */
export function wallClock(at: Date, timezone: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone: timezone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(at);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return `${get('year')}-${get('month')}-${get('day')} ${get('hour')}:${get('minute')}:${get('second')}`;
}

/** True when `at` is a slot by our rules: its local time matches, and that local time did not already occur. */
export function isSlot(spec: CronSpec, at: Date): boolean {
  if (!spec.cron.match(at)) return false;
  const wall = wallClock(at, spec.timezone);
  return !REPEAT_PROBES_MS.some((ms) => wallClock(new Date(at.getTime() - ms), spec.timezone) === wall);
}

/** The slots in (after, until], oldest first, at most `max`. */
export function slotsBetween(spec: CronSpec, after: Date, until: Date, max = MAX_SLOTS): Date[] {
  const slots: Date[] = [];
  let cursor: Date | null = after;
  // Croner's candidates include times we skip, so at most 2 × max are looked at.
  for (let looked = 0; cursor && looked < 2 * max && slots.length < max; looked++) {
    cursor = spec.cron.nextRun(cursor);
    if (!cursor || cursor.getTime() > until.getTime()) break;
    if (isSlot(spec, cursor)) slots.push(cursor);
  }
  return slots;
}

/** The latest slot at or before `at`, or null when none is among the last 2 × `MAX_SLOTS` candidates. */
export function latestSlotAtOrBefore(spec: CronSpec, at: Date): Date | null {
  // Croner works in whole seconds and its reference is exclusive: start one second later, keep what is <= at.
  let reference = new Date(at.getTime() + 1_000);
  for (let looked = 0; looked < 2 * MAX_SLOTS; looked++) {
    const [candidate] = spec.cron.previousRuns(1, reference);
    if (!candidate) return null;
    if (candidate.getTime() <= at.getTime() && isSlot(spec, candidate)) return candidate;
    reference = candidate;
  }
  return null;
}

/** The next slot after `at` (for `/signoff schedules`). */
export function nextSlotAfter(spec: CronSpec, at: Date): Date | null {
  return slotsBetween(spec, at, new Date(8_640_000_000_000_000), 1)[0] ?? null;
}
