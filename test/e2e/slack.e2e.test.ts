/**
 * `npm start` with Slack: the bot as a child process with SLACK_* variables
 * pointing at the fake Slack, in HTTP mode and in Socket Mode. A person runs
 * `/signoff run ticket-triage …`, a support lead edits the draft in the modal,
 * another approves, and the card is updated in place with the outcome and no
 * buttons. Everything goes over Slack's wire protocol; nothing is mocked.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/store/client.ts';
import { until, type SeenCard } from '../contract/chat-port.contract.ts';
import { decode, toSeenCard } from '../contract/slack-driver.ts';
import {
  blockActionsPayload,
  FORM,
  interactionBody,
  postToBot,
  signed,
  slashCommandBody,
  viewSubmissionPayload,
} from '../fakes/slack/requests.ts';
import { startFakeSlack, type FakeSlack } from '../fakes/slack/web-api.ts';
import { startBot, stopBot, type BotProcess } from '../helpers/browser.ts';
import { testDatabaseUrl } from '../helpers/db.ts';

const SECRET = 'e2e-signing-secret';
const CHANNEL = 'C0SUPPORT';
const [ALICE, BOB, CAROL] = ['U0ALICE', 'U0BOB', 'U0CAROL'];

type Body = Record<string, any>;
/** How a delivery reaches the bot: a signed POST (HTTP mode) or an envelope on the socket (Socket Mode). */
type Deliver = (kind: 'slash_commands' | 'interactive', payload: Body) => Promise<Body>;

function httpDeliver(bot: BotProcess): Deliver {
  return async (kind, payload) => {
    const body = kind === 'slash_commands' ? new URLSearchParams(payload).toString() : interactionBody(payload);
    const res = await postToBot(bot.url, signed(SECRET, body, FORM));
    expect(res.status).toBe(200);
    const text = await res.text();
    return text ? (JSON.parse(text) as Body) : {};
  };
}

function socketDeliver(fake: FakeSlack): Deliver {
  return async (kind, payload) => {
    const envelope = fake.socket.send(kind, payload);
    const ack = await fake.socket.ack(envelope, 10_000);
    if (!ack) throw new Error(`no ack for a ${kind} envelope`);
    return ack;
  };
}

async function reviewScenario(fake: FakeSlack, deliver: Deliver): Promise<void> {
  const command = Object.fromEntries(
    new URLSearchParams(
      slashCommandBody({
        team: fake.teamId,
        channel: CHANNEL,
        user: ALICE,
        triggerId: fake.newTrigger(),
        responseUrl: fake.newResponseUrl(),
        text: 'run ticket-triage subject="Charged twice" body="I was charged twice for my May invoice."',
      }),
    ),
  );
  const started = await deliver('slash_commands', command);
  expect(started.response_type).toBe('in_channel');
  const runId = /run `([0-9a-f-]{36})`/.exec(decode(started.text))![1]!;
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

  const click = (
    user: string,
    c: SeenCard,
    action: string,
    triggerId = fake.newTrigger(),
    responseUrl = fake.newResponseUrl(),
  ) =>
    deliver(
      'interactive',
      blockActionsPayload({
        team: fake.teamId,
        channel: CHANNEL,
        user,
        messageTs: c.messageRef.split(':')[2]!,
        actionId: `signoff_${action}`,
        blockId: `signoff_card:v${c.version}`,
        value: c.reviewRef,
        triggerId,
        responseUrl,
      }),
    );
  // Like a person: click Edit once, the moment the card appears. The modal opens within Slack's 3 s.
  const openEditor = async (): Promise<Body> => {
    const [triggerId, responseUrl] = [fake.newTrigger(), fake.newResponseUrl()];
    await click(BOB, card, 'edit', triggerId, responseUrl);
    const seen = await until(
      'the edit modal or an answer',
      async () =>
        fake.views.find((v) => v.triggerId === triggerId) ?? fake.ephemerals.find((e) => e.url === responseUrl) ?? null,
      5_000,
    );
    if (!('view' in seen))
      throw new Error(`the first Edit click was answered "${decode(seen.text)}" instead of opening the modal`);
    return seen.view as Body;
  };
  const modal = await openEditor();
  const [field] = modal.blocks as Body[];
  expect(field!.element.initial_value).toBe(card.body);
  const saved = await deliver(
    'interactive',
    viewSubmissionPayload({
      team: fake.teamId,
      user: BOB,
      viewId: `V-${runId}`,
      privateMetadata: modal.private_metadata,
      values: { [field!.block_id]: 'Sorry about the double charge: the second one is refunded.' },
    }),
  );
  expect(saved.response_action).toBeUndefined();
  const edited = await cardOf((c) => c.version === 2);
  expect(edited.body).toBe('Sorry about the double charge: the second one is refunded.');

  await click(CAROL, edited, 'approve');
  const done = await cardOf((c) => c.status === 'approved');
  expect(done.actions).toEqual([]);
  expect(done.statusText).toMatch(new RegExp(`Approved by @${CAROL} at \\d\\d:\\d\\d UTC`));
  // In place: the same message, updated, not a new one.
  expect(done.messageRef).toBe(card.messageRef);
  expect(fake.inChannel(CHANNEL).filter((m) => toSeenCard(m)?.runId === runId)).toHaveLength(1);
}

describe('npm start with Slack', () => {
  const schemas: string[] = [];
  let fake: FakeSlack;
  let bot: BotProcess | undefined;

  beforeAll(async () => {
    fake = await startFakeSlack({ channels: [CHANNEL] });
    fake.setGroups(BOB, ['support-leads']);
    fake.setGroups(CAROL, ['support-leads']);
  });
  afterAll(async () => {
    await stopBot(bot);
    await fake?.close();
    const sql = connect({ url: testDatabaseUrl(), max: 1 });
    for (const schema of schemas) await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await sql.end({ timeout: 5 });
  });

  async function start(env: Record<string, string>): Promise<BotProcess> {
    const schema = `e2e_slack_${randomBytes(4).toString('hex')}`;
    schemas.push(schema);
    return startBot({
      databaseUrl: testDatabaseUrl(),
      schema,
      env: { SLACK_BOT_TOKEN: fake.botToken, SLACK_API_URL: fake.apiUrl, ...env },
    });
  }

  it('HTTP mode: a signed command, an edit in the modal, an approval by a support lead, the card updated in place', async () => {
    bot = await start({ SLACK_SIGNING_SECRET: SECRET });
    await reviewScenario(fake, httpDeliver(bot));
    await stopBot(bot);
  }, 90_000);

  it('Socket Mode: the same review over the websocket', async () => {
    const connected = fake.socket.connections().length;
    bot = await start({ SLACK_APP_TOKEN: fake.appToken });
    await fake.socket.waitForConnections(connected + 1, 20_000);
    await reviewScenario(fake, socketDeliver(fake));
    await stopBot(bot);
  }, 90_000);
});
