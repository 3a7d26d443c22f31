/**
 * `npm run discord:register`: registers `/signoff` and its subcommands, as guild
 * commands when DISCORD_GUILD_ID is set (they show at once in that guild) or
 * global ones, with a bulk overwrite (PUT), so running it again changes nothing
 * (interactions/application-commands.mdx "Bulk Overwrite"). Prints what it did.
 */
import { REST } from 'discord.js';
import {
  ApplicationCommandOptionType,
  ApplicationCommandType,
  type RESTPutAPIApplicationCommandsJSONBody,
} from 'discord-api-types/v10';
import { restOptions } from './discord-rest.ts';
import type { DiscordSettings } from './types.ts';

/** Subcommands and what their one text option holds; the text is parsed as the typed command would be. */
const SUBCOMMANDS: readonly [name: string, description: string, text: string | null][] = [
  ['run', 'Start a flow', 'flow id and inputs, e.g. ticket-triage subject="Charged twice"'],
  ['status', 'Show where a run stands', 'run id'],
  ['list', 'List recent runs', null],
  ['cancel', 'Cancel a run', 'run id'],
  ['retry', 'Retry a failed or paused run', 'run id'],
  ['repost', 'Post a review card again', 'run id'],
  ['help', 'What signoff can do', null],
];

export function signoffCommand(): RESTPutAPIApplicationCommandsJSONBody[number] {
  return {
    name: 'signoff',
    description: 'Human review for flows',
    type: ApplicationCommandType.ChatInput,
    options: SUBCOMMANDS.map(([name, description, text]) => ({
      type: ApplicationCommandOptionType.Subcommand,
      name,
      description,
      options: text
        ? [
            {
              type: ApplicationCommandOptionType.String,
              name: 'text',
              description: text,
              required: true,
              max_length: 6_000,
            },
          ]
        : [],
    })),
  };
}

export async function registerCommands(settings: DiscordSettings, print: (line: string) => void): Promise<void> {
  const rest = new REST(restOptions(settings.apiUrl)).setToken(settings.token);
  const appId = settings.applicationId ?? String(((await rest.get('/applications/@me')) as { id: string }).id);
  const route = settings.guildId
    ? (`/applications/${appId}/guilds/${settings.guildId}/commands` as const)
    : (`/applications/${appId}/commands` as const);
  const saved = (await rest.put(route, { body: [signoffCommand()] })) as { name: string }[];
  const where = settings.guildId
    ? `guild ${settings.guildId} (shown at once)`
    : 'every guild (global commands can take up to an hour to show)';
  print(
    `registered /${saved.map((c) => c.name).join(', /')} with ${SUBCOMMANDS.length} subcommands (${SUBCOMMANDS.map((s) => s[0]).join(', ')}) for application ${appId} in ${where}`,
  );
}
