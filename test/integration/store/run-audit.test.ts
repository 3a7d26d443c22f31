/**
 * The run audit chain (issue 15 part 6, migration 0050): a run's events,
 * decisions and tool calls are hash-chained per run; the app cannot update,
 * delete or truncate them (a trigger refuses it, for every role); an edit made
 * with the trigger disabled, a row removed, a link rewritten or a head moved is
 * named by `verifyRunAudit` (run and seq); rows written before 0050 are
 * backfilled so an upgraded database verifies.
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineFlow, review, setup, step, toolStep, assign } from '../../../src/authoring/index.ts';
import { readConfig } from '../../../src/config.ts';
import { silentLogger } from '../../../src/ops/log.ts';
import { createStepRuntime, type StepRuntime } from '../../../src/steps/runtime.ts';
import { verifyRunAudit } from '../../../src/store/audit.ts';
import { connect, type Sql } from '../../../src/store/client.ts';
import { migrate } from '../../../src/store/migrate.ts';
import { appendNote, insertRun } from '../../../src/store/runs.ts';
import { deploy, until, type Deployment, type PlatformDriver } from '../../contract/chat-port.contract.ts';
import { makeConsoleDriver } from '../../contract/console-driver.ts';
import { LINEAR_KEYS, startFakeTools, type FakeTools } from '../../fakes/tool-servers.ts';
import { testDatabaseUrl, useTestDb } from '../../helpers/db.ts';

const db = useTestDb({ max: 20 });
let tools: FakeTools;
let driver: PlatformDriver;
let steps: StepRuntime;
let app: Deployment;

const Input = z.object({ issueId: z.string(), body: z.string() });
type Input = z.infer<typeof Input>;

/** Draft, a review on the card, then an unsafe tool call (journaled in tool_calls). */
const auditedFlow = defineFlow({
  id: 'audited',
  title: 'Draft, review, comment (run audit test)',
  input: Input,
  triggers: [{ kind: 'command' }],
  tools: ['linear.comment'],
  machine: setup({
    types: {} as { input: Input; context: { input: Input; text: string; result?: unknown } },
    actors: {
      draft: step(async (i: Input) => ({ text: `Shipped: ${i.body}` })),
      check: review<{ text: string }>({ approvers: { users: ['bob'] } }),
      comment: toolStep<{ issueId: string; text: string }>('linear.comment', (i) => ({
        issueId: i.issueId,
        body: i.text,
      })),
    },
  }).createMachine({
    id: 'audited',
    context: ({ input }) => ({ input, text: '' }),
    initial: 'drafting',
    states: {
      drafting: {
        invoke: {
          src: 'draft',
          input: ({ context }) => context.input,
          onDone: { target: 'reviewing', actions: assign({ text: ({ event }) => event.output.text }) },
        },
      },
      reviewing: {
        invoke: { src: 'check', input: ({ context }) => ({ title: 'Comment?', content: { text: context.text } }) },
        on: {
          'review.approved': { target: 'commenting', actions: assign({ text: ({ event }) => event.content.text }) },
          'review.rejected': 'closed',
        },
      },
      commenting: {
        invoke: {
          src: 'comment',
          input: ({ context }) => ({ issueId: context.input.issueId, text: context.text }),
          onDone: { target: 'closed', actions: assign({ result: ({ event }) => event.output }) },
        },
      },
      closed: { type: 'final' },
    },
  }),
});

beforeAll(async () => {
  tools = await startFakeTools();
  driver = await makeConsoleDriver(db);
  const config = readConfig({ LINEAR_URL: tools.baseUrl, LINEAR_TOKEN: LINEAR_KEYS.apiKey, TOOL_RPM: '0' });
  steps = createStepRuntime({ config, sql: db.sql, log: silentLogger });
  app = await deploy(db, driver, { flows: [auditedFlow], services: steps.services });
});
afterAll(async () => {
  await app?.stop();
  await steps?.stop();
  await driver?.close();
  await tools?.close();
});

/** A run of the audited flow, approved by bob, through to its tool call. */
async function completedRun(body: string): Promise<string> {
  const { runId } = await app.engine.startRun(
    'audited',
    { issueId: 'ENG-1', body },
    { trigger: { source: 'console', actor: 'alice', channel: driver.channel, tenant: driver.tenant } },
  );
  const card = await until('the card', async () =>
    (await driver.cards(driver.channel)).find((c) => c.runId === runId && c.status === 'pending'),
  );
  expect(await driver.click('bob', card, 'approve')).toMatchObject({ kind: 'ok' });
  await app.engine.waitFor(runId, ['done'], { timeoutMs: 20_000 });
  return runId;
}

