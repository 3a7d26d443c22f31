/**
 * GET /metrics through the real path: `npm start` (src/main.ts) as a child
 * process on the test schema, with the web chat and the offline model. main
 * builds one `Metrics` and hands it to every part, so a run started from the
 * web chat shows in the scrape, the gauges read this schema's rows, and the
 * process metrics are there; without the token the scrape is refused.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { until } from '../../contract/chat-port.contract.ts';
import { useTestDb } from '../../helpers/db.ts';
import { scrape, valueOf } from './metrics-scrape.ts';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const METRICS_TOKEN = 'main-metrics-token-0123456789';
const db = useTestDb();
let child: ChildProcess | null = null;

afterAll(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
});

/** The bot on the test schema; resolves with its URL once it logs that it is running. */
function startBot(): Promise<string> {
  child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: db.url,
      SIGNOFF_SCHEMA: db.schema,
      PORT: '0',
      OPENAI_API_KEY: '',
      OPENAI_BASE_URL: '',
      ZENDESK_URL: '',
      METRICS_TOKEN,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const lines: string[] = [];
  return new Promise<string>((resolve, reject) => {
    createInterface({ input: child!.stderr! }).on('line', (line) => {
      lines.push(line);
      const msg = JSON.parse(line.startsWith('{') ? line : '{}') as { msg?: string; url?: string };
      if (msg.msg === 'signoff is running') resolve(msg.url!);
    });
    child!.once('exit', (code) => reject(new Error(`bot exited with ${code}:\n${lines.join('\n')}`)));
    setTimeout(() => reject(new Error(`bot did not start in 45 s:\n${lines.join('\n')}`)), 45_000);
  });
}

describe('npm start serves /metrics', () => {
  it('counts a run started from the web chat, reads the pending review from the database, has process metrics', async () => {
    const url = await startBot();
    expect((await fetch(`${url}/metrics`)).status).toBe(401);
    const before = await scrape(`${url}/metrics`, METRICS_TOKEN);
    expect(valueOf(before, 'signoff_runs_started_total', { flow: 'ticket-triage' })).toBe(0);
    expect(before.has('signoff_runs_started_total')).toBe(true);
    const res = await fetch(`${url}/api/command`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        user: 'alice',
        channel: 'support',
        text: 'run ticket-triage subject="Printer on fire" body="It is smoking"',
        deliveryId: randomUUID(),
      }),
    });
    expect(res.status).toBe(200);
    const after = await until(
      'the pending review in the scrape',
      async () => {
        const m = await scrape(`${url}/metrics`, METRICS_TOKEN);
        return valueOf(m, 'signoff_reviews_pending') === 1 ? m : null;
      },
      30_000,
    );
    expect(valueOf(after, 'signoff_runs_started_total', { flow: 'ticket-triage' })).toBe(1);
    expect(valueOf(after, 'signoff_model_calls_total', { model: 'offline', outcome: 'ok' })).toBe(2);
    expect(valueOf(after, 'signoff_step_duration_seconds_count', { step: 'draft' })).toBe(1);
    expect(valueOf(after, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(after.has('nodejs_eventloop_lag_p99_seconds')).toBe(true);
    const [pending] = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM reviews WHERE status = 'pending'`;
    expect(pending!.n).toBe(1);
    child!.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => child!.once('exit', (c) => r(c)));
    expect(code).toBe(0);
  }, 90_000);
});
