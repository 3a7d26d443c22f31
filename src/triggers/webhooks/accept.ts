/**
 * Persist, then acknowledge: the deliveries of one verified request are
 * claimed in `inbox` and their runs started in ONE transaction, so a delivery
 * is either recorded with its runs or not at all (the sender then retries).
 * A claimed key is never started again: a retry, a redelivery or a replay an
 * hour later starts nothing (RELIABILITY 23). An event a flow cannot take (its
 * mapping throws, or its schema refuses it) becomes a dead letter in the same
 * transaction (RELIABILITY 26); the other events of a batch still start.
 * A delivery that says which version of a record it carries (Salesforce) moves
 * the record's version forward in the same transaction, and one no newer than
 * what was already seen is acknowledged and starts nothing (RELIABILITY 25).
 */
import type { WebhookTrigger } from '../../engine/flow.ts';
import type { RunTx } from '../../engine/step-host.ts';
import { isSignoffError } from '../../errors.ts';
import { advanceRecordVersion } from '../../store/record-versions.ts';
import { claimDelivery, insertDeadLetter, noteDeliveryRun } from '../../store/webhooks.ts';
import type { Delivery, RecordVersion, SourceSettings } from './types.ts';

/** A flow as ingress sees it: its id and what starts it. */
export interface WebhookFlow {
  id: string;
  triggers: readonly { kind: string }[];
}

export interface AcceptContext {
  source: SourceSettings;
  bodySha256: string;
  /** Where the cards of these runs go, and whose runs they are. */
  channel: string;
  tenant: string;
}

export interface Accepted {
  started: number;
  duplicates: number;
  ignored: number;
  deadLetters: number;
  /** Deliveries older than (or as old as) a version already seen of their record: acknowledged, nothing started. */
  stale: number;
  runIds: string[];
  /** The stale deliveries, for the log. */
  staleDeliveries: (RecordVersion & { key: string })[];
}

/** The flows a source's event starts, with the trigger that matched. */
export function triggersFor(
  flows: readonly WebhookFlow[],
  source: SourceSettings,
  event: string,
): { flowId: string; trigger: WebhookTrigger }[] {
  const found: { flowId: string; trigger: WebhookTrigger }[] = [];
  for (const flow of flows) {
    for (const t of flow.triggers) {
      if (t.kind !== 'webhook') continue;
      const trigger = t as WebhookTrigger;
      const isSource = trigger.source === source.name || trigger.source === source.preset;
      if (isSource && trigger.events.includes(event)) found.push({ flowId: flow.id, trigger });
    }
  }
  return found;
}

export async function acceptDeliveries(
  rt: RunTx,
  flows: readonly WebhookFlow[],
  deliveries: readonly Delivery[],
  replayKey: string | undefined,
  ctx: AcceptContext,
): Promise<Accepted> {
  const inboxSource = `webhook:${ctx.source.name}`;
  const out: Accepted = {
    started: 0,
    duplicates: 0,
    ignored: 0,
    deadLetters: 0,
    stale: 0,
    runIds: [],
    staleDeliveries: [],
  };
  // The signed bytes' own key: a captured request replayed under a new (unsigned) delivery id is still a duplicate.
  if (replayKey && !(await claimDelivery(rt.sql, `${inboxSource}:signed`, replayKey, ctx.bodySha256))) {
    return { ...out, duplicates: deliveries.length };
  }
  for (const delivery of deliveries) {
    if (!(await claimDelivery(rt.sql, inboxSource, delivery.key, ctx.bodySha256))) {
      out.duplicates++;
      continue;
    }
    const { version } = delivery;
    if (version && !(await advanceRecordVersion(rt.sql, inboxSource, version.recordId, version.at, delivery.key))) {
      out.stale++;
      out.staleDeliveries.push({ key: delivery.key, ...version });
      continue;
    }
    const targets = triggersFor(flows, ctx.source, delivery.event);
    if (targets.length === 0) out.ignored++;
    for (const { flowId, trigger } of targets) await startOne(rt, flowId, trigger, delivery, ctx, out);
  }
  return out;
}

async function startOne(
  rt: RunTx,
  flowId: string,
  trigger: WebhookTrigger,
  delivery: Delivery,
  ctx: AcceptContext,
  out: Accepted,
) {
  const deadLetter = (reason: string) =>
    insertDeadLetter(rt.sql, {
      source: ctx.source.name,
      deliveryKey: delivery.key,
      event: delivery.event,
      flow: flowId,
      bodySha256: ctx.bodySha256,
      payload: delivery.payload,
      reason,
    }).then(() => void out.deadLetters++);
  let input: unknown;
  try {
    input = trigger.input(delivery.payload);
  } catch (err) {
    return deadLetter(
      `the trigger of ${flowId} could not map the payload: ${err instanceof Error ? err.message : String(err)}`.slice(
        0,
        1_000,
      ),
    );
  }
  try {
    const started = await rt.start(flowId, input, {
      triggerKey: `${`webhook:${ctx.source.name}`}:${delivery.key}:${flowId}`,
      trigger: { source: `webhook:${ctx.source.name}`, channel: ctx.channel, tenant: ctx.tenant },
    });
    if (started.isNew) {
      out.started++;
      out.runIds.push(started.runId);
      await noteDeliveryRun(rt.sql, `webhook:${ctx.source.name}`, delivery.key, started.runId);
    } else {
      out.duplicates++;
    }
  } catch (err) {
    // The input is checked before anything is written, so the transaction is intact.
    if (isSignoffError(err, 'input_invalid')) return deadLetter(err.message.slice(0, 1_000));
    throw err;
  }
}
