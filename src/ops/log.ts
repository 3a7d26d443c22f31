/**
 * Structured logs on pino: one JSON object per line on stderr (or pino-pretty's
 * lines for a person at a terminal), each stamped with the correlation id of the
 * request or job it belongs to (./correlation.ts). Callers pass values as fields,
 * never interpolated, and never a whole payload. Three guards stand between a
 * field and the output (docs/operations.md, "Logs"):
 * - credential keys (authorization, cookie, token, secret, password, api key, …)
 *   are censored by pino's `redact` wherever CREDENTIAL_PATHS name them;
 * - every string, at any depth, has the known secret values and the secret
 *   patterns replaced (./redact.ts: the config's tokens, REDACT_PATTERNS);
 * - control characters cannot break or colour a line (RELIABILITY 80): JSON
 *   escapes C0 (CR, LF, ESC), and the writer escapes what JSON leaves raw (C1,
 *   U+2028/9, bidi controls); in pretty mode every such character is written as
 *   a visible escape (`\n`, `\u001b`) before pino-pretty sees it.
 * Writes are synchronous (stderr is, for files and pipes on Linux), so the last
 * line before a crash or a SIGKILL is on disk.
 */
import { pino, type Logger as Pino } from 'pino';
import { prettyFactory } from 'pino-pretty';
import { correlationId } from './correlation.ts';
import { REDACTED, redactSecrets } from './redact.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
/** `json`: one object per line (for machines); `pretty`: pino-pretty (for a person at a terminal). */
export type LogFormat = 'json' | 'pretty';

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface LogOptions {
  /** Default `json`. */
  format?: LogFormat;
  /** Colours in pretty mode. Default: when stderr is a terminal. */
  isColored?: boolean;
  /** Values never to write (the config's tokens and secrets, ./redact.ts). */
  secrets?: Iterable<string>;
  /** RegExp sources of secrets (DEFAULT_REDACT_PATTERNS plus REDACT_PATTERNS). */
  patterns?: readonly string[];
}

/** Keys whose value is a credential, whatever it looks like. */
const CREDENTIAL_KEYS = [
  'authorization',
  '["proxy-authorization"]',
  'cookie',
  '["set-cookie"]',
  '["x-api-key"]',
  'token',
  'accessToken',
  'access_token',
  'refreshToken',
  'refresh_token',
  'botToken',
  'appToken',
  'apiKey',
  'api_key',
  'secret',
  'secrets',
  'clientSecret',
  'client_secret',
  'signingSecret',
  'password',
  'passwd',
];

/** How deep CREDENTIAL_KEYS are looked for: `key`, `*.key`, … `*.*.*.*.key` (pino paths name each level). */
const CREDENTIAL_DEPTH = 4;

export const CREDENTIAL_PATHS: readonly string[] = CREDENTIAL_KEYS.flatMap((key) =>
  Array.from({ length: CREDENTIAL_DEPTH + 1 }, (_, depth) => {
    const prefix = '*.'.repeat(depth);
    return key.startsWith('[') && depth > 0 ? prefix.slice(0, -1) + key : prefix + key;
  }),
);

/** C0 and C1 controls, DEL, the Unicode line and paragraph separators, and bidi controls (Trojan Source). */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]/g;
/** What JSON.stringify leaves raw of UNSAFE (it escapes C0 itself). */
const RAW_IN_JSON = /[\u007f-\u009f\u2028\u2029\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

const unicodeEscape = (ch: string) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** `text` with every control character written as a visible escape: `a\nb`, `\u001b[31m`. */
export function encodeControls(text: string): string {
  return text.replace(UNSAFE, (ch) => NAMED[ch] ?? unicodeEscape(ch));
}

/** Beyond this depth a field is cut: a log line is not a payload dump. */
const MAX_DEPTH = 8;

/** A copy of `value` fit for a log line: strings cleaned by `clean`, errors as plain objects, cycles cut. */
function scrub(value: unknown, clean: (text: string) => string, depth = 0, seen = new WeakSet<object>()): unknown {
  if (typeof value === 'string') return clean(value);
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[circular]';
  if (depth >= MAX_DEPTH) return '[too deep]';
  if (value instanceof Date) return value.toISOString();
  if (Buffer.isBuffer(value)) return `[${value.length} bytes]`;
  seen.add(value);
  const next = (v: unknown) => scrub(v, clean, depth + 1, seen);
  if (Array.isArray(value)) return value.map(next);
  const entries: [string, unknown][] =
    value instanceof Error
      ? [['name', value.name], ['message', value.message], ...Object.entries(value), ['stack', value.stack]]
      : Object.entries(value);
  return Object.fromEntries(entries.map(([k, v]) => [clean(k), next(v)]));
}

/** Turns pino's JSON line into the text written: pretty for a person, or JSON with every unsafe character escaped. */
function finisher(options: LogOptions): (line: string) => string {
  if (options.format !== 'pretty') return (line) => line.replace(RAW_IN_JSON, unicodeEscape);
  const prettify = prettyFactory({
    colorize: options.isColored ?? process.stderr.isTTY === true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname',
  });
  return (line) => prettify(line).replace(/\r?\n$/, '');
}

/**
 * A logger at `level`. Each line goes to `write` (default: stderr, synchronously);
 * tests pass a function that keeps the lines.
 */
export function createLogger(
  level: LogLevel = 'info',
  write: (line: string) => void = (line) => process.stderr.write(line + '\n'),
  options: LogOptions = {},
): Logger {
  const finish = finisher(options);
  const base: Pino = pino(
    {
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      mixin: () => {
        const id = correlationId();
        return id === undefined ? {} : { correlationId: id };
      },
      redact: { paths: [...CREDENTIAL_PATHS], censor: REDACTED },
    },
    { write: (chunk: string) => write(finish(chunk.replace(/\n$/, ''))) },
  );
  const secrets = [...(options.secrets ?? [])];
  const patterns = options.patterns ?? [];
  const isPretty = options.format === 'pretty';
  const clean = (text: string) => {
    const safe = redactSecrets(text, secrets, patterns);
    return isPretty ? encodeControls(safe) : safe;
  };
  const emit = (lvl: LogLevel) => (msg: string, fields?: Record<string, unknown>) => {
    if (!base.isLevelEnabled(lvl)) return;
    base[lvl](fields === undefined ? {} : (scrub(fields, clean) as object), clean(msg));
  };
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') };
}

/** A logger that drops everything (library default; tests that do not read logs). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