/** Runs `change` on run_events with the append-only trigger off, as a superuser who bypasses it would. */
async function tamper(change: (tx: Sql) => Promise<unknown>): Promise<void> {
  await db.sql.begin(async (tx) => {
    await tx`ALTER TABLE run_events DISABLE TRIGGER run_events_append_only`;
    await change(tx as unknown as Sql);
    await tx`ALTER TABLE run_events ENABLE TRIGGER run_events_append_only`;
  });
}

describe('a run through a review and a tool step', () => {
  it('is one hash chain that verifies, holding the decision and the tool call, with its head on the run', async () => {
    const runId = await completedRun('1.4.2');
    const rows = await db.sql<{ seq: number; type: string; actor: string | null; step_call: any; hash: string }[]>`
      SELECT seq, type, actor, step_call, prev_hash, hash FROM run_events WHERE run_id = ${runId} ORDER BY seq`;
    expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => i + 1));
    expect(rows.find((r) => r.type === 'review.approved')?.actor).toBe('bob');
    const toolRow = rows.find((r) => r.type === 'xstate.done.actor.comment')!;
    expect(toolRow.step_call).toMatchObject({
      step: 'comment',
      attempt: 1,
      outcome: 'done',
      inputSha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      toolCalls: [{ attempt: 1, tool: 'linear.comment', status: 'done' }],
    });
    expect(toolRow.step_call.job).toMatch(new RegExp(`^${runId}:`));
    const [run] = await db.sql<{ audit_head: string }[]>`SELECT audit_head FROM runs WHERE id = ${runId}`;
    expect(run!.audit_head).toBe(rows.at(-1)!.hash);
    expect(await verifyRunAudit(db.sql, { runId })).toEqual({ ok: true, checked: rows.length });
    const progress: number[] = [];
    const all = await verifyRunAudit(db.sql, { onProgress: (n) => progress.push(n), pageRows: 2 });
    expect(all.ok).toBe(true);
    expect(progress.at(-1)).toBe(all.checked);
    expect(progress.length).toBeGreaterThan(1);
  });

  it('an unsafe call whose outcome is unknown enters the chain when the run stops on it, and again when it completes', async () => {
    const { runId } = await app.engine.startRun(
      'audited',
      { issueId: 'ENG-2', body: 'lost answer' },
      { trigger: { source: 'console', actor: 'alice', channel: driver.channel, tenant: driver.tenant } },
    );
    const card = await until('the card', async () =>
      (await driver.cards(driver.channel)).find((c) => c.runId === runId && c.status === 'pending'),
    );
    tools.next({ kind: 'drop-after-accept' }); // the next tool call is the comment: made, its answer lost
    expect(await driver.click('bob', card, 'approve')).toMatchObject({ kind: 'ok' });
    await app.engine.waitFor(runId, ['parked'], { timeoutMs: 20_000 });
    const [blocked] = await db.sql<{ step_call: any }[]>`
      SELECT step_call FROM run_events WHERE run_id = ${runId} AND type = 'run.blocked'`;
    expect(blocked!.step_call).toMatchObject({
      step: 'comment',
      outcome: 'failed',
      toolCalls: [{ attempt: 1, tool: 'linear.comment', status: 'ambiguous' }],
    });
    await app.engine.retry(runId, { actor: 'ops' });
    await app.engine.waitFor(runId, ['done'], { timeoutMs: 20_000 });
    const [done] = await db.sql<{ step_call: any }[]>`
      SELECT step_call FROM run_events WHERE run_id = ${runId} AND type = 'xstate.done.actor.comment'`;
    // A retry starts the job's attempts again at 1, so the journal reused (overwrote) the row of
    // the call whose outcome was unknown: the chained run.blocked row is the only record left of it.
    expect(done!.step_call.toolCalls).toMatchObject([{ attempt: 1, tool: 'linear.comment', status: 'done' }]);
    const journal = await db.sql`SELECT attempt, status FROM tool_calls WHERE job_key = ${done!.step_call.job}`;
    expect(journal).toEqual([{ attempt: 1, status: 'done' }]);
    expect(blocked!.step_call.toolCalls[0].status).toBe('ambiguous');
    expect(await verifyRunAudit(db.sql, { runId })).toMatchObject({ ok: true });
  });

  it('the app cannot UPDATE, DELETE or TRUNCATE run_events: the trigger refuses it, for a granted role and a superuser', async () => {
    const runId = await completedRun('refused');
    const role = `signoff_app_${randomBytes(4).toString('hex')}`;
    await db.sql.unsafe(`CREATE ROLE "${role}" NOLOGIN`);
    try {
      await db.sql.unsafe(`GRANT USAGE ON SCHEMA "${db.schema}" TO "${role}";
        GRANT ALL ON ALL TABLES IN SCHEMA "${db.schema}" TO "${role}"`);
      const asApp = (statement: (tx: Sql) => Promise<unknown>) =>
        db.sql.begin(async (tx) => {
          await tx.unsafe(`SET LOCAL ROLE "${role}"`);
          await statement(tx as unknown as Sql);
        });
      const refused = { code: '42501', message: 'permission denied: run_events is append-only' };
      for (const as of [asApp, (s: (tx: Sql) => Promise<unknown>) => db.sql.begin((tx) => s(tx as unknown as Sql))]) {
        await expect(
          as((tx) => tx`UPDATE run_events SET actor = 'mallory' WHERE run_id = ${runId}`),
        ).rejects.toMatchObject(refused);
        await expect(as((tx) => tx`DELETE FROM run_events WHERE run_id = ${runId}`)).rejects.toMatchObject(refused);
        await expect(as((tx) => tx`TRUNCATE run_events`)).rejects.toMatchObject(refused);
      }
    } finally {
      await db.sql.unsafe(`DROP OWNED BY "${role}"; DROP ROLE "${role}"`);
    }
    expect(await verifyRunAudit(db.sql, { runId })).toMatchObject({ ok: true });
  });
});

