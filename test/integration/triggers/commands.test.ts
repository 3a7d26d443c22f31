/**
 * `/signoff` commands end to end on a real Engine and Postgres: every
 * subcommand, every refusal, redelivery, tenant isolation, who may cancel or
 * retry, hostile text, and what an unexpected failure shows (a ref) and logs
 * (the real error). Refusals are checked on the rows: they change nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import demo from '../../fixtures/flows/draft-approve.flow.ts';
import { setup } from 'xstate';
import { z } from 'zod';
import type { InboundCommand } from '../../../src/chat/messages.ts';
import type { CommandReply } from '../../../src/chat/port.ts';
import { Engine } from '../../../src/engine/engine.ts';
import { compileFlow } from '../../../src/engine/flow.ts';
import { createLogger } from '../../../src/ops/log.ts';
import { connect } from '../../../src/store/client.ts';
import { recordModelCall } from '../../../src/store/ledger.ts';
import { appendNote } from '../../../src/store/runs.ts';
import { handleCommand, makeCommandDeps, type CommandDeps } from '../../../src/triggers/commands.ts';
import { commandKeysOf } from '../../../src/triggers/input-keys.ts';
import ticketTriage from '../../../flows/ticket-triage.flow.ts';
import { useTestDb } from '../../helpers/db.ts';
import { startTestEngine, tableCounts } from '../../helpers/engines.ts';
import { createStepLog, testFlows } from '../../helpers/flows/test-flows.ts';

const db = useTestDb();
let engine: Engine;
let deps: CommandDeps;
const logLines: string[] = [];
const log = createLogger('debug', (line) => logLines.push(line));
let deliveries = 0;

beforeAll(async () => {
  await createStepLog(db.sql);
  const flows = [...testFlows({ sql: db.sql, worker: 'cmd' }), demo, hooked, ticketTriage];
  engine = await startTestEngine(db, { flows });
  // As main.ts wires it: each flow's input keys, so a mistyped key is refused.
  const keys = new Map(flows.map((f) => [f.id, commandKeysOf(f)]));
  deps = makeCommandDeps(engine, { admins: new Set(['boss']), log, inputKeys: (id) => keys.get(id) ?? null });
});
afterAll(() => engine.stop(500));

/** A command typed by alice in tenant T-A unless `over` says otherwise; a fresh delivery id each time. */
function command(text: string, over: Partial<InboundCommand> = {}): InboundCommand {
  return {
    platform: 'console',
    tenant: 'T-A',
    channel: 'C1',
    user: 'alice',
    text,
    deliveryId: `d-${++deliveries}`,
    ...over,
  };
}

const send = (text: string, over: Partial<InboundCommand> = {}) => handleCommand(command(text, over), deps);

