/**
 * Unknown `run` keys (issue 16): a flow's input schema is a zod object, which would drop
 * `custmer=ACME` without a word and start the run without a customer. The command path
 * refuses such keys first, naming the closest real one. Pure.
 */
import { z } from 'zod';
import type { TriggerSpec } from '../engine/flow.ts';

/** The keys a flow's input accepts, or null when its schema is not a plain object (then nothing is checked). */
export function inputKeysOf(schema: z.ZodType): string[] | null {
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : null;
}

/**
 * The keys `/signoff run` takes for a flow: its command trigger's `fields` when it names
 * them (src/engine/flow.ts `CommandTrigger`), else every key of its input. A key left out
 * is refused like a mistyped one.
 */
export function commandKeysOf(flow: { input: z.ZodType; triggers: readonly TriggerSpec[] }): string[] | null {
  const command = flow.triggers.find((t) => t.kind === 'command');
  return command?.fields ? [...command.fields] : inputKeysOf(flow.input);
}

/** Edit distance (insertions, deletions, substitutions), for "did you mean". */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(prev[j]! + 1, next[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = next;
  }
  return prev[b.length]!;
}

/**
 * `unknown field "custmer"; did you mean "customer"?` for the first key the flow does not take,
 * or null when every key is known. A suggestion is made only when it is a near miss.
 */
export function unknownKeyProblem(known: readonly string[], given: readonly string[]): string | null {
  const unknown = given.find((key) => !known.includes(key));
  if (unknown === undefined) return null;
  const near = known
    .map((key) => ({ key, d: distance(unknown.toLowerCase(), key.toLowerCase()) }))
    .filter(({ key, d }) => d <= Math.max(1, Math.floor(key.length / 3)))
    .sort((a, b) => a.d - b.d)[0];
  const hint = near
    ? `; did you mean "${near.key}"?`
    : `; this flow takes ${known.map((k) => `"${k}"`).join(', ') || 'no fields'}`;
  return `unknown field "${unknown}"${hint}`;
}
