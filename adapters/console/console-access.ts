/**
 * Who may reach the web chat, and as whom (docs/security.md). Two modes:
 *
 * - `local` (WEB_CHAT_AUTH=none, the default): a demo on this machine. Only requests whose
 *   `Host` is a loopback name on the port the socket was accepted on are served, so a page
 *   on another site whose name resolves to 127.0.0.1 (DNS rebinding) gets 403; anyone at
 *   the keyboard picks who they are with the person switcher.
 * - `invite` (WEB_CHAT_AUTH=invite): `Host` may also be the public URL's. Every /api call
 *   needs a session cookie from a one-time sign-in link (`npm run web:invite -- alice`),
 *   and the acting person is the session's, never the request body's.
 *
 * Either way a request whose `Origin` (when a browser sends one) is not the page's own gets
 * 403: another site open in the browser cannot act here. Tokens are random 256-bit values;
 * only their SHA-256 reaches the database.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export type ConsoleAccess =
  | { mode: 'local' }
  /** `publicUrl`: what people open, e.g. https://chat.example.com (WEB_CHAT_URL). */
  | { mode: 'invite'; publicUrl: string };

/** The session cookie. `__Host-` would demand Secure, which plain-http loopback cannot give. */
export const SESSION_COOKIE = 'signoff_session';
/** How long a session lasts before its person needs a new link. */
export const SESSION_TTL_MS = 7 * 24 * 60 * 60 * 1000;

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]']);

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** `Host` as `name:port`, lower-cased, with the port filled in when the browser left out :80. */
function hostOf(req: IncomingMessage): string | null {
  const raw = req.headers.host?.toLowerCase();
  if (!raw || !/^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:\d{1,5})?$/.test(raw)) return null;
  return /:\d+$/.test(raw) && !raw.endsWith(']') ? raw : `${raw}:80`;
}

function isLoopbackHost(host: string, req: IncomingMessage): boolean {
  const port = host.slice(host.lastIndexOf(':') + 1);
  return LOOPBACK_NAMES.has(host.slice(0, host.lastIndexOf(':'))) && Number(port) === req.socket.localPort;
}

function publicHost(access: ConsoleAccess): string | null {
  if (access.mode !== 'invite') return null;
  const url = new URL(access.publicUrl);
  return `${url.hostname}:${url.port || (url.protocol === 'https:' ? '443' : '80')}`;
}

/** Why this request may not reach the web chat at all (wrong Host or Origin), or null. */
export function originRefusal(req: IncomingMessage, access: ConsoleAccess): string | null {
  const host = hostOf(req);
  const isLoopback = host !== null && isLoopbackHost(host, req);
  const isPublic = host !== null && host === publicHost(access);
  if (!isLoopback && !isPublic) {
    return (
      `this web chat answers only at ${access.mode === 'invite' ? access.publicUrl : 'http://localhost'}; ` +
      `Host "${String(req.headers.host ?? '').slice(0, 100)}" is not it (a page on another site cannot use it)`
    );
  }
  const origin = req.headers.origin;
  if (origin === undefined) return null;
  // Behind a proxy the Host may be loopback while the page's origin is the public URL.
  const allowed = [
    ...(isLoopback ? [`http://${req.headers.host!.toLowerCase()}`] : []),
    ...(access.mode === 'invite' ? [new URL(access.publicUrl).origin] : []),
  ];
  return allowed.includes(origin.toLowerCase()) ? null : `requests from ${origin.slice(0, 100)} are not accepted here`;
}

/** The session token the request carries, if any. */
export function sessionToken(req: IncomingMessage): string | null {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === SESSION_COOKIE) return value.join('=') || null;
  }
  return null;
}

/** Set-Cookie for a new session: HttpOnly (no script reads it), SameSite=Strict (no other site sends it). */
export function sessionCookie(token: string, access: ConsoleAccess): string {
  const secure = access.mode === 'invite' && access.publicUrl.startsWith('https:') ? '; Secure' : '';
  return `${SESSION_COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${SESSION_TTL_MS / 1000}${secure}`;
}
