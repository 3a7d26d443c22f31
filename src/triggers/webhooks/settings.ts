/**
 * Reads the webhook sources from the environment for src/config.ts (pure; it
 * reports problems into the caller's list, so every mistake is in one message).
 *
 *   WEBHOOK_<SOURCE>_SECRET   comma-separated; any listed secret verifies (rotation).
 *                             Salesforce signs nothing: its secret is the last path segment.
 *   WEBHOOK_<SOURCE>_PRESET   the verifier, default the source's own name
 *   WEBHOOK_<SOURCE>_ORG_ID   Salesforce: the OrganizationId messages must carry
 *   WEBHOOK_<SOURCE>_HEADER … the `hmac` preset's scheme (docs/webhooks.md)
 *   SIGNOFF_PUBLIC_URL        the base URL senders post to (HubSpot v3 signs it)
 *   WEBHOOK_MAX_BODY_BYTES    largest body read, before anything is hashed (default 1 MiB)
 *   WEBHOOK_TENANT            the tenant webhook runs belong to (default `local`, the web chat's)
 */
import { PRESET_NAMES, type HmacScheme, type PresetName, type SourceSettings, type WebhookSettings } from './types.ts';

type Env = Record<string, string | undefined>;

const SECRET_VAR = /^WEBHOOK_([A-Z0-9_]{1,40})_SECRET$/;
/** An unguessable path segment: at least this many characters. */
const MIN_PATH_SECRET_CHARS = 24;

export function readWebhookSettings(env: Env, problems: string[], publicUrl: string | null): WebhookSettings {
  const sources: Record<string, SourceSettings> = {};
  for (const name of Object.keys(env)) {
    const m = SECRET_VAR.exec(name);
    if (!m || !env[name]) continue;
    const source = readSource(env, m[1]!, problems, publicUrl);
    if (source) sources[source.name] = source;
  }
  const raw = env.WEBHOOK_MAX_BODY_BYTES;
  const maxBodyBytes = raw ? Number(raw) : 1_048_576;
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 1_024 || maxBodyBytes > 26_214_400) {
    problems.push(`WEBHOOK_MAX_BODY_BYTES must be a whole number from 1024 to 26214400 (got "${raw}")`);
  }
  return {
    sources: Object.freeze(sources),
    publicUrl,
    maxBodyBytes: Number.isInteger(maxBodyBytes) ? maxBodyBytes : 1_048_576,
    tenant: env.WEBHOOK_TENANT || 'local',
  };
}

function readSource(env: Env, upper: string, problems: string[], publicUrl: string | null): SourceSettings | null {
  const v = (suffix: string) => env[`WEBHOOK_${upper}_${suffix}`] || null;
  const name = upper.toLowerCase();
  const preset = (v('PRESET') ?? name).toLowerCase() as PresetName;
  if (!PRESET_NAMES.includes(preset)) {
    problems.push(
      `WEBHOOK_${upper}_PRESET must be one of ${PRESET_NAMES.join(', ')} (got "${preset}"; set it when the source is not named after its provider)`,
    );
    return null;
  }
  const secrets = (v('SECRET') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (secrets.length === 0) problems.push(`WEBHOOK_${upper}_SECRET lists no secret`);
  if (preset === 'hubspot' && !publicUrl) {
    problems.push(
      `WEBHOOK_${upper}_SECRET is set for HubSpot, whose v3 signature covers the URL: set SIGNOFF_PUBLIC_URL to the public base URL HubSpot posts to`,
    );
  }
  const orgId = v('ORG_ID');
  if (preset === 'salesforce') {
    if (!orgId || !/^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$/.test(orgId))
      problems.push(`WEBHOOK_${upper}_ORG_ID must be your Salesforce OrganizationId (15 or 18 characters)`);
    if (secrets.some((s) => s.length < MIN_PATH_SECRET_CHARS || !/^[A-Za-z0-9_-]+$/.test(s))) {
      problems.push(
        `WEBHOOK_${upper}_SECRET is the path secret of Salesforce outbound messages: at least ${MIN_PATH_SECRET_CHARS} letters, digits, - or _ (e.g. openssl rand -hex 16)`,
      );
    }
  }
  const hmac = preset === 'hmac' ? readHmacScheme(v, upper, problems) : null;
  return { name, preset, secrets, orgId: preset === 'salesforce' ? orgId : null, hmac };
}

function readHmacScheme(v: (suffix: string) => string | null, upper: string, problems: string[]): HmacScheme {
  const pick = <T extends string>(suffix: string, allowed: readonly T[], fallback: T): T => {
    const raw = (v(suffix) ?? fallback).toLowerCase() as T;
    if (!allowed.includes(raw))
      problems.push(`WEBHOOK_${upper}_${suffix} must be one of ${allowed.join(', ')} (got "${raw}")`);
    return allowed.includes(raw) ? raw : fallback;
  };
  const header = v('HEADER')?.toLowerCase() ?? null;
  if (!header)
    problems.push(`WEBHOOK_${upper}_HEADER names the signature header of the hmac preset (e.g. x-signature)`);
  const signed = pick('SIGNED', ['body', 'timestamp-body'] as const, 'body');
  const timestampHeader = v('TIMESTAMP_HEADER')?.toLowerCase() ?? null;
  if (signed === 'timestamp-body' && !timestampHeader)
    problems.push(`WEBHOOK_${upper}_SIGNED=timestamp-body needs WEBHOOK_${upper}_TIMESTAMP_HEADER`);
  const tolerance = Number(v('TOLERANCE_SEC') ?? 300);
  if (!Number.isInteger(tolerance) || tolerance < 1 || tolerance > 86_400)
    problems.push(`WEBHOOK_${upper}_TOLERANCE_SEC must be 1 to 86400 seconds`);
  return {
    header: header ?? 'x-signature',
    algorithm: pick('ALGORITHM', ['sha1', 'sha256', 'sha512'] as const, 'sha256'),
    encoding: pick('ENCODING', ['hex', 'base64'] as const, 'hex'),
    prefix: v('PREFIX') ?? '',
    signed,
    timestampHeader,
    separator: v('SEPARATOR') ?? '.',
    toleranceSec: Number.isInteger(tolerance) ? tolerance : 300,
    idHeader: v('ID_HEADER')?.toLowerCase() ?? null,
    eventHeader: v('EVENT_HEADER')?.toLowerCase() ?? null,
  };
}
