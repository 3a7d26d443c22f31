/**
 * RELIABILITY 13, 14 and the Discord part of 54: the HTTP interactions endpoint
 * (POST /discord/interactions) answers PING, refuses every bad signature with a
 * 401 before parsing, refuses stale and future timestamps, and dedupes a re-sent
 * interaction by its id. Signed with a real Ed25519 key pair; the fake Discord
 * records what the bot answered.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InteractionType } from 'discord-api-types/v10';
import { buttonId } from '../../../adapters/discord/discord-inbound.ts';
import { deploy, until, type Deployment } from '../../contract/chat-port.contract.ts';
import { makeDiscordDriver, type DiscordDriver } from '../../contract/discord-driver.ts';
import { buttonInteraction } from '../../fakes/discord/interactions.ts';
import { useTestDb } from '../../helpers/db.ts';

describe('discord HTTP interactions', () => {
  const db = useTestDb({ max: 10 });
  let driver: DiscordDriver;
  let app: Deployment;
  beforeAll(async () => {
    driver = await makeDiscordDriver(db, 'http');
    app = await deploy(db, driver);
  });
  afterAll(async () => {
    await app?.stop();
    await driver?.close();
  });
  const post = (body: string, headers: Record<string, string>) =>
    fetch(driver.botUrl, { method: 'POST', headers, body });

  it('13: PING is answered with PONG as JSON', async () => {
    const body = JSON.stringify({
      id: '1',
      type: InteractionType.Ping,
      application_id: driver.fake.applicationId,
      token: 't',
      version: 1,
    });
    const res = await post(body, driver.signer.headers(body));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ type: 1 });
  });

  it('14: a bad signature, missing headers or a non-hex signature get 401, checked before the body is parsed', async () => {
    const body = '{"type":1, not json';
    const good = driver.signer.headers(body);
    const cases: Record<string, string>[] = [
      { 'content-type': 'application/json' },
      { ...good, 'x-signature-ed25519': 'zz'.repeat(64) },
      { ...good, 'x-signature-ed25519': '00'.repeat(64) },
      { ...good, 'x-signature-ed25519': good['x-signature-ed25519']!.slice(0, 100) },
      { ...good, 'x-signature-timestamp': 'soon' },
    ];
    for (const headers of cases) expect((await post(body, headers)).status).toBe(401);
    // The same unparseable body with a valid signature gets past verification: a 400, proving the order.
    expect((await post(body, good)).status).toBe(400);
  });

  it('14: timestamps more than 300 s old or ahead are refused', async () => {
    const body = JSON.stringify({ id: '2', type: InteractionType.Ping });
    const now = Math.floor(Date.now() / 1_000);
    expect((await post(body, driver.signer.headers(body, now - 301))).status).toBe(401);
    expect((await post(body, driver.signer.headers(body, now + 301))).status).toBe(401);
    expect((await post(body, driver.signer.headers(body, now - 200))).status).toBe(200);
  });

  it("an answer past Discord's 3 s gets 10062: logged, nothing recorded as answered, the review unchanged", async () => {
    const { runId } = await app.engine.startRun(
      'rv-leads',
      { text: 'too late' },
      {
        trigger: { source: 'discord', actor: 'alice', channel: driver.channel, tenant: driver.tenant },
      },
    );
    const card = await until('the card', async () =>
      (await driver.cards(driver.channel)).find((c) => c.runId === runId),
    );
    const message = driver.fake.messages.find((m) => card.messageRef.endsWith(m.id))!;
    const click = buttonInteraction(
      driver.fake,
      { user: 'bob', channel: driver.channel },
      driver.fake.toApi(message),
      buttonId('reject', card.version, card.reviewRef),
    );
    driver.fake.track(click);
    driver.fake.age(click.id, 3_500);
    const entry = await driver.deliver(click);
    expect(entry.callbacks).toEqual([expect.objectContaining({ type: 9, status: 404 })]);
    expect((await db.sql`SELECT status, version FROM reviews WHERE run_id = ${runId}`)[0]).toMatchObject({
      status: 'pending',
      version: 1,
    });
  });

  it('54: a re-sent Approve interaction is deduplicated by id: one decision, one acknowledgement', async () => {
    const { runId } = await app.engine.startRun(
      'rv-quorum',
      { text: 'dedupe me' },
      {
        trigger: { source: 'discord', actor: 'alice', channel: driver.channel, tenant: driver.tenant },
      },
    );
    const card = await until('the card', async () =>
      (await driver.cards(driver.channel)).find((c) => c.runId === runId),
    );
    const message = driver.fake.messages.find((m) => card.messageRef.endsWith(m.id))!;
    const click = buttonInteraction(
      driver.fake,
      { user: 'bob', channel: driver.channel },
      driver.fake.toApi(message),
      buttonId('approve', card.version, card.reviewRef),
    );
    const first = await driver.deliver(click);
    await until(
      'the click decided',
      async () =>
        (await db.sql`SELECT 1 FROM inbox WHERE source = 'discord:click' AND key = ${click.id} AND done_at IS NOT NULL`)
          .length === 1,
    );
    const again = await driver.deliver(click);
    expect(again).toBe(first);
    expect(first.callbacks.map((c) => c.status)).toEqual([204]);
    const audit =
      await db.sql`SELECT a.actor FROM review_audit a JOIN reviews r ON r.id = a.review_id WHERE r.run_id = ${runId} AND a.action = 'approve'`;
    expect(audit).toHaveLength(1);
  });
});
