/**
 * weekly-digest: what a team decided last week, posted where it decides. Started
 * by its schedule (Mondays 09:00 Europe/Berlin: one digest per workspace and
 * channel with review activity in the two weeks before the slot), by
 * `/signoff digest` (this channel, now) and `/signoff digest preview` (only to
 * the requester, as a direct message); not by `/signoff run`, which could post
 * to every channel.
 *
 * For each channel it reads the figures (SQL only: src/store/digest.ts), asks
 * the cheap model for a three-sentence summary and a label per rejection
 * reason (with the offline model, rules write both and the message says so),
 * and posts the message with its chart. The machine only decides; the slot time
 * arrives in the input, so it reads no clock.
 */
import { z } from 'zod';
import {
  assign,
  defineFlow,
  modelStep,
  setup,
  step,
  type Digest,
  type DigestTarget,
  type ModelStepOutput,
} from '../src/authoring/index.ts';

const Input = z.object({
  /** End of "this week" (exclusive), ISO: the schedule's slot, or now for a command. */
  endAt: z.iso.datetime({ offset: true }),
  /** Zone of working hours and chart days. */
  timezone: z.string().min(1).max(64).default('UTC'),
  /** One channel (a command); absent: every channel with review activity (the schedule). */
  target: z.object({ tenant: z.string().min(1), platform: z.string().min(1), channel: z.string().min(1) }).optional(),
  /** Show it only to this person (a preview). */
  previewFor: z.string().min(1).max(64).optional(),
});
type Input = z.infer<typeof Input>;

const Words = z.object({
  summary: z.array(z.string().max(400)).length(3),
  reasonLabels: z.array(z.string().max(40)).max(200),
});
type Words = z.infer<typeof Words>;

interface TargetInput {
  target: DigestTarget;
  endAt: string;
  timezone: string;
}
interface PostInput {
  digest: Digest;
  words: ModelStepOutput<Words>;
  previewFor: string | undefined;
}

const targets = step(async (input: Input, ctx) =>
  input.target ? [input.target] : ctx.services.reports.digestTargets(input.endAt),
);

const collect = step(async ({ target, endAt, timezone }: TargetInput, ctx) =>
  ctx.services.reports.digest(target, endAt, timezone),
);

const summarize = modelStep({
  route: 'cheap',
  prompt: new URL('./prompts/weekly-digest.summary.md', import.meta.url),
  output: Words,
  maxOutputTokens: 600,
  vars: (d: Digest) => ({
    channel: d.scope.channel,
    figures: JSON.stringify({ ...d, rejectionReasons: undefined, days: undefined, scope: undefined }),
    reasons:
      [...d.rejectionReasons.this, ...d.rejectionReasons.prev].map((r, i) => `${i + 1}. ${r}`).join('\n') || '(none)',
  }),
});

const post = step(
  async ({ digest, words, previewFor }: PostInput, ctx) => {
    const isOffline = words.offline || words.value === null;
    await ctx.services.reports.postDigest(
      digest,
      {
        summary: words.value?.summary ?? [],
        reasonLabels: words.value?.reasonLabels ?? [],
        isOffline,
        model: words.model,
      },
      previewFor ? { previewFor } : {},
      { idempotencyKey: ctx.idempotencyKey },
    );
    return { channel: digest.scope.channel, posted: true };
  },
  { maxAttempts: 5, backoffMs: 2_000 },
);

const machine = setup({
  types: {} as {
    input: Input;
    context: {
      input: Input;
      targets: DigestTarget[];
      index: number;
      digest: Digest | null;
      words: ModelStepOutput<Words> | null;
      posted: string[];
    };
  },
  actors: { targets, collect, summarize, post },
  guards: { hasMore: ({ context }) => context.index + 1 < context.targets.length },
}).createMachine({
  id: 'weekly-digest',
  context: ({ input }) => ({ input, targets: [], index: 0, digest: null, words: null, posted: [] }),
  initial: 'findingChannels',
  states: {
    findingChannels: {
      invoke: {
        src: 'targets',
        input: ({ context }) => context.input,
        onDone: [
          { guard: ({ event }) => event.output.length === 0, target: 'done' },
          { target: 'collecting', actions: assign({ targets: ({ event }) => event.output }) },
        ],
      },
    },
    collecting: {
      invoke: {
        src: 'collect',
        input: ({ context }) => ({
          target: context.targets[context.index]!,
          endAt: context.input.endAt,
          timezone: context.input.timezone,
        }),
        onDone: { target: 'summarizing', actions: assign({ digest: ({ event }) => event.output }) },
      },
    },
    summarizing: {
      invoke: {
        src: 'summarize',
        input: ({ context }) => context.digest!,
        onDone: { target: 'posting', actions: assign({ words: ({ event }) => event.output }) },
      },
    },
    posting: {
      invoke: {
        src: 'post',
        input: ({ context }) => ({
          digest: context.digest!,
          words: context.words!,
          previewFor: context.input.previewFor,
        }),
        onDone: [
          {
            guard: 'hasMore',
            target: 'collecting',
            actions: assign({
              index: ({ context }) => context.index + 1,
              posted: ({ context, event }) => [...context.posted, event.output.channel],
            }),
          },
          {
            target: 'done',
            actions: assign({ posted: ({ context, event }) => [...context.posted, event.output.channel] }),
          },
        ],
      },
    },
    done: { type: 'final' },
  },
  output: ({ context }) => ({ posted: context.posted }),
});

export default defineFlow({
  id: 'weekly-digest',
  title: 'What the team decided last week, with a chart, in every channel that reviews',
  input: Input,
  triggers: [
    {
      kind: 'schedule',
      name: 'weekly-digest',
      cron: '0 9 * * MON',
      timezone: 'Europe/Berlin',
      input: (slot) => ({ endAt: slot.slotAt, timezone: 'Europe/Berlin' }),
    },
  ],
  machine,
});
