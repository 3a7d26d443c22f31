/**
 * GET /metrics (issue 15): the bot as main.ts assembles it (engine, review desk,
 * web chat, model steps through the openai SDK against the fake OpenAI server,
 * zendesk.reply against the fake helpdesk, the webhook ingress) on real
 * Postgres, with one `Metrics` handed to every part. Each test scrapes over
 * HTTP before and after driving flows/ticket-triage.flow.ts and asserts that
 * what should have moved moved by exactly that much; the dashboard in
 * docs/operations.md may name only metrics the scrape has.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ticketTriage from '../../../flows/ticket-triage.flow.ts';
import { readConfig, type Config } from '../../../src/config.ts';
import { startHttpServer, type HttpServer, type Route } from '../../../src/ops/http.ts';
import { silentLogger } from '../../../src/ops/log.ts';
import { metricsRoute } from '../../../src/ops/metrics-route.ts';
import { Metrics } from '../../../src/ops/metrics.ts';
import { createStepRuntime, type StepRuntime } from '../../../src/steps/runtime.ts';
import { webhookRoute } from '../../../src/triggers/webhooks/ingress.ts';
import { signWebhook } from '../../../src/triggers/webhooks/sign.ts';
import { deploy, until, type Deployment, type PlatformDriver } from '../../contract/chat-port.contract.ts';
import { makeConsoleDriver } from '../../contract/console-driver.ts';
import { startFakeOpenAI, type FakeOpenAI } from '../../fakes/openai-server.ts';
import { startFakeTools, ZENDESK_AGENT, type FakeTools } from '../../fakes/tool-servers.ts';
import { useTestDb } from '../../helpers/db.ts';
import { labelValues, scrape, valueOf, type Family } from './metrics-scrape.ts';

const db = useTestDb({ max: 20 });
const OPENAI_KEY = 'sk-test-not-a-real-key-000000';
const METRICS_TOKEN = 'metrics-token-0123456789abcdef';
const ZENDESK_SECRET = 'zendesk-webhook-secret';
const FLOW = 'ticket-triage';
let model: FakeOpenAI;
let helpdesk: FakeTools;
let driver: PlatformDriver;
let config: Readonly<Config>;
let metrics: Metrics;
/** A second registry on the same database whose gauges are read at most once a minute. */
let cached: Metrics;
let steps: StepRuntime;
let app: Deployment;
let http: HttpServer;
let cachedHttp: HttpServer;
let base: string;
const runIds: string[] = [];

beforeAll(async () => {
  [model, helpdesk] = await Promise.all([
    startFakeOpenAI({ apiKey: OPENAI_KEY, models: ['test-cheap', 'test-strong'] }),
    startFakeTools(),
  ]);
  driver = await makeConsoleDriver(db);
  config = readConfig({
    OPENAI_API_KEY: OPENAI_KEY,
    OPENAI_BASE_URL: model.url,
    MODEL_CHEAP: 'test-cheap',
    MODEL_STRONG: 'test-strong',
    MODEL_PRICES: JSON.stringify({
      'test-cheap': { inputPerMTok: 0.4, outputPerMTok: 1.6 },
      'test-strong': { inputPerMTok: 2, outputPerMTok: 8 },
    }),
    MODEL_RPM: '0',
    MODEL_TPM: '0',
    TOOL_RPM: '0',
    ZENDESK_URL: helpdesk.baseUrl,
    ZENDESK_EMAIL: ZENDESK_AGENT.email,
    ZENDESK_TOKEN: ZENDESK_AGENT.apiToken,
    WEBHOOK_ZENDESK_SECRET: ZENDESK_SECRET,
    METRICS_TOKEN,
  });
  // statsCacheMs 0: every scrape reads the gauges afresh, so the test sees each change.
  metrics = new Metrics({ sql: db.sql, processMetrics: true, statsCacheMs: 0 });
  cached = new Metrics({ sql: db.sql, statsCacheMs: 60_000 });
  steps = createStepRuntime({ config, sql: db.sql, log: silentLogger, metrics });
  app = await deploy(db, driver, {
    flows: [ticketTriage],
    services: steps.services,
    describeAction: steps.describeAction,
    metrics,
  });
  const webhooks = webhookRoute({ settings: config.webhooks, engine: app.engine, channel: driver.channel, metrics });
  const serve = (m: Metrics, routes: Route[] = []) =>
    startHttpServer({ port: 0, host: '127.0.0.1', sql: db.sql, routes: [metricsRoute(m, config.metrics), ...routes] });
  [http, cachedHttp] = await Promise.all([serve(metrics, [webhooks]), serve(cached)]);
  base = `http://127.0.0.1:${http.port}`;
});
afterAll(async () => {
  await Promise.all([http?.close(), cachedHttp?.close()]);
  await app?.stop();
  await steps?.stop();
  await driver?.close();
  await Promise.all([model?.close(), helpdesk?.close()]);
});

