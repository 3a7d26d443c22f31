/**
 * The webhook ingress on a real HTTP server and a real engine on a test
 * schema, with flows that declare webhook triggers. Requests are signed by
 * src/triggers/webhooks/sign.ts (the providers' own signers where they ship one)
 * and sent with fetch over loopback.
 */
import { z } from 'zod';
import { Engine } from '../../../src/engine/engine.ts';
import { defineFlow, setup, step } from '../../../src/authoring/index.ts';
import { startHttpServer, type HttpServer } from '../../../src/ops/http.ts';
import { createLogger } from '../../../src/ops/log.ts';
import { webhookRoute } from '../../../src/triggers/webhooks/ingress.ts';
import { readWebhookSettings } from '../../../src/triggers/webhooks/settings.ts';
import { signWebhook, type SignInput } from '../../../src/triggers/webhooks/sign.ts';
import type { TestDb } from '../../helpers/db.ts';

/** A flow that records what it was started with and ends. */
function recordingFlow(id: string, triggers: Parameters<typeof defineFlow>[0]['triggers'], input: z.ZodType<any>) {
  const note = step(async () => ({ noted: true }));
  const machine = setup({
    types: {} as { input: unknown; context: { input: unknown } },
    actors: { note },
  }).createMachine({
    id,
    context: ({ input }) => ({ input }),
    initial: 'noting',
    states: { noting: { invoke: { src: 'note', onDone: 'done' } }, done: { type: 'final' } },
  });
  return defineFlow({ id, title: id, input, triggers, machine });
}

export const TICKET = z.object({ ticketId: z.string().regex(/^\d+$/), subject: z.string().min(1) });

export const flows = [
  recordingFlow(
    'on-ticket',
    [
      {
        kind: 'webhook',
        source: 'zendesk',
        events: ['ticket.created'],
        input: (p: { detail: { id: string; subject: string } }) => ({
          ticketId: p.detail.id,
          subject: p.detail.subject,
        }),
      },
    ],
    TICKET,
  ),
  recordingFlow(
    'on-contact',
    [
      {
        kind: 'webhook',
        source: 'hubspot',
        events: ['contact.creation'],
        input: (p: { objectId: number }) => ({ contactId: String(p.objectId) }),
      },
    ],
    z.object({ contactId: z.string() }),
  ),
  recordingFlow(
    'on-any',
    [
      {
        kind: 'webhook',
        source: 'github',
        events: ['issues.opened'],
        input: (p: { issue: { number: number } }) => ({ ref: `gh-${p.issue.number}` }),
      },
      {
        kind: 'webhook',
        source: 'jira',
        events: ['issue_created'],
        input: (p: { issue: { key: string } }) => ({ ref: p.issue.key }),
      },
      {
        kind: 'webhook',
        source: 'intercom',
        events: ['conversation.user.created'],
        input: (p: { id: string }) => ({ ref: p.id }),
      },
      {
        kind: 'webhook',
        source: 'linear',
        events: ['issue.create'],
        input: (p: { data: { id: string } }) => ({ ref: p.data.id }),
      },
      {
        kind: 'webhook',
        source: 'stripe',
        events: ['charge.dispute.created'],
        input: (p: { id: string }) => ({ ref: p.id }),
      },
      {
        kind: 'webhook',
        source: 'standard',
        events: ['invoice.paid'],
        input: (p: { data: { id: string } }) => ({ ref: p.data.id }),
      },
      {
        kind: 'webhook',
        source: 'salesforce',
        events: ['lead'],
        input: (p: { fields: { Id: string } }) => ({ ref: p.fields.Id }),
      },
    ],
    z.object({ ref: z.string().min(1) }),
  ),
];

export const ORG_ID = '00D5e000000KQ2eEAG';
export const SF_PATH_SECRET = 'sf-path-secret-0123456789abcdef';
export const ENV = {
  WEBHOOK_ZENDESK_SECRET: 'old-zendesk,zendesk-secret',
  WEBHOOK_HUBSPOT_SECRET: 'hubspot-secret',
  WEBHOOK_GITHUB_SECRET: 'github-secret',
  WEBHOOK_JIRA_SECRET: 'jira-secret',
  WEBHOOK_INTERCOM_SECRET: 'intercom-secret',
  WEBHOOK_LINEAR_SECRET: 'linear-secret',
  WEBHOOK_STRIPE_SECRET: 'whsec_stripe-secret',
  WEBHOOK_STANDARD_SECRET: `whsec_${Buffer.from('standard-webhooks-secret-32bytes').toString('base64')}`,
  WEBHOOK_SALESFORCE_SECRET: SF_PATH_SECRET,
  WEBHOOK_SALESFORCE_ORG_ID: ORG_ID,
};

export interface Harness {
  engine: Engine;
  http: HttpServer;
  base: string;
  publicUrl: string;
  logs: string[];
  stop(): Promise<void>;
}

/** `publicUrl` is what HubSpot is told to post to; the server itself listens on loopback (a proxy in between). */
export async function startHarness(
  db: TestDb,
  opts: { publicUrl?: string; nowMs?: () => number } = {},
): Promise<Harness> {
  const logs: string[] = [];
  const log = createLogger('debug', (line) => void logs.push(line));
  const engine = new Engine({ sql: db.sql, schema: db.schema, flows, pollMs: 100, log });
  await engine.start();
  const publicUrl = opts.publicUrl ?? 'https://signoff.example.com';
  const problems: string[] = [];
  const settings = readWebhookSettings(ENV, problems, publicUrl);
  if (problems.length > 0) throw new Error(problems.join('\n'));
  const route = webhookRoute({ settings, engine, channel: 'support', log, nowMs: opts.nowMs });
  const http = await startHttpServer({ port: 0, host: '127.0.0.1', sql: db.sql, routes: [route] });
  return {
    engine,
    http,
    base: `http://127.0.0.1:${http.port}`,
    publicUrl,
    logs,
    stop: async () => {
      await http.close();
      await engine.stop(1_000);
    },
  };
}

export const secretOf = (source: string) =>
  (ENV as Record<string, string>)[`WEBHOOK_${source.toUpperCase()}_SECRET`]!.split(',').at(-1)!;

/** Signs `body` as `preset` does and posts it; `tweak` may change the signed request before it is sent. */
export async function post(h: Harness, input: Omit<SignInput, 'secret' | 'body'> & { body: unknown; secret?: string }) {
  const body = Buffer.from(typeof input.body === 'string' ? input.body : JSON.stringify(input.body));
  const signed = await signWebhook({
    ...input,
    body,
    secret: input.secret ?? secretOf(input.source),
    publicUrl: input.publicUrl ?? h.publicUrl,
  });
  const res = await fetch(`${h.base}${signed.path}`, { method: 'POST', headers: signed.headers, body });
  return { status: res.status, text: await res.text(), headers: signed.headers, path: signed.path, body };
}

/** Sends exactly the bytes and headers of an earlier request again (a captured replay). */
export async function replay(
  h: Harness,
  earlier: { path: string; headers: Record<string, string>; body: Buffer },
  headers: Record<string, string> = {},
) {
  const res = await fetch(`${h.base}${earlier.path}`, {
    method: 'POST',
    headers: { ...earlier.headers, ...headers },
    body: earlier.body,
  });
  return { status: res.status, text: await res.text() };
}
