/**
 * What Slack sends to an app, built and signed as Slack does: slash command
 * forms, `block_actions` and `view_submission` payloads (a form with one
 * `payload` field of JSON), Events API JSON, each signed
 * `v0=HMAC-SHA256(secret, "v0:" + ts + ":" + rawBody)`. Shapes are trimmed
 * to what Slack documents for each and what Bolt reads.
 */
import { createHmac, randomUUID } from 'node:crypto';

export const FORM = 'application/x-www-form-urlencoded';
export const JSON_TYPE = 'application/json';

export interface Signed {
  body: string;
  contentType: string;
  headers: Record<string, string>;
}

export function signature(secret: string, ts: number | string, body: string | Buffer): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${ts}:`).update(body).digest('hex')}`;
}

/** A request as Slack would send it; `tsSeconds` defaults to now. */
export function signed(
  secret: string,
  body: string,
  contentType: string,
  tsSeconds = Math.floor(Date.now() / 1_000),
): Signed {
  return {
    body,
    contentType,
    headers: {
      'content-type': contentType,
      'x-slack-request-timestamp': String(tsSeconds),
      'x-slack-signature': signature(secret, tsSeconds, body),
    },
  };
}

/** POSTs to the bot's /slack/events; `extra` headers override (retry headers, tampering). */
export async function postToBot(
  botUrl: string,
  request: { body: string | Buffer; headers: Record<string, string> },
  extra: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${botUrl}/slack/events`, {
    method: 'POST',
    headers: { ...request.headers, ...extra },
    body: request.body,
  });
}

export interface CommandArgs {
  team: string;
  channel: string;
  user: string;
  text: string;
  triggerId: string;
  responseUrl: string;
}

export function slashCommandBody(a: CommandArgs): string {
  return new URLSearchParams({
    token: 'deprecated-verification-token',
    team_id: a.team,
    team_domain: 'fake',
    channel_id: a.channel,
    channel_name: 'support',
    user_id: a.user,
    user_name: a.user,
    command: '/signoff',
    text: a.text,
    api_app_id: 'A0FAKE',
    response_url: a.responseUrl,
    trigger_id: a.triggerId,
  }).toString();
}

/** The JSON payload Slack wraps as `payload=` (HTTP) or sends as the envelope payload (Socket Mode). */
export function blockActionsPayload(a: {
  team: string;
  channel: string;
  user: string;
  messageTs: string;
  actionId: string;
  blockId: string;
  value: string;
  triggerId: string;
  responseUrl: string;
}): Record<string, unknown> {
  return {
    type: 'block_actions',
    team: { id: a.team, domain: 'fake' },
    user: { id: a.user, username: a.user, team_id: a.team },
    api_app_id: 'A0FAKE',
    token: 'deprecated',
    trigger_id: a.triggerId,
    response_url: a.responseUrl,
    container: { type: 'message', message_ts: a.messageTs, channel_id: a.channel, is_ephemeral: false },
    channel: { id: a.channel, name: 'support' },
    message: { type: 'message', ts: a.messageTs, bot_id: 'BBOT' },
    actions: [
      {
        type: 'button',
        action_id: a.actionId,
        block_id: a.blockId,
        value: a.value,
        action_ts: `${Date.now() / 1_000}`,
      },
    ],
  };
}

export function viewSubmissionPayload(a: {
  team: string;
  user: string;
  viewId: string;
  privateMetadata: string;
  values: Record<string, string>;
}): Record<string, unknown> {
  const values = Object.fromEntries(
    Object.entries(a.values).map(([blockId, value]) => [blockId, { value: { type: 'plain_text_input', value } }]),
  );
  return {
    type: 'view_submission',
    team: { id: a.team, domain: 'fake' },
    user: { id: a.user, username: a.user, team_id: a.team },
    api_app_id: 'A0FAKE',
    token: 'deprecated',
    trigger_id: `trig-${randomUUID()}`,
    view: {
      id: a.viewId,
      type: 'modal',
      callback_id: 'signoff_editor',
      private_metadata: a.privateMetadata,
      hash: `h-${a.viewId}`,
      team_id: a.team,
      state: { values },
    },
  };
}

export function interactionBody(payload: Record<string, unknown>): string {
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

/** An Events API `event_callback` with an `app_mention` (or any event given). */
export function eventCallback(a: {
  team: string;
  eventId: string;
  event: Record<string, unknown>;
}): Record<string, unknown> {
  return {
    token: 'deprecated',
    team_id: a.team,
    api_app_id: 'A0FAKE',
    type: 'event_callback',
    event_id: a.eventId,
    event_time: Math.floor(Date.now() / 1_000),
    event: a.event,
    authorizations: [{ team_id: a.team, user_id: 'UBOT', is_bot: true }],
  };
}

export function appMention(a: { channel: string; user: string; text: string; ts?: string }): Record<string, unknown> {
  return {
    type: 'app_mention',
    channel: a.channel,
    user: a.user,
    text: `<@UBOT> ${a.text}`,
    ts: a.ts ?? `${Date.now() / 1_000}`,
    event_ts: `${Date.now() / 1_000}`,
  };
}