describe('verify names the first broken link', () => {
  it('a row altered with the trigger disabled: that run and seq, content altered', async () => {
    const runId = await completedRun('altered');
    const [row] = await db.sql<{ seq: number }[]>`
      SELECT seq FROM run_events WHERE run_id = ${runId} AND type = 'review.approved'`;
    await tamper((tx) => tx`UPDATE run_events SET actor = 'mallory' WHERE run_id = ${runId} AND seq = ${row!.seq}`);
    const verdict = await verifyRunAudit(db.sql, { runId });
    expect(verdict).toMatchObject({
      ok: false,
      checked: row!.seq - 1,
      broken: { runId, seq: String(row!.seq), reason: expect.stringMatching(/^content altered/) },
    });
    // The whole-database walk finds it too (other runs in this schema are intact or broken later in order).
    const all = await verifyRunAudit(db.sql);
    expect(all.ok).toBe(false);
  });

  it("a tool call's recorded outcome rewritten is caught the same way", async () => {
    const runId = await completedRun('tool outcome');
    const [row] = await db.sql<{ seq: number }[]>`
      SELECT seq FROM run_events WHERE run_id = ${runId} AND step_call IS NOT NULL AND step_call->>'step' = 'comment'`;
    await tamper(
      (tx) =>
        tx`UPDATE run_events SET step_call = jsonb_set(step_call, '{outcome}', '"failed"') WHERE run_id = ${runId} AND seq = ${row!.seq}`,
    );
    expect((await verifyRunAudit(db.sql, { runId })).broken).toMatchObject({ runId, seq: String(row!.seq) });
  });

  it('a row deleted in the middle: the missing seq', async () => {
    const runId = await completedRun('deleted');
    await tamper((tx) => tx`DELETE FROM run_events WHERE run_id = ${runId} AND seq = 3`);
    expect(await verifyRunAudit(db.sql, { runId })).toMatchObject({
      ok: false,
      checked: 2,
      broken: { runId, seq: '3', reason: 'row missing: seq 3 is absent (the next row is seq 4)' },
    });
  });

  it('the last row deleted: the run is ahead of its chain', async () => {
    const runId = await completedRun('tail');
    const [run] = await db.sql<{ version: number }[]>`SELECT version FROM runs WHERE id = ${runId}`;
    await tamper((tx) => tx`DELETE FROM run_events WHERE run_id = ${runId} AND seq = ${run!.version}`);
    expect((await verifyRunAudit(db.sql, { runId })).broken).toMatchObject({
      runId,
      seq: String(run!.version),
      reason: expect.stringMatching(/^row missing: the run is at version/),
    });
  });

  it('a row rewritten with a freshly computed hash: the next row no longer links to it', async () => {
    const runId = await completedRun('relinked');
    await tamper(
      (tx) => tx`UPDATE run_events SET actor = 'mallory',
                   hash = run_audit_hash(prev_hash, run_id, seq, kind, type, event, 'mallory', state_before, state_after,
                                         dedupe_key, step_call, at)
                 WHERE run_id = ${runId} AND seq = 2`,
    );
    expect((await verifyRunAudit(db.sql, { runId })).broken).toMatchObject({
      runId,
      seq: '3',
      reason: expect.stringMatching(/^prev link wrong: prev_hash is not the hash of seq 2/),
    });
  });

  it("a run's head moved: head mismatch", async () => {
    const runId = await completedRun('head');
    await db.sql`UPDATE runs SET audit_head = repeat('0', 64) WHERE id = ${runId}`;
    expect((await verifyRunAudit(db.sql, { runId })).broken).toMatchObject({
      runId,
      reason: expect.stringMatching(/^head mismatch/),
    });
  });
});

it('verify of a run that does not exist says so', async () => {
  await expect(verifyRunAudit(db.sql, { runId: 'no-such-run' })).rejects.toMatchObject({ code: 'run_not_found' });
});

