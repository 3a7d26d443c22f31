/**
 * All configuration, read once. `readConfig(env)` checks every variable,
 * reports every problem in one message that says how to fix it, and returns a
 * frozen object; nothing else in signoff reads process.env. Each variable is
 * listed with a one-line comment in .env.example.
 */
import { resolve } from 'node:path';
import { SignoffError } from './errors.ts';
import { SCHEMA_NAME } from './store/client.ts';
import type { LogFormat, LogLevel } from './ops/log.ts';
import type { MetricsSettings } from './ops/metrics.ts';
import type { ModelPrice, ModelSettings } from './steps/model/types.ts';
import type { ConnectorSettings, ToolSettings } from './steps/tools/types.ts';
import type { SlackSettings } from '../adapters/slack/types.ts';
import { readWebhookSettings } from './triggers/webhooks/settings.ts';
import type { WebhookSettings } from './triggers/webhooks/types.ts';
import type { DiscordSettings } from '../adapters/discord/types.ts';
import type { AlertSettings } from './ops/alerts.ts';

export interface Config {
  /** Postgres to use; when absent signoff runs an embedded server in `dataDir/pg`. */
  databaseUrl: string | null;
  /** Where the embedded server (and other local state) lives. Default `.data`. */
  dataDir: string;
  /** Schema holding signoff's tables. Default `signoff`. */
  schema: string;
  /** Connection pool size. Default 10. */
  poolSize: number;
  /** HTTP port for the web chat, webhooks and the probes (/healthz, /readyz). Default 3000. */
  port: number;
  /** Interface to listen on. Default 127.0.0.1; beyond loopback the web chat needs WEB_CHAT_AUTH=invite. */
  host: string;
  /** Who may use the web chat (docs/security.md). */
  webChat: WebChatSettings;
  logLevel: LogLevel;
  /** LOG_FORMAT: `json`, `pretty`, or `auto` (default: pretty when stderr is a terminal, else JSON). */
  logFormat: 'auto' | LogFormat;
  /** Folder of `<id>.flow.ts` files. Default `flows`. */
  flowsDir: string;
  /** Steps and effects one process runs at once. Default 100. */
  workerConcurrency: number;
  /** Fallback poll for due work when no NOTIFY arrives. Default 5 000 ms. */
  workerPollMs: number;
  /** How long SIGTERM waits for in-flight steps before handing them back. Default 10 000 ms. */
  shutdownGraceMs: number;
  /** Schedules (src/triggers/schedules.ts): how often due slots are looked for, and how late a missed one may still fire. */
  schedules: { tickMs: number; catchupHours: number };
  /** Named crash points (tests only; src/ops/crashpoint.ts lists them). */
  crashpoints: ReadonlySet<string>;
  /** Users who may cancel, retry and re-post any run of their own tenant (SIGNOFF_ADMINS, user ids). Default: nobody. */
  admins: ReadonlySet<string>;
  /** Where cards of runs not started from chat (webhooks, schedules) go (SIGNOFF_DEFAULT_CHANNEL; on Slack a channel id). */
  defaultChannel: string;
  /** Model steps: provider, routes, limits, prices, redaction. */
  model: ModelSettings;
  /** Spending limit of one run's model calls, in US dollars (RUN_BUDGET_USD); a flow may set its own. */
  runBudgetUsd: number;
  tools: ToolSettings;
  /** Slack, when its variables are set; null means no Slack. */
  slack: SlackSettings | null;
  /** Webhook sources (WEBHOOK_<SOURCE>_*) and the public URL they are posted to (docs/webhooks.md). */
  webhooks: WebhookSettings;
  /** Discord, when DISCORD_TOKEN is set; null means no Discord. */
  discord: DiscordSettings | null;
  /** Alerts to the operator's channel (SIGNOFF_ALERT_CHANNEL, ALERT_*; docs/operations.md "Alerts"). */
  alerts: AlertSettings;
  /** GET /metrics: the bearer token it asks for (METRICS_TOKEN), and whether it is served at all. */
  metrics: MetricsSettings;
}

