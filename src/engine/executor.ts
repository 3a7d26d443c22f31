/**
 * Runs step and effect functions in this process, at most `limit` at a time,
 * each under its own time limit and AbortSignal. It knows nothing of SQL: the
 * engine hands it work and gets outcomes back.
 */
export interface Task {
  key: string;
  timeoutMs: number;
  run: (signal: AbortSignal) => Promise<void>;
}

export class Executor {
  private readonly running = new Map<string, AbortController>();
  private readonly queue: Task[] = [];
  private idle: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  /** Slots not yet taken by running or queued tasks. */
  get free(): number {
    return Math.max(0, this.limit - this.running.size - this.queue.length);
  }

  submit(task: Task): void {
    this.queue.push(task);
    this.pump();
  }

  /** Waits up to `ms` for all tasks to finish; aborts the rest and returns their keys. */
  async drain(ms: number): Promise<string[]> {
    const left = this.queue.splice(0).map((t) => t.key);
    if (this.running.size > 0) {
      await Promise.race([new Promise<void>((r) => this.idle.push(r)), sleep(ms)]);
    }
    for (const ctl of this.running.values()) ctl.abort(new Error('worker shutting down'));
    return left.concat([...this.running.keys()]);
  }

  private pump(): void {
    while (this.running.size < this.limit && this.queue.length > 0) this.start(this.queue.shift()!);
  }

  private start(task: Task): void {
    const ctl = new AbortController();
    this.running.set(task.key, ctl);
    const timer = setTimeout(() => ctl.abort(new StepTimeoutError(task.timeoutMs)), task.timeoutMs);
    task.run(ctl.signal).finally(() => {
      clearTimeout(timer);
      this.running.delete(task.key);
      if (this.running.size === 0) this.idle.splice(0).forEach((r) => r());
      this.pump();
    });
  }
}

export class StepTimeoutError extends Error {
  override readonly name = 'StepTimeoutError';
  constructor(timeoutMs: number) {
    super(`step timed out after ${timeoutMs} ms`);
  }
}

/** Resolves with `fn`'s result, or rejects when `signal` aborts (a step that ignores its signal). */
export function runAbortable<T>(fn: () => Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    fn()
      .then(resolve, reject)
      .finally(() => signal.removeEventListener('abort', onAbort));
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
