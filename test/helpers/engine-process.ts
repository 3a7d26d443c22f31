/**
 * Test side of test/helpers/engine-child.ts: spawns an engine process on a test
 * schema, sends it requests, and kills it. Every process spawned here is
 * remembered, and `killAllEngineProcesses()` (call it in afterAll) SIGKILLs any
 * a test left behind. Every request and every wait has a deadline.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHILD_SCRIPT = path.join(REPO_ROOT, 'test/helpers/engine-child.ts');
const READY_DEADLINE_MS = 20_000;

export interface EngineProcessOptions {
  url: string;
  schema: string;
  workerId?: string;
  pollMs?: number;
  concurrency?: number;
  maxRecoveries?: number;
  crashpoints?: string[];
  /** Steps that block in this process after logging 'started'. */
  hang?: string[];
  /** Time limit of the one-step flow's step. */
  stepTimeoutMs?: number;
  /** False: the engine starts runs but claims no work. */
  worker?: boolean;
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

const live = new Set<EngineProcess>();

export class EngineProcess {
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private stderr = '';
  private hasExited = false;

  private constructor(
    private readonly child: ChildProcess,
    readonly name: string,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.hasExited = true;
        live.delete(this);
        for (const p of this.pending.values()) {
          clearTimeout(p.timer);
          p.reject(new Error(`${name} exited (${signal ?? code}) before answering${this.stderrTail()}`));
        }
        this.pending.clear();
        resolve({ code, signal });
      });
    });
    child.stdin!.on('error', () => {}); // EPIPE after a kill: the exit handler reports it
    child.stderr!.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-4_000);
    });
  }

  /** Spawns the engine process and resolves once its engine is started. */
  static async spawn(opts: EngineProcessOptions): Promise<EngineProcess> {
    const name = opts.workerId ?? 'engine-child';
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DATABASE_URL: opts.url,
      SIGNOFF_SCHEMA: opts.schema,
      SIGNOFF_POLL_MS: String(opts.pollMs ?? 100),
      SIGNOFF_CRASHPOINTS: (opts.crashpoints ?? []).join(','),
      SIGNOFF_HANG_STEPS: (opts.hang ?? []).join(','),
    };
    if (opts.workerId) env.SIGNOFF_WORKER_ID = opts.workerId;
    if (opts.concurrency !== undefined) env.SIGNOFF_CONCURRENCY = String(opts.concurrency);
    if (opts.maxRecoveries !== undefined) env.SIGNOFF_MAX_RECOVERIES = String(opts.maxRecoveries);
    if (opts.stepTimeoutMs !== undefined) env.SIGNOFF_STEP_TIMEOUT_MS = String(opts.stepTimeoutMs);
    if (opts.worker === false) env.SIGNOFF_NO_WORKER = '1';
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD_SCRIPT], {
      cwd: REPO_ROOT,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const proc = new EngineProcess(child, name);
    live.add(proc);
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${name} not ready within ${READY_DEADLINE_MS} ms${proc.stderrTail()}`)),
        READY_DEADLINE_MS,
      );
      void proc.exited.then(() => reject(new Error(`${name} exited before it was ready${proc.stderrTail()}`)));
      createInterface({ input: child.stdout! }).on('line', (line) => {
        let msg: {
          ready?: boolean;
          id?: number;
          ok?: boolean;
          result?: unknown;
          error?: { code: string; message: string };
        };
        try {
          msg = JSON.parse(line);
        } catch {
          return; // not a protocol line
        }
        if (msg.ready) {
          clearTimeout(timer);
          resolve();
          return;
        }
        const p = msg.id === undefined ? undefined : proc.pending.get(msg.id);
        if (!p) return;
        proc.pending.delete(msg.id!);
        clearTimeout(p.timer);
        if (msg.ok) p.resolve(msg.result);
        else p.reject(Object.assign(new Error(`${name}: ${msg.error!.message}`), { code: msg.error!.code }));
      });
    });
    try {
      await ready;
    } catch (err) {
      await proc.kill();
      throw err;
    }
    return proc;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Sends one request; rejects with the child's error, or after `timeoutMs`. */
  call<T = unknown>(op: string, args: Record<string, unknown> = {}, timeoutMs = 15_000): Promise<T> {
    if (this.hasExited) return Promise.reject(new Error(`${this.name} has exited`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name} did not answer "${op}" within ${timeoutMs} ms${this.stderrTail()}`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.child.stdin!.write(`${JSON.stringify({ id, op, ...args })}\n`);
    });
  }

  /** SIGKILLs the process (no cleanup of any kind runs) and waits until it is gone. */
  async kill(): Promise<void> {
    if (!this.hasExited) this.child.kill('SIGKILL');
    await withDeadline(this.exited, 10_000, `${this.name} to exit after SIGKILL`);
  }

  /** Resolves when the process exits by itself (e.g. at a crash point), rejects after `timeoutMs`. */
  async waitForExit(timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return withDeadline(this.exited, timeoutMs, `${this.name} to exit`);
  }

  private stderrTail(): string {
    return this.stderr ? `\n--- ${this.name} stderr ---\n${this.stderr}` : '';
  }
}

/** SIGKILLs every engine process still running (afterAll / finally). */
export async function killAllEngineProcesses(): Promise<void> {
  await Promise.all([...live].map((p) => p.kill()));
}

export async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `check` until it returns a value other than undefined/false; fails after `timeoutMs`. */
export async function waitUntil<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs = 10_000,
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await sleep(intervalMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
