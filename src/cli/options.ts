/**
 * Option parsers shared by the commands. A value they refuse is a usage error:
 * commander prints why with the command's usage line, and the exit code is 2.
 */
import { InvalidArgumentError } from 'commander';

const UNIT_MS: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** A `--limit <n>` parser: a whole number from 1 to `max`. */
export function limitOption(max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > max)
      throw new InvalidArgumentError(`use a whole number from 1 to ${max}.`);
    return n;
  };
}

/** `30m`, `2d`, `1w` before now, or an ISO time such as 2026-01-31 or 2026-01-31T09:00:00Z. */
export function parseSince(value: string, nowMs = Date.now()): Date {
  const relative = /^(\d{1,6})([smhdw])$/.exec(value);
  if (relative) return new Date(nowMs - Number(relative[1]) * UNIT_MS[relative[2]!]!);
  const at = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(at)) throw new InvalidArgumentError('use a duration such as 30m, 2d, 1w, or an ISO time.');
  return new Date(at);
}