function runIdOf(reply: CommandReply): string {
  const id = /run `([^`]+)`$/.exec(reply.notice.text)?.[1];
  if (!id) throw new Error(`no run id in "${reply.notice.text}"`);
  return id;
}

/** Starts counted-approve from chat and waits until it awaits a decision. */
async function startWaiting(over: Partial<InboundCommand> = {}): Promise<string> {
  const runId = runIdOf(await send('run counted-approve subject=VAT body="Missing VAT line"', over));
  await engine.waitFor(runId, ['waiting']);
  return runId;
}

/** Every engine row, to show a refused command changed nothing. */
async function snapshotRows() {
  return {
    counts: await tableCounts(db.sql),
    runs: await db.sql`SELECT id, status, status_reason, version, snapshot FROM runs ORDER BY id`,
  };
}

function ephemeral(text: string, quote?: string): CommandReply {
  return { visibility: 'ephemeral', notice: quote === undefined ? { text } : { text, quote } };
}

const USAGE = [
  'usage:',
  '/signoff run <flow> key=value …: start a flow (quote a value with spaces: key="two words")',
  '/signoff status <run>: where a run is, with its recent timeline',
  '/signoff list: the 10 most recent runs here',
  '/signoff cancel <run>: cancel a run (its requester or an admin)',
  '/signoff retry <run>: retry a failed run (its requester or an admin)',
  "/signoff repost <run>: post a run's review card again, e.g. after it was deleted (its requester or an admin)",
  "/signoff digest [preview]: this week's digest here now (preview: only to you)",
  '/signoff schedules: the schedules, their next slot and the last one fired',
  '/signoff deadletters [replay <id>]: webhook deliveries a flow refused, and starting one again (admins)',
  '/signoff help: this help',
  'flows:',
  'counted-approve: Draft, decide, apply (counted) (started by /signoff run counted-approve)',
  'draft-approve: Draft a reply and apply it after approval (started by /signoff run draft-approve)',
  'flaky: Fails its first N executions (started by /signoff run flaky)',
  'guarded: A refused step handled by onError (it declares no trigger)',
  'hooked: Started by its helpdesk and a schedule (started by a zendesk webhook (ticket.created), the schedule 0 9 * * 1 Europe/Paris)',
  'one-step: One step (counted) (started by /signoff run one-step)',
  'relay: Timer, then one step (counted) (it declares no trigger)',
  'ticket-triage: Draft a reply to a support ticket; a support lead reviews it before it is sent (started by /signoff run ticket-triage, a zendesk webhook (ticket.created), a linear webhook (issue.create))',
  'timed: Expires after 2 s (it declares no trigger)',
].join('\n');
const KNOWN = 'counted-approve, draft-approve, flaky, guarded, hooked, one-step, relay, ticket-triage, timed';

/** A flow that declares triggers, but not a command. */
const hooked = compileFlow({
  id: 'hooked',
  title: 'Started by its helpdesk and a schedule',
  input: z.object({ topic: z.string() }),
  steps: {},
  triggers: [
    { kind: 'webhook', source: 'zendesk', events: ['ticket.created'], input: (p: unknown) => p },
    { kind: 'schedule', cron: '0 9 * * 1', timezone: 'Europe/Paris' },
  ],
  machine: setup({}).createMachine({ id: 'hooked', initial: 'done', states: { done: { type: 'final' } } }),
});

describe('help', () => {
  it('answers help, empty and blank text with the usage of every subcommand and the flows with their titles', async () => {
    for (const text of ['help', '', '   ']) expect(await send(text)).toEqual(ephemeral(USAGE));
  });

  it('points an unknown subcommand at help', async () => {
    expect(await send('launch counted-approve')).toEqual(ephemeral('unknown command "launch"; try /signoff help'));
  });
});

describe('run', () => {
  it('starts the flow with the typed input and the trigger, and tells the channel', async () => {
    const reply = await send('run draft-approve subject=VAT body="Missing VAT line"', {
      user: 'U1',
      channel: 'C9',
      deliveryId: 'dlv-1',
    });
    const runId = runIdOf(reply);
    expect(reply).toEqual({
      visibility: 'channel',
      notice: { text: `<@U1> started draft-approve · run \`${runId}\`` },
    });
    const [row] = await db.sql`SELECT flow, input, trigger, trigger_key FROM runs WHERE id = ${runId}`;
    expect(row).toEqual({
      flow: 'draft-approve',
      input: { subject: 'VAT', body: 'Missing VAT line' },
      trigger: { source: 'console', actor: 'U1', channel: 'C9', tenant: 'T-A' },
      trigger_key: 'console:T-A:cmd:dlv-1',
    });
    await engine.waitFor(runId, ['waiting']); // settled, so later row comparisons hold still
  });

  it('starts one run for a redelivered command, and says it was already started', async () => {
    const cmd = command('run counted-approve subject=a body=b', { deliveryId: 'dup-1' });
    const [first, second] = await Promise.all([handleCommand(cmd, deps), handleCommand(cmd, deps)]);
    const third = await handleCommand(cmd, deps);
    const runId = runIdOf(first);
    const texts = [first, second, third].map((r) => [r.visibility, r.notice.text]);
    expect(texts).toContainEqual(['channel', `<@alice> started counted-approve · run \`${runId}\``]);
    expect(
      texts.filter(([, text]) => text === `<@alice> already started counted-approve · run \`${runId}\``),
    ).toHaveLength(2);
    const [row] = await db.sql<
      { n: number }[]
    >`SELECT count(*)::int AS n FROM runs WHERE trigger_key = 'console:T-A:cmd:dup-1'`;
    expect(row!.n).toBe(1);
    await engine.waitFor(runId, ['waiting']);
  });

  it('names the fields the flow refused, privately, and starts nothing', async () => {
    const before = await snapshotRows();
    expect(await send('run counted-approve subject=x')).toEqual(
      ephemeral("can't start counted-approve: body: required"),
    );
    expect(await send('run counted-approve subject="" body=b')).toEqual(
      ephemeral("can't start counted-approve: subject: Too small: expected string to have >=1 characters"),
    );
    // Values arrive as text: a flow wanting a number says so.
    expect(await send('run flaky failTimes=3')).toEqual(
      ephemeral("can't start flaky: failTimes: Invalid input: expected number, received string"),
    );
    expect(await snapshotRows()).toEqual(before);
  });

  it("refuses a key only the flow's webhooks set (ticket-triage's readFrom), and starts nothing", async () => {
    const before = await snapshotRows();
    const reply = await send('run ticket-triage readFrom=zendesk ticketId=77 subject=Hi body="Show me ticket 77"');
    expect(reply).toEqual(
      ephemeral(
        'can\'t start ticket-triage: unknown field "readFrom"; this flow takes "subject", "body", "customer", "ticketId"',
      ),
    );
    expect(await snapshotRows()).toEqual(before);
  });

  it('refuses an unknown key, naming the near miss, and starts nothing', async () => {
    const before = await snapshotRows();
    expect(await send('run counted-approve subjet=a body=b')).toEqual(
      ephemeral('can\'t start counted-approve: unknown field "subjet"; did you mean "subject"?'),
    );
    expect(await send('run counted-approve subject=a body=b colour=red')).toEqual(
      ephemeral('can\'t start counted-approve: unknown field "colour"; this flow takes "subject", "body"'),
    );
    expect(await snapshotRows()).toEqual(before);
  });

  it('takes typographic quotes (as Slack and phones type them) like plain ones', async () => {
    const runId = runIdOf(await send('run counted-approve subject=“Charged twice” body=‘it’s late’'));
    const run = await engine.waitFor(runId, ['waiting']);
    expect(run.context).toMatchObject({ request: { subject: 'Charged twice', body: 'it’s late' } });
  });

  it('says so when a delivery id comes back with a different command, starting nothing', async () => {
    const runId = runIdOf(await send('run counted-approve subject=a body=b', { deliveryId: 'reused-1' }));
    await engine.waitFor(runId, ['waiting']);
    const before = await snapshotRows();
    expect(await send('run counted-approve subject=x body=y', { deliveryId: 'reused-1', user: 'bob' })).toEqual(
      ephemeral('nothing was started: this command arrived with the id of a different, earlier command; send it again'),
    );
    expect(await snapshotRows()).toEqual(before);
  });

  it('lists the known flows for an unknown one, and refuses bad syntax, starting nothing', async () => {
    const before = await snapshotRows();
    expect(await send('run nope subject=x')).toEqual(ephemeral(`no flow "nope"; known flows: ${KNOWN}`));
    expect(await send('run')).toEqual(ephemeral('missing the flow name: /signoff run <flow> key=value …'));
    expect(await send('run counted-approve foo')).toEqual(
      ephemeral('"foo" is not key=value; write key=value, or key="a value with spaces"'),
    );
    expect(await send('run counted-approve subject=a subject=b')).toEqual(
      ephemeral('subject is given twice; give each key once'),
    );
    expect(await send('run counted-approve subject="open')).toEqual(
      ephemeral('the value of subject has no closing "; close the quote (write \\" for a literal ")'),
    );
    expect(await snapshotRows()).toEqual(before);
  });

  it('refuses to start a flow that does not declare a command trigger, saying what starts it, and starts nothing', async () => {
    const before = await snapshotRows();
    expect(await send('run hooked topic=x')).toEqual(
      ephemeral(
        'hooked is not started by a command; started by a zendesk webhook (ticket.created), the schedule 0 9 * * 1 Europe/Paris',
      ),
    );
    expect(await send('run timed topic=x')).toEqual(
      ephemeral('timed is not started by a command; it declares no trigger'),
    );
    expect(await snapshotRows()).toEqual(before);
  });
});

