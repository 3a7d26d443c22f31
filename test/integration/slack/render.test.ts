/**
 * RELIABILITY 82 (and the Slack side of 81): text a person or a model wrote is
 * shown literally in Slack, with no pings, no disguised links and no unfurls,
 * and a long draft is split into sections under Slack's 3000-character limit
 * with a pointer to the full text. Checked on what the fake Slack received.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReviewCard } from '../../../src/chat/messages.ts';
import { startFakeSlack, type FakeSlack } from '../../fakes/slack/web-api.ts';
import { useTestDb } from '../../helpers/db.ts';
import { CHANNEL, sendCommand, startSlackBot, type SlackBot } from './harness.ts';

const HOSTILE = '<!channel> @everyone <@U123> <https://evil.example|Approve> & <!here>';
const RAW_MARKUP = ['<!channel>', '<!here>', '<@U123>', '<https://evil'];

function card(body: string, overrides: Partial<ReviewCard> = {}): ReviewCard {
  return {
    title: `Refund ${HOSTILE}`,
    fields: [{ label: `Customer ${HOSTILE}`, value: HOSTILE }],
    body,
    diff: { before: HOSTILE, after: 'fine' },
    proposedAction: {
      tool: 'crm',
      method: 'PATCH',
      host: 'crm.example.test',
      fields: [{ name: 'note', old: HOSTILE, new: HOSTILE }],
    },
    costLabel: '$0.04',
    status: { kind: 'pending', tally: { approvals: 0, needed: 1 }, text: 'Waiting for <@bob>' },
    actions: ['approve', 'reject', 'edit'],
    reviewRef: '7d0c2f9e-0000-4000-8000-000000000001',
    version: 1,
    runId: 'run-82',
    ...overrides,
  };
}

/** Every mrkdwn text object in a message's blocks. */
function mrkdwnTexts(blocks: any[]): { text: string; verbatim?: boolean }[] {
  return blocks
    .flatMap((b) => [b.text, ...(b.fields ?? []), ...(b.elements ?? [])])
    .filter((t) => t?.type === 'mrkdwn');
}

describe('slack rendering of untrusted text', () => {
  const db = useTestDb();
  let fake: FakeSlack;
  let bot: SlackBot;

  beforeAll(async () => {
    fake = await startFakeSlack({ channels: [CHANNEL] });
    bot = await startSlackBot(db, fake);
  });
  afterAll(async () => {
    await bot?.stop();
    await fake?.close();
  });

  it('82: <!channel>, @everyone, <@U123> and <https://evil|Approve> are shown literally: escaped, verbatim, no unfurls', async () => {
    await bot.adapter.port.postCard(CHANNEL, card(`Dear customer ${HOSTILE}`), { idempotencyKey: 'k82' });
    const call = fake.calls.find(
      (c) => c.method === 'chat.postMessage' && c.args.metadata?.event_payload?.key === 'k82',
    )!;
    expect([call.args.unfurl_links, call.args.unfurl_media]).toEqual(['false', 'false']);
    const texts = mrkdwnTexts(call.args.blocks);
    expect(texts.length).toBeGreaterThan(5);
    for (const t of [...texts.map((x) => x.text), call.args.text as string]) {
      for (const markup of RAW_MARKUP) expect(t).not.toContain(markup);
    }
    expect(texts.every((t) => t.verbatim === true)).toBe(true);
    expect(texts.map((t) => t.text).join('\n')).toContain(
      '&lt;!channel&gt; @everyone &lt;@U123&gt; &lt;https://evil.example|Approve&gt; &amp;',
    );
    // Our own sentence keeps its mention token; the header is plain_text, which Slack never parses.
    expect(texts.some((t) => t.text === 'Waiting for <@bob>')).toBe(true);
    expect(call.args.blocks[0]).toMatchObject({ type: 'header', text: { type: 'plain_text' } });
  });

  it("82: a notice quoting someone's words and a command echoing typed text stay literal", async () => {
    await bot.adapter.port.postMessage(
      CHANNEL,
      { text: 'Rejected by <@bob>. Reason:', quote: HOSTILE },
      { idempotencyKey: 'k82b' },
    );
    const posted = fake.calls.find(
      (c) => c.method === 'chat.postMessage' && c.args.metadata?.event_payload?.key === 'k82b',
    )!;
    const shown = mrkdwnTexts(posted.args.blocks)
      .map((t) => t.text)
      .join('\n');
    expect(shown).toContain('Rejected by <@bob>. Reason:\n>&lt;!channel&gt;');
    for (const markup of RAW_MARKUP) expect(shown).not.toContain(markup);
    const reply = await sendCommand(bot, fake, 'alice', `run ${HOSTILE}`);
    for (const markup of RAW_MARKUP) expect(JSON.stringify(reply.body)).not.toContain(markup);
  });

  it('81: a draft past 3000 characters is split into sections under the limit, and cut with a pointer to the full text', async () => {
    await bot.adapter.port.postCard(CHANNEL, card('<'.repeat(19_000), { diff: undefined }), { idempotencyKey: 'k81' });
    const call = fake.calls.find(
      (c) => c.method === 'chat.postMessage' && c.args.metadata?.event_payload?.key === 'k81',
    )!;
    const body = (call.args.blocks as any[]).filter((b) => String(b.block_id).startsWith('body:'));
    expect(body.length).toBe(5);
    for (const b of body) expect(b.text.text.length).toBeLessThanOrEqual(3_000);
    expect(body.at(-1).text.text).toMatch(/\[truncated\][\s\S]*full draft is stored with run `run-82`/);
    expect(body.slice(0, -1).every((b) => /^(&lt;)+$/.test(b.text.text))).toBe(true);
    expect(call.args.blocks.length).toBeLessThanOrEqual(50);
  });
});
