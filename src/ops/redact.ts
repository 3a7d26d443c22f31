/**
 * Redaction, the one rule for every text that leaves the process or is stored: what is
 * sent to a model (RELIABILITY 86) and any error a provider or tool answered, before it
 * reaches a table, a log or a chat message (RELIABILITY 77, 78). Known secrets (tokens
 * from config, the Authorization values a call sent) are replaced literally; then every
 * pattern (DEFAULT_REDACT_PATTERNS plus REDACT_PATTERNS) is. Pure.
 */

/** What a redacted secret is replaced with. */
export const REDACTED = '[redacted]';

/** Shorter literals would redact ordinary words ("abc"); no real credential is this short. */
const MIN_SECRET_CHARS = 6;

/** Patterns are config strings; compiling each once keeps redaction cheap per call. */
const compiled = new Map<string, RegExp>();

/** Replaces every match of every pattern (RegExp source text) with `[redacted]`. */
export function redact(text: string, patterns: readonly string[]): string {
  let out = text;
  for (const source of patterns) {
    let re = compiled.get(source);
    if (!re) compiled.set(source, (re = new RegExp(source, 'g')));
    out = out.replace(re, REDACTED);
  }
  return out;
}

/** Replaces each known secret (longest first, so a token inside a header value goes with it), then the patterns. */
export function redactSecrets(text: string, secrets: Iterable<string>, patterns: readonly string[]): string {
  let out = text;
  const literals = [...new Set(secrets)]
    .filter((s) => s.length >= MIN_SECRET_CHARS)
    .sort((a, b) => b.length - a.length);
  for (const secret of literals) out = out.split(secret).join(REDACTED);
  return redact(out, patterns);
}

/**
 * The secrets inside an `Authorization` header value: the whole value and its credentials
 * after the scheme (`Bearer x`, `Basic base64`); for Basic, the decoded password too.
 */
export function authorizationSecrets(value: string): string[] {
  const [scheme = '', ...rest] = value.trim().split(/\s+/);
  const credentials = rest.join(' ');
  const found = [value.trim(), ...(credentials ? [credentials] : [])];
  if (scheme.toLowerCase() === 'basic' && credentials) {
    const decoded = Buffer.from(credentials, 'base64').toString('utf8');
    found.push(decoded, decoded.slice(decoded.indexOf(':') + 1));
  }
  return found;
}
