/**
 * Parses the text after `/signoff` into a command (pure: no I/O, no engine).
 * Every adapter hands over the same text, so Slack, Discord and the console
 * accept exactly the same syntax:
 *
 *   run <flow> key=value key="two words" key='single' key="say \"hi\"" key=“typographic”
 *   status <run> · list · cancel <run> · retry <run> · deadletters [replay <id>] · help
 *
 * Values are kept verbatim (unicode, RTL marks, `'; DROP TABLE`): they are
 * data, bound as SQL parameters downstream. What Postgres cannot store (NUL,
 * a lone UTF-16 surrogate) and what is too long is refused here, with a
 * message a chat user can act on. A refusal is `SignoffError('input_invalid')`;
 * user text it mentions is shown in the message only when it has a harmless
 * shape, otherwise it travels in `details.quote`, so a reply built from the
 * message cannot carry a `<@id>` mention token the user typed (RELIABILITY 82).
 */
import { SignoffError } from '../errors.ts';

/** A command the text asked for. `input` values are strings, exactly as typed. */
export type ParsedCommand =
  | { kind: 'run'; flowId: string; input: Record<string, string> }
  | { kind: 'status' | 'cancel' | 'retry' | 'repost'; runId: string }
  | { kind: 'list' }
  | { kind: 'digest'; isPreview: boolean }
  | { kind: 'schedules' }
  | { kind: 'deadletters'; replayId: string | null }
  | { kind: 'help' };

/** Longest accepted command text, in characters (code points): Slack's own cap is 4,000. */
export const MAX_COMMAND_CHARS = 4_000;

/** One whitespace-separated argument: `key=value` or a bare word. */
export interface Token {
  /** Present for `key=value`. */
  key?: string;
  value: string;
  /** Whether the value was quoted (a quoted word is never a subcommand or flow name). */
  isQuoted: boolean;
}

/** Keys are identifiers: they become field names of the flow's input. */
const KEY_SHAPE = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;
/** Run ids are UUIDs by default; callers may choose their own within this charset. */
const RUN_ID_SHAPE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
/** Same rule as defineFlow's ids, so anything else cannot name a flow. */
const FLOW_ID_SHAPE = /^[a-z][a-z0-9-]{0,62}$/;
/** User text with this shape cannot form a mention or markup; it may be echoed in a message. */
const ECHO_SAFE_SHAPE = /^[\p{L}\p{N}_.-]{0,40}$/u;
/** In a `u` regex this matches only unpaired surrogates, which Postgres cannot store. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;
/** The most of someone's text a refusal quotes back. */
const MAX_QUOTE_CHARS = 200;

const USAGE = {
  run: '/signoff run <flow> key=value …',
  status: '/signoff status <run>',
  cancel: '/signoff cancel <run>',
  retry: '/signoff retry <run>',
  repost: '/signoff repost <run>',
} as const;

/** Parses the text after `/signoff`; empty text asks for help. Throws `input_invalid`. */
export function parseCommand(text: string): ParsedCommand {
  checkText(text);
  const tokens = tokenize(text);
  const [head, ...args] = tokens;
  if (!head) return { kind: 'help' };
  const name = head.key === undefined && !head.isQuoted ? head.value.toLowerCase() : '';
  switch (name) {
    case 'run':
      return parseRun(args);
    case 'status':
    case 'cancel':
    case 'retry':
    case 'repost':
      return { kind: name, runId: parseRunIdArg(name, args) };
    case 'list':
      return noArgs('list', args, { kind: 'list' });
    case 'schedules':
      return noArgs('schedules', args, { kind: 'schedules' });
    case 'digest':
      return parseDigest(args);
    case 'deadletters':
      return parseDeadLetters(args);
    case 'help':
      return { kind: 'help' };
    default:
      throw refusal(
        'unknown command',
        head.key === undefined ? head.value : `${head.key}=${head.value}`,
        '; try /signoff help',
      );
  }
}

