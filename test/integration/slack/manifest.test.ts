/**
 * manifest.yml declares exactly what adapters/slack handles: the command, the
 * one request path, the events it listens to, and the scopes of the Web API
 * methods it really calls, found by reading the adapter's source for
 * `.call('family.method'` / `.apiCall('family.method'` / `client.family.method(`.
 * Read with a small reader for the YAML subset the manifest uses (maps,
 * lists of scalars, lists of maps), since the repo has no YAML dependency.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMAND } from '../../../adapters/slack/slack-inbound.ts';
import { BOT_EVENTS } from '../../../adapters/slack/slack-listeners.ts';
import { EVENTS_PATH } from '../../../adapters/slack/slack-receivers.ts';
import { METHOD_SCOPES } from '../../../adapters/slack/slack-web.ts';

type Yaml = string | Yaml[] | { [key: string]: Yaml };

/** Indentation-based: `key: value`, `key:` + nested block, `- scalar`, `- key: value` items. */
function readYaml(text: string): Yaml {
  const lines = text
    .split('\n')
    .filter((l) => l.trim() && !l.trim().startsWith('#'))
    .map((l) => ({ indent: l.search(/\S/), text: l.trim() }));
  let i = 0;
  const block = (indent: number): Yaml => {
    if (lines[i]?.text.startsWith('- ')) {
      const items: Yaml[] = [];
      while (lines[i] && lines[i]!.indent === indent && lines[i]!.text.startsWith('- ')) {
        const item = lines[i]!.text.slice(2);
        if (/^[\w.]+:\s/.test(item)) {
          lines[i] = { indent: indent + 2, text: item };
          items.push(block(indent + 2));
        } else {
          items.push(item);
          i += 1;
        }
      }
      return items;
    }
    const map: Record<string, Yaml> = {};
    while (lines[i] && lines[i]!.indent === indent && !lines[i]!.text.startsWith('- ')) {
      const [, key, value] = /^([\w.]+):\s*(.*)$/.exec(lines[i]!.text)!;
      i += 1;
      map[key!] = value ? value : block(lines[i]?.indent ?? indent);
    }
    return map;
  };
  return block(0);
}

describe('manifest.yml', () => {
  const manifest = readYaml(readFileSync(join(import.meta.dirname, '..', '..', '..', 'manifest.yml'), 'utf8')) as any;

  it('declares the command, interactivity and events the adapter handles, all on its one path', () => {
    expect(manifest.features.slash_commands.map((c: any) => c.command)).toEqual([COMMAND]);
    const urls = [
      manifest.features.slash_commands[0].url,
      manifest.settings.interactivity.request_url,
      manifest.settings.event_subscriptions.request_url,
    ];
    expect(urls.map((u: string) => new URL(u).pathname)).toEqual([EVENTS_PATH, EVENTS_PATH, EVENTS_PATH]);
    expect(manifest.settings.interactivity.is_enabled).toBe('true');
    expect(manifest.settings.event_subscriptions.bot_events).toEqual([...BOT_EVENTS]);
    expect(['true', 'false']).toContain(manifest.settings.socket_mode_enabled);
  });

  it('asks for the scope of every method the adapter calls, and for no scope nothing uses', () => {
    const called = calledMethods();
    const unknown = called.filter((m) => !(m in SCOPES_OF));
    expect(unknown, "add the method's bot scopes from its page on api.slack.com/methods").toEqual([]);
    const declared: string[] = manifest.oauth_config.scopes.bot;
    const needed = new Set([...FEATURE_SCOPES, ...called.flatMap((m) => SCOPES_OF[m]!)]);
    expect(
      [...needed].filter((s) => !declared.includes(s)),
      'scopes a called method needs but the manifest lacks',
    ).toEqual([]);
    expect(
      declared.filter((s) => !needed.has(s)),
      'scopes the manifest asks for but nothing uses',
    ).toEqual([]);
  });

  it("the adapter's own METHOD_SCOPES table says the same as the methods' pages", () => {
    const called = calledMethods();
    expect(Object.keys(METHOD_SCOPES).sort()).toEqual(called.sort());
    for (const m of called) expect([...METHOD_SCOPES[m]!].sort(), m).toEqual([...SCOPES_OF[m]!].sort());
  });
});

/**
 * Bot scopes per method, from each method's page on https://api.slack.com/methods
 * ("Required scopes", bot token). History is read in public and private
 * channels and DMs (the channels a card or DM can be in), so each needs its scope.
 */
const SCOPES_OF: Record<string, string[]> = {
  'chat.postMessage': ['chat:write'], // https://api.slack.com/methods/chat.postMessage
  'chat.update': ['chat:write'], // https://api.slack.com/methods/chat.update
  'chat.postEphemeral': ['chat:write'], // https://api.slack.com/methods/chat.postEphemeral
  'usergroups.list': ['usergroups:read'], // https://api.slack.com/methods/usergroups.list
  'usergroups.users.list': ['usergroups:read'], // https://api.slack.com/methods/usergroups.users.list
  'conversations.history': ['channels:history', 'groups:history', 'im:history'], // https://api.slack.com/methods/conversations.history
  'conversations.replies': ['channels:history', 'groups:history', 'im:history'], // https://api.slack.com/methods/conversations.replies
  'conversations.open': ['im:write'], // https://api.slack.com/methods/conversations.open
  'views.open': [], // https://api.slack.com/methods/views.open: no scope
  'auth.test': [], // https://api.slack.com/methods/auth.test: no scope
  'files.getUploadURLExternal': ['files:write'], // https://api.slack.com/methods/files.getUploadURLExternal
  'files.completeUploadExternal': ['files:write'], // https://api.slack.com/methods/files.completeUploadExternal
};
/**
 * WebClient helpers that call several methods: `filesUploadV2` asks for an upload
 * URL, posts the bytes there, then completes the upload (node_modules/@slack/web-api
 * dist/WebClient.js `filesUploadV2`).
 */
const HELPER_METHODS: Record<string, string[]> = {
  filesUploadV2: ['files.getUploadURLExternal', 'files.completeUploadExternal'],
};
/** Scopes a feature needs rather than a method: the slash command and the app_mention event. */
const FEATURE_SCOPES = ['commands', 'app_mentions:read'];
/** Called by Bolt, not by our source: App.init() checks the token with auth.test. */
const CALLED_BY_BOLT = ['auth.test'];

/** Web API methods adapters/slack calls, read from its source. */
function calledMethods(): string[] {
  const dir = join(import.meta.dirname, '..', '..', '..', 'adapters', 'slack');
  const found = new Set<string>(CALLED_BY_BOLT);
  const patterns = [
    /\.(?:call|apiCall|postOnce)\(\s*'([a-z]+(?:\.[a-zA-Z]+)+)'/g,
    /\bclient\.([a-z]+)\.([a-zA-Z]+)\(/g,
    /\bclient\.([a-zA-Z0-9]+)\(/g,
  ];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const source = readFileSync(join(dir, file), 'utf8');
    for (const m of source.matchAll(patterns[0]!)) found.add(m[1]!);
    for (const m of source.matchAll(patterns[1]!)) found.add(`${m[1]}.${m[2]}`);
    for (const m of source.matchAll(patterns[2]!)) for (const method of HELPER_METHODS[m[1]!] ?? []) found.add(method);
  }
  return [...found];
}

describe('the scope check itself', () => {
  it('finds the calls the adapter makes (so a new call cannot slip past)', () => {
    const called = calledMethods();
    for (const m of ['chat.postMessage', 'chat.update', 'conversations.open', 'usergroups.users.list', 'views.open'])
      expect(called).toContain(m);
  });
});
