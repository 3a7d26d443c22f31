/**
 * `npm run discord:register` as a person runs it, against the fake Discord: guild commands when
 * DISCORD_GUILD_ID is set, else global; the application id read from the token; what it did printed.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startFakeDiscord, type FakeDiscord } from '../../fakes/discord/rest.ts';

const run = promisify(execFile);
let fake: FakeDiscord;
beforeAll(async () => {
  fake = await startFakeDiscord();
});
afterAll(async () => {
  await fake?.close();
});

async function register(env: Record<string, string>): Promise<string> {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(SLACK_|DISCORD_)/.test(k)));
  const { stdout } = await run('npm', ['run', '--silent', 'discord:register'], {
    env: { ...inherited, DISCORD_TOKEN: fake.botToken, DISCORD_API_URL: fake.apiUrl, ...env },
    timeout: 60_000,
  });
  return stdout;
}

it('registers /signoff and its subcommands in one guild, or globally, and says so', async () => {
  const guild = await register({ DISCORD_GUILD_ID: fake.guildId });
  expect(guild).toMatch(
    new RegExp(
      `registered /signoff with 7 subcommands \\(run, status, list, cancel, retry, repost, help\\) for application ${fake.applicationId} in guild ${fake.guildId}`,
    ),
  );
  const global = await register({ DISCORD_APPLICATION_ID: '999999999999' });
  expect(global).toMatch(/for application 999999999999 in every guild/);
  expect(fake.commands.map((c) => c.scope)).toEqual([`guild:${fake.guildId}`, 'global']);
  const [command] = fake.commands[0]!.body;
  expect(command!.options.map((o: { name: string }) => o.name)).toEqual([
    'run',
    'status',
    'list',
    'cancel',
    'retry',
    'repost',
    'help',
  ]);
  expect(fake.requests.filter((r) => r.status === 401)).toEqual([]);
}, 90_000);
