/**
 * Webhooks end to end with the bot as a child process (`src/main.ts`), the web
 * chat as its chat, a real Postgres, and test/fakes/webhook-tools.ts as HubSpot
 * and Stripe: signed webhooks become review cards; refunds happen once.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signWebhook } from '../../src/triggers/webhooks/sign.ts';
import { until } from '../contract/chat-port.contract.ts';
import { startWebhookTools, type WebhookTools } from '../fakes/webhook-tools.ts';
import { startBot, stopBot, type BotProcess } from '../helpers/browser.ts';
import { useTestDb } from '../helpers/db.ts';

const db = useTestDb();
let tools: WebhookTools;
let bot: BotProcess;
let env: Record<string, string>;
const PUBLIC_URL = 'https://signoff.example.com';

beforeAll(async () => {
  tools = await startWebhookTools();
  env = {
    WEBHOOK_ZENDESK_SECRET: 'zendesk-e2e-secret',
    WEBHOOK_HUBSPOT_SECRET: 'hubspot-e2e-secret',
    WEBHOOK_STRIPE_SECRET: 'whsec_e2e',
    SIGNOFF_PUBLIC_URL: PUBLIC_URL,
    SIGNOFF_DEFAULT_CHANNEL: 'support',
    HUBSPOT_URL: tools.baseUrl,
    HUBSPOT_TOKEN: tools.hubspotToken,
    STRIPE_URL: tools.baseUrl,
    STRIPE_API_KEY: tools.stripeKey,
    ZENDESK_URL: '',
    OPENAI_API_KEY: '',
    OPENAI_BASE_URL: '',
    LOG_LEVEL: 'info',
  };
  bot = await startBot({ databaseUrl: db.url, schema: db.schema, env });
}, 60_000);
afterAll(async () => {
  await stopBot(bot);
  await tools?.close();
});

type Card = {
  kind: string;
  ref: string;
  card: { title: string; status: { kind: string }; reviewRef: string; version: number; runId: string };
};
const cards = async () =>
  ((await (await fetch(`${bot.url}/api/state`)).json()) as { messages: Card[] }).messages.filter(
    (m) => m.kind === 'card',
  );
async function sign(preset: 'hubspot' | 'stripe', body: unknown) {
  const bytes = Buffer.from(JSON.stringify(body));
  const signed = await signWebhook({
    preset,
    source: preset,
    secret: env[`WEBHOOK_${preset.toUpperCase()}_SECRET`]!,
    body: bytes,
    publicUrl: PUBLIC_URL,
  });
  return fetch(`${bot.url}${signed.path}`, { method: 'POST', headers: signed.headers, body: bytes });
}
async function click(user: string, card: Card) {
  const res = await fetch(`${bot.url}/api/action`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      user,
      channel: 'support',
      messageRef: card.ref,
      reviewRef: card.card.reviewRef,
      action: 'approve',
      version: card.card.version,
      deliveryId: randomUUID(),
    }),
  });
  return ((await res.json()) as { reply: { kind: string } }).reply.kind;
}

describe('webhooks with the bot as a process', () => {
  it('npm run webhook: a signed Zendesk ticket-created webhook becomes a ticket-triage card in the web chat', async () => {
    const cli = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/webhook.ts',
        'zendesk',
        'docs/webhooks/examples/zendesk.ticket-created.json',
        '--url',
        bot.url,
      ],
      {
        cwd: `${import.meta.dirname}/../..`,
        env: { ...process.env, ...env, DATABASE_URL: db.url },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    cli.stdout!.on('data', (c: Buffer) => void (out += c.toString()));
    cli.stderr!.on('data', (c: Buffer) => void (out += c.toString()));
    const code = await new Promise<number | null>((r) => cli.once('exit', r));
    expect([code, out]).toEqual([0, expect.stringMatching(/^200 \{"ok":true,"started":1/)]);
    const card = await until(
      'the ticket-triage card',
      async () => (await cards()).find((c) => c.card.title === 'Reply to "Charged twice for May"'),
      30_000,
    );
    const [run] = await db.sql`SELECT flow, input->>'ticketId' AS ticket FROM runs WHERE id = ${card.card.runId}`;
    expect(run).toEqual({ flow: 'ticket-triage', ticket: '35436' });
  }, 60_000);

  it('a HubSpot batch of 3 contacts gives 3 lead-qualification cards, each from the contact as HubSpot holds it', async () => {
    for (const id of ['51201', '51202', '51203']) {
      tools.contacts.set(id, {
        id,
        updatedAt: '2026-05-14T09:12:05Z',
        properties: {
          email: `lead-${id}@acme.example`,
          company: 'Acme',
          hs_lead_status: 'NEW',
          lifecyclestage: 'lead',
        },
      });
    }
    const batch = ['51201', '51202', '51203'].map((objectId, i) => ({
      eventId: 900 + i,
      subscriptionId: 2881778,
      portalId: 62515,
      appId: 1160452,
      occurredAt: 1778749923000 + i,
      subscriptionType: 'contact.creation',
      attemptNumber: 0,
      objectId: Number(objectId),
      changeFlag: 'CREATED',
      changeSource: 'FORM',
    }));
    expect((await sign('hubspot', batch)).status).toBe(200);
    const leadCards = await until(
      'three lead cards',
      async () => {
        const found = (await cards()).filter((c) => c.card.title.startsWith('New lead: '));
        return found.length === 3 ? found : undefined;
      },
      60_000,
    );
    expect(leadCards.map((c) => c.card.title).sort()).toEqual([
      'New lead: lead-51201@acme.example',
      'New lead: lead-51202@acme.example',
      'New lead: lead-51203@acme.example',
    ]);
    const reads = tools.calls.filter((c) => c.method === 'GET' && c.path.startsWith('/crm/v3/objects/contacts/'));
    expect(reads.map((c) => c.status)).toEqual([200, 200, 200]);
  }, 90_000);

  it("a Stripe dispute over the limit needs two finance approvals and refunds exactly once, though the first refund's response is lost", async () => {
    for (const id of ['fin-a', 'fin-b', 'fin-c']) {
      const res = await fetch(`${bot.url}/api/people`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id, displayName: id, groups: ['finance'] }),
      });
      expect(res.status).toBeLessThan(300);
    }
    tools.charges.set('ch_3PfB2aLkdIwHu7ix0kX8mP1c', 120_000);
    tools.loseNextRefundResponses(1);
    const event = {
      id: 'evt_e2e_dispute',
      object: 'event',
      type: 'charge.dispute.created',
      data: {
        object: {
          id: 'dp_1PfB2bLkdIwHu7ix8f0Oq9sM',
          object: 'dispute',
          amount: 120_000,
          charge: 'ch_3PfB2aLkdIwHu7ix0kX8mP1c',
          currency: 'usd',
          reason: 'product_not_received',
          status: 'warning_needs_response',
          is_charge_refundable: true,
        },
      },
    };
    expect((await sign('stripe', event)).status).toBe(200);
    expect((await sign('stripe', event)).status).toBe(200); // Stripe's retry of the same event: no second run
    const card = await until(
      'the refund card',
      async () => (await cards()).find((c) => c.card.title.startsWith('Refund 1200.00 USD')),
      30_000,
    );
    expect(await click('fin-a', card)).toBe('ok');
    const [one] = await db.sql`SELECT status FROM runs WHERE id = ${card.card.runId}`;
    expect(one!.status).toBe('waiting');
    expect(tools.calls.filter((c) => c.path === '/v1/refunds')).toHaveLength(0);
    const fresh = (await cards()).find((c) => c.card.runId === card.card.runId)!;
    expect(await click('fin-b', fresh)).toBe('ok');
    await until(
      'the run done',
      async () => (await db.sql`SELECT status FROM runs WHERE id = ${card.card.runId}`)[0]?.status === 'done',
      60_000,
    );
    expect(tools.refunds).toEqual([
      expect.objectContaining({ charge: 'ch_3PfB2aLkdIwHu7ix0kX8mP1c', amount: 120_000 }),
    ]);
    const posts = tools.calls.filter((c) => c.path === '/v1/refunds');
    expect(posts.map((c) => c.status)).toEqual(['lost', 200]);
    expect(new Set(posts.map((c) => c.key)).size).toBe(1);
    expect(await db.sql`SELECT 1 FROM runs WHERE flow = 'refund-approval'`).toHaveLength(1);
  }, 120_000);
});
