/**
 * `/signoff digest [preview]` and `/signoff schedules` (wired by ./commands.ts).
 * A digest is a run of the weekly-digest flow for this channel, ending now: the
 * command reads the clock, the machine never does. The channel sees who asked;
 * a preview goes to the requester's direct messages only. The run is keyed by
 * the command's delivery, so a redelivered command posts once.
 */
import type { InboundCommand } from '../chat/messages.ts';
import type { CommandReply } from '../chat/port.ts';
import type { StartOptions } from '../engine/engine.ts';
import type { TriggerSpec } from '../engine/flow.ts';
import type { ScheduleStatus } from './schedules.ts';

export const DIGEST_FLOW = 'weekly-digest';

/** What these commands need; the command deps carry them. */
export interface DigestCommandDeps {
  startRun(flowId: string, input: unknown, opts?: StartOptions): Promise<{ runId: string; isNew: boolean }>;
  listFlows(): { id: string; triggers: readonly TriggerSpec[] }[];
  /** The loaded schedules (the scheduler's `list`); absent: no scheduler in this process. */
  schedules?(): Promise<ScheduleStatus[]>;
  /** The time now. Default the system clock. */
  clock?(): Date;
}

export async function requestDigest(
  isPreview: boolean,
  cmd: InboundCommand,
  deps: DigestCommandDeps,
): Promise<CommandReply> {
  const flow = deps.listFlows().find((f) => f.id === DIGEST_FLOW);
  if (!flow)
    return {
      visibility: 'ephemeral',
      notice: { text: `the ${DIGEST_FLOW} flow is not loaded here (flows/${DIGEST_FLOW}.flow.ts)` },
    };
  // The digest's working hours and days follow its schedule's zone.
  const schedule = flow.triggers.find((t) => t.kind === 'schedule');
  const timezone = schedule?.kind === 'schedule' ? (schedule.timezone ?? 'UTC') : 'UTC';
  const endAt = (deps.clock?.() ?? new Date()).toISOString();
  const { runId } = await deps.startRun(
    DIGEST_FLOW,
    {
      endAt,
      timezone,
      target: { tenant: cmd.tenant, platform: cmd.platform, channel: cmd.channel },
      ...(isPreview ? { previewFor: cmd.user } : {}),
    },
    {
      trigger: { source: cmd.platform, actor: cmd.user, channel: cmd.channel, tenant: cmd.tenant },
      triggerKey: `${cmd.platform}:${cmd.tenant}:cmd:${cmd.deliveryId}`,
    },
  );
  if (isPreview)
    return {
      visibility: 'ephemeral',
      notice: { text: `your preview of this week's digest is on its way to your direct messages (run \`${runId}\`)` },
    };
  // Only ids shaped like a platform's become mention tokens (as in ./commands.ts).
  const who = /^[A-Za-z0-9._-]{1,64}$/.test(cmd.user) ? `<@${cmd.user}>` : 'someone';
  return {
    visibility: 'channel',
    notice: { text: `${who} asked for this week's digest; it will be posted here shortly (run \`${runId}\`)` },
  };
}

export async function listSchedules(deps: DigestCommandDeps): Promise<CommandReply> {
  const schedules = (await deps.schedules?.()) ?? [];
  if (schedules.length === 0)
    return {
      visibility: 'ephemeral',
      notice: { text: "no schedules are loaded (a flow declares one with { kind: 'schedule', cron, timezone })" },
    };
  const lines = schedules.map((s) => {
    const next = s.nextLocal ? `next ${s.nextLocal.slice(0, 16)} ${s.timezone}` : 'no next slot';
    const last = s.lastFired
      ? `last fired ${s.lastFired.slot_at.toISOString().slice(0, 16).replace('T', ' ')} UTC${s.lastFired.is_late ? ' (late)' : ''}, run \`${s.lastFired.run_id}\``
      : 'never fired';
    return `${s.id} · ${s.flowId} · \`${s.cron}\` ${s.timezone} · ${next} · ${last}`;
  });
  return { visibility: 'ephemeral', notice: { text: ['schedules:', ...lines].join('\n') } };
}
