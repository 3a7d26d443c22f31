/**
 * Block Kit limits as Slack enforces them, for the blocks and views we send.
 * The fake Slack (./web-api.ts) refuses what breaks them with Slack's own
 * errors, and the renderer's property test checks every card against the same
 * functions. Limits, from Slack's reference pages:
 *
 * - blocks: 50 per message, 100 per modal or Home tab
 *   (https://api.slack.com/reference/block-kit/blocks); `block_id` ≤ 255.
 * - section: `text` ≤ 3000; `fields` ≤ 10 items, each ≤ 2000; text or fields required
 *   (https://api.slack.com/reference/block-kit/blocks#section).
 * - header: plain_text ≤ 150 (https://api.slack.com/reference/block-kit/blocks#header).
 * - context: ≤ 10 elements (https://api.slack.com/reference/block-kit/blocks#context).
 * - actions: ≤ 25 elements; button `text` ≤ 75, `value` ≤ 2000, `action_id` ≤ 255
 *   (https://api.slack.com/reference/block-kit/block-elements#button).
 * - input: `label` ≤ 2000; plain_text_input `max_length` ≤ 3000 and `initial_value`
 *   no longer than it (https://api.slack.com/reference/block-kit/block-elements#input).
 * - text objects: 1–3000 characters (https://api.slack.com/reference/block-kit/composition-objects#text).
 * - modal: `title`, `submit`, `close` ≤ 24; `private_metadata` ≤ 3000;
 *   `callback_id` ≤ 255 (https://api.slack.com/reference/surfaces/views).
 *
 * A problem reads as Slack writes it: `must be less than 3001 characters
 * [json-pointer:/blocks/0/text/text]`. Lengths are counted in UTF-16 units, as
 * no stricter than Slack counts characters.
 */

export type Surface = 'message' | 'modal';

const MAX_BLOCKS: Record<Surface, number> = { message: 50, modal: 100 };
const TEXT_CHARS = 3_000;
const FIELD_CHARS = 2_000;
const MAX_FIELDS = 10;
const HEADER_CHARS = 150;
const BUTTON_TEXT_CHARS = 75;
const ID_CHARS = 255;
const VIEW_TEXT_CHARS = 24;
const METADATA_CHARS = 3_000;

type Problems = string[];

function tooLong(problems: Problems, value: unknown, max: number, pointer: string): void {
  if (typeof value === 'string' && value.length > max)
    problems.push(`must be less than ${max + 1} characters [json-pointer:${pointer}]`);
}

function tooMany(problems: Problems, items: unknown, max: number, pointer: string): void {
  if (Array.isArray(items) && items.length > max)
    problems.push(`no more than ${max} items allowed [json-pointer:${pointer}]`);
}

/** A text object: present, 1..max characters. */
function textObject(problems: Problems, obj: any, max: number, pointer: string): void {
  if (!obj || typeof obj.text !== 'string')
    return void problems.push(`must provide an object [json-pointer:${pointer}]`);
  if (obj.text.length === 0) problems.push(`must be more than 0 characters [json-pointer:${pointer}/text]`);
  tooLong(problems, obj.text, max, `${pointer}/text`);
}

/** Problems of `blocks` on a surface, in Slack's words; empty when Slack would take them. */
export function blockProblems(blocks: unknown, surface: Surface, root = '/blocks'): string[] {
  const problems: Problems = [];
  if (!Array.isArray(blocks)) return problems;
  tooMany(problems, blocks, MAX_BLOCKS[surface], root);
  blocks.forEach((block: any, i) => {
    const at = `${root}/${i}`;
    tooLong(problems, block?.block_id, ID_CHARS, `${at}/block_id`);
    switch (block?.type) {
      case 'section':
        if (block.text === undefined && block.fields === undefined)
          problems.push(`must provide text or fields [json-pointer:${at}]`);
        if (block.text !== undefined) textObject(problems, block.text, TEXT_CHARS, `${at}/text`);
        tooMany(problems, block.fields, MAX_FIELDS, `${at}/fields`);
        (block.fields ?? []).forEach((f: any, j: number) => textObject(problems, f, FIELD_CHARS, `${at}/fields/${j}`));
        break;
      case 'header':
        textObject(problems, block.text, HEADER_CHARS, `${at}/text`);
        break;
      case 'context':
        tooMany(problems, block.elements, 10, `${at}/elements`);
        (block.elements ?? []).forEach((e: any, j: number) =>
          textObject(problems, e, TEXT_CHARS, `${at}/elements/${j}`),
        );
        break;
      case 'actions':
        tooMany(problems, block.elements, 25, `${at}/elements`);
        (block.elements ?? []).forEach((e: any, j: number) => buttonProblems(problems, e, `${at}/elements/${j}`));
        break;
      case 'input':
        inputProblems(problems, block, at);
        break;
      case 'divider':
        break;
      default:
        problems.push(`unsupported type: ${String(block?.type)} [json-pointer:${at}/type]`);
    }
  });
  return problems;
}

function buttonProblems(problems: Problems, e: any, at: string): void {
  if (e?.type !== 'button') return;
  textObject(problems, e.text, BUTTON_TEXT_CHARS, `${at}/text`);
  tooLong(problems, e.value, FIELD_CHARS, `${at}/value`);
  tooLong(problems, e.action_id, ID_CHARS, `${at}/action_id`);
}

function inputProblems(problems: Problems, block: any, at: string): void {
  textObject(problems, block.label, FIELD_CHARS, `${at}/label`);
  const el = block.element ?? {};
  if (el.type !== 'plain_text_input') return;
  if (typeof el.max_length === 'number' && (el.max_length < 1 || el.max_length > TEXT_CHARS)) {
    problems.push(`must be between 1 and ${TEXT_CHARS} [json-pointer:${at}/element/max_length]`);
  }
  tooLong(problems, el.initial_value, Math.min(TEXT_CHARS, el.max_length ?? TEXT_CHARS), `${at}/element/initial_value`);
}

/** Problems of a modal view (views.open / views.update), pointers under /view. */
export function viewProblems(view: any): string[] {
  const problems: Problems = [];
  if (!view || view.type !== 'modal') return [`must be a modal [json-pointer:/view/type]`];
  textObject(problems, view.title, VIEW_TEXT_CHARS, '/view/title');
  if (view.submit !== undefined) textObject(problems, view.submit, VIEW_TEXT_CHARS, '/view/submit');
  if (view.close !== undefined) textObject(problems, view.close, VIEW_TEXT_CHARS, '/view/close');
  tooLong(problems, view.private_metadata, METADATA_CHARS, '/view/private_metadata');
  tooLong(problems, view.callback_id, ID_CHARS, '/view/callback_id');
  problems.push(...blockProblems(view.blocks, 'modal', '/view/blocks'));
  return problems;
}

/** Slack's refusal body: `invalid_blocks` for messages, `invalid_arguments` for views. */
export function refusal(error: 'invalid_blocks' | 'invalid_arguments', problems: string[]): Record<string, unknown> {
  return { ok: false, error, errors: problems, response_metadata: { messages: problems.map((p) => `[ERROR] ${p}`) } };
}
