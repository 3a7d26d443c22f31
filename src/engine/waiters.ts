/**
 * In-process wake-ups for `waitFor`: every commit this process makes is
 * announced here, so a caller waiting on a run it drives needs no polling.
 * Commits by other processes are seen by the caller's fallback poll.
 */
import type { RunStatus } from './decide.ts';

/** What a waiter sees of a run after a commit. */
export interface RunView {
  id: string;
  flow: string;
  status: RunStatus;
  /** Why the run is failed, parked or cancelled. */
  reason: string | null;
  /** The XState state value. */
  state: unknown;
  context: unknown;
  output: unknown;
  version: number;
}

type Waiter = { until: (run: RunView) => boolean; resolve: (run: RunView) => void };

/** Recent commits remembered, so a wait right after a start or send needs no read. */
const RECENT_LIMIT = 1_024;

export class Waiters {
  private readonly byRun = new Map<string, Set<Waiter>>();
  private readonly recent = new Map<string, RunView>();

  /** The last view of `runId` this process committed, if it is recent. Another process may have moved the run on since. */
  latest(runId: string): RunView | undefined {
    return this.recent.get(runId);
  }

  add(runId: string, until: (run: RunView) => boolean, resolve: (run: RunView) => void): () => void {
    const waiter = { until, resolve };
    let set = this.byRun.get(runId);
    if (!set) this.byRun.set(runId, (set = new Set()));
    set.add(waiter);
    return () => {
      set.delete(waiter);
      if (set.size === 0) this.byRun.delete(runId);
    };
  }

  announce(run: RunView): void {
    this.recent.delete(run.id);
    this.recent.set(run.id, run);
    if (this.recent.size > RECENT_LIMIT) this.recent.delete(this.recent.keys().next().value!);
    const set = this.byRun.get(run.id);
    if (!set) return;
    for (const w of set) if (w.until(run)) w.resolve(run);
  }
}
