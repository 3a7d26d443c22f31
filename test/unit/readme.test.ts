/**
 * The README's "Write a flow" is a real flow: the snippet is flows/examples/reply.flow.ts
 * word for word (tsc checks that file), and the flow runs as the README says.
 */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import type { EventObject } from 'xstate';
import flow from '../../flows/examples/reply.flow.ts';
import { decideEvent, decideStart } from '../../src/engine/decide.ts';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

it('shows flows/examples/reply.flow.ts as it is, in at most about 25 lines', () => {
  const readme = read('README.md');
  const section = readme.slice(readme.indexOf('## Write a flow'));
  const snippet = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  const file = read('flows/examples/reply.flow.ts');
  expect(snippet).toBe(file.slice(file.indexOf('import ')));
  expect(snippet!.trim().split('\n').length).toBeLessThanOrEqual(25);
});

it('drafts, asks for review with the tool call, and sends what was approved', () => {
  const ticket = { ticketId: '7', subject: 'Refund', body: 'Charged twice' };
  const start = decideStart(flow, 'r', ticket);
  const drafted = decideEvent(
    flow,
    'r',
    2,
    start.snapshot,
    { type: 'xstate.done.actor.draft', output: { value: { reply: 'Refunded.' } } } as EventObject,
    'draft',
  );
  expect(drafted.jobs.map((j) => [j.name, j.input])).toEqual([
    [
      'replyReview',
      {
        title: 'Refund',
        content: { reply: 'Refunded.' },
        proposedAction: { tool: 'zendesk.reply', input: { ticketId: '7', body: 'Refunded.', public: true } },
      },
    ],
  ]);
  const approved = decideEvent(flow, 'r', 3, drafted.snapshot, {
    type: 'review.approved',
    content: { reply: 'Refunded today.' },
  } as EventObject);
  expect(approved.jobs.map((j) => [j.name, j.input])).toEqual([['send', { ticket, reply: 'Refunded today.' }]]);
});
