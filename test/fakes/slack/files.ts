/**
 * The fake Slack's file uploads (mounted by ./web-api.ts): the three steps
 * @slack/web-api's `files.uploadV2` takes, each refusing what Slack refuses.
 * Source: docs.slack.dev/reference/methods/files.getUploadURLExternal and
 * files.completeUploadExternal.
 *
 * 1. files.getUploadURLExternal(filename, length): `filename` and `length` are
 *    required ("missing_argument … when the length provided is 0"); alt text
 *    longer than 1000 characters is `alt_txt_too_large`. Answers an upload_url and a file_id.
 * 2. POST <upload_url> with the bytes ("raw bytes or multipart form encoded";
 *    200 when received). We take raw bytes, check the length promised in step 1,
 *    and that the bytes decode as a whole PNG (test/fakes/png.ts), keeping its size.
 * 3. files.completeUploadExternal(files: [{ id, title }], channel_id, …): a file
 *    never uploaded cannot be completed; the file is shared in `channel_id`, as
 *    a message from the bot carrying the files (conversations.history lists it
 *    with `files`), its text the `initial_comment`. Slack keeps no idempotency
 *    key for uploads, so nothing here dedupes: the same bytes uploaded and
 *    completed twice are two files and two messages.
 */
import type { ServerResponse } from 'node:http';
import { decodePng } from '../png.ts';

export interface FakeFile {
  id: string;
  filename: string;
  length: number;
  altText: string | null;
  bytes: Buffer | null;
  png: { width: number; height: number } | null;
  /** Where it was shared; null until completed with a channel. */
  channel: string | null;
  threadTs: string | null;
  title: string | null;
  initialComment: string | null;
  isCompleted: boolean;
}

/** What the files need of the fake around them. */
export interface FilesHost {
  readonly baseUrl: string;
  readonly channels: ReadonlySet<string>;
  /** Posts the message that shares completed files; returns its ts. */
  shareFiles(channel: string, threadTs: string | null, text: string, fileIds: string[]): string;
}

const ALT_TEXT_MAX = 1_000;

export class FakeFiles {
  readonly files: FakeFile[] = [];
  /** The workspace has disabled file uploads: getUploadURLExternal answers `file_uploads_disabled` (its documented error). */
  isDisabled = false;
  private seq = 0;

  constructor(private readonly host: FilesHost) {}

  /** Files shared in a channel, in completion order. */
  sharedIn(channel: string): FakeFile[] {
    return this.files.filter((f) => f.isCompleted && f.channel === channel);
  }

  /** A Web API method of ours, or null when the method is not a files one. */
  run(method: string, a: Record<string, any>): Record<string, unknown> | null {
    if (method === 'files.getUploadURLExternal') return this.getUploadUrl(a);
    if (method === 'files.completeUploadExternal') return this.complete(a);
    return null;
  }

  /** The upload POST to an upload_url: the file's bytes, raw or as the one file of a multipart form (the SDK's way). */
  async receive(id: string, raw: Buffer, contentType: string, res: ServerResponse): Promise<void> {
    const file = this.files.find((f) => f.id === id);
    if (!file || file.bytes) return void res.writeHead(404).end('not_found');
    const body = contentType.startsWith('multipart/form-data') ? await formFile(raw, contentType) : raw;
    if (!body) return void res.writeHead(400).end('no file in the form');
    if (body.length !== file.length)
      return void res.writeHead(400).end(`length ${body.length} is not the ${file.length} promised`);
    const png = decodePng(body);
    if (!png) return void res.writeHead(400).end('not a PNG');
    Object.assign(file, { bytes: body, png });
    res.writeHead(200).end(`OK - ${body.length}`);
  }

  private getUploadUrl(a: Record<string, any>): Record<string, unknown> {
    if (this.isDisabled) return { ok: false, error: 'file_uploads_disabled' };
    const length = Number(a.length);
    if (!a.filename || !Number.isInteger(length) || length <= 0) return { ok: false, error: 'missing_argument' };
    const altText = (a.alt_text ?? a.alt_txt ?? null) as string | null;
    if (altText && altText.length > ALT_TEXT_MAX) return { ok: false, error: 'alt_txt_too_large' };
    const id = `F${String(++this.seq).padStart(8, '0')}`;
    this.files.push({
      id,
      filename: String(a.filename),
      length,
      altText,
      bytes: null,
      png: null,
      channel: null,
      threadTs: null,
      title: null,
      initialComment: null,
      isCompleted: false,
    });
    return { ok: true, file_id: id, upload_url: `${this.host.baseUrl}/upload/${id}` };
  }

  private complete(a: Record<string, any>): Record<string, unknown> {
    const wanted = Array.isArray(a.files) ? (a.files as { id: string; title?: string }[]) : [];
    if (wanted.length === 0) return { ok: false, error: 'invalid_arguments' };
    const channel = (a.channel_id ?? null) as string | null;
    if (channel && !this.host.channels.has(channel)) return { ok: false, error: 'channel_not_found' };
    const found = wanted.map((w) => this.files.find((f) => f.id === w.id));
    // A file id Slack never received bytes for cannot be completed.
    if (found.some((f) => !f || !f.bytes || f.isCompleted)) return { ok: false, error: 'file_not_found' };
    found.forEach((f, i) =>
      Object.assign(f!, {
        isCompleted: true,
        channel,
        threadTs: a.thread_ts ?? null,
        title: wanted[i]!.title ?? null,
        initialComment: a.initial_comment ?? null,
      }),
    );
    if (channel)
      this.host.shareFiles(
        channel,
        a.thread_ts ?? null,
        a.initial_comment ?? '',
        wanted.map((w) => w.id),
      );
    return {
      ok: true,
      files: found.map((f) => ({
        id: f!.id,
        name: f!.filename,
        title: f!.title,
        mimetype: 'image/png',
        size: f!.length,
      })),
    };
  }
}

/** The bytes of the first file in a multipart body (parsed by undici's FormData, as a server would). */
async function formFile(raw: Buffer, contentType: string): Promise<Buffer | null> {
  const form = await new Request('http://upload.invalid/', {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: raw,
  }).formData();
  const part = [...form.values()].find((v): v is File => typeof v !== 'string');
  return part ? Buffer.from(await part.arrayBuffer()) : null;
}