/** `/signoff digest` or `/signoff digest preview`. */
function parseDigest(args: Token[]): ParsedCommand {
  const [first, ...rest] = args;
  if (!first) return { kind: 'digest', isPreview: false };
  if (first.key === undefined && first.value.toLowerCase() === 'preview' && rest.length === 0)
    return { kind: 'digest', isPreview: true };
  throw refusal(
    'unexpected',
    first.key === undefined ? first.value : `${first.key}=${first.value}`,
    '; use /signoff digest or /signoff digest preview',
  );
}

/** Refuses text Postgres cannot hold or that is over the limit, before anything else reads it. */
export function checkText(text: string): void {
  if (text.length > MAX_COMMAND_CHARS && countChars(text) > MAX_COMMAND_CHARS) {
    throw new SignoffError(
      'input_invalid',
      `that command is too long (over ${MAX_COMMAND_CHARS.toLocaleString('en-US')} characters); shorten the values and send it again`,
    );
  }
  if (text.includes('\u0000')) {
    throw new SignoffError(
      'input_invalid',
      'that command contains a NUL character (\\0), which cannot be stored; remove it and send it again',
    );
  }
  if (LONE_SURROGATE.test(text)) {
    throw new SignoffError(
      'input_invalid',
      'that command contains a broken character (an unpaired UTF-16 surrogate); retype it and send it again',
    );
  }
}

/** Whether `runId` has the shape of a run id; checked before any lookup. */
export function isRunIdShaped(runId: string): boolean {
  return RUN_ID_SHAPE.test(runId);
}

/** Splits command text into arguments. Throws `input_invalid` on an unterminated quote. */
export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let at = skipSpace(text, 0);
  while (at < text.length) {
    const { token, end } = readToken(text, at);
    if (end < text.length && !isSpace(text[end]!)) {
      const name = token.key === undefined ? 'the quoted word' : `the value of ${token.key}`;
      throw new SignoffError('input_invalid', `${name} goes on after its closing quote; put a space after the quote`);
    }
    tokens.push(token);
    at = skipSpace(text, end);
  }
  return tokens;
}

function readToken(text: string, start: number): { token: Token; end: number } {
  if (isQuote(text[start]!)) {
    const quoted = readQuoted(text, start, null);
    return { token: { value: quoted.value, isQuoted: true }, end: quoted.end };
  }
  let at = start;
  while (at < text.length && !isSpace(text[at]!) && text[at] !== '=') at++;
  const word = text.slice(start, at);
  if (text[at] !== '=') return { token: { value: word, isQuoted: false }, end: at };
  const key = checkKey(word);
  if (isQuote(text[at + 1] ?? '')) {
    const quoted = readQuoted(text, at + 1, key);
    return { token: { key, value: quoted.value, isQuoted: true }, end: quoted.end };
  }
  // A bare value runs to the next space; quotes inside it are kept (subject=it's).
  let end = at + 1;
  while (end < text.length && !isSpace(text[end]!)) end++;
  return { token: { key, value: text.slice(at + 1, end), isQuoted: false }, end };
}

/**
 * What closes a value each quote opens. Slack, macOS and phone keyboards turn "…" into “…”
 * and '…' into ‘…’ as people type, so typographic quotes quote like plain ones.
 */
const CLOSING_QUOTES: Readonly<Record<string, string>> = {
  '"': '"',
  "'": "'",
  '“': '”“',
  '”': '”“',
  '‘': '’‘',
  '’': '’‘',
};

/** Reads a quoted value opening at `start`. A backslash escapes a quote or a backslash; others stay. */
function readQuoted(text: string, start: number, key: string | null): { value: string; end: number } {
  const quote = text[start]!;
  const closers = CLOSING_QUOTES[quote]!;
  let value = '';
  for (let at = start + 1; at < text.length; at++) {
    const char = text[at]!;
    const next = text[at + 1];
    // A typographic ’ is also the apostrophe phones type (‘it’s late’): it closes only before a space or the end.
    const isPlain = char === '"' || char === "'";
    if (closers.includes(char) && (isPlain || next === undefined || isSpace(next))) return { value, end: at + 1 };
    if (char === '\\' && next !== undefined && (isQuote(next) || next === '\\')) {
      value += next;
      at++;
    } else {
      value += char;
    }
  }
  const what = key === null ? 'a quoted word' : `the value of ${key}`;
  throw new SignoffError(
    'input_invalid',
    `${what} has no closing ${closers[0]}; close the quote (write \\${closers[0]} for a literal ${closers[0]})`,
  );
}

