/**
 * Real webhook flows on real parts, for the tests beside this file: the
 * ingress on a loopback HTTP server, the engine and review desk on Postgres,
 * the web chat as the chat, the offline model, and test/fakes/webhook-tools.ts
 * as every tool API (Zendesk, Linear, HubSpot, Salesforce, Stripe), configured
 * as main.ts would read it from the environment.
 */
import type { Flow } from '../../../src/engine/flow.ts';
import { readConfig } from '../../../src/config.ts';
import { startHttpServer, type HttpServer } from '../../../src/ops/http.ts';
import { createLogger } from '../../../src/ops/log.ts';
import { createStepRuntime, type StepRuntime } from '../../../src/steps/runtime.ts';
import { webhookRoute } from '../../../src/triggers/webhooks/ingress.ts';
import { signWebhook } from '../../../src/triggers/webhooks/sign.ts';
import type { PresetName } from '../../../src/triggers/webhooks/types.ts';
import {
  deploy,
  until,
  type Deployment,
  type PlatformDriver,
  type SeenCard,
} from '../../contract/chat-port.contract.ts';
import { makeConsoleDriver } from '../../contract/console-driver.ts';
import { HUBSPOT_TOKEN, LINEAR_KEYS } from '../../fakes/linear-hubspot.ts';
import { SALESFORCE_TOKEN } from '../../fakes/salesforce.ts';
import { startWebhookTools, type WebhookTools } from '../../fakes/webhook-tools.ts';
import { ZENDESK_ACCOUNT } from '../../fakes/zendesk-tickets.ts';
import type { TestDb } from '../../helpers/db.ts';

export const SALESFORCE_ORG_ID = '00D5e000000KQ2eEAG';
const SECRETS: Record<string, string> = {
  WEBHOOK_ZENDESK_SECRET: 'zendesk-secret',
  WEBHOOK_LINEAR_SECRET: 'linear-secret',
  WEBHOOK_SALESFORCE_SECRET: 'sf-path-secret-0123456789abcdef',
  WEBHOOK_SALESFORCE_ORG_ID: SALESFORCE_ORG_ID,
};

export interface FlowHarness {
  tools: WebhookTools;
  driver: PlatformDriver;
  app: Deployment;
  logs: string[];
  /** Signs `body` as `preset` does and posts it; answers the status and body text. */
  post(preset: PresetName, body: unknown, deliveryId?: string): Promise<{ status: number; text: string }>;
  /** The id of the run whose input has `field` = `value`, once it exists. */
  runOf(field: string, value: string): Promise<string>;
  /** The run's pending card, once posted. */
  cardOf(runId: string): Promise<SeenCard>;
  stop(): Promise<void>;
}

export async function startFlowHarness(db: TestDb, flows: Flow<any>[]): Promise<FlowHarness> {
  const tools = await startWebhookTools({ hubspotToken: HUBSPOT_TOKEN });
  const driver = await makeConsoleDriver(db);
  const logs: string[] = [];
  const log = createLogger('debug', (line) => void logs.push(line));
  const config = readConfig({
    ...SECRETS,
    ZENDESK_URL: tools.baseUrl,
    ZENDESK_EMAIL: ZENDESK_ACCOUNT.email,
    ZENDESK_TOKEN: ZENDESK_ACCOUNT.apiToken,
    LINEAR_URL: tools.baseUrl,
    LINEAR_TOKEN: LINEAR_KEYS.apiKey,
    HUBSPOT_URL: tools.baseUrl,
    HUBSPOT_TOKEN,
    SALESFORCE_URL: tools.baseUrl,
    SALESFORCE_TOKEN,
    TOOL_RPM: '0',
  });
  const steps: StepRuntime = createStepRuntime({ config, sql: db.sql, log });
  const app = await deploy(db, driver, { flows, services: steps.services, describeAction: steps.describeAction });
  const route = webhookRoute({ settings: config.webhooks, engine: app.engine, channel: driver.channel, log });
  const http: HttpServer = await startHttpServer({ port: 0, host: '127.0.0.1', sql: db.sql, routes: [route] });
  return {
    tools,
    driver,
    app,
    logs,
    post: async (preset, body, deliveryId) => {
      const bytes = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
      const secret = SECRETS[`WEBHOOK_${preset.toUpperCase()}_SECRET`]!;
      const signed = await signWebhook({ preset, source: preset, secret, body: bytes, deliveryId, publicUrl: null });
      const res = await fetch(`http://127.0.0.1:${http.port}${signed.path}`, {
        method: 'POST',
        headers: signed.headers,
        body: bytes,
      });
      return { status: res.status, text: await res.text() };
    },
    runOf: (field, value) =>
      until(
        `the run with ${field}=${value}`,
        async () => (await db.sql`SELECT id FROM runs WHERE input->>${field} = ${value}`)[0]?.id as string | undefined,
      ),
    cardOf: (runId) =>
      until(
        `the card of ${runId}`,
        async () => (await driver.cards(driver.channel)).find((c) => c.runId === runId && c.status === 'pending'),
        20_000,
      ),
    stop: async () => {
      await http.close();
      await app.stop();
      await steps.stop();
      await driver.close();
      await tools.close();
    },
  };
}
