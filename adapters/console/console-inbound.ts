/**
 * Pure: the shapes of the web chat's POST bodies, and their translation into
 * the neutral inbound types of src/chat/messages.ts. A body that does not
 * match is refused with a reason a person can act on; it never reaches a
 * handler. Who the user is comes from the caller: the session's person beyond
 * loopback, or in local demo mode the page's person switcher (the body's
 * optional `user`). See console-access.ts.
 */
import { z } from 'zod';
import { isWellFormedText } from '../../src/chat/text.ts';
import {
  parseMessageRef,
  type InboundAction,
  type InboundCommand,
  type InboundSubmission,
  type MessageRef,
} from '../../src/chat/messages.ts';

/** The largest command text accepted, like a chat message's limit (RELIABILITY 81). */
export const MAX_COMMAND_CHARS = 4_000;

function text(maxChars: number) {
  return (
    z
      .string({ error: (issue) => (issue.input === undefined ? 'is required' : 'must be a string') })
      .max(maxChars, `must be at most ${maxChars} characters`)
      // Postgres refuses NUL in text: a clean 400 here, not a failed insert later (RELIABILITY 79).
      .refine((value) => !value.includes('\u0000'), 'must not contain NUL characters')
      // Two ids with different lone surrogates would be one key once stored; a field with one fails to insert.
      .refine(isWellFormedText, 'has a broken character (an unpaired UTF-16 surrogate); retype it')
  );
}

function id(maxChars: number) {
  return text(maxChars).min(1, 'must not be empty');
}

const version = z
  .number({ error: (issue) => (issue.input === undefined ? 'is required' : 'must be a number') })
  .int('must be a whole number')
  .min(0, 'must not be negative');

/** A JSON object with exactly these fields; anything else is named in the refusal. */
function body<Shape extends z.ZodRawShape>(shape: Shape) {
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `unknown field(s): ${(issue as { keys: string[] }).keys.join(', ')}`
        : 'request body must be a JSON object',
  });
}

const PERSON_ID = /^[a-z0-9][a-z0-9._-]{0,31}$/;
const GROUP_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

// `user`: in local demo mode who the person switcher plays; beyond loopback it may only repeat the session's person.
export const commandBody = body({
  user: id(64).optional(),
  channel: id(80),
  text: text(MAX_COMMAND_CHARS),
  deliveryId: id(200),
});

export const actionBody = body({
  user: id(64).optional(),
  channel: id(80),
  messageRef: id(200),
  reviewRef: id(500),
  action: z.enum(['approve', 'reject', 'edit', 'delegate'], 'must be approve, reject, edit or delegate'),
  version,
  deliveryId: id(200),
});

export const submissionBody = body({
  user: id(64).optional(),
  purpose: z.enum(['edit', 'reject', 'delegate'], 'must be edit, reject or delegate'),
  reviewRef: id(500),
  version,
  deliveryId: id(200),
  fields: z.record(z.string(), text(50_000), 'must be an object of strings'),
});

export const personBody = body({
  id: id(32)
    .regex(PERSON_ID, 'must be lower-case letters, digits, ".", "_" or "-"')
    .refine((value) => value !== 'signoff', "is the bot's name"),
  displayName: id(80),
  groups: z
    .array(
      id(64).regex(GROUP_NAME, 'must be lower-case letters, digits, ".", "_" or "-"'),
      'must be a list of group names',
    )
    .max(20, 'must name at most 20 groups'),
});

export type CommandBody = z.infer<typeof commandBody>;
export type ActionBody = z.infer<typeof actionBody>;
export type SubmissionBody = z.infer<typeof submissionBody>;
export type PersonBody = z.infer<typeof personBody>;

/** Checks a parsed JSON value against a body schema; the error names every problem. */
export function parseRequest<T>(
  schema: z.ZodType<T>,
  value: unknown,
): { ok: true; value: T } | { ok: false; error: string } {
  const result = schema.safeParse(value);
  if (result.success) return { ok: true, value: result.data };
  const problems = result.error.issues.map((issue) =>
    issue.path.length > 0 ? `${issue.path.join('.')} ${issue.message}` : issue.message,
  );
  return { ok: false, error: problems.join('; ') };
}

export function toInboundCommand(tenant: string, b: CommandBody, user: string): InboundCommand {
  return { platform: 'console', tenant, channel: b.channel, user, text: b.text, deliveryId: b.deliveryId };
}

export function toInboundAction(tenant: string, b: ActionBody, user: string): InboundAction {
  return {
    platform: 'console',
    tenant,
    channel: b.channel,
    user,
    reviewRef: b.reviewRef,
    action: b.action,
    messageRef: b.messageRef as MessageRef,
    version: b.version,
    deliveryId: b.deliveryId,
  };
}

export function toInboundSubmission(tenant: string, b: SubmissionBody, user: string): InboundSubmission {
  return {
    platform: 'console',
    tenant,
    user,
    purpose: b.purpose,
    reviewRef: b.reviewRef,
    version: b.version,
    fields: b.fields,
    deliveryId: b.deliveryId,
  };
}

/** The channel and message id of a console message ref, or null for anything else. */
export function consoleRefParts(ref: string): { channel: string; id: string } | null {
  try {
    const { platform, parts } = parseMessageRef(ref);
    const [channel, id] = parts;
    return platform === 'console' && parts.length === 2 && /^\d{1,18}$/.test(id!)
      ? { channel: channel!, id: id! }
      : null;
  } catch {
    return null;
  }
}