const read = () => scrape(`${base}/metrics`, METRICS_TOKEN);
const readCached = () => scrape(`http://127.0.0.1:${cachedHttp.port}/metrics`, METRICS_TOKEN);

/** How much each of `series` moved between two scrapes. */
function moved(before: Map<string, Family>, after: Map<string, Family>, series: [string, Record<string, string>][]) {
  return series.map(([name, labels]) => [name, labels, valueOf(after, name, labels) - valueOf(before, name, labels)]);
}

const zendeskTicket = (id: string) => ({
  type: 'zen:event-type:ticket.created',
  id: `evt-${id}`,
  detail: { id, subject: `Charged twice ${id}`, description: 'I was charged twice for March.' },
});

async function postZendesk(body: unknown, opts: { secret?: string; nowMs?: number } = {}): Promise<Response> {
  const raw = Buffer.from(JSON.stringify(body));
  const signed = await signWebhook({
    preset: 'zendesk',
    source: 'zendesk',
    secret: opts.secret ?? ZENDESK_SECRET,
    body: raw,
    ...(opts.nowMs ? { nowMs: opts.nowMs } : {}),
  });
  return fetch(base + signed.path, { method: 'POST', headers: signed.headers, body: raw });
}

/** Starts a triage with a signed Zendesk webhook, approves its card as bob, waits until it is done. */
async function triageThroughWebhook(ticketId: string, whilePending?: () => Promise<void>): Promise<string> {
  // The ticket as Zendesk holds it: ticket-triage reads it (zendesk.get-ticket) before drafting.
  const { subject, description } = zendeskTicket(ticketId).detail;
  const comment = { id: 1, type: 'Comment' as const, author_id: 1, body: description, plain_body: description };
  helpdesk.state.tickets.set(ticketId, {
    status: 'new',
    priority: null,
    tags: [],
    subject,
    comments: [{ ...comment, public: true, created_at: new Date().toISOString() }],
  });
  expect((await postZendesk(zendeskTicket(ticketId))).status).toBe(200);
  const runId = await until(`the run of ticket ${ticketId}`, async () => {
    const [run] = await db.sql<{ id: string }[]>`SELECT id FROM runs WHERE input->>'ticketId' = ${ticketId}`;
    return run?.id;
  });
  runIds.push(runId);
  const card = await until(
    `the card of ${runId}`,
    async () => (await driver.cards(driver.channel)).find((c) => c.runId === runId && c.status === 'pending'),
    20_000,
  );
  await whilePending?.();
  expect(await driver.click('bob', card, 'approve')).toMatchObject({ kind: 'ok' });
  await app.engine.waitFor(runId, ['done'], { timeoutMs: 20_000 });
  return runId;
}

/** The model's answers: a triage for the classify schema, a reply for the draft. */
function answer(body: any): unknown {
  const name: string = body.response_format.json_schema.name;
  return name.endsWith('classify') ? { category: 'billing', urgency: 'high' } : { reply: 'We refunded it.' };
}

