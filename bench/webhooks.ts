/**
 * Issue 13's webhook phase: 1,000 signed webhooks at the running bot as fast as
 * it takes them (32 at a time), over the presets whose events start a flow
 * (Zendesk and Linear → ticket-triage, HubSpot → lead-qualification, Stripe →
 * refund-approval), 10% of them exact resends of an earlier delivery (a
 * provider's retry: same bytes, same headers). Prints accepted per second and
 * the acknowledgement p50/p99, and checks that every request got 200 and that
 * the number of runs equals the number of distinct deliveries. The bot is
 * `node --import tsx src/main.ts` on a fresh database, model offline, tools local.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { connect } from '../src/store/client.ts';
import { signWebhook, type SignedRequest } from '../src/triggers/webhooks/sign.ts';
import type { PresetName } from '../src/triggers/webhooks/types.ts';
import { startBot, stopBot, type Bot } from './bot.ts';
import { dropDatabase, freshDatabase } from './db.ts';
import { latency, pool, type Latency } from './phases.ts';

const DATABASE = 'peer_signoff_webhooks';
const SCHEMA = 'signoff';
const CONCURRENCY = 32;
const DUPLICATE_SHARE = 0.1;
const PUBLIC_URL = 'https://signoff.bench.example';
const SECRETS: Partial<Record<PresetName, string>> = {
  zendesk: 'bench-zendesk',
  linear: 'bench-linear',
  hubspot: 'bench-hubspot',
  stripe: 'whsec_bench',
};

export interface WebhookResult {
  sent: number;
  distinct: number;
  duplicates: number;
  accepted: number;
  acceptedPerSec: number;
  ack: Latency;
  runs: number;
  ok: boolean;
  problems: string[];
}

interface Prepared {
  signed: SignedRequest;
  body: Buffer;
}

/** One realistic event per preset, numbered `i`. */
function payload(preset: PresetName, i: number, nowMs: number): unknown {
  switch (preset) {
    case 'zendesk':
      return {
        type: 'zen:event-type:ticket.created',
        id: randomUUID(),
        subject: `zen:ticket:${i}`,
        time: new Date(nowMs).toISOString(),
        detail: {
          id: String(100_000 + i),
          subject: `Bench ticket ${i}`,
          description: `Order ${i} arrived damaged.`,
          requester_id: '8447388090494',
        },
        event: {},
      };
    case 'linear':
      return {
        action: 'create',
        type: 'Issue',
        createdAt: new Date(nowMs).toISOString(),
        webhookTimestamp: nowMs,
        data: {
          id: randomUUID(),
          identifier: `SUP-${i}`,
          title: `Bench issue ${i}`,
          description: 'Steps to reproduce…',
        },
      };
    case 'hubspot':
      return [
        {
          eventId: i,
          subscriptionId: 2881778,
          portalId: 62515,
          appId: 1160452,
          occurredAt: nowMs + i,
          subscriptionType: 'contact.creation',
          attemptNumber: 0,
          objectId: 50_000 + i,
          changeFlag: 'CREATED',
          changeSource: 'FORM',
        },
      ];
    default:
      return {
        id: `evt_bench${i}`,
        object: 'event',
        type: 'charge.dispute.created',
        data: {
          object: {
            id: `dp_bench${i}`,
            object: 'dispute',
            amount: 1_500,
            charge: `ch_bench${i}`,
            currency: 'usd',
            reason: 'duplicate',
            status: 'warning_needs_response',
            is_charge_refundable: true,
          },
        },
      };
  }
}

async function prepare(distinct: number): Promise<Prepared[]> {
  const presets = Object.keys(SECRETS) as PresetName[];
  const nowMs = Date.now();
  return Promise.all(
    Array.from({ length: distinct }, async (_, i) => {
      const preset = presets[i % presets.length]!;
      const body = Buffer.from(JSON.stringify(payload(preset, i, nowMs)));
      return {
        body,
        signed: await signWebhook({
          preset,
          source: preset,
          secret: SECRETS[preset]!,
          body,
          publicUrl: PUBLIC_URL,
          nowMs,
        }),
      };
    }),
  );
}

export async function webhookTrial(
  serverUrl: string,
  total: number,
  progress: (m: string) => void,
): Promise<WebhookResult> {
  const duplicates = Math.round(total * DUPLICATE_SHARE);
  const distinct = total - duplicates;
  const dbUrl = await freshDatabase(serverUrl, DATABASE);
  const sql = connect({ url: dbUrl, schema: SCHEMA, max: 2 });
  let bot: Bot | null = null;
  try {
    bot = await startBot(dbUrl, SCHEMA, {
      SIGNOFF_PUBLIC_URL: PUBLIC_URL,
      OPENAI_API_KEY: '',
      OPENAI_BASE_URL: '',
      ...Object.fromEntries(Object.entries(SECRETS).map(([p, s]) => [`WEBHOOK_${p.toUpperCase()}_SECRET`, s])),
    });
    const prepared = await prepare(distinct);
    // Each resend repeats an earlier delivery, sent after it in the order.
    const order = [
      ...prepared.map((_, i) => i),
      ...Array.from({ length: duplicates }, (_, k) => Math.floor((k * distinct) / duplicates)),
    ];
    const samples: number[] = [];
    const statuses = new Map<number, number>();
    progress(`webhooks: ${total} signed deliveries (${duplicates} resends), ${CONCURRENCY} at a time`);
    const { ms } = await pool(order.length, CONCURRENCY, async (n) => {
      const { signed, body } = prepared[order[n]!]!;
      const t0 = performance.now();
      const res = await fetch(`${bot!.url}${signed.path}`, { method: 'POST', headers: signed.headers, body });
      await res.arrayBuffer();
      samples.push(performance.now() - t0);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    });
    const [row] = await sql<
      { n: number }[]
    >`SELECT count(*)::int AS n FROM runs WHERE trigger->>'source' LIKE 'webhook:%'`;
    const runs = row!.n;
    const accepted = statuses.get(200) ?? 0;
    const problems: string[] = [];
    if (accepted !== total)
      problems.push(
        `webhooks: ${total - accepted} of ${total} not answered 200 (${JSON.stringify(Object.fromEntries(statuses))})`,
      );
    if (runs !== distinct) problems.push(`webhooks: ${runs} runs for ${distinct} distinct deliveries`);
    return {
      sent: total,
      distinct,
      duplicates,
      accepted,
      acceptedPerSec: (accepted / ms) * 1000,
      ack: latency(samples.sort((a, b) => a - b)),
      runs,
      ok: problems.length === 0,
      problems,
    };
  } finally {
    await stopBot(bot);
    await sql.end({ timeout: 5 });
    await dropDatabase(serverUrl, DATABASE).catch(() => {});
  }
}
