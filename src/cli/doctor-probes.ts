/**
 * The checks of `signoff doctor` that need no chat SDK: the database, the model
 * server, and each configured tool host (one cheap authenticated request each).
 * The chat platforms are probed by their adapters (adapters/slack/slack-probe.ts,
 * adapters/discord/discord-probe.ts). Each check says what is wrong in words a
 * newcomer can act on, naming the variable to fix; none reads a reply body
 * beyond a status or error code, so a provider's echo of a credential never
 * reaches the screen (and ./commands/doctor.ts scrubs every configured secret anyway).
 */
import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError } from 'openai';
import { redactUrl, type Config } from '../config.ts';
import { describeNetworkError } from '../ops/net-error.ts';
import { apiUrl, bearer, zendeskAuth } from '../steps/tools/connectors/connector.ts';
import type { ConnectorSettings } from '../steps/tools/types.ts';
import { pendingMigrations } from '../store/migrate.ts';
import { serverVersion } from '../store/operator.ts';
import type { CliContext } from './context.ts';

export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
}

const PROBE_TIMEOUT_MS = 10_000;
/** Postgres refusals at connect time, in words (the rest are network failures). */
const SQLSTATE_WORDS: Readonly<Record<string, string>> = {
  '28P01': 'the password was rejected',
  '28000': 'that user may not connect',
  '3D000': 'that database does not exist',
  '57P03': 'the server is starting up or shutting down',
};
/** Oldest Postgres signoff supports (DESIGN §8). */
const MIN_POSTGRES = 140_000;

export async function checkDatabase(ctx: CliContext): Promise<CheckResult> {
  const name = 'database';
  let where = ctx.config.databaseUrl ? `DATABASE_URL (${redactUrl(ctx.config.databaseUrl)})` : 'the embedded Postgres';
  try {
    const db = await ctx.database();
    where = db.where === 'DATABASE_URL' ? where : db.where;
    const version = await serverVersion(db.sql);
    if (version.num < MIN_POSTGRES)
      return { name, ok: false, detail: `${where} runs Postgres ${version.text}; signoff needs 14 or newer` };
    const pending = await pendingMigrations(db.sql, ctx.config.schema);
    const schema = `schema "${ctx.config.schema}"`;
    if (pending.length > 0)
      return {
        name,
        ok: false,
        detail: `Postgres ${version.text} at ${where}, but ${schema} misses ${pending.length} migration(s): run \`npx signoff migrate\``,
      };
    return { name, ok: true, detail: `Postgres ${version.text} at ${where}, ${schema}, migrations current` };
  } catch (err) {
    const why = SQLSTATE_WORDS[String((err as { code?: unknown }).code)] ?? describeNetworkError(err);
    const fix = ctx.config.databaseUrl
      ? 'start it, or fix DATABASE_URL (unset it to use the embedded database)'
      : 'check SIGNOFF_DATA_DIR';
    return { name, ok: false, detail: `could not open ${where} (${why}): ${fix}` };
  }
}

export async function checkModel(config: Readonly<Config>): Promise<CheckResult> {
  const { apiKey, baseUrl } = config.model;
  const name = 'model';
  if (!apiKey && !baseUrl)
    return {
      name,
      ok: true,
      detail: 'no OPENAI_API_KEY or OPENAI_BASE_URL: model steps use the built-in offline model',
    };
  const where = baseUrl ? `the model server at ${redactUrl(baseUrl)}` : 'OpenAI';
  // A local server often takes any key; the SDK refuses to start without one.
  const client = new OpenAI({ apiKey: apiKey ?? 'unset', baseURL: baseUrl, timeout: PROBE_TIMEOUT_MS, maxRetries: 0 });
  try {
    const page = await client.models.list();
    const ids = page.data.map((m) => m.id);
    const wanted = [...new Set(Object.values(config.model.routes).flat())];
    const missing = wanted.filter((id) => !ids.includes(id));
    const note =
      missing.length > 0 && ids.length > 0
        ? `; not listed there: ${missing.join(', ')} (MODEL_CHEAP / MODEL_STRONG)`
        : '';
    return { name, ok: true, detail: `${where} answered with ${ids.length} model(s)${note}` };
  } catch (err) {
    return { name, ok: false, detail: modelProblem(err, where, Boolean(baseUrl)) };
  }
}

