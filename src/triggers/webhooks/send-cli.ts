/**
 * `npm run webhook -- <source> <payload file> [--url http://127.0.0.1:3000] [--event issues]`:
 * signs the file's bytes exactly as the source's provider would, with the
 * source's configured secret (the first listed), and posts them to the running
 * bot. HubSpot's signature covers SIGNOFF_PUBLIC_URL, as behind a proxy. Prints
 * the status and the bot's answer; exits 1 when the bot refused it.
 * main.ts hands it the config (this module reads no environment).
 */
import { readFile } from 'node:fs/promises';
import { signWebhook } from './sign.ts';
import type { WebhookSettings } from './types.ts';

export interface SendCliDeps {
  webhooks: WebhookSettings;
  port: number;
  write: (line: string) => void;
}

export async function sendWebhookCli(args: string[], deps: SendCliDeps): Promise<number> {
  const flags = new Map<string, string>();
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i]!.startsWith('--')) flags.set(args[i]!.slice(2), args[++i] ?? '');
    else positional.push(args[i]!);
  }
  const [name, file] = positional;
  if (!name || !file)
    return fail(
      deps,
      'usage: npm run webhook -- <source> <payload file> [--url http://127.0.0.1:3000] [--event issues]',
    );
  const source = deps.webhooks.sources[name.toLowerCase()];
  if (!source)
    return fail(
      deps,
      `no webhook source "${name}": set WEBHOOK_${name.toUpperCase()}_SECRET (see .env.example and docs/webhooks.md)`,
    );
  const read = await readFile(file).catch(() => null);
  if (!read) return fail(deps, `cannot read ${file}`);
  const body = source.preset === 'linear' ? stampLinear(read) : read;
  const signed = await signWebhook({
    preset: source.preset,
    source: source.name,
    secret: source.secrets[0]!,
    body,
    publicUrl: deps.webhooks.publicUrl,
    event: flags.get('event') ?? eventOf(body),
  });
  const base = (flags.get('url') ?? `http://127.0.0.1:${deps.port}`).replace(/\/+$/, '');
  const res = await fetch(`${base}${signed.path}`, { method: 'POST', headers: signed.headers, body }).catch(
    (err: unknown) => err as Error,
  );
  if (res instanceof Error)
    return fail(deps, `could not reach the bot at ${base}: ${res.message} (is npm start running?)`);
  deps.write(`${res.status} ${await res.text()}`);
  return res.ok ? 0 : 1;
}

/** Linear signs the send time into the body (`webhookTimestamp`, ms), as it would. */
function stampLinear(body: Buffer): Buffer {
  try {
    return Buffer.from(
      JSON.stringify({ ...(JSON.parse(body.toString('utf8')) as object), webhookTimestamp: Date.now() }),
    );
  } catch {
    return body;
  }
}

/** Linear names the event type in a header too; read it from the payload. */
function eventOf(body: Buffer): string | undefined {
  try {
    const type = (JSON.parse(body.toString('utf8')) as { type?: unknown }).type;
    return typeof type === 'string' ? type : undefined;
  } catch {
    return undefined;
  }
}

function fail(deps: SendCliDeps, message: string): number {
  deps.write(message);
  return 1;
}
