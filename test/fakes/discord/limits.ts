/**
 * What Discord refuses in a message or a modal, as the fake checks it. Each
 * limit cites the discord-api-docs page (github.com/discord/discord-api-docs,
 * `developers/...`) it comes from; a body over any limit gets Discord's 400
 * `50035 Invalid Form Body` (topics/opcodes-and-status-codes.mdx), so an
 * adapter that would be refused by Discord is refused here too.
 */
import {
  ButtonStyle,
  ComponentType,
  type APIActionRowComponent,
  type APIEmbed,
  type APIAllowedMentions,
} from 'discord-api-types/v10';

type Body = Record<string, any>;

/** resources/message.mdx "Create Message": content up to 2000 characters, up to 10 embeds. */
const MAX_CONTENT = 2_000;
const MAX_EMBEDS = 10;
/** resources/message.mdx "Embed Limits". */
const EMBED = {
  title: 256,
  description: 4_096,
  fields: 25,
  fieldName: 256,
  fieldValue: 1_024,
  footer: 2_048,
  author: 256,
  total: 6_000,
};
/** components/reference.mdx: 5 action rows, 5 buttons a row, custom_id 1-100, button label 80. */
const COMPONENTS = { rows: 5, buttonsPerRow: 5, customId: 100, label: 80 };
/** interactions/receiving-and-responding.mdx "Modal": title 45, 1-5 components; components/reference.mdx: text input value and max_length 4000, label 45. */
const MODAL = { title: 45, minComponents: 1, maxComponents: 5, value: 4_000, label: 45 };

/** The 400 body Discord answers for an invalid form (topics/opcodes-and-status-codes.mdx, 50035). */
export function invalidFormBody(problems: string[]): Body {
  return {
    code: 50035,
    message: 'Invalid Form Body',
    errors: Object.fromEntries(
      problems.map((p, i) => [String(i), { _errors: [{ code: 'BASE_TYPE_INVALID', message: p }] }]),
    ),
  };
}

function embedProblems(embeds: APIEmbed[]): string[] {
  const problems: string[] = [];
  let total = 0;
  for (const [i, e] of embeds.entries()) {
    const over = (what: string, text: string | undefined, max: number) => {
      total += text?.length ?? 0;
      if ((text?.length ?? 0) > max) problems.push(`embeds[${i}].${what} is over ${max} characters`);
    };
    over('title', e.title, EMBED.title);
    over('description', e.description, EMBED.description);
    over('footer.text', e.footer?.text, EMBED.footer);
    over('author.name', e.author?.name, EMBED.author);
    if ((e.fields?.length ?? 0) > EMBED.fields) problems.push(`embeds[${i}].fields has more than ${EMBED.fields}`);
    for (const f of e.fields ?? []) {
      over('fields.name', f.name, EMBED.fieldName);
      over('fields.value', f.value, EMBED.fieldValue);
      if (!f.name || !f.value) problems.push(`embeds[${i}].fields need a non-empty name and value`);
    }
  }
  if (total > EMBED.total) problems.push(`embeds total ${total} characters, over ${EMBED.total}`);
  return problems;
}

function componentProblems(rows: APIActionRowComponent<any>[]): string[] {
  const problems: string[] = [];
  if (rows.length > COMPONENTS.rows) problems.push(`components has more than ${COMPONENTS.rows} action rows`);
  const ids = new Set<string>();
  for (const row of rows) {
    if (row.type !== ComponentType.ActionRow) problems.push('top-level components must be action rows');
    if ((row.components?.length ?? 0) > COMPONENTS.buttonsPerRow)
      problems.push(`an action row holds at most ${COMPONENTS.buttonsPerRow} buttons`);
    for (const c of row.components ?? []) {
      if ((c.label?.length ?? 0) > COMPONENTS.label) problems.push(`button label over ${COMPONENTS.label} characters`);
      if (c.style === ButtonStyle.Link) continue;
      const id = String(c.custom_id ?? '');
      if (id.length < 1 || id.length > COMPONENTS.customId)
        problems.push(`custom_id must be 1-${COMPONENTS.customId} characters`);
      // components/reference.mdx: "custom_id ... must be unique per message".
      if (ids.has(id)) problems.push(`custom_id ${id} is not unique in the message`);
      ids.add(id);
    }
  }
  return problems;
}