describe('hostile text', () => {
  it('stores SQL-looking, $1, emoji, RTL and zero-width text verbatim', async () => {
    const subject = "'; DROP TABLE runs; -- $1 \\x";
    const body = '🧾✅ \u202eevil\u202c \u200b שלום مرحبا';
    const runId = runIdOf(
      await send(`run counted-approve subject="${subject.replaceAll('\\', '\\\\')}" body='${body}'`),
    );
    const [row] = await db.sql`SELECT input FROM runs WHERE id = ${runId}`;
    expect(row!.input).toEqual({ subject, body });
    await engine.waitFor(runId, ['waiting']);
  });

  it('refuses NUL, broken surrogates and over-long text cleanly, storing nothing', async () => {
    const before = await snapshotRows();
    expect(await send('run counted-approve subject=a\u0000 body=b')).toEqual(
      ephemeral('that command contains a NUL character (\\0), which cannot be stored; remove it and send it again'),
    );
    expect((await send('run counted-approve subject=\ud800 body=b')).notice.text).toMatch(
      /^that command contains a broken character/,
    );
    expect(await send(`run counted-approve subject=a body=${'🧾'.repeat(10_000)}`)).toEqual(
      ephemeral('that command is too long (over 4,000 characters); shorten the values and send it again'),
    );
    expect(await snapshotRows()).toEqual(before);
  });

  it('keeps typed mention tokens out of the reply text', async () => {
    const asWord = await send('run counted-approve <@U999>');
    expect(asWord).toEqual(
      ephemeral('this is not key=value; write key=value, or key="a value with spaces"', '<@U999>'),
    );
    const asFlow = await send('run <!channel>');
    expect(asFlow).toEqual(ephemeral('this is not a flow name; /signoff help lists the flows', '<!channel>'));
    const asRun = await send('status <@U999>');
    expect(asRun).toEqual(ephemeral('this is not a run id: /signoff status <run>', '<@U999>'));
  });
});

