/**
 * Dead letters (migration 0030): webhook deliveries that were genuine but that
 * a flow could not take. `/signoff deadletters` lists them for an admin;
 * `/signoff deadletters replay <id>` maps the stored event again through the
 * flow's trigger and starts the run, once the flow (or its mapping) is fixed.
 * The replay locks the row, starts the run under the delivery's own trigger
 * key and marks the row in one transaction, so two admins replaying at once
 * start one run.
 */
import type { CommandReply } from '../../chat/port.ts';
import { isSignoffError } from '../../errors.ts';
import { listDeadLetters, lockDeadLetter, markDeadLetterReplayed, type DeadLetterRow } from '../../store/webhooks.ts';
import type { WebhookFlow } from './accept.ts';
import { triggersFor } from './accept.ts';
import type { WebhookEngine } from './ingress.ts';
import type { WebhookSettings } from './types.ts';

export type ReplayOutcome = { ok: true; runId: string; flow: string } | { ok: false; problem: string };

export interface DeadLetterControl {
  list(limit: number): Promise<DeadLetterRow[]>;
  replay(id: string, actor: string): Promise<ReplayOutcome>;
}

/** Dead letters listed at once. */
const LISTED = 20;

export function deadLetterControl(
  engine: WebhookEngine & { sql: Parameters<typeof listDeadLetters>[0] },
  settings: WebhookSettings,
  channel: string,
): DeadLetterControl {
  return {
    list: (limit) => listDeadLetters(engine.sql, limit),
    replay: (id, actor) =>
      engine.transaction(async (rt): Promise<ReplayOutcome> => {
        const row = await lockDeadLetter(rt.sql, id);
        if (!row) return { ok: false, problem: `no dead letter ${id}` };
        if (row.replayRunId)
          return { ok: false, problem: `dead letter ${id} was already replayed as run \`${row.replayRunId}\`` };
        const source = settings.sources[row.source];
        if (row.payload === null || !row.event || !row.flow)
          return {
            ok: false,
            problem: `dead letter ${id} has no readable event (${row.reason}); have the sender resend it`,
          };
        if (!source) return { ok: false, problem: `the webhook source ${row.source} is no longer configured` };
        const match = triggersFor(engine.listFlows() as WebhookFlow[], source, row.event).find(
          (t) => t.flowId === row.flow,
        );
        if (!match) return { ok: false, problem: `${row.flow} no longer starts from ${row.source} ${row.event}` };
        try {
          const started = await rt.start(row.flow, match.trigger.input(row.payload), {
            triggerKey: `webhook:${row.source}:${row.deliveryKey}:${row.flow}`,
            trigger: { source: `webhook:${row.source}`, actor, channel, tenant: settings.tenant },
          });
          await markDeadLetterReplayed(rt.sql, id, started.runId);
          return { ok: true, runId: started.runId, flow: row.flow };
        } catch (err) {
          if (isSignoffError(err, 'input_invalid') || !isSignoffError(err)) {
            return {
              ok: false,
              problem: `${row.flow} still refuses it: ${err instanceof Error ? err.message : String(err)}`,
            };
          }
          throw err;
        }
      }),
  };
}

/** The reply to `/signoff deadletters [replay <id>]`; admins only (SIGNOFF_ADMINS). */
export async function answerDeadLetters(
  replayId: string | null,
  user: string,
  deps: { admins?: ReadonlySet<string>; deadLetters?: DeadLetterControl },
): Promise<CommandReply> {
  const say = (text: string, quote?: string): CommandReply => ({
    visibility: 'ephemeral',
    notice: quote === undefined ? { text } : { text, quote },
  });
  if (!deps.admins?.has(user)) return say('only an admin (SIGNOFF_ADMINS) can see or replay webhook dead letters');
  if (!deps.deadLetters) return say('webhooks are not served by this bot, so there are no dead letters');
  if (replayId === null) {
    const rows = await deps.deadLetters.list(LISTED);
    if (rows.length === 0) return say('no webhook dead letters waiting');
    // Reasons quote the sender's data and a schema's words: shown as a quote, never as our text.
    const lines = rows.map(
      (r) =>
        `${r.id} · ${r.source} ${r.event ?? '(unreadable)'} → ${r.flow || '-'} · ${r.receivedAt.toISOString().slice(0, 16)} · body sha256 ${r.bodySha256.slice(0, 12)}: ${r.reason}`,
    );
    return say(
      `webhook dead letters (newest first; /signoff deadletters replay <id> once the flow is fixed):`,
      lines.join('\n'),
    );
  }
  const outcome = await deps.deadLetters.replay(replayId, user);
  if (!outcome.ok) return say(`dead letter ${replayId} not replayed:`, outcome.problem);
  const who = /^[A-Za-z0-9._-]{1,64}$/.test(user) ? `<@${user}>` : 'someone';
  return {
    visibility: 'channel',
    notice: { text: `${who} replayed dead letter ${replayId}: ${outcome.flow} · run \`${outcome.runId}\`` },
  };
}
