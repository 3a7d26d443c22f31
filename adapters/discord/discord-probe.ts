/**
 * `signoff doctor`'s Discord check: is DISCORD_TOKEN accepted (`GET /users/@me`,
 * resources/user.mdx "Get Current User"), and as which bot. Words a newcomer can
 * act on; never the token, nor Discord's reply body beyond its error code.
 */
import { DiscordAPIError, HTTPError, REST } from 'discord.js';
import { describeNetworkError } from '../../src/ops/net-error.ts';
import { restOptions } from './discord-rest.ts';
import type { DiscordSettings } from './types.ts';

export interface PlatformProbe {
  ok: boolean;
  /** One sentence: who we are connected as, or what is wrong and how to fix it. */
  detail: string;
}

const WHERE_TOKEN = 'copy the bot token from discord.com/developers/applications → your app → Bot → Reset Token';

export async function probeDiscord(settings: DiscordSettings): Promise<PlatformProbe> {
  const rest = new REST({ ...restOptions(settings.apiUrl), retries: 0 }).setToken(settings.token);
  try {
    const me = (await rest.get('/users/@me')) as { id: string; username?: string; bot?: boolean };
    const warning = me.bot === false ? ' (this is a user token, not a bot token: use the Bot page token)' : '';
    return { ok: me.bot !== false, detail: `connected as ${me.username ?? me.id} (id ${me.id})${warning}` };
  } catch (err) {
    return { ok: false, detail: discordProblem(err, settings.apiUrl) };
  }
}

function discordProblem(err: unknown, apiUrl: string): string {
  if (err instanceof DiscordAPIError || err instanceof HTTPError) {
    if (err.status === 401) return `Discord rejected DISCORD_TOKEN (401 Unauthorized): ${WHERE_TOKEN}`;
    return `Discord answered ${err.status} to GET /users/@me: check DISCORD_API_URL (unset it for discord.com)`;
  }
  return `Discord at ${apiUrl} did not answer (${describeNetworkError(err)}): check DISCORD_API_URL and the network`;
}
