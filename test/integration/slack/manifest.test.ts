/**
 * manifest.yml declares exactly what adapters/slack handles: the command, the
 * one request path, the events it listens to, and the scopes of the methods it
 * calls. Read with a small reader for the YAML subset the manifest uses (maps,
 * lists of scalars, lists of maps), since the repo has no YAML dependency.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMAND } from '../../../adapters/slack/slack-inbound.ts';
import { BOT_EVENTS } from '../../../adapters/slack/slack-listeners.ts';
import { EVENTS_PATH } from '../../../adapters/slack/slack-receivers.ts';
import { METHOD_SCOPES } from '../../../adapters/slack/slack-web.ts';

type Yaml = string | Yaml[] | { [key: string]: Yaml };

/** Indentation-based: `key: value`, `key:` + nested block, `- scalar`, `- key: value` items. */
function readYaml(text: string): Yaml {
  const lines = text.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#')).map((l) => ({ indent: l.search(/\S/), text: l.trim() }));
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
    const urls = [manifest.features.slash_commands[0].url, manifest.settings.interactivity.request_url, manifest.settings.event_subscriptions.request_url];
    expect(urls.map((u: string) => new URL(u).pathname)).toEqual([EVENTS_PATH, EVENTS_PATH, EVENTS_PATH]);
    expect(manifest.settings.interactivity.is_enabled).toBe('true');
    expect(manifest.settings.event_subscriptions.bot_events).toEqual([...BOT_EVENTS]);
    expect(['true', 'false']).toContain(manifest.settings.socket_mode_enabled);
  });

  it('asks for exactly the scopes of the methods the adapter calls, the command and the event', () => {
    const needed = new Set(['commands', 'app_mentions:read', ...Object.values(METHOD_SCOPES).flat()]);
    expect([...manifest.oauth_config.scopes.bot].sort()).toEqual([...needed].sort());
  });
});