function checkKey(word: string): string {
  if (word === '') throw new SignoffError('input_invalid', 'a value has no key before its "="; write key=value');
  if (!KEY_SHAPE.test(word)) {
    throw refusal('', word, ' is not a valid key; keys are letters, digits, _ and - (start with a letter)');
  }
  return word;
}

function parseRun(args: Token[]): ParsedCommand {
  const [flow, ...rest] = args;
  if (!flow || flow.key !== undefined) {
    throw new SignoffError('input_invalid', `missing the flow name: ${USAGE.run}`);
  }
  if (!FLOW_ID_SHAPE.test(flow.value)) {
    throw refusal('', flow.value, ' is not a flow name; /signoff help lists the flows');
  }
  const entries = new Map<string, string>();
  for (const arg of rest) {
    if (arg.key === undefined) {
      throw refusal('', arg.value, ' is not key=value; write key=value, or key="a value with spaces"');
    }
    if (entries.has(arg.key)) {
      throw new SignoffError('input_invalid', `${arg.key} is given twice; give each key once`);
    }
    entries.set(arg.key, arg.value);
  }
  // fromEntries defines own properties, so a key like __proto__ stays plain data.
  return { kind: 'run', flowId: flow.value, input: Object.fromEntries(entries) };
}

function parseRunIdArg(name: 'status' | 'cancel' | 'retry' | 'repost', args: Token[]): string {
  const [arg, ...extra] = args;
  if (!arg) throw new SignoffError('input_invalid', `missing the run id: ${USAGE[name]}`);
  if (extra.length > 0) throw new SignoffError('input_invalid', `${name} takes one run id: ${USAGE[name]}`);
  // The replies show ids in backticks; a pasted id may bring them along.
  const runId = arg.key === undefined ? arg.value.replace(/^`(.*)`$/, '$1') : '';
  if (!isRunIdShaped(runId)) {
    throw refusal(
      '',
      arg.key === undefined ? arg.value : `${arg.key}=${arg.value}`,
      ` is not a run id: ${USAGE[name]}`,
    );
  }
  return runId;
}

/** `deadletters` lists; `deadletters replay <id>` starts one again. */
function parseDeadLetters(args: Token[]): ParsedCommand {
  if (args.length === 0) return { kind: 'deadletters', replayId: null };
  const [verb, id, ...extra] = args;
  if (verb?.value !== 'replay' || !id || !/^\d{1,18}$/.test(id.value) || extra.length > 0) {
    throw new SignoffError(
      'input_invalid',
      'usage: /signoff deadletters, or /signoff deadletters replay <id> (the number it lists)',
    );
  }
  return { kind: 'deadletters', replayId: id.value };
}

function noArgs(name: string, args: Token[], command: ParsedCommand): ParsedCommand {
  if (args.length > 0) throw new SignoffError('input_invalid', `${name} takes no arguments: /signoff ${name}`);
  return command;
}

/**
 * A refusal naming what the user typed: `<before> "foo"<after>` when `fragment`
 * is harmless, else `<before> this<after>` with the fragment in `details.quote`.
 */
function refusal(before: string, fragment: string, after: string): SignoffError {
  const lead = before === '' ? '' : `${before} `;
  if (ECHO_SAFE_SHAPE.test(fragment)) return new SignoffError('input_invalid', `${lead}"${fragment}"${after}`);
  const quote = [...fragment].slice(0, MAX_QUOTE_CHARS).join('');
  const subject = before === '' ? 'this' : `${before} (quoted below)`;
  return new SignoffError('input_invalid', `${subject}${after}`, { details: { quote } });
}

function countChars(text: string): number {
  let n = 0;
  for (const _char of text) n++;
  return n;
}

function skipSpace(text: string, at: number): number {
  while (at < text.length && isSpace(text[at]!)) at++;
  return at;
}

function isSpace(char: string): boolean {
  return /\s/.test(char);
}

function isQuote(char: string): boolean {
  return Object.hasOwn(CLOSING_QUOTES, char);
}
