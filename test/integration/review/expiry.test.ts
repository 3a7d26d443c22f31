/**
 * A review nobody decides: reminders, then escalation, then the policy's default
 * decision, each exactly once and in order, with the bot restarted in the middle
 * (every step is a durable job, so what fell due while it was down happens on
 * start, once). Runs through the real web-chat adapter.
 */
import { afterAll, expect, it } from 'vitest';
import { deploy, until, type Deployment, type PlatformDriver } from '../../contract/chat-port.contract.ts';
import { makeConsoleDriver } from '../../contract/console-driver.ts';
import { useTestDb } from '../../helpers/db.ts';

const db = useTestDb();
let driver: PlatformDriver;
let app: Deployment | null = null;

afterAll(async () => {
  await app?.stop();
  await driver?.close();
});

it('reminds twice, escalates, then rejects by default, once each, across a restart', async () => {
  driver = await makeConsoleDriver(db);
  await driver.setGroups('dave', []);
  app = await deploy(db, driver);
  const { runId } = await app.engine.startRun(
    'rv-escalating',
    { text: 'nobody looks at this' },
    {
      trigger: { source: 'console', actor: 'alice', channel: driver.channel, tenant: driver.tenant },
    },
  );
  const card = await until('the card', async () => (await driver.cards(driver.channel)).find((c) => c.runId === runId));
  await until('the first reminder', async () =>
    (await driver.thread(card.messageRef)).find((t) => t.startsWith('Reminder')),
  );

  // Restart in the middle: the second reminder falls due while nothing runs.
  await app.stop();
  app = null;
  // Down until (DB clock) the next reminder's job is due: the marker that it fell due while nothing ran.
  await until(
    'the next reminder falls due with the bot down',
    async () =>
      (await db.sql`SELECT 1 FROM jobs WHERE run_id = ${runId} AND status = 'queued' AND due_at <= now()`).length > 0,
  );
  app = await deploy(db, driver);

  const run = await app.engine.waitFor(runId, ['done'], { timeoutMs: 15_000 });
  expect(run.output).toMatchObject({ outcome: 'rejected' });
  const audit = await db.sql`
    SELECT a.action, a.actor, a.outcome FROM review_audit a JOIN reviews r ON r.id = a.review_id
    WHERE r.run_id = ${runId} ORDER BY a.seq`;
  expect(audit.map((a) => a.action)).toEqual(['request', 'remind', 'remind', 'escalate', 'expire']);
  expect(audit.every((a) => a.outcome === 'accepted')).toBe(true);

  const thread = await until('the outcome in the thread', async () => {
    const texts = await driver.thread(card.messageRef);
    return texts.some((t) => t.includes('Rejected by default')) && texts;
  });
  expect(thread.filter((t) => t.startsWith('Reminder'))).toHaveLength(2);
  expect(thread.filter((t) => t.startsWith('Escalated to @dave'))).toHaveLength(1);
  await until('the escalation DM to dave', async () =>
    (await driver.dms('dave')).find((t) => t.startsWith('Escalated')),
  );
  const final = await until('the final card', async () =>
    (await driver.cards(driver.channel)).find((c) => c.runId === runId && c.status === 'rejected'),
  );
  expect(final.actions).toEqual([]);
});

it('after escalation the escalation target may decide', async () => {
  const { runId } = await app!.engine.startRun(
    'rv-escalating',
    { text: 'dave decides' },
    {
      trigger: { source: 'console', actor: 'alice', channel: driver.channel, tenant: driver.tenant },
    },
  );
  const card = await until('the card', async () => (await driver.cards(driver.channel)).find((c) => c.runId === runId));
  const early = await driver.click('dave', card, 'approve');
  expect(JSON.stringify(early)).toMatch(/not on the approver list/);
  await until('the escalation', async () =>
    (await driver.thread(card.messageRef)).find((t) => t.startsWith('Escalated')),
  );
  expect((await driver.click('dave', card, 'approve')).kind).toBe('ok');
  const run = await app!.engine.waitFor(runId, ['done']);
  expect(run.output).toMatchObject({ outcome: 'approved', decided: { by: ['dave'] } });
});
