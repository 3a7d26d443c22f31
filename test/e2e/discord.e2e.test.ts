/**
 * `npm start` with Discord: the bot as a child process with DISCORD_* variables
 * pointing at the fake Discord, over the gateway and over HTTP interactions. A
 * person runs `/signoff run ticket-triage …`, Bob edits the draft in the modal,
 * Carol (role support-leads) approves, and the card, the same message, is
 * edited in place with the outcome and no buttons; no one was pinged by the
 * ticket's or the draft's text. flows/ticket-triage.flow.ts runs as it is.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayDispatchEvents, type APIInteraction } from 'discord-api-types/v10';
import { connect } from '../../src/store/client.ts';
import { until, type SeenCard } from '../contract/chat-port.contract.ts';
import { formOf, toSeenCard } from '../contract/discord-driver.ts';
import {
  buttonInteraction,
  commandInteraction,
  makeSigner,
  modalInteraction,
  postInteraction,
} from '../fakes/discord/interactions.ts';
import { startFakeDiscord, type FakeDiscord, type FakeInteraction } from '../fakes/discord/rest.ts';
import { startBot, stopBot, type BotProcess } from '../helpers/browser.ts';
import { testDatabaseUrl } from '../helpers/db.ts';

const CHANNEL = '300000000000000009';
const [ALICE, BOB, CAROL] = ['111111111111111111', '222222222222222222', '333333333333333333'];
type Deliver = (payload: APIInteraction) => Promise<FakeInteraction>;

async function reviewScenario(fake: FakeDiscord, deliver: Deliver): Promise<void> {
  const answered = async (payload: APIInteraction) => {
    const entry = await deliver(payload);
    return until('an answer', async () => entry.callbacks.length > 0 && entry, 10_000);
  };
  const started = await answered(
    commandInteraction(
      fake,
      { user: ALICE, channel: CHANNEL },
      'run',
      `ticket-triage subject="Charged twice" body="I was charged twice. @everyone <@${CAROL}> please look"`,
    ),
  );
  // Within 3 s: the answer itself, or a deferral then the original edited.
  const startedText =
    started.callbacks[0]!.type === 5
      ? await until(
          'the deferred answer',
          async () => (started.original?.edits ?? 0) > 0 && started.original!.content,
          30_000,
        )
      : String(started.callbacks[0]!.data?.content);
  const runId = /run `?([0-9a-f-]{36})/.exec(startedText.replace(/\\(.)/g, '$1'))![1]!;
  const cardOf = (test: (c: SeenCard) => boolean) =>
    until(
      `the card of ${runId}`,
      async () =>
        fake
          .inChannel(CHANNEL)
          .map(toSeenCard)
          .find((c) => c?.runId === runId && test(c)) ?? null,
      30_000,
    );
  const card = await cardOf((c) => c.status === 'pending');
  const messageOf = (c: SeenCard) => fake.toApi(fake.messages.find((m) => c.messageRef.endsWith(`:${m.id}`))!);
  const click = (user: string, c: SeenCard, action: string) =>
    answered(
      buttonInteraction(fake, { user, channel: CHANNEL }, messageOf(c), `so:${action}:${c.version}:${c.reviewRef}`),
    );

  // Like a person: click Edit; told the card is still being posted (it landed a few ms before it was recorded), click again.
  let modal: ReturnType<typeof formOf> | null = null;
  for (let i = 0; i < 10 && !modal; i++) {
    const edit = await click(BOB, card, 'edit');
    if (edit.callbacks[0]!.type === 9) modal = formOf(edit.callbacks[0]!.data!);
    else await new Promise((r) => setTimeout(r, 100));
  }
  expect(modal!.fields[0]!.value).toBe(card.body);
  const saved = await answered(
    modalInteraction(fake, { user: BOB, channel: CHANNEL }, `sm:edit:${modal!.version}:${modal!.reviewRef}`, {
      [`${modal!.fields[0]!.name}#0`]: 'Sorry about the double charge: the second one is refunded.',
    }),
  );
  expect(String(saved.callbacks[0]!.data?.content ?? '')).not.toMatch(/^Not saved/);
  const edited = await cardOf((c) => c.version === 2);
  expect(edited.body).toBe('Sorry about the double charge: the second one is refunded.');

  await click(CAROL, edited, 'approve');
  const done = await cardOf((c) => c.status === 'approved');
  expect(done.actions).toEqual([]);
  expect(done.statusText).toMatch(new RegExp(`Approved by @${CAROL} at \\d\\d:\\d\\d UTC`));
  expect(done.messageRef).toBe(card.messageRef);
  expect(fake.inChannel(CHANNEL).filter((m) => toSeenCard(m)?.runId === runId)).toHaveLength(1);
  // Cards are bot-token messages, not interaction replies, and nothing anyone wrote pinged anybody.
  expect(fake.messages.find((m) => card.messageRef.endsWith(`:${m.id}`))!.viaInteraction).toBe(false);
  for (const m of fake.messages) expect(m.pinged).toEqual([]);
}

describe('npm start with Discord', () => {
  const schemas: string[] = [];
  let fake: FakeDiscord;
  let bot: BotProcess | undefined;

  beforeAll(async () => {
    fake = await startFakeDiscord();
    fake.setRoles(BOB, ['support-leads']);
    fake.setRoles(CAROL, ['support-leads']);
  });
  afterAll(async () => {
    await stopBot(bot);
    await fake?.close();
    const sql = connect({ url: testDatabaseUrl(), max: 1 });
    for (const schema of schemas) await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await sql.end({ timeout: 5 });
  });

  async function start(env: Record<string, string>): Promise<BotProcess> {
    const schema = `e2e_discord_${randomBytes(4).toString('hex')}`;
    schemas.push(schema);
    return startBot({
      databaseUrl: testDatabaseUrl(),
      schema,
      env: { DISCORD_TOKEN: fake.botToken, DISCORD_API_URL: fake.apiUrl, ...env },
    });
  }

  it('gateway: a command, an edit in the modal, an approval by a support lead, the card edited in place', async () => {
    const identifies = fake.gateway.identifies;
    bot = await start({});
    await until('the gateway login', async () => fake.gateway.identifies > identifies && fake.gateway.live > 0, 30_000);
    await reviewScenario(fake, async (payload) => {
      const entry = fake.track(payload);
      fake.gateway.dispatch(GatewayDispatchEvents.InteractionCreate, payload);
      return entry;
    });
    expect(bot.log()).not.toContain(fake.botToken);
    await stopBot(bot);
  }, 90_000);

  it('HTTP interactions: the same review through signed POSTs to /discord/interactions', async () => {
    const signer = makeSigner();
    bot = await start({ DISCORD_PUBLIC_KEY: signer.publicKeyHex });
    await reviewScenario(fake, async (payload) => {
      const entry = fake.track(payload);
      expect((await postInteraction(`${bot!.url}/discord/interactions`, signer, payload)).status).toBe(202);
      return entry;
    });
    await stopBot(bot);
  }, 90_000);
});
