/**
 * The two primitives every HMAC verifier uses: the digest of some bytes, and
 * a constant-time comparison that checks the length first (timingSafeEqual
 * throws on unequal lengths, and an early `!==` would leak where they differ).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export type Algorithm = 'sha1' | 'sha256' | 'sha512';

export function digest(
  algorithm: Algorithm,
  key: string | Buffer,
  parts: (string | Buffer)[],
  encoding: 'hex' | 'base64',
): string {
  const mac = createHmac(algorithm, key);
  for (const part of parts) mac.update(part);
  return mac.digest(encoding);
}

/** Whether two strings are equal, in time independent of where they differ. */
export function isSameSecret(expected: string, received: string): boolean {
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(received, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Whether any secret's digest matches `received` (rotation: every listed secret verifies). */
export function anySecretMatches(
  secrets: readonly string[],
  received: string,
  sign: (secret: string) => string,
): boolean {
  let isMatch = false;
  // Every secret is tried, so the time taken does not tell which one matched.
  for (const secret of secrets) if (isSameSecret(sign(secret), received)) isMatch = true;
  return isMatch;
}