describe('status', () => {
  it('shows status, state, requester and the timeline in UTC, privately', async () => {
    const runId = await startWaiting({ user: 'U7' });
    const events = await engine.timeline(runId);
    const run = await engine.getRun(runId);
    const time = (at: Date) => at.toISOString().slice(11, 19);
    expect(await send(`status ${runId}`, { user: 'someone-else' })).toEqual(
      ephemeral(
        [
          `run \`${runId}\` · counted-approve · waiting`,
          'state: awaitingDecision',
          `started ${run!.created_at.toISOString().slice(0, 19).replace('T', ' ')} UTC by <@U7>`,
          'timeline:',
          `1 · ${time(events[0]!.at)} · xstate.init · <@U7> · drafting`,
          `2 · ${time(events[1]!.at)} · xstate.done.actor.draft · - · awaitingDecision`,
        ].join('\n'),
      ),
    );
  });

  it('shows the last 15 timeline entries of a long run, and its reason as a quote', async () => {
    const runId = await startWaiting();
    for (let i = 0; i < 20; i++) await appendNote(db.sql, runId, { type: `test.note-${i}`, data: null, actor: 'bob' });
    await engine.cancel(runId, { actor: 'ops', reason: 'closed by <@U1> in the CRM' });
    const reply = await send(`status ${runId}`);
    const lines = reply.notice.text.split('\n');
    expect(lines[0]).toBe(`run \`${runId}\` · counted-approve · cancelled`);
    expect(lines[3]).toBe('timeline (last 15 of 23):');
    expect(lines.slice(4)).toHaveLength(16);
    expect(lines[4]).toMatch(/^9 · \d\d:\d\d:\d\d · test\.note-6 · <@bob> · awaitingDecision$/);
    expect(lines[18]).toMatch(/^23 · \d\d:\d\d:\d\d · run\.cancelled · <@ops> · awaitingDecision$/);
    expect(lines[19]).toBe('reason:');
    expect(reply.notice.quote).toBe('closed by <@U1> in the CRM');
  });

  it("shows what the run's model calls cost so far, once it made any", async () => {
    const runId = await startWaiting();
    expect((await send(`status ${runId}`)).notice.text).not.toContain('model cost');
    for (const [callNo, model, costUsd] of [
      [1, 'gpt-4.1-mini', 0.0012],
      [2, 'gpt-4.1', 0.006],
    ] as const) {
      await recordModelCall(db.sql, {
        runId,
        jobKey: `${runId}:draft:1`,
        attempt: 1,
        callNo,
        model,
        offline: false,
        outcome: 'ok',
        inputTokens: 1000,
        outputTokens: 500,
        costUsd,
      });
    }
    expect((await send(`status ${runId}`)).notice.text.split('\n')[3]).toBe(
      'model cost so far: $0.0072 · 3,000 tokens (2 calls)',
    );
  });

  it('reports a missing run and an invalid id without a lookup', async () => {
    expect(await send('status 7d3f0c1e-0000-4000-8000-000000000000')).toEqual(
      ephemeral('no run `7d3f0c1e-0000-4000-8000-000000000000`'),
    );
    expect(await send('status')).toEqual(ephemeral('missing the run id: /signoff status <run>'));
    expect(await send('status a/b')).toEqual(ephemeral('this is not a run id: /signoff status <run>', 'a/b'));
  });
});

