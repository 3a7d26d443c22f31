/** DISCORD_* in readConfig: the mode follows the variables, bad values are reported with how to fix them. */
import { expect, it } from 'vitest';
import { readConfig } from '../../src/config.ts';

it('DISCORD_TOKEN alone is the gateway; with DISCORD_PUBLIC_KEY, HTTP interactions', () => {
  expect(readConfig({}).discord).toBeNull();
  expect(readConfig({ DISCORD_TOKEN: 't' }).discord).toEqual({
    token: 't',
    publicKey: null,
    applicationId: null,
    guildId: null,
    apiUrl: 'https://discord.com/api',
  });
  const http = readConfig({
    DISCORD_TOKEN: 't',
    DISCORD_PUBLIC_KEY: 'ab'.repeat(32),
    DISCORD_API_URL: 'http://127.0.0.1:9/api/',
    DISCORD_GUILD_ID: '123456789',
  }).discord;
  expect(http).toMatchObject({ publicKey: 'ab'.repeat(32), apiUrl: 'http://127.0.0.1:9/api', guildId: '123456789' });
});

it('refuses a bad key, bad ids, a key without a token, and Slack with Discord, all in one message', () => {
  expect(() => readConfig({ DISCORD_TOKEN: 't', DISCORD_PUBLIC_KEY: 'nothex', DISCORD_GUILD_ID: 'guild' })).toThrow(
    /DISCORD_PUBLIC_KEY must be the 64 hex[\s\S]*DISCORD_GUILD_ID must be a Discord id/,
  );
  expect(() => readConfig({ DISCORD_PUBLIC_KEY: 'ab'.repeat(32) })).toThrow(
    /DISCORD_TOKEN \(the bot token\) is required/,
  );
  expect(() => readConfig({ DISCORD_TOKEN: 't', SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's' })).toThrow(
    /both Slack and Discord/,
  );
});
