/**
 * RELIABILITY 85: a click or dialog from another workspace (tenant) cannot
 * approve, reject or even learn of a review. The forged action below carries
 * everything a real one does (the button's review ref, the card's channel and
 * message, its version); only the tenant differs, so the tenant check in the
 * click handler is the one thing standing between it and an approval. The
 * same action from the card's own tenant is accepted, which is what a missing
 * check would let the forgery do.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InboundAction } from '../../../src/chat/messages.ts';
import type { ChatHandlers } from '../../../src/chat/port.ts';
import {
  deploy,
  until,
  type Deployment,
  type PlatformDriver,
  type SeenCard,
} from '../../contract/chat-port.contract.ts';
import { makeConsoleDriver } from '../../contract/console-driver.ts';
import { useTestDb } from '../../helpers/db.ts';

const db = useTestDb();
let driver: PlatformDriver;
let app: Deployment;
let handlers: ChatHandlers;
let n = 0;

beforeAll(async () => {
  driver = await makeConsoleDriver(db);
  app = await deploy(db, driver);
  handlers = app.desk.handlers(async () => {
    throw new Error('no commands in this test');
  });
});
afterAll(async () => {
  await app?.stop();
  await driver?.close();
});

/** A run of rv-anyone (anyone may approve) in the driver's tenant, and its card. */
async function pendingCard(): Promise<{ runId: string; card: SeenCard }> {
  const { runId } = await app.engine.startRun(
    'rv-anyone',
    { text: `tenant case ${++n}` },
    {
      trigger: { source: driver.port.platform, actor: 'alice', channel: driver.channel, tenant: driver.tenant },
    },
  );
  const card = await until(`the card of ${runId}`, async () =>
    (await driver.cards(driver.channel)).find((c) => c.runId === runId),
  );
  return { runId, card };
}

function clickOn(card: SeenCard, tenant: string, deliveryId: string): InboundAction {
  return {
    platform: driver.port.platform,
    tenant,
    channel: driver.channel,
    user: 'mallory',
    reviewRef: card.reviewRef,
    action: 'approve',
    messageRef: card.messageRef as InboundAction['messageRef'],
    version: card.version,
    deliveryId,
  };
}

async function review(runId: string) {
  const [row] = await db.sql<{ id: string; status: string }[]>`SELECT id, status FROM reviews WHERE run_id = ${runId}`;
  const audit = await db.sql<
    { actor: string }[]
  >`SELECT actor FROM review_audit WHERE review_id = ${row!.id} ORDER BY seq`;
  return { status: row!.status, actors: audit.map((a) => a.actor) };
}

describe('RELIABILITY 85: tenant isolation of clicks', () => {
  it('an approve from another tenant is refused like a button that does not exist, and changes nothing', async () => {
    const { runId, card } = await pendingCard();
    const reply = await handlers.action(clickOn(card, 'T-OTHER-WORKSPACE', `x-${runId}`));
    expect(reply.kind).toBe('ephemeral');
    expect(JSON.stringify(reply)).not.toContain(runId); // no leak that the run exists
    expect(await review(runId)).toEqual({ status: 'pending', actors: ['alice'] });
    expect((await app.engine.getRun(runId))!.status).toBe('waiting');
  });

  it('a reject dialog submitted from another tenant is refused and changes nothing', async () => {
    const { runId, card } = await pendingCard();
    const reply = await handlers.submission({
      platform: driver.port.platform,
      tenant: 'T-OTHER-WORKSPACE',
      user: 'mallory',
      reviewRef: card.reviewRef,
      version: card.version,
      purpose: 'reject',
      fields: { reason: 'nope' },
      deliveryId: `s-${runId}`,
    });
    expect(reply.kind).toBe('errors');
    expect(await review(runId)).toEqual({ status: 'pending', actors: ['alice'] });
  });

  it("the same approve from the card's own tenant is accepted (so only the tenant check refused the forgery)", async () => {
    const { runId, card } = await pendingCard();
    expect((await handlers.action(clickOn(card, driver.tenant, `ok-${runId}`))).kind).toBe('ok');
    expect(await review(runId)).toMatchObject({ status: 'approved' });
  });
});
