/**
 * The `/signoff` command syntax (src/triggers/command-parse.ts): what parses,
 * what is refused, and that every refusal is `input_invalid` with a message a
 * chat user can act on and no way to smuggle a mention token into it.
 */
import { describe, expect, it } from 'vitest';
import { isSignoffError } from '../../src/errors.ts';
import { MAX_COMMAND_CHARS, isRunIdShaped, parseCommand, tokenize } from '../../src/triggers/command-parse.ts';

/** The refusal `parseCommand(text)` throws: its message and quote. */
function refusal(text: string): { message: string; quote?: unknown } {
  try {
    parseCommand(text);
  } catch (err) {
    expect(isSignoffError(err, 'input_invalid'), `expected input_invalid, got ${String(err)}`).toBe(true);
    const { message, details } = err as { message: string; details?: { quote?: unknown } };
    return details?.quote === undefined ? { message } : { message, quote: details.quote };
  }
  throw new Error(`"${text}" was accepted`);
}

/** The input of a `run` command. */
function inputOf(text: string): Record<string, string> {
  const command = parseCommand(text);
  if (command.kind !== 'run') throw new Error(`"${text}" is not a run command`);
  return command.input;
}

const RUN_ID = '0b7c1a52-8f0e-4b8a-9a57-2f7f2a0f4c11';

describe('subcommands', () => {
  it('reads run with its flow and key=value input', () => {
    expect(parseCommand('run ticket-triage subject=VAT body="Missing VAT line" customer=\'ACME Ltd\'')).toEqual({
      kind: 'run',
      flowId: 'ticket-triage',
      input: { subject: 'VAT', body: 'Missing VAT line', customer: 'ACME Ltd' },
    });
  });

  it('reads status, cancel and retry with a run id, list and help without', () => {
    expect(parseCommand(`status ${RUN_ID}`)).toEqual({ kind: 'status', runId: RUN_ID });
    expect(parseCommand(`cancel ${RUN_ID}`)).toEqual({ kind: 'cancel', runId: RUN_ID });
    expect(parseCommand(`retry ${RUN_ID}`)).toEqual({ kind: 'retry', runId: RUN_ID });
    expect(parseCommand('list')).toEqual({ kind: 'list' });
    expect(parseCommand('help')).toEqual({ kind: 'help' });
  });

  it('treats empty or blank text as help, and subcommands case-insensitively', () => {
    expect(parseCommand('')).toEqual({ kind: 'help' });
    expect(parseCommand(' \t\n ')).toEqual({ kind: 'help' });
    expect(parseCommand('  LIST  ')).toEqual({ kind: 'list' });
  });

  it('accepts a run id pasted with the backticks replies show it in', () => {
    expect(parseCommand(`status \`${RUN_ID}\``)).toEqual({ kind: 'status', runId: RUN_ID });
  });

  it('refuses an unknown subcommand, pointing at help', () => {
    expect(refusal('launch x')).toEqual({ message: 'unknown command "launch"; try /signoff help' });
    expect(refusal('"run" x')).toEqual({ message: 'unknown command "run"; try /signoff help' });
  });
});

