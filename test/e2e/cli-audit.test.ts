/**
 * `signoff audit verify` over the run chain (issue 15 part 6), as a process:
 * every chain holds (exit 0); a run_events row altered with the append-only
 * trigger disabled makes it exit 1 naming the run and seq; `--run <id>` checks
 * one run; a run that does not exist is said so (exit 1).
 */
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { appendNote, insertRun } from '../../src/store/runs.ts';
import { runCli } from '../helpers/cli.ts';
import { useTestDb } from '../helpers/db.ts';

const db = useTestDb();
const env = () => ({ DATABASE_URL: db.url, SIGNOFF_SCHEMA: db.schema });
/** Each CLI run starts a process under tsx: seconds on a loaded machine. */
const CLI_TEST_MS = 120_000;
const intact = `run-${randomBytes(4).toString('hex')}`;
const tampered = `run-${randomBytes(4).toString('hex')}`;

/** A run of three chained rows, written by the engine's own store functions. */
async function seedRun(runId: string): Promise<void> {
  await insertRun(
    db.sql,
    {
      id: runId,
      flow: 'ticket-triage',
      flowVersion: 'v1',
      status: 'waiting',
      snapshot: { value: 'awaitingReview', context: {} },
      input: { subject: 'Charged twice' },
      output: null,
      triggerKey: null,
      trigger: { source: 'console', actor: 'alice' },
    },
    {
      kind: 'event',
      type: 'xstate.init',
      event: null,
      actor: 'alice',
      stateBefore: null,
      stateAfter: 'awaitingReview',
      dedupeKey: null,
    },
    { jobs: [], timers: [], cancelJobs: [], cancelTimers: [] },
    'cli-audit-test',
  );
  await appendNote(db.sql, runId, { type: 'review.approved', data: { by: 'bob' }, actor: 'bob' });
  await appendNote(db.sql, runId, { type: 'run.cancelled', data: { reason: 'done here' }, actor: 'cli:ops' });
}

beforeAll(async () => {
  await seedRun(intact);
  await seedRun(tampered);
});

describe('signoff audit verify', () => {
  it(
    'passes while every chain holds, and --run checks one run',
    async () => {
      const all = await runCli(['audit', 'verify'], env());
      expect(all.code).toBe(0);
      expect(all.stdout).toContain('run audit: ok (6 rows checked)');
      const one = await runCli(['audit', 'verify', '--run', intact, '--json'], env());
      expect(one.code).toBe(0);
      expect(JSON.parse(one.stdout).checks).toContainEqual({ name: 'run audit', ok: true, checked: 3 });
    },
    CLI_TEST_MS,
  );

  it(
    'fails naming the run and seq once a run_events row was altered with the protection disabled',
    async () => {
      await db.sql.begin(async (tx) => {
        await tx`ALTER TABLE run_events DISABLE TRIGGER run_events_append_only`;
        await tx`UPDATE run_events SET actor = 'mallory' WHERE run_id = ${tampered} AND seq = 2`;
        await tx`ALTER TABLE run_events ENABLE TRIGGER run_events_append_only`;
      });
      const all = await runCli(['audit', 'verify'], env());
      expect(all.code).toBe(1);
      expect(all.stdout).toContain(`run audit: BROKEN at run_events seq 2, run ${tampered}: content altered`);
      const one = await runCli(['audit', 'verify', '--run', tampered, '--json'], env());
      expect(one.code).toBe(1);
      const report = JSON.parse(one.stdout) as { ok: boolean; checks: { name: string; broken?: unknown }[] };
      expect(report.ok).toBe(false);
      expect(report.checks.find((c) => c.name === 'run audit')!.broken).toEqual({
        table: 'run_events',
        runId: tampered,
        seq: '2',
        reason: 'content altered: the row does not match its hash',
      });
      expect((await runCli(['audit', 'verify', '--run', intact], env())).code).toBe(0);
    },
    CLI_TEST_MS,
  );

  it(
    'a run that does not exist exits 1 and says so',
    async () => {
      const { code, stderr } = await runCli(['audit', 'verify', '--run', 'no-such-run'], env());
      expect(code).toBe(1);
      expect(stderr).toContain('no run no-such-run');
    },
    CLI_TEST_MS,
  );
});
