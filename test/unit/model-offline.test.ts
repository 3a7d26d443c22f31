/**
 * The built-in offline model: deterministic, always schema-valid, and good
 * enough for the ticket-triage demo (a reply naming the subject; a redraft
 * that acknowledges the reviewer's feedback).
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { answerOffline } from '../../src/steps/model/offline.ts';
import { fullJsonSchema } from '../../src/steps/model/schema.ts';

const Draft = z.object({ reply: z.string().min(1), tone: z.enum(['friendly', 'formal']) });
const SYSTEM = 'You draft replies to support tickets.';
const TICKET = 'Customer: Ada\nSubject: Printer on fire\n\nThe office printer is on fire again.';

function reply(prompt: string): string {
  const { text } = answerOffline({ system: SYSTEM, prompt, schema: fullJsonSchema(Draft) });
  return Draft.parse(JSON.parse(text)).reply;
}

describe('offline model', () => {
  it('gives the same answer to the same prompt', () => {
    const input = { system: SYSTEM, prompt: TICKET, schema: fullJsonSchema(Draft) };
    expect(answerOffline(input)).toEqual(answerOffline(input));
  });

  it('satisfies the schema: enums, bounds, nesting, arrays, nullable and optional fields', () => {
    const Triage = z.object({
      category: z.enum(['billing', 'bug', 'other']),
      priority: z.number().int().min(1).max(5),
      score: z.number().max(-2),
      urgent: z.boolean(),
      summary: z.string().min(300).max(400),
      title: z.string().max(10),
      tags: z.array(z.string()),
      steps: z.array(z.object({ action: z.string() })).min(2),
      owner: z.object({ team: z.string(), nextStep: z.string().nullable() }),
      note: z.string().optional(),
      ref: z.union([z.null(), z.literal('T-1')]),
    });
    const { text } = answerOffline({ system: SYSTEM, prompt: TICKET, schema: fullJsonSchema(Triage) });
    const value = Triage.parse(JSON.parse(text));
    expect(value).toMatchObject({ category: 'billing', priority: 1, score: -2, urgent: false, tags: [], ref: 'T-1' });
    expect(value.steps).toHaveLength(2);
    expect(value.owner.nextStep).toContain('Printer on fire');
  });

  it('writes a polite reply that names the ticket subject', () => {
    const text = reply(TICKET);
    expect(text).toMatch(/^Hello,/);
    expect(text).toContain('"Printer on fire"');
    expect(text).toContain('Best regards');
  });

  it('acknowledges reviewer feedback, so a redraft differs from the first draft', () => {
    const first = reply(TICKET);
    const redraft = reply(
      `${TICKET}\n\nReviewer feedback: Offer a replacement printer.\nWrite a new draft that addresses this feedback.`,
    );
    expect(redraft).not.toBe(first);
    expect(redraft).toContain('Offer a replacement printer.');
    expect(redraft).not.toContain('Write a new draft');
    expect(reply(`${TICKET}\n\nReviewer feedback:\n\nWrite the reply.`)).toBe(first);
  });

  it('reports usage at about four characters a token', () => {
    const { text, usage } = answerOffline({ system: SYSTEM, prompt: TICKET, schema: fullJsonSchema(Draft) });
    expect(usage).toEqual({
      inputTokens: Math.ceil((SYSTEM.length + TICKET.length) / 4),
      outputTokens: Math.ceil(text.length / 4),
    });
  });
});