describe('missing and extra arguments', () => {
  it('names what is missing, with the usage line', () => {
    expect(refusal('run')).toEqual({ message: 'missing the flow name: /signoff run <flow> key=value …' });
    expect(refusal('run subject=x')).toEqual({ message: 'missing the flow name: /signoff run <flow> key=value …' });
    expect(refusal('status')).toEqual({ message: 'missing the run id: /signoff status <run>' });
    expect(refusal('cancel')).toEqual({ message: 'missing the run id: /signoff cancel <run>' });
    expect(refusal('retry')).toEqual({ message: 'missing the run id: /signoff retry <run>' });
  });

  it('refuses extra arguments', () => {
    expect(refusal(`status ${RUN_ID} now`)).toEqual({ message: 'status takes one run id: /signoff status <run>' });
    expect(refusal('list all')).toEqual({ message: 'list takes no arguments: /signoff list' });
  });

  it('refuses a bare word among the input, and a duplicate key', () => {
    expect(refusal('run ticket-triage foo')).toEqual({
      message: '"foo" is not key=value; write key=value, or key="a value with spaces"',
    });
    expect(refusal('run ticket-triage subject=a subject=b')).toEqual({
      message: 'subject is given twice; give each key once',
    });
  });

  it('refuses a key-less value and a key of the wrong shape', () => {
    expect(refusal('run ticket-triage =x')).toEqual({ message: 'a value has no key before its "="; write key=value' });
    expect(refusal('run ticket-triage 1st=x')).toEqual({
      message: '"1st" is not a valid key; keys are letters, digits, _ and - (start with a letter)',
    });
  });

  it('refuses what cannot be a flow name or a run id before anything looks it up', () => {
    expect(refusal('run Ticket_Triage')).toEqual({
      message: '"Ticket_Triage" is not a flow name; /signoff help lists the flows',
    });
    expect(refusal('status "\'; DROP TABLE runs; --"')).toEqual({
      message: 'this is not a run id: /signoff status <run>',
      quote: "'; DROP TABLE runs; --",
    });
    expect(refusal("status '; DROP TABLE runs; --").message).toMatch(/has no closing '/);
    expect(refusal('cancel id=1')).toEqual({ message: 'this is not a run id: /signoff cancel <run>', quote: 'id=1' });
    expect(isRunIdShaped(RUN_ID)).toBe(true);
    expect(isRunIdShaped('run:42.a_b-c')).toBe(true);
    for (const bad of ['', '-x', 'a b', 'a/b', "a'b", '$1', 'x'.repeat(129)]) expect(isRunIdShaped(bad)).toBe(false);
  });
});

describe('quoting', () => {
  it('keeps quotes inside a bare value, and handles escapes in quoted ones', () => {
    expect(inputOf('run f subject=it\'s body="say \\"hi\\"" c=\'don\\\'t\' d="back\\\\slash"')).toEqual({
      subject: "it's",
      body: 'say "hi"',
      c: "don't",
      d: 'back\\slash',
    });
  });

  it('keeps other backslashes, = and spaces of every kind inside quotes verbatim', () => {
    expect(inputOf('run f path="C:\\temp\\new" url=https://x.test/?a=b&c=d q="a  b\n\tc" e=""')).toEqual({
      path: 'C:\\temp\\new',
      url: 'https://x.test/?a=b&c=d',
      q: 'a  b\n\tc',
      e: '',
    });
  });

  it('refuses an unterminated quote, naming the key', () => {
    expect(refusal('run f body="no end')).toEqual({
      message: 'the value of body has no closing "; close the quote (write \\" for a literal ")',
    });
    expect(refusal("run f body='no end")).toEqual({
      message: "the value of body has no closing '; close the quote (write \\' for a literal ')",
    });
    expect(refusal('run f body="escaped end\\"')).toEqual({
      message: 'the value of body has no closing "; close the quote (write \\" for a literal ")',
    });
    expect(refusal('"open')).toEqual({
      message: 'a quoted word has no closing "; close the quote (write \\" for a literal ")',
    });
  });

  it('refuses text glued to a closing quote', () => {
    expect(refusal('run f body="a"b')).toEqual({
      message: 'the value of body goes on after its closing quote; put a space after the quote',
    });
  });

  it('splits on any whitespace, including newlines and no-break spaces', () => {
    expect(tokenize('a\u00a0b\nc=d')).toEqual([
      { value: 'a', isQuoted: false },
      { value: 'b', isQuoted: false },
      { key: 'c', value: 'd', isQuoted: false },
    ]);
  });
});

describe('unicode and hostile text', () => {
  it('keeps emoji, RTL overrides, zero-width and SQL-looking text verbatim', () => {
    const input = inputOf(
      'run f a=🧾✅ b="\u202egnp.exe" c="zero\u200bwidth" d="\'; DROP TABLE runs; --" e=$1 f=ünïcødé',
    );
    expect(input).toEqual({
      a: '🧾✅',
      b: '\u202egnp.exe',
      c: 'zero\u200bwidth',
      d: "'; DROP TABLE runs; --",
      e: '$1',
      f: 'ünïcødé',
    });
  });

  it('keeps a key named like an Object.prototype member as plain data', () => {
    const input = inputOf('run f __proto__=x constructor=y');
    expect(Object.keys(input)).toEqual(['__proto__', 'constructor']);
    expect(Object.getPrototypeOf(input)).toBe(Object.prototype);
    expect(JSON.parse(JSON.stringify(input))).toEqual(input);
  });

  it('refuses NUL and unpaired surrogates, which Postgres cannot store', () => {
    expect(refusal('run f body=a\u0000b').message).toBe(
      'that command contains a NUL character (\\0), which cannot be stored; remove it and send it again',
    );
    expect(refusal('run f body=a\ud800b').message).toMatch(/^that command contains a broken character/);
    expect(refusal('run f body=a\udc00').message).toMatch(/^that command contains a broken character/);
  });

  it('puts typed text that could ping in the quote, never in the message', () => {
    for (const text of ['<@U123>', '<!channel>', '@everyone', '<https://evil|Approve>']) {
      const fromSubcommand = refusal(text);
      expect(fromSubcommand).toEqual({ message: 'unknown command (quoted below); try /signoff help', quote: text });
      const fromInput = refusal(`run f ${text}`);
      expect(fromInput.message).not.toMatch(/[<@]/);
      expect(fromInput.quote).toBe(text);
    }
  });

  it('quotes at most 200 characters of an offending word', () => {
    const { quote } = refusal(`run f ${'<'.repeat(500)}`);
    expect(quote).toBe('<'.repeat(200));
  });
});

describe('size limit', () => {
  it(`accepts ${MAX_COMMAND_CHARS} characters, counting an emoji as one`, () => {
    const prefix = 'run f body=';
    expect(parseCommand(prefix + 'x'.repeat(MAX_COMMAND_CHARS - prefix.length)).kind).toBe('run');
    const emoji = parseCommand(prefix + '🧾'.repeat(MAX_COMMAND_CHARS - prefix.length));
    expect(emoji.kind === 'run' && [...emoji.input.body!].length).toBe(MAX_COMMAND_CHARS - prefix.length);
  });

  it('refuses one character more, and 10k emoji, saying what to do', () => {
    const message = 'that command is too long (over 4,000 characters); shorten the values and send it again';
    expect(refusal('run f body=' + 'x'.repeat(MAX_COMMAND_CHARS))).toEqual({ message });
    expect(refusal('run f body=' + '🧾'.repeat(10_000))).toEqual({ message });
  });
});
