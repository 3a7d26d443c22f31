/**
 * `/signoff digest`, `/signoff digest preview` and `/signoff schedules` on real
 * parts: the engine runs the weekly-digest flow (offline model) and the web
 * chat receives it; the schedules list reads the fires a scheduler claimed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import weeklyDigest from '../../../flows/weekly-digest.flow.ts';
import type { InboundCommand } from '../../../src/chat/messages.ts';
import { readConfig } from '../../../src/config.ts';
import { silentLogger } from '../../../src/ops/log.ts';
import { createStepRuntime, type StepRuntime } from '../../../src/steps/runtime.ts';
import { handleCommand, makeCommandDeps, type CommandDeps } from '../../../src/triggers/commands.ts';
import { Scheduler } from '../../../src/triggers/schedules.ts';
import { deploy, type Deployment, type PlatformDriver } from '../../contract/chat-port.contract.ts';
import { makeConsoleDriver } from '../../contract/console-driver.ts';
import { useTestDb } from '../../helpers/db.ts';
import { SEED, seedDigest } from '../../helpers/digest-seed.ts';

const db = useTestDb({ max: 20 });
let driver: PlatformDriver;
let steps: StepRuntime;
let app: Deployment;
let deps: CommandDeps;
let nowIso = '2026-11-30T08:30:00.000Z';
let deliveries = 0;

beforeAll(async () => {
  await seedDigest(db.sql);
  driver = await makeConsoleDriver(db);
  steps = createStepRuntime({
    config: readConfig({}),
    sql: db.sql,
    log: silentLogger,
    ports: new Map([[driver.port.platform, driver.port]]),
    tenants: new Map([['console', 'local']]),
  });
  app = await deploy(db, driver, { flows: [weeklyDigest], services: steps.services });
  const scheduler = new Scheduler({
    transaction: (fn) => app.engine.transaction(fn),
    sql: db.sql,
    flows: [weeklyDigest],
    clock: () => new Date(nowIso),
    defaults: { tenant: 'local' },
  });
  deps = makeCommandDeps(app.engine, { schedules: () => scheduler.list(), clock: () => new Date(nowIso) });
  // The Monday slot fired, 30 minutes late: the digest's run for it, one digest per channel of this tenant.
  const [fired] = await scheduler.tick();
  expect((await app.engine.waitFor(fired!.runId, ['done', 'failed'], { timeoutMs: 30_000 })).output).toEqual({
    posted: ['general', 'support'],
  });
});
afterAll(async () => {
  await app?.stop();
  await steps?.stop();
  await driver?.close();
});

function command(text: string, over: Partial<InboundCommand> = {}): InboundCommand {
  return {
    platform: 'console',
    tenant: SEED.tenant,
    channel: SEED.channel,
    user: 'alice',
    text,
    deliveryId: `d-${++deliveries}`,
    ...over,
  };
}
const runIdOf = (text: string) => /run `([^`]+)`/.exec(text)![1]!;
const postedIn = (channel: string) =>
  db.sql<
    { content: any }[]
  >`SELECT content FROM console_messages WHERE channel = ${channel} AND kind = 'text' ORDER BY id`;

describe('/signoff digest', () => {
  it("posts this week's digest of this channel, ending now, and says so in the channel", async () => {
    nowIso = '2026-11-30T08:00:00.000Z';
    const reply = await handleCommand(command('digest'), deps);
    expect(reply.visibility).toBe('channel');
    expect(reply.notice.text).toMatch(
      /^<@alice> asked for this week's digest; it will be posted here shortly \(run `[^`]+`\)$/,
    );
    const runId = runIdOf(reply.notice.text);
    expect((await app.engine.waitFor(runId, ['done', 'failed'], { timeoutMs: 30_000 })).status).toBe('done');
    const run = await app.engine.getRun(runId);
    expect(run!.input).toEqual({
      endAt: SEED.endAt,
      timezone: 'Europe/Berlin',
      target: { tenant: 'local', platform: 'console', channel: 'general' },
    });
    const digests = (await postedIn('general')).filter((m) => m.content.text.startsWith('Weekly digest'));
    // The scheduled one (for local's #general only: the other tenant's #general is not this chat's) and this one.
    expect(digests).toHaveLength(2);
    expect(digests.at(-1)!.content.text).toContain('Runs started: 8 (+4)');
    expect(digests.at(-1)!.content.image.pngBase64.length).toBeGreaterThan(1_000);
  });

  it('preview: only the requester gets it, in a direct message', async () => {
    const reply = await handleCommand(command('digest preview', { user: 'bob' }), deps);
    expect(reply.visibility).toBe('ephemeral');
    const runId = runIdOf(reply.notice.text);
    expect((await app.engine.waitFor(runId, ['done', 'failed'], { timeoutMs: 30_000 })).status).toBe('done');
    const dms = await postedIn('@bob');
    expect(dms.map((m) => m.content.text.split('\n')[0])).toEqual([
      'Weekly digest · general · 2026-11-23 to 2026-11-30, against the 7 days before',
    ]);
  });

  it('a redelivered command starts no second digest; anything after "digest" but "preview" is refused', async () => {
    const first = await handleCommand(command('digest', { deliveryId: 'same' }), deps);
    const again = await handleCommand(command('digest', { deliveryId: 'same' }), deps);
    expect(runIdOf(again.notice.text)).toBe(runIdOf(first.notice.text));
    const refused = await handleCommand(command('digest everyone'), deps);
    expect(refused).toEqual({
      visibility: 'ephemeral',
      notice: { text: 'unexpected "everyone"; use /signoff digest or /signoff digest preview' },
    });
  });
});

describe('/signoff schedules', () => {
  it('lists each schedule with its next slot in local time and the last slot fired', async () => {
    nowIso = '2026-12-01T12:00:00.000Z';
    const [fire] = await db.sql<
      { run_id: string }[]
    >`SELECT run_id FROM schedule_fires WHERE schedule_id = 'weekly-digest'`;
    const reply = await handleCommand(command('schedules'), deps);
    expect(reply).toEqual({
      visibility: 'ephemeral',
      notice: {
        text: `schedules:\nweekly-digest · weekly-digest · \`0 9 * * MON\` Europe/Berlin · next 2026-12-07 09:00 Europe/Berlin · last fired 2026-11-30 08:00 UTC (late), run \`${fire!.run_id}\``,
      },
    });
  });
});
