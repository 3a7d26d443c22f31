/**
 * A progress bar for long work (replaying every dead letter, walking every audit
 * chain), drawn on stderr, and only for a person: when stdout and stderr are
 * terminals and --json is off. Otherwise every call is a no-op, so scripts and
 * pipes see only the command's output.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  /** Sets the bar to `done` of `total` (the total may grow as work is found). */
  update(done: number, total: number): void;
  stop(): void;
}

export function startProgress(label: string, opts: { isJson: boolean }): Progress {
  if (opts.isJson || !process.stdout.isTTY || !process.stderr.isTTY) return { update: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {value}/{total}`, stream: process.stderr, hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  let isStarted = false;
  return {
    update(done, total) {
      if (!isStarted) bar.start(total, done);
      else bar.setTotal(total);
      isStarted = true;
      bar.update(done);
    },
    stop: () => {
      if (isStarted) bar.stop();
    },
  };
}