function modelProblem(err: unknown, where: string, hasBaseUrl: boolean): string {
  const unset = hasBaseUrl ? 'start it or unset OPENAI_BASE_URL' : 'check the network';
  if (err instanceof APIConnectionTimeoutError) return `${where} did not answer (timed out): ${unset}`;
  if (err instanceof APIConnectionError) return `${where} did not answer (${describeNetworkError(err)}): ${unset}`;
  if (err instanceof APIError && (err.status === 401 || err.status === 403))
    return `${where} rejected OPENAI_API_KEY (${err.status}): create a key at platform.openai.com/api-keys (or your server's console)`;
  if (err instanceof APIError && err.status === 404)
    return `${where} has no /models (404): OPENAI_BASE_URL should be the API root, usually ending in /v1`;
  if (err instanceof APIError) return `${where} answered ${err.status ?? 'an error'} to GET /models`;
  return `${where} could not be asked (${(err as Error).message.slice(0, 120)})`;
}

/** The cheap authenticated request per connector, and the variable that holds its credential. */
const TOOL_PROBES: Record<string, { token: string; request: (s: ConnectorSettings) => [string, RequestInit] }> = {
  zendesk: {
    token: 'ZENDESK_TOKEN (with ZENDESK_EMAIL) or ZENDESK_OAUTH_TOKEN',
    request: (s) => [apiUrl(s, '/api/v2/users/me.json'), { headers: zendeskAuth(s) }],
  },
  linear: {
    token: 'LINEAR_TOKEN',
    // Linear's API is GraphQL only: the smallest authenticated query.
    request: (s) => [
      apiUrl(s, '/graphql'),
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(s.token ? { authorization: s.token } : {}) },
        body: JSON.stringify({ query: '{ viewer { id } }' }),
      },
    ],
  },
  hubspot: {
    token: 'HUBSPOT_TOKEN',
    request: (s) => [apiUrl(s, '/crm/v3/objects/contacts?limit=1'), { headers: bearer(s) }],
  },
  stripe: { token: 'STRIPE_API_KEY', request: (s) => [apiUrl(s, '/v1/balance'), { headers: bearer(s) }] },
};

export async function checkTools(config: Readonly<Config>): Promise<CheckResult[]> {
  const configured = Object.entries(config.tools.connectors);
  return Promise.all(configured.map(([name, settings]) => checkTool(name, settings)));
}

async function checkTool(tool: string, settings: ConnectorSettings): Promise<CheckResult> {
  const name = `tool ${tool}`;
  const probe = TOOL_PROBES[tool];
  const where = `${tool} at ${redactUrl(settings.baseUrl)}`;
  if (!probe) return { name, ok: true, detail: `${where} is configured (no check known for it)` };
  if (!settings.token) return { name, ok: false, detail: `${where} has no credential: set ${probe.token}` };
  const [url, init] = probe.request(settings);
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    await res.body?.cancel();
    if (res.ok) return { name, ok: true, detail: `${where} accepted the credential` };
    if (res.status === 401 || res.status === 403)
      return {
        name,
        ok: false,
        detail: `${where} rejected ${probe.token} (HTTP ${res.status}): create a new one in ${tool}'s settings`,
      };
    return { name, ok: false, detail: `${where} answered HTTP ${res.status}: check ${tool.toUpperCase()}_URL` };
  } catch (err) {
    return {
      name,
      ok: false,
      detail: `${where} did not answer (${describeNetworkError(err)}): check ${tool.toUpperCase()}_URL`,
    };
  }
}