describe('list', () => {
  it("shows the tenant's 10 most recent runs, newest first, and no other tenant's", async () => {
    const mine: string[] = [];
    for (let i = 0; i < 12; i++) mine.push(runIdOf(await send('run one-step label=x', { tenant: 'T-LIST' })));
    const theirs = runIdOf(await send('run one-step label=x', { tenant: 'T-LIST-OTHER' }));
    await Promise.all([...mine, theirs].map((runId) => engine.waitFor(runId, ['done'])));
    const reply = await send('list', { tenant: 'T-LIST' });
    const lines = reply.notice.text.split('\n');
    expect(reply.visibility).toBe('ephemeral');
    expect(lines[0]).toBe('latest runs here, newest first:');
    expect(lines.slice(1).map((line) => /^`([^`]+)`/.exec(line)?.[1])).toEqual(mine.slice(2).reverse());
    expect(lines[1]).toMatch(/^`[^`]+` · one-step · done · \d+s ago$/);
    expect(reply.notice.text).not.toContain(theirs);
    expect(await send('list', { tenant: 'T-EMPTY' })).toEqual(
      ephemeral('no runs yet; start one with /signoff run <flow> key=value …'),
    );
    expect(await send('list now')).toEqual(ephemeral('list takes no arguments: /signoff list'));
  });
});