it('awkward content hashes the same in SQL and in the verifier: escapes, unicode, number forms, key order', async () => {
  const runId = `awkward-${randomBytes(4).toString('hex')}`;
  const plan = { jobs: [], timers: [], cancelJobs: [], cancelTimers: [] };
  const awkward = {
    'a longer key': 1e-7,
    b: 1e300,
    z: [0.1, -0, 2 ** 53, 'tab\there', 'nl\nquote"back\\slash', '\u0001\u001f\u007f', '\u2028\u2029'],
    ü: 'émoji 🎉 RTL \u202e تجربة',
    nested: { yy: null, x: true, '': 'empty key' },
  };
  await insertRun(
    db.sql,
    {
      id: runId,
      flow: 'audited',
      flowVersion: 'v1',
      status: 'running',
      snapshot: { value: 'drafting', context: awkward },
      input: awkward,
      output: null,
      triggerKey: null,
      trigger: {},
    },
    {
      kind: 'event',
      type: 'xstate.init',
      event: null,
      actor: 'ü\n"',
      stateBefore: null,
      stateAfter: 'drafting',
      dedupeKey: null,
    },
    plan,
    'test',
  );
  await appendNote(db.sql, runId, { type: 'note.awkward', data: awkward, actor: "o'brien\t😀" });
  await appendNote(db.sql, runId, { type: 'note.empty', data: null, actor: null, status: 'done', reason: 'ok' });
  expect(await verifyRunAudit(db.sql, { runId })).toEqual({ ok: true, checked: 3 });
});

describe('an upgraded database', () => {
  const schema = `t_${randomBytes(5).toString('hex')}`;
  let sql: Sql;
  beforeAll(() => {
    sql = connect({ url: testDatabaseUrl(), schema, max: 2 });
  });
  afterAll(async () => {
    await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await sql.end({ timeout: 5 });
  });

  it('rows written before 0050 are backfilled, verify, and the chain continues from them', async () => {
    await migrateUpTo(sql, schema, 40);
    // What the pre-0050 engine wrote: no hashes, `at` from the default.
    for (const [runId, events] of [
      ['old-1', 3],
      ['old-2', 1],
      ['old-3', 2],
    ] as const) {
      await sql`INSERT INTO runs (id, flow, flow_version, status, snapshot, input, version)
                VALUES (${runId}, 'f', 'v1', 'waiting', ${sql.json({ value: 'waiting' })}, ${sql.json({ n: 1e-7 })}, ${events})`;
      for (let seq = 1; seq <= events; seq++) {
        await sql`INSERT INTO run_events (run_id, seq, kind, type, event, actor, state_before, state_after)
                  VALUES (${runId}, ${seq}, 'event', ${`e${seq}`}, ${sql.json({ big: 1e300, small: 1e-7, s: 'ü"\n' })},
                          'alice', ${sql.json('waiting')}, ${sql.json('waiting')})`;
      }
    }
    await migrate(sql, schema);
    const heads = await sql<{ id: string; audit_head: string; last: string }[]>`
      SELECT id, audit_head, (SELECT hash FROM run_events WHERE run_id = id ORDER BY seq DESC LIMIT 1) AS last FROM runs ORDER BY id`;
    expect(heads.map((h) => h.audit_head)).toEqual(heads.map((h) => h.last));
    expect(await verifyRunAudit(sql)).toEqual({ ok: true, checked: 6 });
    await appendNote(sql, 'old-1', { type: 'run.cancelled', data: { reason: 'after upgrade' }, actor: 'ops' });
    expect(await verifyRunAudit(sql, { runId: 'old-1' })).toEqual({ ok: true, checked: 4 });
    await expect(sql`DELETE FROM run_events WHERE run_id = 'old-2'`).rejects.toMatchObject({ code: '42501' });
  });
});

/** Applies the migrations numbered up to `last` as migrate() does (the same ledger), to stand for an older release. */
async function migrateUpTo(sql: Sql, schema: string, last: number): Promise<void> {
  const dir = new URL('../../../src/store/migrations/', import.meta.url);
  const names = (await readdir(dir)).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f) && Number(f.slice(0, 4)) <= last);
  await sql.unsafe(`CREATE SCHEMA "${schema}"`);
  await sql.unsafe(`CREATE TABLE "${schema}".schema_migrations (
    version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
  for (const name of names.sort()) {
    const text = await readFile(new URL(name, dir), 'utf8');
    await sql.begin(async (tx) => {
      await tx.unsafe(`SET LOCAL search_path TO "${schema}"`);
      await tx.unsafe(text);
      await tx.unsafe(`INSERT INTO "${schema}".schema_migrations (version, name) VALUES ($1, $2)`, [
        Number(name.slice(0, 4)),
        name,
      ]);
    });
  }
}
