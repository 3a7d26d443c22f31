/**
 * Every card, thread reply, notice and modal the Slack renderer makes fits
 * Block Kit's limits (RELIABILITY 81), checked with the very validator the fake
 * Slack refuses posts with (test/fakes/slack/block-kit.ts). Inputs are random
 * and hostile: long, unicode (emoji, RTL marks, combining), markup-like
 * (`<!channel>`, `&amp;`, `*bold*`), many fields. The generator is a seeded
 * PRNG, so a failure names its seed and replays exactly.
 */
import { describe, expect, it } from 'vitest';
import { noticeMessage, renderCard, renderEditor } from '../../adapters/slack/slack-render.ts';
import type { ReviewAction, ReviewCard } from '../../src/chat/messages.ts';
import type { EditorForm, Notice } from '../../src/chat/port.ts';
import { blockProblems, viewProblems } from '../fakes/slack/block-kit.ts';

/** mulberry32: small, fast, good enough to spread test inputs. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const PIECES = [
  'a',
  'Z',
  ' ',
  '\n',
  '&',
  '<',
  '>',
  '&amp;',
  '<!channel>',
  '<@U123>',
  '<https://evil|Approve>',
  '*',
  '_',
  '`',
  '~',
  '😀',
  '👩‍👩‍👧',
  '\u202e',
  'é',
  'e\u0301',
  '中文',
  '\t',
  '\u0000',
  '>quote',
  '```',
];
const LENGTHS = [
  0, 1, 23, 24, 25, 75, 149, 150, 151, 600, 1_999, 2_000, 2_001, 2_999, 3_000, 3_001, 7_000, 20_000, 60_000,
];
/** Fields are many: their values stay under 7000 so a card of 600 fields renders quickly. */
const FIELD_LENGTHS = LENGTHS.filter((n) => n <= 7_000);

function generator(seed: number) {
  const next = prng(seed);
  const int = (max: number) => Math.floor(next() * max);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const text = (lengths: readonly number[] = LENGTHS): string => {
    const target = pick(lengths);
    const hostile = pick(PIECES);
    const parts: string[] = [];
    for (let n = 0; n < target; n += parts.at(-1)!.length) parts.push(next() < 0.5 ? hostile : pick(PIECES));
    return parts.join('').slice(0, target);
  };
  const nonEmpty = () => text() || 'x';
  const field = () => text(FIELD_LENGTHS);
  return { int, pick, text, nonEmpty, field };
}

function randomCard(seed: number): ReviewCard {
  const g = generator(seed);
  const actions: ReviewAction[] = ['approve', 'reject', 'edit', 'delegate'].filter(
    () => g.int(2) === 0,
  ) as ReviewAction[];
  const fieldCount = g.pick([0, 1, 9, 10, 11, 40, 200, 600]);
  const card: ReviewCard = {
    title: g.nonEmpty(),
    fields: Array.from({ length: fieldCount }, () => ({ label: g.field() || 'x', value: g.field() })),
    body: g.text(),
    status: { kind: g.pick(['pending', 'approved', 'rejected', 'expired', 'cancelled'] as const), text: g.nonEmpty() },
    actions,
    reviewRef: `rv_${seed}`,
    version: 1 + g.int(50),
    costLabel: '',
    runId: `run_${seed.toString(16)}`,
  };
  if (g.int(2) === 0) card.diff = { before: g.text(), after: g.text() };
  card.costLabel = g.int(2) === 0 ? g.text() : '';
  if (g.int(2) === 0) {
    card.proposedAction = {
      tool: g.nonEmpty(),
      method: g.pick(['PUT', 'POST', g.text()]),
      host: g.nonEmpty(),
      fields: Array.from({ length: g.pick([0, 3, 12, 300]) }, () => ({
        name: g.field() || 'x',
        new: g.field(),
        ...(g.int(2) ? { old: g.field() } : {}),
      })),
    };
  }
  return card;
}

function randomForm(seed: number): EditorForm {
  const g = generator(seed);
  const purpose = g.pick(['edit', 'reject', 'delegate'] as const);
  return {
    purpose,
    title: g.nonEmpty(),
    reviewRef: `rv_${seed}`,
    version: 1 + g.int(9),
    fields: Array.from({ length: 1 + g.int(3) }, (_u, i) => ({
      name: `f${i}`,
      label: g.nonEmpty(),
      value: g.pick([g.text(), 'x'.repeat(400_000)]),
      isMultiline: g.int(2) === 0,
      maxChars: g.pick([100, 2_000, 20_000, 500_000]),
    })),
  };
}

function randomNotice(seed: number): Notice {
  const g = generator(seed);
  return { text: g.nonEmpty(), ...(g.int(2) ? { quote: g.text() } : {}) };
}

const SEEDS = Array.from({ length: 300 }, (_u, i) => i * 7_919 + 1);

describe('Slack renderer within Block Kit limits (RELIABILITY 81)', () => {
  it.each(SEEDS)("card %i passes the fake Slack's validation", (seed) => {
    const { text, blocks } = renderCard(randomCard(seed));
    expect(blockProblems(blocks, 'message')).toEqual([]);
    expect(text.length).toBeGreaterThan(0);
  });

  it.each(SEEDS)('notice and thread reply %i pass it too', (seed) => {
    expect(blockProblems(noticeMessage(randomNotice(seed)).blocks, 'message')).toEqual([]);
  });

  it.each(SEEDS.slice(0, 150))("editor modal %i passes views.open's validation", (seed) => {
    expect(viewProblems(renderEditor(randomForm(seed), 'C0SUPPORT'))).toEqual([]);
  });

  it('a cut draft says where the full text is', () => {
    const card = randomCard(1);
    const { blocks } = renderCard({ ...card, body: 'word '.repeat(20_000) });
    expect(JSON.stringify(blocks)).toContain(`The full draft is stored with run`);
    const long = noticeMessage({ text: 'Rejected by <@U1>. Reason:', quote: 'no '.repeat(20_000) });
    expect(JSON.stringify(long.blocks)).toContain('[truncated]');
  });

  it('the validator refuses what Slack refuses (so a pass means something)', () => {
    expect(blockProblems([{ type: 'section', text: { type: 'mrkdwn', text: 'x'.repeat(3_001) } }], 'message')).toEqual([
      'must be less than 3001 characters [json-pointer:/blocks/0/text/text]',
    ]);
    expect(
      blockProblems(
        Array.from({ length: 51 }, () => ({ type: 'divider' })),
        'message',
      ),
    ).toEqual(['no more than 50 items allowed [json-pointer:/blocks]']);
    expect(
      blockProblems([{ type: 'header', text: { type: 'plain_text', text: 'h'.repeat(151) } }], 'message'),
    ).toHaveLength(1);
    expect(viewProblems({ type: 'modal', title: { type: 'plain_text', text: 't'.repeat(25) }, blocks: [] })).toEqual([
      'must be less than 25 characters [json-pointer:/view/title/text]',
    ]);
  });
});
