/**
 * The bot as main.ts assembles it around the Slack adapter (engine, review
 * desk, command handlers on real Postgres; the contract suite's flows), with a
 * fake Slack, an HTTP server for /slack/events, and a log captured as lines so
 * tests can read what was (and was not) logged. Several of these on one
 * database play several bot processes.
 */
import { createSlackAdapter, type SlackAdapter } from '../../../adapters/slack/slack-adapter.ts';
import type { SlackAdapterOptions } from '../../../adapters/slack/types.ts';
import { startHttpServer, type HttpServer } from '../../../src/ops/http.ts';
import { createLogger } from '../../../src/ops/log.ts';
import type { Sql } from '../../../src/store/client.ts';
import { slackStore } from '../../../src/store/slack.ts';
import {
  deploy,
  until,
  type Deployment,
  type PlatformDriver,
  type SeenCard,
} from '../../contract/chat-port.contract.ts';
import { toSeenCard } from '../../contract/slack-driver.ts';
import {
  appMention,
  blockActionsPayload,
  eventCallback,
  FORM,
  interactionBody,
  JSON_TYPE,
  postToBot,
  signed,
  slashCommandBody,
} from '../../fakes/slack/requests.ts';
import type { FakeSlack } from '../../fakes/slack/web-api.ts';

export const SECRET = 'integration-signing-secret';
export const CHANNEL = 'C0SUPPORT';

export interface SlackBot {
  adapter: SlackAdapter;
  /** http://127.0.0.1:<port> of this bot's HTTP server. */
  url: string;
  app: Deployment;
  /** Every log line, as JSON text. */
  logs: string[];
  stop(): Promise<void>;
}

export async function startSlackBot(
  db: { sql: Sql; schema: string },
  fake: FakeSlack,
  opts: {
    mode?: 'http' | 'socket';
    adapter?: Partial<SlackAdapterOptions>;
  } = {},
): Promise<SlackBot> {
  const logs: string[] = [];
  const adapter = createSlackAdapter({
    settings: {
      botToken: fake.botToken,
      apiUrl: fake.apiUrl,
      signingSecret: opts.mode === 'socket' ? null : SECRET,
      appToken: opts.mode === 'socket' ? fake.appToken : null,
    },
    store: slackStore(db.sql),
    log: createLogger('debug', (line) => logs.push(line)),
    groupCacheMs: 0,
    channelIntervalMs: 50,
    isTierPaced: false,
    ...opts.adapter,
  });
  const app = await deploy(db, { port: adapter.port, channel: CHANNEL } as PlatformDriver);
  const http: HttpServer = await startHttpServer({ port: 0, host: '127.0.0.1', sql: db.sql, routes: adapter.routes });
  return {
    adapter,
    app,
    logs,
    url: `http://127.0.0.1:${http.port}`,
    async stop() {
      await adapter.port.stop();
      await http.close();
      await app.stop();
    },
  };
}

/** A signed /signoff command; answers the HTTP response and what was sent. */
/**
 * Sends a slash command as Slack does: Slack waits 3000 ms for the answer, then
 * shows the person "operation_timeout" and drops a late answer
 * (https://api.slack.com/interactivity/slash-commands#responding_to_commands).
 * So a late answer comes back as `isTimedOut`, status 0, like Slack sees it.
 */
export async function sendCommand(bot: SlackBot, fake: FakeSlack, user: string, text: string) {
  const responseUrl = fake.newResponseUrl();
  const body = slashCommandBody({
    team: fake.teamId,
    channel: CHANNEL,
    user,
    text,
    triggerId: fake.newTrigger(),
    responseUrl,
  });
  const request = signed(SECRET, body, FORM);
  const res = await fetch(`${bot.url}/slack/events`, {
    method: 'POST',
    headers: request.headers,
    body: request.body,
    signal: AbortSignal.timeout(SLACK_WAIT_MS),
  }).catch((err: unknown) => {
    if ((err as Error).name === 'TimeoutError') return null;
    throw err;
  });
  if (!res) return { status: 0, isTimedOut: true, body: {} as Record<string, any>, responseUrl };
  const raw = await res.text();
  return {
    status: res.status,
    isTimedOut: false,
    body: raw ? (JSON.parse(raw) as Record<string, any>) : {},
    responseUrl,
  };
}

/** How long Slack waits for the answer to a slash command or an event. */
const SLACK_WAIT_MS = 3_000;

/** The Events API body of an app_mention. */
export function mentionEvent(fake: FakeSlack, eventId: string, text: string, user = 'alice'): string {
  return JSON.stringify(
    eventCallback({ team: fake.teamId, eventId, event: appMention({ channel: CHANNEL, user, text }) }),
  );
}

/**
 * POSTs a signed Events API body, with retry headers when `retryNum` is given. Like
 * Slack, it waits 3 s for the answer and counts a later one as failed (Slack then
 * retries: https://api.slack.com/apis/events-api#failure): it throws a TimeoutError.
 */
export async function sendEvent(
  bot: SlackBot,
  body: string,
  retryNum?: number,
  reason = 'http_timeout',
): Promise<Response> {
  const retry: Record<string, string> =
    retryNum === undefined ? {} : { 'x-slack-retry-num': String(retryNum), 'x-slack-retry-reason': reason };
  const request = signed(SECRET, body, JSON_TYPE);
  return fetch(`${bot.url}/slack/events`, {
    method: 'POST',
    headers: { ...request.headers, ...retry },
    body: request.body,
    signal: AbortSignal.timeout(SLACK_WAIT_MS),
  });
}

export async function countRuns(sql: Sql, flow: string): Promise<number> {
  const [row] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM runs WHERE flow = ${flow}`;
  return row!.n;
}

export async function hasEventRow(sql: Sql, eventId: string): Promise<boolean> {
  return (await sql`SELECT 1 FROM inbox WHERE source = 'slack:event' AND key = ${eventId}`).length === 1;
}

/** A signed click on a posted card, as Slack sends it; `triggerId`/`responseUrl` default to fresh ones. */
export async function sendClick(
  bot: SlackBot,
  fake: FakeSlack,
  user: string,
  card: SeenCard,
  action: string,
  opts: { triggerId?: string; responseUrl?: string } = {},
): Promise<Response> {
  const [, channel, ts] = card.messageRef.split(':') as [string, string, string];
  const payload = blockActionsPayload({
    team: fake.teamId,
    channel,
    user,
    messageTs: ts,
    actionId: `signoff_${action}`,
    blockId: `signoff_card:v${card.version}`,
    value: card.reviewRef,
    triggerId: opts.triggerId ?? fake.newTrigger(),
    responseUrl: opts.responseUrl ?? fake.newResponseUrl(),
  });
  return postToBot(bot.url, signed(SECRET, interactionBody(payload), FORM));
}

/** The card of a run as the fake shows it, once the desk recorded it. */
export async function cardOf(sql: Sql, fake: FakeSlack, runId: string, channel = CHANNEL): Promise<SeenCard> {
  return until(`the card of ${runId}`, async () => {
    const [review] = await sql<{ card_ref: string | null }[]>`SELECT card_ref FROM reviews WHERE run_id = ${runId}`;
    const message = fake.inChannel(channel).find((m) => review?.card_ref === `slack:${m.channel}:${m.ts}`);
    return message ? toSeenCard(message) : null;
  });
}