function mentionProblems(m: APIAllowedMentions | undefined): string[] {
  if (!m) return [];
  // resources/message.mdx "Allowed Mentions": parse and an explicit list of the same type are mutually exclusive; lists hold at most 100 ids.
  const problems: string[] = [];
  for (const kind of ['users', 'roles'] as const) {
    if ((m.parse as string[] | undefined)?.includes(kind) && m[kind]?.length)
      problems.push(`allowed_mentions: parse "${kind}" and a ${kind} list are mutually exclusive`);
    if ((m[kind]?.length ?? 0) > 100) problems.push(`allowed_mentions.${kind} holds at most 100 ids`);
  }
  return problems;
}

/** Why Discord would refuse this message body (create, edit, or an interaction's message response). */
export function messageProblems(body: Body, isEdit = false, fileCount = 0): string[] {
  const problems: string[] = [];
  if (typeof body.content === 'string' && body.content.length > MAX_CONTENT)
    problems.push(`content is over ${MAX_CONTENT} characters`);
  if ((body.embeds?.length ?? 0) > MAX_EMBEDS) problems.push(`more than ${MAX_EMBEDS} embeds`);
  problems.push(
    ...embedProblems(body.embeds ?? []),
    ...componentProblems(body.components ?? []),
    ...mentionProblems(body.allowed_mentions),
  );
  // resources/message.mdx: a new message needs at least one of content, embeds, components, files, sticker_ids, poll.
  if (!isEdit && !body.content && !body.embeds?.length && !body.components?.length && fileCount === 0)
    problems.push('Cannot send an empty message');
  // resources/message.mdx: nonce is an integer or a string of at most 25 characters.
  if (body.nonce !== undefined && String(body.nonce).length > 25) problems.push('nonce is over 25 characters');
  return problems;
}

/** Why Discord would refuse this modal (callback type 9). */
export function modalProblems(data: Body): string[] {
  const problems: string[] = [];
  if (!data?.title || data.title.length > MODAL.title) problems.push(`modal title must be 1-${MODAL.title} characters`);
  if (!data?.custom_id || data.custom_id.length > COMPONENTS.customId)
    problems.push(`modal custom_id must be 1-${COMPONENTS.customId} characters`);
  const n = data?.components?.length ?? 0;
  if (n < MODAL.minComponents || n > MODAL.maxComponents)
    problems.push(`a modal holds ${MODAL.minComponents}-${MODAL.maxComponents} components`);
  for (const c of data?.components ?? []) {
    const input = c.type === ComponentType.Label ? c.component : c.components?.[0];
    if (c.type === ComponentType.Label && (!c.label || c.label.length > MODAL.label))
      problems.push(`label must be 1-${MODAL.label} characters`);
    if (input?.type !== ComponentType.TextInput) continue;
    if ((input.value?.length ?? 0) > MODAL.value) problems.push(`text input value over ${MODAL.value} characters`);
    if ((input.max_length ?? 0) > MODAL.value) problems.push(`text input max_length over ${MODAL.value}`);
    if (input.max_length !== undefined && (input.value?.length ?? 0) > input.max_length)
      problems.push('text input value longer than its max_length');
    if (input.disabled) problems.push('a disabled component in a modal is an error');
  }
  return problems;
}

/**
 * Who a message would notify: `user:<id>`, `role:<id>`, `everyone`. resources/message.mdx
 * "Allowed Mentions": only mentions present in the content count; without
 * allowed_mentions a regular message parses all, an interaction or webhook message users only.
 */
export function wouldPing(content: string, m: APIAllowedMentions | undefined, isWebhook: boolean): string[] {
  const parse: string[] = m ? (m.parse ?? []) : isWebhook ? ['users'] : ['users', 'roles', 'everyone'];
  const pinged: string[] = [];
  for (const [, kind, id] of content.matchAll(/<@(!|&)?(\d+|[A-Za-z0-9_-]+)>/g)) {
    const isRole = kind === '&';
    const listed = isRole ? m?.roles : m?.users;
    if (parse.includes(isRole ? 'roles' : 'users') || listed?.includes(id!))
      pinged.push(`${isRole ? 'role' : 'user'}:${id}`);
  }
  if (/@(everyone|here)/.test(content) && parse.includes('everyone')) pinged.push('everyone');
  return [...new Set(pinged)];
}
