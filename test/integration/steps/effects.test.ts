/**
 * Effects (named actions, run at least once after their transition commits)
 * reach tools through `ctx.services` like steps do, under the same rules: the
 * flow's `tools` list, input validation, the helpdesk's real API.
 */
import { setup } from 'xstate';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { z } from 'zod';
import { readConfig } from '../../../src/config.ts';
import { Engine } from '../../../src/engine/engine.ts';
import { compileFlow as defineFlow } from '../../../src/engine/flow.ts';
import { silentLogger } from '../../../src/ops/log.ts';
import { createStepRuntime, type StepRuntime } from '../../../src/steps/runtime.ts';
import { startFakeTools, ZENDESK_AGENT, type FakeTools } from '../../fakes/tool-servers.ts';
import { useTestDb } from '../../helpers/db.ts';

const Input = z.object({ ticketId: z.string(), tool: z.string() });
type Input = z.infer<typeof Input>;

const tagging = defineFlow({
  id: 'tagging',
  title: 'tag a ticket from an effect',
  input: Input,
  tools: ['zendesk.update'],
  // `tag` is a placeholder here: the engine runs the effect of that name as a job.
  machine: setup({ types: {} as { input: Input; context: Input }, actions: { tag: () => {} } }).createMachine({
    id: 'tagging',
    context: ({ input }) => input,
    initial: 'tagged',
    states: { tagged: { type: 'final', entry: 'tag' } },
  }),
  steps: {},
  effects: {
    tag: {
      maxAttempts: 1,
      run: async (_input: unknown, ctx) =>
        ctx.services.callTool('zendesk.update', { ticketId: '77', tags: ['triaged'] }),
    },
  },
});

const db = useTestDb();
let fake: FakeTools;
let steps: StepRuntime;
let engine: Engine;

beforeAll(async () => {
  fake = await startFakeTools();
  const config = readConfig({
    ZENDESK_URL: fake.baseUrl,
    ZENDESK_OAUTH_TOKEN: ZENDESK_AGENT.oauthToken,
    TOOL_RPM: '0',
  });
  steps = createStepRuntime({ config, sql: db.sql, log: silentLogger });
  engine = new Engine({ sql: db.sql, schema: db.schema, flows: [tagging], services: steps.services, pollMs: 100 });
  await engine.start();
});
afterAll(async () => {
  await engine?.stop(1_000);
  await steps?.stop();
  await fake?.close();
});

it('an effect calls a tool its flow lists, through the real API', async () => {
  const { runId } = await engine.startRun('tagging', { ticketId: '77', tool: 'zendesk.update' });
  await engine.waitFor(runId, ['done']);
  const effectStatus = async () =>
    (await db.sql<{ status: string }[]>`SELECT status FROM jobs WHERE run_id = ${runId} AND kind = 'effect'`)[0]
      ?.status;
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline && (await effectStatus()) !== 'done') await new Promise((r) => setTimeout(r, 20));
  expect(await effectStatus()).toBe('done');
  expect(fake.calls.map((c) => [c.method, c.path, c.body])).toEqual([
    ['PUT', '/api/v2/tickets/77.json', { ticket: { tags: ['triaged'] } }],
  ]);
});
