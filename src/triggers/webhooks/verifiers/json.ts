/**
 * What every verifier does once the bytes are genuine: parse them, and name
 * a dedupe key when the provider sent none. Bad JSON after a valid signature
 * is the sender's bug, not an attack: a 400 the ingress dead-letters (RELIABILITY 26).
 */
import { createHash } from 'node:crypto';
import { refuse, type Refusal } from '../types.ts';

export function parseJson(rawBody: Buffer): { ok: true; value: unknown } | Refusal {
  try {
    return { ok: true, value: JSON.parse(rawBody.toString('utf8')) as unknown };
  } catch {
    return refuse(400, 'the body is not valid JSON');
  }
}

export function sha256Hex(...parts: (string | Buffer)[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest('hex');
}

/** A string field of a JSON object, or null. */
export function stringField(value: unknown, name: string): string | null {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return null;
  const field = (value as Record<string, unknown>)[name];
  return typeof field === 'string' && field.length > 0 ? field : typeof field === 'number' ? String(field) : null;
}