export interface WebChatSettings {
  /**
   * `none` (default): local demo mode, loopback only, anyone at the keyboard picks who they are.
   * `invite`: each person signs in with a one-time link from `npm run web:invite -- <id>`.
   */
  auth: 'none' | 'invite';
  /** The URL people open (WEB_CHAT_URL), e.g. https://chat.example.com; required with `invite`. */
  publicUrl: string | null;
}

/** What a model costs per million tokens when MODEL_PRICES does not say (US dollars, list prices). */
export const DEFAULT_PRICES: Readonly<Record<string, ModelPrice>> = Object.freeze({
  'gpt-4.1': { inputPerMTok: 2, outputPerMTok: 8 },
  'gpt-4.1-mini': { inputPerMTok: 0.4, outputPerMTok: 1.6 },
  'gpt-4.1-nano': { inputPerMTok: 0.1, outputPerMTok: 0.4 },
  'gpt-4o': { inputPerMTok: 2.5, outputPerMTok: 10 },
  'gpt-4o-mini': { inputPerMTok: 0.15, outputPerMTok: 0.6 },
  'gpt-5': { inputPerMTok: 1.25, outputPerMTok: 10 },
  'gpt-5-mini': { inputPerMTok: 0.25, outputPerMTok: 2 },
  offline: { inputPerMTok: 0, outputPerMTok: 0 },
});

/** Secrets redacted from anything sent to a model (RELIABILITY 86), besides REDACT_PATTERNS. */
export const DEFAULT_REDACT_PATTERNS: readonly string[] = Object.freeze([
  'sk-[A-Za-z0-9_-]{16,}',
  'xox[abposr]-[A-Za-z0-9-]{10,}',
  'xapp-[A-Za-z0-9-]{10,}',
  'whsec_[A-Za-z0-9+/=]{10,}',
  'AKIA[0-9A-Z]{16}',
  'gh[pousr]_[A-Za-z0-9]{30,}',
  // A Salesforce access token (session id): the org id, '!', then the token proper.
  '00D[A-Za-z0-9]{12,15}![A-Za-z0-9._]{20,}',
  '(?<=[Bb]earer )[A-Za-z0-9._~+/=-]{16,}',
  '(?<=(?:password|passwd|secret|api[_-]?key|token)\\s*[:=]\\s*)[^\\s,;]{4,}',
  '-----BEGIN [A-Z ]*PRIVATE KEY-----[\\s\\S]*?-----END [A-Z ]*PRIVATE KEY-----',
]);

/** Default base URLs of the connectors that have a fixed public host. */
const CONNECTOR_URLS: Readonly<Record<string, { url: string | null; token: string }>> = {
  zendesk: { url: null, token: 'ZENDESK_TOKEN' },
  linear: { url: 'https://api.linear.app', token: 'LINEAR_TOKEN' },
  hubspot: { url: 'https://api.hubapi.com', token: 'HUBSPOT_TOKEN' },
  stripe: { url: 'https://api.stripe.com', token: 'STRIPE_API_KEY' },
  // No fixed host: each org has its own My Domain URL.
  salesforce: { url: null, token: 'SALESFORCE_TOKEN' },
};

type Env = Record<string, string | undefined>;

const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

