/**
 * A failed connection in words (`connection refused`, `host not found`, `timed
 * out`), read from the error chain fetch, undici and the SDKs build, for messages
 * that tell an operator what to fix (`signoff doctor`). Only codes and the
 * innermost system message are read: never a request, a header or a body.
 */

const WORDS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found',
  ETIMEDOUT: 'timed out',
  UND_ERR_CONNECT_TIMEOUT: 'timed out',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  CERT_HAS_EXPIRED: 'its TLS certificate has expired',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'its TLS certificate is self-signed',
};
/** How deep to follow `cause` (fetch → undici → system error is three). */
const MAX_DEPTH = 5;

export function describeNetworkError(err: unknown): string {
  let current: unknown = err;
  let innermost = 'no answer';
  for (let depth = 0; depth < MAX_DEPTH && current && typeof current === 'object'; depth++) {
    const { code, name, message, cause } = current as {
      code?: unknown;
      name?: unknown;
      message?: unknown;
      cause?: unknown;
    };
    if (typeof code === 'string' && WORDS[code]) return WORDS[code];
    if (name === 'TimeoutError' || name === 'AbortError') return 'timed out';
    // undici refuses the ports of the Fetch standard's "bad port" list (1, 9, 25, …) before connecting.
    if (message === 'bad port') return 'fetch refuses that port (a reserved one); use another';
    if (typeof message === 'string' && message) innermost = message.slice(0, 80);
    current = cause;
  }
  return innermost;
}
