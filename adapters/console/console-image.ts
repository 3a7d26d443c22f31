/**
 * GET /api/image?id=<message id>: the picture a web chat message carries (the
 * weekly digest's chart), stored with the message as base64 PNG. Whoever may
 * see the message may fetch it; another person's direct message reads as missing.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Caller, ConsoleContext, Outcome } from './console-routes.ts';

/** A message's picture (the digest's chart), to whoever may see the message: another person's DM reads as missing. */
export async function sendImage(
  ctx: ConsoleContext,
  req: IncomingMessage,
  res: ServerResponse,
  caller: Caller,
): Promise<Outcome | null> {
  const id = new URL(req.url ?? '/', 'http://console.invalid').searchParams.get('id') ?? '';
  const message = /^\d{1,18}$/.test(id) ? await ctx.store.getMessage(ctx.tenant, id) : null;
  const isHidden =
    message?.channel.startsWith('@') && caller.viewer !== null && message.channel !== `@${caller.viewer}`;
  const image = message && message.kind === 'text' && !isHidden ? message.notice.image : undefined;
  if (!image) return { status: 404, body: { error: 'no such image' } };
  const png = Buffer.from(image.pngBase64, 'base64');
  res.writeHead(200, {
    'content-type': 'image/png',
    'content-length': png.length,
    'x-content-type-options': 'nosniff',
    'cache-control': 'private, max-age=86400',
  });
  res.end(png);
  return null;
}
