/**
 * A picture shared in a channel once per key, across a crash. Slack's upload
 * takes three calls (docs.slack.dev/reference/methods/files.getUploadURLExternal,
 * files.completeUploadExternal): get an upload URL and a file id, POST the bytes
 * there, complete (which shares the file in the channel, as a message carrying
 * it). Slack keeps no idempotency key for any of them, so the post ledger does:
 * - `<key>:image-file` holds the file id, written before the file is completed;
 * - `<key>:image` holds it once the share is known to have happened.
 * A retry that finds a file id but no share looks for that file in the
 * channel's history (the share message lists its `files`) before uploading
 * again: a process killed after Slack completed the upload and before the
 * ledger row (crash point `slack-upload-completed`) shares it once. History
 * needs no scope beyond the ones posts already use (channels/groups/im:history).
 *
 * Where the workspace takes no uploads, the picture's text fallback goes in the
 * thread of the message it belongs to instead.
 */
import type { ChatImage } from '../../src/chat/messages.ts';
import type { Logger } from '../../src/ops/log.ts';
import type { SlackStore } from './types.ts';
import { slackErrorCode, type SlackWeb } from './slack-web.ts';

/** Upload refusals that mean this workspace takes no picture from us: the text fallback goes instead. */
const NO_UPLOADS = new Set([
  'file_uploads_disabled',
  'file_uploads_except_images_disabled',
  'file_type_not_allowed',
  'file_upload_size_restricted',
  'missing_scope',
]);
/** History is searched from a minute before the first attempt, for clock skew between us and Slack. */
const SKEW_S = 60;

export class SlackUploads {
  constructor(
    private readonly web: SlackWeb,
    private readonly store: SlackStore,
    private readonly log: Logger,
    private readonly crashpoint: (name: string) => void,
    private readonly timeoutMs: number,
  ) {}

  /** Shares `image` in `channel` once per `key`; its fallback goes under `threadTs` where uploads are refused. */
  async uploadOnce(channel: string, image: ChatImage, key: string, threadTs: string): Promise<void> {
    const shareKey = `${key}:image`;
    const fileKey = `${key}:image-file`;
    if ((await this.store.readPost(shareKey))?.ts) return;
    const earlier = await this.store.readPost(fileKey);
    if (earlier?.ts && (await this.isShared(channel, earlier.ts, earlier.firstAt))) {
      this.log.info('slack picture found shared after its ledger row was lost; not uploading again', { channel, key });
      await this.store.finishPost(shareKey, channel, earlier.ts);
      return;
    }
    await this.store.beginPost(shareKey, channel);
    try {
      const fileId = await this.share(channel, image, fileKey);
      this.crashpoint('slack-upload-completed');
      await this.store.finishPost(shareKey, channel, fileId);
    } catch (err) {
      const code = slackErrorCode(err);
      if (!code || !NO_UPLOADS.has(code)) throw err;
      this.log.warn('slack took no picture; posting its text fallback', { channel, error: code });
      await this.store.finishPost(shareKey, channel, `fallback:${code}`);
      await this.web.postOnce(channel, { thread_ts: threadTs, text: image.fallbackText }, `${key}:image-text`);
    }
  }

  /** The three upload calls; the file id is in the ledger before the file is completed. Returns it. */
  private async share(channel: string, image: ChatImage, fileKey: string): Promise<string> {
    const bytes = Buffer.from(image.pngBase64, 'base64');
    const got = await this.web.call('files.getUploadURLExternal', {
      filename: image.filename ?? 'chart.png',
      length: bytes.length,
      alt_text: image.alt,
    });
    const fileId = String(got.file_id);
    await this.store.finishPost(fileKey, channel, fileId);
    // The upload URL is signed by Slack: no token goes with the bytes.
    const res = await fetch(String(got.upload_url), {
      method: 'POST',
      body: bytes,
      headers: { 'content-type': 'application/octet-stream' },
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    if (!res.ok) throw new Error(`Slack took no bytes at its upload URL (HTTP ${res.status}); trying again later`);
    await this.web.call('files.completeUploadExternal', {
      files: [{ id: fileId, title: image.alt }],
      channel_id: channel,
    });
    return fileId;
  }

  /** Whether a message in the channel since `since` shares the file `fileId`. */
  private async isShared(channel: string, fileId: string, since: Date): Promise<boolean> {
    const oldest = String(Math.floor(since.getTime() / 1_000) - SKEW_S);
    const res = await this.web.call('conversations.history', { channel, oldest, limit: 200 });
    const messages = (res.messages ?? []) as { files?: { id?: string }[] }[];
    return messages.some((m) => m.files?.some((f) => f.id === fileId));
  }
}
