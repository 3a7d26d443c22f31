/**
 * `signoff doctor`'s Slack check: is the bot token accepted (`auth.test`), and
 * in Socket Mode the app token too (`apps.connections.open`, which only hands
 * out a websocket URL). The answer is in words a newcomer can act on, and names
 * the variable to fix; it never contains a token, not even from Slack's reply
 * (only Slack's error code is read).
 */
import { WebAPIPlatformError, WebAPIRequestError, WebClient } from '@slack/web-api';
import { silentLogger } from '../../src/ops/log.ts';
import { describeNetworkError } from '../../src/ops/net-error.ts';
import { boltLogger } from './slack-receivers.ts';
import { clientOptions } from './slack-web.ts';
import type { SlackSettings } from './types.ts';

export interface PlatformProbe {
  ok: boolean;
  /** One sentence: who we are connected as, or what is wrong and how to fix it. */
  detail: string;
}

const PROBE_TIMEOUT_MS = 10_000;

/** Where to get each token (api.slack.com/apps → the app's pages). */
const WHERE = {
  SLACK_BOT_TOKEN: 'copy the Bot User OAuth Token (xoxb-…) from api.slack.com/apps → your app → OAuth & Permissions',
  SLACK_APP_TOKEN:
    'create an App-Level Token with the connections:write scope at api.slack.com/apps → your app → Basic Information',
};

export async function probeSlack(settings: SlackSettings): Promise<PlatformProbe> {
  const options = clientOptions(settings.apiUrl, PROBE_TIMEOUT_MS, boltLogger(silentLogger));
  const bot = new WebClient(settings.botToken, options);
  let who: string;
  try {
    const me = await bot.auth.test();
    who = `connected as ${me.user ?? me.user_id ?? 'the bot'} in ${me.team ?? me.team_id ?? 'its workspace'}`;
  } catch (err) {
    return { ok: false, detail: slackProblem(err, 'SLACK_BOT_TOKEN', settings.apiUrl) };
  }
  if (settings.appToken) {
    try {
      await new WebClient(settings.appToken, options).apps.connections.open();
    } catch (err) {
      return {
        ok: false,
        detail: `bot token ok (${who}), but ${slackProblem(err, 'SLACK_APP_TOKEN', settings.apiUrl)}`,
      };
    }
  }
  return { ok: true, detail: `${who}${settings.appToken ? ' (Socket Mode: app token accepted)' : ''}` };
}

function slackProblem(err: unknown, variable: keyof typeof WHERE, apiUrl: string): string {
  if (err instanceof WebAPIPlatformError) {
    const code = String(err.data.error);
    return `Slack rejected ${variable} (${code}): ${WHERE[variable]}`;
  }
  if (err instanceof WebAPIRequestError) {
    return `Slack at ${apiUrl} did not answer (${describeNetworkError(err.original)}): check SLACK_API_URL (unset it for slack.com) and the network`;
  }
  const status = (err as { statusCode?: unknown }).statusCode;
  return `Slack answered ${typeof status === 'number' ? `HTTP ${status}` : 'unexpectedly'}; try again, or check SLACK_API_URL`;
}
