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

export class Waiters {
  private readonly byRun = new Map<string, Set<Waiter>>();

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
    const set = this.byRun.get(run.id);
    if (!set) return;
    for (const w of set) if (w.until(run)) w.resolve(run);
  }
}