describe('GET /metrics after a ticket-triage run', () => {
  it('counts the run, times every step and the decision, and adds up the model tokens and cost', async () => {
    model.reset();
    model.answer = answer;
    model.always({ kind: 'usage', prompt: 1000, completion: 500 });
    const before = await read();
    // The loaded flow's run counters are there at 0 before its first run, so rate() has a series.
    const finished = before.get('signoff_runs_finished_total')!.samples.filter((x) => x.labels.flow === FLOW);
    expect(finished.map((x) => [x.labels.status, x.value])).toEqual([
      ['done', 0],
      ['failed', 0],
      ['cancelled', 0],
      ['parked', 0],
    ]);
    const cachedBefore = await readCached();
    expect(valueOf(cachedBefore, 'signoff_reviews_pending')).toBe(0);
    let pending: Map<string, Family> | null = null;
    let cachedPending: Map<string, Family> | null = null;
    await triageThroughWebhook('4242', async () => {
      pending = await read();
      cachedPending = await readCached();
    });
    const after = await read();

    const step = (name: string, kind = 'step') => ({ flow: FLOW, step: name, kind });
    expect(
      moved(before, after, [
        ['signoff_runs_started_total', { flow: FLOW }],
        ['signoff_runs_finished_total', { flow: FLOW, status: 'done' }],
        ['signoff_runs_finished_total', { flow: FLOW, status: 'failed' }],
        ['signoff_step_duration_seconds_count', step('classify')],
        ['signoff_step_duration_seconds_count', step('draft')],
        ['signoff_step_duration_seconds_count', step('replyReview', 'review')],
        ['signoff_step_duration_seconds_count', step('send')],
        ['signoff_step_retries_total', { flow: FLOW }],
        ['signoff_step_failures_total', { flow: FLOW, kind: 'step' }],
        ['signoff_review_time_to_decision_seconds_count', { flow: FLOW, outcome: 'approved' }],
        ['signoff_model_calls_total', { route: 'cheap', model: 'test-cheap', outcome: 'ok' }],
        ['signoff_model_calls_total', { route: 'strong', model: 'test-strong', outcome: 'ok' }],
        ['signoff_model_tokens_total', { type: 'input' }],
        ['signoff_model_tokens_total', { type: 'output' }],
        ['signoff_webhook_rejections_total', {}],
        ['signoff_provider_rate_limited_total', {}],
      ]),
    ).toEqual([
      ['signoff_runs_started_total', { flow: FLOW }, 1],
      ['signoff_runs_finished_total', { flow: FLOW, status: 'done' }, 1],
      ['signoff_runs_finished_total', { flow: FLOW, status: 'failed' }, 0],
      ['signoff_step_duration_seconds_count', step('classify'), 1],
      ['signoff_step_duration_seconds_count', step('draft'), 1],
      ['signoff_step_duration_seconds_count', step('replyReview', 'review'), 1],
      ['signoff_step_duration_seconds_count', step('send'), 1],
      ['signoff_step_retries_total', { flow: FLOW }, 0],
      ['signoff_step_failures_total', { flow: FLOW, kind: 'step' }, 0],
      ['signoff_review_time_to_decision_seconds_count', { flow: FLOW, outcome: 'approved' }, 1],
      ['signoff_model_calls_total', { route: 'cheap', model: 'test-cheap', outcome: 'ok' }, 1],
      ['signoff_model_calls_total', { route: 'strong', model: 'test-strong', outcome: 'ok' }, 1],
      ['signoff_model_tokens_total', { type: 'input' }, 2000],
      ['signoff_model_tokens_total', { type: 'output' }, 1000],
      ['signoff_webhook_rejections_total', {}, 0],
      ['signoff_provider_rate_limited_total', {}, 0],
    ]);
    // 1000 in × $0.4/M + 500 out × $1.6/M for the triage, 1000 × $2/M + 500 × $8/M for the draft: the ledger's figure.
    const cost = valueOf(after, 'signoff_model_cost_usd_total') - valueOf(before, 'signoff_model_cost_usd_total');
    const [ledger] = await db.sql<{ usd: number }[]>`
      SELECT sum(cost_usd)::float8 AS usd FROM model_calls WHERE run_id = ${runIds.at(-1)!}`;
    expect(cost).toBeCloseTo(0.0072, 9);
    expect(cost).toBeCloseTo(ledger!.usd, 9);
    // A step's time is what it took, not 0: the sum moved by more than nothing.
    expect(valueOf(after, 'signoff_step_duration_seconds_sum', step('send'))).toBeGreaterThan(0);
    // While the card waited, one review was pending and read from the database; the cached registry still said 0.
    expect(valueOf(pending!, 'signoff_reviews_pending')).toBe(1);
    expect(valueOf(cachedPending!, 'signoff_reviews_pending')).toBe(0);
    expect(valueOf(after, 'signoff_reviews_pending')).toBe(0);
    expect(valueOf(after, 'signoff_jobs_oldest_due_age_seconds')).toBeGreaterThanOrEqual(0);
    expect(valueOf(after, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
  });

  it('counts 429s from the model and the helpdesk by provider, and the retries they caused', async () => {
    model.reset();
    model.answer = answer;
    // The first model call (the triage) and the first helpdesk call (reading the ticket) are rate limited.
    model.next({ kind: 'status', status: 429, code: 'rate_limit_exceeded', retryAfterMs: 50 });
    helpdesk.next({ status: 429, retryAfter: 1 });
    const before = await read();
    await triageThroughWebhook('4343');
    const after = await read();
    const step = (name: string) => ({ flow: FLOW, step: name, kind: 'step' });
    expect(
      moved(before, after, [
        ['signoff_provider_rate_limited_total', { provider: 'openai' }],
        ['signoff_provider_rate_limited_total', { provider: 'zendesk' }],
        ['signoff_provider_retries_total', { provider: 'openai', reason: 'rate_limited' }],
        ['signoff_provider_retries_total', { provider: 'zendesk', reason: 'rate_limited' }],
        ['signoff_step_retries_total', { ...step('classify'), reason: 'deferred' }],
        ['signoff_step_retries_total', { ...step('readTicket'), reason: 'deferred' }],
        ['signoff_step_duration_seconds_count', step('classify')],
        ['signoff_step_duration_seconds_count', step('readTicket')],
        ['signoff_step_duration_seconds_count', step('send')],
        ['signoff_model_calls_total', { route: 'cheap', outcome: 'error' }],
        ['signoff_runs_finished_total', { flow: FLOW, status: 'done' }],
      ]),
    ).toEqual([
      ['signoff_provider_rate_limited_total', { provider: 'openai' }, 1],
      ['signoff_provider_rate_limited_total', { provider: 'zendesk' }, 1],
      ['signoff_provider_retries_total', { provider: 'openai', reason: 'rate_limited' }, 1],
      ['signoff_provider_retries_total', { provider: 'zendesk', reason: 'rate_limited' }, 1],
      ['signoff_step_retries_total', { ...step('classify'), reason: 'deferred' }, 1],
      ['signoff_step_retries_total', { ...step('readTicket'), reason: 'deferred' }, 1],
      ['signoff_step_duration_seconds_count', step('classify'), 2],
      ['signoff_step_duration_seconds_count', step('readTicket'), 2],
      ['signoff_step_duration_seconds_count', step('send'), 1],
      ['signoff_model_calls_total', { route: 'cheap', outcome: 'error' }, 1],
      ['signoff_runs_finished_total', { flow: FLOW, status: 'done' }, 1],
    ]);
  });
});

describe('webhook rejections', () => {
  it('a bad signature, a timestamp from the future and an unknown source are each counted, and start nothing', async () => {
    const before = await read();
    expect((await postZendesk(zendeskTicket('5000'), { secret: 'not-the-secret' })).status).toBe(401);
    expect((await postZendesk(zendeskTicket('5001'), { nowMs: Date.now() + 3_600_000 })).status).toBe(401);
    const probe = await fetch(`${base}/webhooks/nosuchsource`, { method: 'POST', body: '{}' });
    expect(probe.status).toBe(404);
    const after = await read();
    expect(
      moved(before, after, [
        ['signoff_webhook_rejections_total', { source: 'zendesk', reason: 'signature' }],
        ['signoff_webhook_rejections_total', { source: 'zendesk', reason: 'stale' }],
        ['signoff_webhook_rejections_total', { source: 'unknown', reason: 'unknown_source' }],
        ['signoff_webhook_rejections_total', {}],
        ['signoff_runs_started_total', {}],
      ]),
    ).toEqual([
      ['signoff_webhook_rejections_total', { source: 'zendesk', reason: 'signature' }, 1],
      ['signoff_webhook_rejections_total', { source: 'zendesk', reason: 'stale' }, 1],
      ['signoff_webhook_rejections_total', { source: 'unknown', reason: 'unknown_source' }, 1],
      ['signoff_webhook_rejections_total', {}, 3],
      ['signoff_runs_started_total', {}, 0],
    ]);
    // The sender's path segment never becomes a label.
    expect(labelValues(after).some((l) => l.value.includes('nosuchsource'))).toBe(false);
    const [n] = await db.sql<
      { n: number }[]
    >`SELECT count(*)::int AS n FROM runs WHERE input->>'ticketId' IN ('5000', '5001')`;
    expect(n!.n).toBe(0);
  });
});

describe('label values stay bounded', () => {
  it('no label value is a run id, a UUID, a person, a channel or long text', async () => {
    expect(runIds.length).toBeGreaterThan(0);
    const labels = labelValues(await read());
    expect(labels.length).toBeGreaterThan(20);
    const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;
    const people = ['alice', 'bob', 'carol', driver.channel, ZENDESK_AGENT.email];
    const bad = labels.filter(
      (l) =>
        UUID.test(l.value) ||
        runIds.some((id) => l.value.includes(id)) ||
        people.includes(l.value) ||
        l.value.length > 80,
    );
    expect(bad).toEqual([]);
    // Whatever a caller hands in, a value shaped like an id is folded into `other`.
    const own = new Metrics();
    own.runStarted(runIds[0]!);
    own.webhookRejected(`x ${'y'.repeat(100)}`, 'schema');
    const text = await own.registry.metrics();
    expect(text).toContain('signoff_runs_started_total{flow="other"} 1');
    expect(text).toContain('signoff_webhook_rejections_total{source="other",reason="schema"} 1');
  });
});

describe('who may scrape', () => {
  it('asks for the bearer token and refuses a wrong one; only GET and HEAD are served', async () => {
    const none = await fetch(`${base}/metrics`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await none.text()).not.toContain('signoff_');
    const wrong = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}x` } });
    expect(wrong.status).toBe(401);
    const post = await fetch(`${base}/metrics`, {
      method: 'POST',
      headers: { authorization: `Bearer ${METRICS_TOKEN}` },
    });
    expect(post.status).toBe(405);
  });

  it('with a HOST beyond loopback and no METRICS_TOKEN, /metrics is not served; a short token is refused', async () => {
    const publicHost = { HOST: '0.0.0.0', WEB_CHAT_AUTH: 'invite', WEB_CHAT_URL: 'https://chat.example.com' };
    expect(readConfig(publicHost).metrics).toEqual({ token: null, isServed: false });
    expect(readConfig({ ...publicHost, METRICS_TOKEN }).metrics).toEqual({ token: METRICS_TOKEN, isServed: true });
    expect(readConfig({}).metrics).toEqual({ token: null, isServed: true });
    expect(() => readConfig({ METRICS_TOKEN: 'short' })).toThrow(/METRICS_TOKEN must be at least 16/);
    const off = await startHttpServer({
      port: 0,
      host: '127.0.0.1',
      sql: db.sql,
      routes: [metricsRoute(metrics, readConfig(publicHost).metrics)],
    });
    try {
      expect((await fetch(`http://127.0.0.1:${off.port}/metrics`)).status).toBe(404);
    } finally {
      await off.close();
    }
  });
});

describe('the dashboard in docs/operations.md', () => {
  const section = readFileSync('docs/operations.md', 'utf8')
    .split(/^## /m)
    .find((s) => s.startsWith('Metrics'));

  it('queries only metrics the scrape has, and the docs list every signoff_ metric', async () => {
    expect(section).toBeDefined();
    const json = /```json\n([\s\S]*?)\n```/.exec(section!)?.[1];
    expect(json).toBeDefined();
    const dashboard = JSON.parse(json!) as { panels: { title: string; targets?: { expr: string }[] }[] };
    const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
    expect(exprs.length).toBeGreaterThanOrEqual(8);
    const used = new Set(exprs.flatMap((e) => e.match(/\b(?:signoff|process|nodejs)_[a-z0-9_]+/g) ?? []));
    const scraped = await read();
    const missing = [...used].filter(
      (name) => !scraped.has(name) && !scraped.has(name.replace(/_(bucket|sum|count)$/, '')),
    );
    expect(missing).toEqual([]);
    const ours = [...scraped.keys()].filter((name) => name.startsWith('signoff_'));
    expect(ours.filter((name) => !section!.includes(`\`${name}\``))).toEqual([]);
  });
});
