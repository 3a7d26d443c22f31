/**
 * Pure rules for text people type (issue 16): checked before it is used as a key or
 * stored, and made safe before it is shown. Every adapter's inbound translation and
 * renderer call these, so Slack, the web chat and any later platform agree.
 * No I/O, no platform markup.
 */

/** A UTF-16 surrogate without its partner: not a character, and not valid UTF-8 for Postgres or JSON peers. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * True when `text` is well-formed UTF-16. Two different strings with lone surrogates can
 * encode to the same bytes (both become U+FFFD), so they must never become keys.
 */
export function isWellFormedText(text: string): boolean {
  return !LONE_SURROGATE.test(text);
}

/**
 * Bidirectional controls (embeddings, overrides, isolates, marks; Unicode UAX #9) that let
 * `Refund \u202Egnp.exe` read as "Refund exe.png" (CVE-2021-42574, "Trojan Source").
 */
const BIDI_CONTROLS = /[\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C]/g;

/** Replaces every bidi control with a visible `[U+202E]` marker, so untrusted text reads in its real order. */
export function neutraliseBidi(text: string): string {
  return text.replace(BIDI_CONTROLS, (ch) => `[U+${ch.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}]`);
}

/** The bot's own name: no person may take it as an id or a display name. */
const BOT_NAME = 'signoff';

/** How a name reads to a person: case, width, spacing, a leading @ and invisible characters do not count. */
export function nameKey(name: string): string {
  return name
    .normalize('NFKC')
    .replace(BIDI_CONTROLS, '')
    .replace(/[\u200B-\u200D\u2060\uFEFF]/g, '')
    .replace(/^@+/, '')
    .replace(/\s+/g, ' ')
    .trim()
    .toLowerCase();
}

/**
 * Why `person` may not take this display name, or null: a name that reads like another
 * person's id or display name (or the bot's) would let its approval read as theirs.
 */
export function impersonationRefusal(
  person: { id: string; displayName: string },
  others: readonly { id: string; displayName: string }[],
): string | null {
  const wanted = nameKey(person.displayName);
  if (wanted === BOT_NAME) return `display name "${person.displayName}" is the bot's name`;
  for (const other of others) {
    if (other.id === person.id) continue;
    if (wanted === nameKey(other.id) || wanted === nameKey(other.displayName)) {
      return `display name "${person.displayName}" reads like @${other.id}'s; pick a name of your own`;
    }
    if (nameKey(person.id) === nameKey(other.displayName))
      return `id "${person.id}" reads like the name of @${other.id}`;
  }
  return null;
}