describe('cancel and retry', () => {
  it('lets the requester cancel, tells the channel, and refuses a second cancel with the engine message', async () => {
    const runId = await startWaiting();
    expect(await send(`cancel ${runId}`)).toEqual({
      visibility: 'channel',
      notice: { text: `<@alice> cancelled counted-approve · run \`${runId}\`` },
    });
    const [row] = await db.sql`SELECT status, status_reason FROM runs WHERE id = ${runId}`;
    expect(row).toEqual({ status: 'cancelled', status_reason: 'cancelled by alice' });
    expect(await send(`cancel ${runId}`)).toEqual(ephemeral(`run ${runId} is already cancelled`));
  });

  it("refuses someone else's run and leaves it unchanged; an admin of the tenant may", async () => {
    const runId = await startWaiting();
    const before = await snapshotRows();
    for (const verb of ['cancel', 'retry']) {
      expect(await send(`${verb} ${runId}`, { user: 'mallory' })).toEqual(
        ephemeral(`you can't ${verb} run \`${runId}\`: only its requester or an admin can`),
      );
    }
    expect(await snapshotRows()).toEqual(before);
    expect((await send(`cancel ${runId}`, { user: 'boss' })).notice.text).toBe(
      `<@boss> cancelled counted-approve · run \`${runId}\``,
    );
  });

  it('retries a failed run for its requester, and refuses a run that has not failed', async () => {
    const trigger = { source: 'api', actor: 'alice', tenant: 'T-A' };
    const { runId } = await engine.startRun('flaky', { failTimes: 3 }, { trigger });
    await engine.waitFor(runId, ['failed'], { timeoutMs: 10_000 });
    expect(await send(`retry ${runId}`)).toEqual({
      visibility: 'channel',
      notice: { text: `<@alice> retried flaky · run \`${runId}\`` },
    });
    await engine.waitFor(runId, ['done'], { timeoutMs: 10_000 });
    expect(await send(`retry ${runId}`)).toEqual(
      ephemeral(`run ${runId} is done; only failed or parked runs can be retried`),
    );
  });

  it('quotes an engine refusal that carries a mention-like reason', async () => {
    const runId = await startWaiting();
    await appendNote(db.sql, runId, {
      type: 'run.parked',
      data: null,
      actor: null,
      status: 'parked',
      reason: 'the model said <@U1>',
    });
    expect(await send(`retry ${runId}`)).toEqual(
      ephemeral(
        `you can't retry run \`${runId}\` now:`,
        `run ${runId} has no failed step to retry (the model said <@U1>); cancel it instead`,
      ),
    );
  });
});

describe('tenant isolation', () => {
  it("answers another tenant's run exactly like a missing one and changes nothing", async () => {
    const runId = await startWaiting({ tenant: 'T-A', user: 'alice' });
    const before = await snapshotRows();
    const fromB = { tenant: 'T-B', user: 'boss' }; // an admin id, but in the other tenant
    for (const verb of ['status', 'cancel', 'retry']) {
      const reply = await send(`${verb} ${runId}`, fromB);
      expect(reply).toEqual(ephemeral(`no run \`${runId}\``));
      const missing = await send(`${verb} 00000000-0000-4000-8000-000000000000`, fromB);
      expect(missing.notice.text.replace('00000000-0000-4000-8000-000000000000', runId)).toBe(reply.notice.text);
    }
    expect((await send('list', fromB)).notice.text).not.toContain(runId);
    expect(await snapshotRows()).toEqual(before);
  });

  it('keeps delivery ids per tenant: another tenant reusing one starts its own run and never sees the first', async () => {
    const runId = runIdOf(
      await send('run counted-approve subject=a body=b', { tenant: 'T-A', deliveryId: 'shared-1' }),
    );
    await engine.waitFor(runId, ['waiting']);
    const other = await send('run counted-approve subject=a body=b', { tenant: 'T-B', deliveryId: 'shared-1' });
    expect(other.visibility).toBe('channel');
    expect(JSON.stringify(other)).not.toContain(runId);
    expect(runIdOf(other)).not.toBe(runId);
  });
});

describe('unexpected failures', () => {
  it('shows a ref and nothing internal, and logs the real error under that ref', async () => {
    const downSql = connect({ url: db.url, schema: db.schema, max: 1 });
    await downSql.end();
    const down = new Engine({ sql: downSql, schema: db.schema, flows: [demo] });
    const downDeps = makeCommandDeps(down, { log });
    for (const text of ['list', 'status 7d3f0c1e-0000-4000-8000-000000000000', 'run draft-approve subject=a body=b']) {
      const reply = await handleCommand(command(text), downDeps);
      const ref = /^something went wrong; try again \(ref ([0-9a-f]{12})\)$/.exec(reply.notice.text)?.[1];
      expect(ref, reply.notice.text).toBeDefined();
      expect(reply).toEqual(ephemeral(reply.notice.text));
      const logged = logLines.map((line) => JSON.parse(line)).find((entry) => entry.ref === ref);
      expect(logged).toMatchObject({ level: 'error', msg: 'command failed', tenant: 'T-A', user: 'alice' });
      expect(logged.error.message).toMatch(/CONNECTION_ENDED|ended/i);
      expect(JSON.stringify(logged)).not.toContain('body=b'); // the command text is not logged
    }
  });
});
