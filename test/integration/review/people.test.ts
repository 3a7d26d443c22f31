/**
 * Issue 16, the review desk's side of "people's words": a delivery id is one
 * person's (someone else reusing it is still counted), delegation names a
 * person who exists here, and a click naming a version no card showed is told so.
 * Through the web chat, whose client picks its own delivery ids and knows its people.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ActionReply } from '../../../src/chat/port.ts';
import { deploy, until, type Deployment, type PlatformDriver } from '../../contract/chat-port.contract.ts';
import { makeConsoleDriver } from '../../contract/console-driver.ts';
import { useTestDb } from '../../helpers/db.ts';

const db = useTestDb();
let driver: PlatformDriver;
let app: Deployment;

beforeAll(async () => {
  driver = await makeConsoleDriver(db);
  app = await deploy(db, driver);
});
afterAll(async () => {
  await app?.stop();
  await driver?.close();
});

async function request(flow: string, text: string) {
  const { runId } = await app.engine.startRun(
    flow,
    { text },
    {
      trigger: { source: driver.port.platform, actor: 'alice', channel: driver.channel, tenant: driver.tenant },
    },
  );
  const card = await until('the card', async () => (await driver.cards(driver.channel)).find((c) => c.runId === runId));
  return { runId, card };
}

it("a delivery id reused by another person is that person's own: both approvals count", async () => {
  const { runId, card } = await request('rv-quorum', 'two approvals, one delivery id');
  expect((await driver.click('bob', card, 'approve', { deliveryId: 'same-id' })).kind).toBe('ok');
  const second = await driver.click('carol', card, 'approve', { deliveryId: 'same-id' });
  expect(second).toMatchObject({ kind: 'ok', notice: { text: expect.stringMatching(/approved/) } });
  const run = await app.engine.waitFor(runId, ['done']);
  expect(run.output).toMatchObject({ outcome: 'approved' });
  // The same person repeating it is still one vote, answered quietly.
  expect((await driver.click('bob', card, 'approve', { deliveryId: 'same-id' })).kind).toBe('ok');
  const [row] = await db.sql`SELECT decisions FROM reviews WHERE run_id = ${runId}`;
  expect(row!.decisions.map((d: { reviewer: string }) => d.reviewer)).toEqual(['bob', 'carol']);
});

it('delegating to someone who is not here is refused, and nobody is told anything', async () => {
  const { runId, card } = await request('rv-leads', 'delegate to a stranger');
  const delegate = (await driver.click('bob', card, 'delegate')) as Extract<ActionReply, { kind: 'open_editor' }>;
  const reply = await driver.submit('bob', delegate.form, { user: 'zed' });
  expect(reply).toMatchObject({ kind: 'errors', errors: { user: expect.stringMatching(/no one called "zed"/) } });
  const [row] = await db.sql`SELECT delegates FROM reviews WHERE run_id = ${runId}`;
  expect(row!.delegates).toEqual([]);
  const audit =
    await db.sql`SELECT action FROM review_audit a JOIN reviews r ON r.id = a.review_id WHERE r.run_id = ${runId}`;
  expect(audit.map((a) => a.action)).toEqual(['request']);
});

it('a click naming a version no card showed says so', async () => {
  const { card } = await request('rv-leads', 'version 99');
  const reply = await driver.click('bob', card, 'approve', { version: 99 });
  expect(reply).toMatchObject({
    kind: 'ephemeral',
    notice: { text: expect.stringMatching(/names version 99, which does not exist \(the latest is 1\)/) },
  });
});
