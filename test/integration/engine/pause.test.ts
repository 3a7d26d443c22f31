/**
 * Waiting without failing, and pausing for a person (issue 4, RELIABILITY 62
 * and 69 in general form): a step that answers `retryLater` is rescheduled in
 * Postgres after the given delay without using up an attempt; a step that
 * answers `blockedError` parks its run as `blocked:<reason>`, tells its
 * channel, and `/signoff retry` resumes it. Through the real desk and web chat.
 */
import { setup, assign } from 'xstate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { compileFlow as defineFlow } from '../../../src/engine/flow.ts';
import { slot as step } from '../../helpers/flows/slot.ts';
import { blockedError, retryLater } from '../../../src/errors.ts';
import { deploy, until, type Deployment, type PlatformDriver } from '../../contract/chat-port.contract.ts';
import { makeConsoleDriver } from '../../contract/console-driver.ts';
import { useTestDb } from '../../helpers/db.ts';

/** Per run: how the step answers on each call (consumed in order; then it succeeds), and when it was called. */
const script = new Map<string, { answers: Error[]; calls: number[] }>();

const pausing = defineFlow({
  id: 'pausing',
  title: 'a step that waits or pauses',
  input: z.object({ label: z.string() }),
  machine: setup({
    types: {} as { input: { label: string }; context: { label: string; result?: string } },
    actors: { work: step<{ label: string }, string>() },
  }).createMachine({
    id: 'pausing',
    context: ({ input }) => ({ label: input.label }),
    initial: 'working',
    states: {
      working: {
        invoke: {
          src: 'work',
          id: 'work',
          input: ({ context }) => ({ label: context.label }),
          onDone: { target: 'done', actions: assign({ result: ({ event }) => event.output }) },
        },
      },
      done: { type: 'final' },
    },
    output: ({ context }) => ({ result: context.result }),
  }),
  steps: {
    work: {
      maxAttempts: 2,
      backoffMs: 50,
      run: async ({ label }: { label: string }, ctx) => {
        const s = script.get(label)!;
        s.calls.push(Date.now());
        const next = s.answers.shift();
        if (next) throw next;
        return `done on attempt ${ctx.attempt}`;
      },
    },
  },
});

const db = useTestDb();
let driver: PlatformDriver;
let app: Deployment;

beforeAll(async () => {
  driver = await makeConsoleDriver(db);
  app = await deploy(db, driver, { flows: [pausing] });
});
afterAll(async () => {
  await app?.stop();
  await driver?.close();
});

async function start(label: string, answers: Error[]): Promise<string> {
  script.set(label, { answers, calls: [] });
  const { runId } = await app.engine.startRun(
    'pausing',
    { label },
    {
      trigger: { source: driver.port.platform, actor: 'alice', channel: driver.channel, tenant: driver.tenant },
    },
  );
  return runId;
}

describe('rate limits and pauses', () => {
  it('retryLater reschedules after the delay, durably, without using up attempts', async () => {
    const runId = await start('deferred', [
      retryLater('429 from the provider', 300),
      retryLater('429 again', 300),
      retryLater('and again', 300),
    ]);
    const run = await app.engine.waitFor(runId, ['done'], { timeoutMs: 10_000 });
    // Three waits on a step allowed two attempts: none of them counted.
    expect(run.output).toEqual({ result: 'done on attempt 1' });
    const [job] =
      await db.sql`SELECT attempts, deferrals, last_error FROM jobs WHERE run_id = ${runId} AND name = 'work'`;
    expect([job!.attempts, job!.deferrals]).toEqual([1, 3]);
    const calls = script.get('deferred')!.calls;
    for (let i = 1; i < calls.length; i++) expect(calls[i]! - calls[i - 1]!).toBeGreaterThanOrEqual(290);
  });

  it('a blocked step parks its run with the reason, tells the channel, and /signoff retry resumes it', async () => {
    const runId = await start('quota', [
      blockedError('quota', 'the model provider says the account has no quota left'),
    ]);
    const parked = await app.engine.waitFor(runId, ['parked'], { timeoutMs: 10_000 });
    expect(parked.reason).toMatch(/^blocked:quota: the model provider says the account has no quota left/);
    expect(script.get('quota')!.calls).toHaveLength(1); // not retried
    const notice = await until('the notice in the channel', async () => {
      const rows = await db.sql<{ text: string }[]>`
        SELECT content->>'text' AS text FROM console_messages WHERE channel = ${driver.channel} AND kind = 'text' AND parent_id IS NULL`;
      return rows.find((r) => r.text.includes(runId))?.text;
    });
    expect(notice).toContain('is paused: the model provider says the account has no quota left');
    const [note] = await db.sql`SELECT type FROM run_events WHERE run_id = ${runId} AND type = 'run.blocked'`;
    expect(note).toBeDefined();

    const reply = await driver.command('alice', driver.channel, `retry ${runId}`);
    expect(JSON.stringify(reply)).toMatch(/retried/);
    const done = await app.engine.waitFor(runId, ['done'], { timeoutMs: 10_000 });
    expect(done.output).toEqual({ result: 'done on attempt 1' });
  });
});