export function readConfig(env: Env = process.env): Readonly<Config> {
  const problems: string[] = [];
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${name} must be a whole number from ${min} to ${max} (got "${raw}")`);
      return fallback;
    }
    return n;
  };
  const config: Config = {
    databaseUrl: readDatabaseUrl(env, problems),
    dataDir: resolve(env.SIGNOFF_DATA_DIR || '.data'),
    schema: readSchema(env, problems),
    poolSize: int('DB_POOL_SIZE', 10, 1, 200),
    port: int('PORT', 3000, 0, 65535),
    host: env.HOST || '127.0.0.1',
    webChat: { auth: 'none', publicUrl: null },
    logLevel: readLogLevel(env, problems),
    logFormat: readLogFormat(env, problems),
    flowsDir: resolve(env.SIGNOFF_FLOWS_DIR || 'flows'),
    workerConcurrency: int('WORKER_CONCURRENCY', 100, 1, 10_000),
    workerPollMs: int('WORKER_POLL_MS', 5_000, 50, 600_000),
    shutdownGraceMs: int('SHUTDOWN_GRACE_MS', 10_000, 0, 600_000),
    schedules: {
      tickMs: int('SCHEDULE_TICK_MS', 30_000, 50, 600_000),
      catchupHours: int('SCHEDULE_CATCHUP_HOURS', 6, 0, 720),
    },
    crashpoints: new Set(
      (env.SIGNOFF_CRASHPOINTS ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    ),
    admins: readAdmins(env, problems),
    defaultChannel: env.SIGNOFF_DEFAULT_CHANNEL || 'general',
    model: {
      apiKey: env.OPENAI_API_KEY || null,
      baseUrl: readUrl(env, 'OPENAI_BASE_URL', problems),
      routes: {
        cheap: list(env.MODEL_CHEAP, ['gpt-4.1-mini']),
        strong: list(env.MODEL_STRONG, ['gpt-4.1', 'gpt-4.1-mini']),
      },
      callTimeoutMs: int('MODEL_TIMEOUT_MS', 30_000, 100, 600_000),
      maxCallsPerStep: int('MODEL_MAX_CALLS_PER_STEP', 16, 1, 100),
      prices: {
        ...DEFAULT_PRICES,
        ...readJson<Record<string, ModelPrice>>(env, 'MODEL_PRICES', problems, isPriceTable),
      },
      redactPatterns: [...DEFAULT_REDACT_PATTERNS, ...readPatterns(env, problems)],
      maxPromptChars: int('MODEL_MAX_PROMPT_CHARS', 24_000, 500, 1_000_000),
      requestsPerMinute: int('MODEL_RPM', 500, 0, 1_000_000),
      tokensPerMinute: int('MODEL_TPM', 200_000, 0, 100_000_000),
    },
    runBudgetUsd: readNumber(env, 'RUN_BUDGET_USD', 1, 0, 10_000, problems),
    tools: {
      connectors: readConnectors(env, problems),
      egressAllowlist: list(env.EGRESS_ALLOWLIST, []).map((h) => h.toLowerCase()),
      perHostPerMinute: int('TOOL_RPM', 120, 0, 1_000_000),
      callTimeoutMs: int('TOOL_TIMEOUT_MS', 15_000, 100, 600_000),
    },
    slack: readSlack(env, problems),
    webhooks: readWebhookSettings(env, problems, readUrl(env, 'SIGNOFF_PUBLIC_URL', problems)),
    discord: readDiscord(env, problems),
    alerts: {
      channel: readAlertChannel(env, problems),
      sweepMs: int('ALERT_SWEEP_MS', 15_000, 50, 600_000),
      deadLetterBurst: int('ALERT_DEAD_LETTER_BURST', 5, 1, 1_000_000),
      deadLetterWindowMs: int('ALERT_DEAD_LETTER_WINDOW_MS', 600_000, 1_000, 86_400_000),
    },
    metrics: readMetrics(env, problems),
  };
  if (config.slack && config.discord)
    problems.push('both Slack and Discord are configured; set the variables of one chat platform only');
  config.webChat = readWebChat(env, config, problems);
  if (problems.length > 0) {
    throw new SignoffError(
      'config_invalid',
      `signoff cannot start; fix these settings (see .env.example):\n- ${problems.join('\n- ')}`,
    );
  }
  return Object.freeze(config);
}

function readDatabaseUrl(env: Env, problems: string[]): string | null {
  const url = env.DATABASE_URL;
  if (!url) return null;
  if (!/^postgres(ql)?:\/\//.test(url)) {
    problems.push('DATABASE_URL must start with postgres:// or postgresql:// (unset it to use the embedded database)');
  }
  return url;
}

function list(raw: string | undefined, fallback: string[]): string[] {
  const items = (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return items.length > 0 ? items : fallback;
}

/** A platform's user id (Slack U…, a Discord snowflake, a web chat name), as commands see it. */
const USER_ID = /^[A-Za-z0-9._-]{1,64}$/;

function readAdmins(env: Env, problems: string[]): ReadonlySet<string> {
  const ids = list(env.SIGNOFF_ADMINS, []);
  const bad = ids.find((id) => !USER_ID.test(id));
  if (bad !== undefined)
    problems.push(
      `SIGNOFF_ADMINS must be comma-separated user ids, e.g. U012AB3CD,U045EF6GH (got "${bad.slice(0, 70)}")`,
    );
  return new Set(ids.filter((id) => USER_ID.test(id)));
}

function readUrl(env: Env, name: string, problems: string[]): string | null {
  const raw = env[name];
  if (!raw) return null;
  try {
    const url = new URL(raw);
    if (url.protocol === 'http:' || url.protocol === 'https:') return raw.replace(/\/+$/, '');
  } catch {
    // reported below
  }
  problems.push(`${name} must be an http(s) URL (got "${raw.slice(0, 100)}")`);
  return null;
}

function readNumber(env: Env, name: string, fallback: number, min: number, max: number, problems: string[]): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max) {
    problems.push(`${name} must be a number from ${min} to ${max} (got "${raw}")`);
    return fallback;
  }
  return n;
}

function readJson<T extends object>(
  env: Env,
  name: string,
  problems: string[],
  isValid: (v: unknown) => boolean,
): T | null {
  const raw = env[name];
  if (!raw) return null;
  try {
    const value: unknown = JSON.parse(raw);
    if (isValid(value)) return value as T;
  } catch {
    // reported below
  }
  problems.push(`${name} is not valid (see .env.example for its shape)`);
  return null;
}

function isPriceTable(v: unknown): boolean {
  return (
    !!v &&
    typeof v === 'object' &&
    !Array.isArray(v) &&
    Object.values(v).every(
      (p) =>
        !!p &&
        typeof p === 'object' &&
        typeof (p as ModelPrice).inputPerMTok === 'number' &&
        typeof (p as ModelPrice).outputPerMTok === 'number' &&
        (p as ModelPrice).inputPerMTok >= 0 &&
        (p as ModelPrice).outputPerMTok >= 0,
    )
  );
}

/** REDACT_PATTERNS: a JSON array of regular expressions. */
function readPatterns(env: Env, problems: string[]): string[] {
  const patterns = readJson<string[]>(
    env,
    'REDACT_PATTERNS',
    problems,
    (v) => Array.isArray(v) && v.every((p) => typeof p === 'string'),
  );
  const valid = patterns ?? [];
  for (const p of valid) {
    try {
      new RegExp(p, 'g');
    } catch {
      problems.push(`REDACT_PATTERNS has an invalid regular expression: ${JSON.stringify(p).slice(0, 80)}`);
    }
  }
  return valid;
}

function readConnectors(env: Env, problems: string[]): Record<string, ConnectorSettings> {
  const connectors: Record<string, ConnectorSettings> = {};
  for (const [name, d] of Object.entries(CONNECTOR_URLS)) {
    const token = name === 'zendesk' ? readZendeskToken(env, problems) : env[d.token] || null;
    const url = readUrl(env, `${name.toUpperCase()}_URL`, problems) ?? (token ? d.url : null);
    if (url && name === 'zendesk' && !token && env.ZENDESK_URL) {
      problems.push(
        'ZENDESK_URL is set but no credentials: set ZENDESK_EMAIL and ZENDESK_TOKEN (an API token), or ZENDESK_OAUTH_TOKEN',
      );
    }
    if (url)
      connectors[name] = {
        baseUrl: url,
        token,
        ...(name === 'zendesk' ? { email: token ? env.ZENDESK_EMAIL || null : null } : {}),
      };
    else if (token)
      problems.push(
        `${name === 'zendesk' ? 'a Zendesk token' : d.token} is set but ${name.toUpperCase()}_URL is not (e.g. ${name === 'salesforce' ? 'https://yourcompany.my.salesforce.com' : 'https://yourcompany.zendesk.com'})`,
      );
  }
  return connectors;
}

/**
 * Zendesk takes an API token with the agent's email (Basic `{email}/token:{token}`)
 * or an OAuth access token (Bearer); see
 * https://support.zendesk.com/hc/en-us/articles/4408831452954-How-can-I-authenticate-API-requests.
 * An API token without the email would be refused with 401 on the first reply.
 */
function readZendeskToken(env: Env, problems: string[]): string | null {
  const apiToken = env.ZENDESK_TOKEN || null;
  const oauthToken = env.ZENDESK_OAUTH_TOKEN || null;
  const email = env.ZENDESK_EMAIL || null;
  if (apiToken && oauthToken)
    problems.push(
      'set ZENDESK_TOKEN (an API token, with ZENDESK_EMAIL) or ZENDESK_OAUTH_TOKEN (an OAuth access token), not both',
    );
  if (apiToken && !email) {
    problems.push(
      "ZENDESK_TOKEN is an API token, which Zendesk accepts only with the agent's email: set ZENDESK_EMAIL " +
        '(the address of the Zendesk user the token belongs to), or use ZENDESK_OAUTH_TOKEN for an OAuth access token',
    );
  }
  if (email && !/^[^\s@]+@[^\s@]+$/.test(email))
    problems.push(`ZENDESK_EMAIL must be an email address (got "${email.slice(0, 100)}")`);
  if (email && !apiToken) problems.push('ZENDESK_EMAIL is set but ZENDESK_TOKEN (the API token) is not');
  return oauthToken && !apiToken ? oauthToken : apiToken;
}

function readSlack(env: Env, problems: string[]): SlackSettings | null {
  const botToken = env.SLACK_BOT_TOKEN || null;
  const appToken = env.SLACK_APP_TOKEN || null;
  const signingSecret = env.SLACK_SIGNING_SECRET || null;
  if (!botToken) {
    if (appToken || signingSecret)
      problems.push('SLACK_BOT_TOKEN is required when SLACK_APP_TOKEN or SLACK_SIGNING_SECRET is set');
    return null;
  }
  if (!appToken && !signingSecret) {
    problems.push(
      'Slack needs SLACK_SIGNING_SECRET (HTTP mode) or SLACK_APP_TOKEN (Socket Mode) besides SLACK_BOT_TOKEN; an empty signing secret is refused',
    );
  }
  if (appToken && !appToken.startsWith('xapp-'))
    problems.push('SLACK_APP_TOKEN must be an app-level token starting with xapp-');
  const apiUrl = readUrl(env, 'SLACK_API_URL', problems);
  return { botToken, signingSecret, appToken, apiUrl: apiUrl ? `${apiUrl}/` : 'https://slack.com/api/' };
}

/** DISCORD_*: the gateway with a bot token; HTTP interactions when DISCORD_PUBLIC_KEY is set too. */
function readDiscord(env: Env, problems: string[]): DiscordSettings | null {
  const token = env.DISCORD_TOKEN || null;
  const publicKey = env.DISCORD_PUBLIC_KEY || null;
  if (!token) {
    if (publicKey || env.DISCORD_APPLICATION_ID)
      problems.push('DISCORD_TOKEN (the bot token) is required when other DISCORD_* variables are set');
    return null;
  }
  if (publicKey && !/^[0-9a-f]{64}$/i.test(publicKey))
    problems.push('DISCORD_PUBLIC_KEY must be the 64 hex characters of "Public Key" in the Developer Portal');
  const id = (name: string) => {
    const raw = env[name] || null;
    if (raw && !/^\d{5,25}$/.test(raw))
      problems.push(`${name} must be a Discord id (digits only, got "${raw.slice(0, 30)}")`);
    return raw;
  };
  const apiUrl = readUrl(env, 'DISCORD_API_URL', problems) ?? 'https://discord.com/api';
  return { token, publicKey, applicationId: id('DISCORD_APPLICATION_ID'), guildId: id('DISCORD_GUILD_ID'), apiUrl };
}

/** SIGNOFF_ALERT_CHANNEL: a channel id (Slack C…, a Discord snowflake) or a web chat channel name; unset, alerts are only logged. */
function readAlertChannel(env: Env, problems: string[]): string | null {
  const channel = env.SIGNOFF_ALERT_CHANNEL || null;
  if (channel && !/^#?[A-Za-z0-9._-]{1,80}$/.test(channel))
    problems.push(
      `SIGNOFF_ALERT_CHANNEL must be a channel id or name without spaces, e.g. C0123ABCD (got "${channel.slice(0, 80)}")`,
    );
  return channel;
}

/**
 * METRICS_TOKEN. /metrics tells whoever reaches it what the bot is doing, so
 * beyond a loopback HOST it is served only to scrapes that send the token.
 */
function readMetrics(env: Env, problems: string[]): MetricsSettings {
  const token = env.METRICS_TOKEN || null;
  if (token !== null && !/^[\x21-\x7e]{16,}$/.test(token))
    problems.push('METRICS_TOKEN must be at least 16 printable characters with no spaces (e.g. openssl rand -hex 32)');
  return { token, isServed: token !== null || isLoopbackHost(env.HOST || '127.0.0.1') };
}

/** Names that reach only this machine: the web chat's demo mode may listen on nothing else. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.toLowerCase().replace(/^\[|\]$/g, '');
  return bare === 'localhost' || bare === '::1' || /^127(\.\d{1,3}){3}$/.test(bare);
}

/**
 * WEB_CHAT_AUTH and WEB_CHAT_URL. The web chat is served only when Slack is not configured;
 * then a HOST beyond loopback without sign-in would let anyone on the network act as anyone.
 */
function readWebChat(env: Env, config: Config, problems: string[]): WebChatSettings {
  const auth = env.WEB_CHAT_AUTH || 'none';
  if (auth !== 'none' && auth !== 'invite') problems.push(`WEB_CHAT_AUTH must be none or invite (got "${auth}")`);
  const publicUrl = readUrl(env, 'WEB_CHAT_URL', problems);
  if (auth === 'invite' && !publicUrl) {
    problems.push('WEB_CHAT_AUTH=invite needs WEB_CHAT_URL, the address people open (e.g. https://chat.example.com)');
  }
  if (auth !== 'invite' && !config.slack && !config.discord && !isLoopbackHost(config.host)) {
    problems.push(
      `HOST=${config.host} would put the web chat on the network with no sign-in (anyone could act as anyone): ` +
        'set WEB_CHAT_AUTH=invite and WEB_CHAT_URL (see docs/security.md), or keep HOST=127.0.0.1',
    );
  }
  return { auth: auth === 'invite' ? 'invite' : 'none', publicUrl };
}

function readSchema(env: Env, problems: string[]): string {
  const schema = env.SIGNOFF_SCHEMA || 'signoff';
  if (!SCHEMA_NAME.test(schema)) {
    problems.push(`SIGNOFF_SCHEMA must be lower-case letters, digits and _ (got "${schema}")`);
  }
  return schema;
}

function readLogLevel(env: Env, problems: string[]): LogLevel {
  const level = (env.LOG_LEVEL || 'info') as LogLevel;
  if (!LOG_LEVELS.includes(level))
    problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got "${env.LOG_LEVEL}")`);
  return LOG_LEVELS.includes(level) ? level : 'info';
}

function readLogFormat(env: Env, problems: string[]): 'auto' | LogFormat {
  const format = env.LOG_FORMAT || 'auto';
  if (format === 'auto' || format === 'json' || format === 'pretty') return format;
  problems.push(`LOG_FORMAT must be json, pretty or auto (got "${format.slice(0, 40)}")`);
  return 'auto';
}

/** Every credential the config holds, for the logger to redact wherever it turns up (src/ops/log.ts). */
export function credentialValues(config: Config): string[] {
  return [
    ...databasePasswords(config.databaseUrl),
    config.model.apiKey,
    config.slack?.botToken,
    config.slack?.appToken,
    config.slack?.signingSecret,
    config.discord?.token,
    ...Object.values(config.tools.connectors).map((c) => c.token),
    ...Object.values(config.webhooks.sources).flatMap((s) => s.secrets),
  ].filter((v): v is string => typeof v === 'string' && v !== '');
}

/** DATABASE_URL's password as written (percent-encoded) and decoded. */
function databasePasswords(url: string | null): string[] {
  try {
    const password = url ? new URL(url).password : '';
    return [password, decodeURIComponent(password)];
  } catch {
    return [];
  }
}

/** The URL with its password replaced, for logs. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}
