/**
 * Messages with files, as the fake Discord takes them. Sources (discord-api-docs,
 * `developers/...`):
 * - reference.mdx "Uploading Files": files go in a `multipart/form-data` body,
 *   the JSON body optionally in `payload_json`; every `files[n]` part needs a
 *   `Content-Disposition` with a `filename` and a unique `name` of the form
 *   `files[n]`; the `n` is the placeholder id an `attachments` entry refers to.
 *   The upload limit applies to each file and is 10 MiB by default (since
 *   2025-01-16, change-log.mdx "Default File Upload Limit Change"); a bot's
 *   message gets that default.
 * - resources/message.mdx "Create Message": the whole request at most 25 MiB;
 *   `attachments` entries: "for new attachments this must match the `n` in
 *   `files[n]`"; `description` (alt text) at most 1024 characters.
 * - topics/opcodes-and-status-codes.mdx: 50035 invalid form body (JSON and
 *   multipart alike), 40005 request entity too large.
 * - At most 10 files a message: the API answers "Must be 10 or fewer in
 *   length" for more, yet discord-api-docs states no number (its #1552: the
 *   docs "only document and support 1 attachment officially"), so this rule
 *   cites the API's answer, the one rule here without a page.
 * Every file is kept with what it decodes to (test/fakes/png.ts), so a test can
 * check it arrived as a PNG of the size it claims.
 */
import { decodePng, type PngSize } from '../png.ts';
import { invalidFormBody } from './limits.ts';

type Body = Record<string, any>;

export const MAX_FILES = 10;
export const DEFAULT_UPLOAD_LIMIT_BYTES = 10 * 1024 * 1024;
export const MAX_REQUEST_BYTES = 25 * 1024 * 1024;
const MAX_DESCRIPTION = 1_024;
const FILE_PART = /^files\[(\d+)\]$/;

/** One file as received: the bytes, and what the fake made of them. */
export interface FakeAttachment {
  /** The attachment's snowflake once its message exists. */
  id: string;
  /** The `n` of its `files[n]` part. */
  placeholder: string;
  filename: string;
  /** The part's Content-Type, as sent. */
  contentType: string;
  /** Alt text from its `attachments` entry, if any. */
  description: string | null;
  size: number;
  bytes: Buffer;
  /** Width and height when the bytes are a whole PNG; null otherwise. */
  png: PngSize | null;
}

export type Upload = { body: Body; files: FakeAttachment[] } | { refusal: [number, Body] };

const tooLarge = (what: string): [number, Body] => [413, { message: `Request entity too large: ${what}`, code: 40005 }];

/** The JSON body and files of a multipart request, or Discord's refusal of it. */
export async function readUpload(raw: Buffer, contentType: string): Promise<Upload> {
  if (raw.length > MAX_REQUEST_BYTES) return { refusal: tooLarge('the request is over 25 MiB') };
  let form: FormData;
  try {
    form = await new Request('http://fake.invalid/', {
      method: 'POST',
      headers: { 'content-type': contentType },
      body: raw,
    }).formData();
  } catch {
    return { refusal: [400, invalidFormBody(['the multipart/form-data body does not parse'])] };
  }
  const problems: string[] = [];
  const body: Body = {};
  const files: FakeAttachment[] = [];
  const names = new Set<string>();
  for (const [name, value] of form.entries()) {
    if (names.has(name)) problems.push(`${name} is not a unique part name`);
    names.add(name);
    const slot = FILE_PART.exec(name);
    if (typeof value === 'string') {
      // A part without a filename arrives as text: files[n] must carry one.
      if (slot) problems.push(`${name} has no filename in its Content-Disposition`);
      else if (name === 'payload_json') Object.assign(body, parseJson(value, problems));
      else body[name] = value;
      continue;
    }
    if (!slot) problems.push(`a file part must be named files[n], not ${name}`);
    else if (!value.name) problems.push(`${name} has no filename in its Content-Disposition`);
    else files.push(await attachmentOf(slot[1]!, value));
  }
  if (problems.length > 0) return { refusal: [400, invalidFormBody(problems)] };
  return { body, files };
}

/**
 * The message-level rules: how many files, how large, and the `attachments`
 * entries that refer to them (a JSON body with a new attachment and no files
 * is refused the same way). Fills each file's alt text from its entry.
 */
export function checkFiles(body: Body, files: FakeAttachment[]): Upload {
  if (files.length > MAX_FILES) return { refusal: [400, invalidFormBody([`files: Must be 10 or fewer in length.`])] };
  const big = files.find((f) => f.size > DEFAULT_UPLOAD_LIMIT_BYTES);
  if (big) return { refusal: tooLarge(`${big.filename} is over the 10 MiB upload limit`) };
  const problems: string[] = [];
  const entries = Array.isArray(body.attachments) ? (body.attachments as Body[]) : [];
  for (const entry of entries) {
    const file = files.find((f) => f.placeholder === String(entry.id));
    if (!file) {
      problems.push(`attachments: id ${String(entry.id)} matches no files[n]`);
      continue;
    }
    if (typeof entry.description === 'string' && entry.description.length > MAX_DESCRIPTION)
      problems.push(`attachments: description is over ${MAX_DESCRIPTION} characters`);
    file.description = typeof entry.description === 'string' ? entry.description : null;
    if (typeof entry.filename === 'string') file.filename = entry.filename;
  }
  if (problems.length > 0) return { refusal: [400, invalidFormBody(problems)] };
  return { body, files };
}

async function attachmentOf(placeholder: string, file: File): Promise<FakeAttachment> {
  const bytes = Buffer.from(await file.arrayBuffer());
  return {
    id: '',
    placeholder,
    filename: file.name,
    contentType: file.type,
    description: null,
    size: bytes.length,
    bytes,
    png: decodePng(bytes),
  };
}

function parseJson(text: string, problems: string[]): Body {
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Body;
  } catch {
    // reported below
  }
  problems.push('payload_json is not a JSON object');
  return {};
}

/** An attachment as the API returns it in a message object (resources/message.mdx "Attachment Object"). */
export function attachmentJson(a: FakeAttachment, channel: string): Body {
  return {
    id: a.id,
    filename: a.filename,
    description: a.description ?? undefined,
    content_type: a.contentType,
    size: a.size,
    url: `https://cdn.discordapp.com/attachments/${channel}/${a.id}/${encodeURIComponent(a.filename)}`,
    proxy_url: `https://media.discordapp.net/attachments/${channel}/${a.id}/${encodeURIComponent(a.filename)}`,
    ...(a.png ? { width: a.png.width, height: a.png.height } : {}),
  };
}
