/**
 * The Linear, HubSpot and generic http.* connectors against fakes that refuse
 * what the real APIs refuse (test/fakes/linear-hubspot.ts cites each rule):
 * how each authenticates, how each says "slow down", and which of them honour
 * an idempotency key (none: so none is sent, and each tool's safety class says
 * what a retry may do).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SignoffError } from '../../../src/errors.ts';
import { createLogger } from '../../../src/ops/log.ts';
import { Pacer } from '../../../src/ops/pacing.ts';
import { builtinTools } from '../../../src/steps/tools/registry.ts';
import { ToolBox } from '../../../src/steps/tools/toolbox.ts';
import type { ToolScope, ToolSettings } from '../../../src/steps/tools/types.ts';
import {
  HUBSPOT_TOKEN,
  hubspotRateLimited,
  LINEAR_KEYS,
  linearRateLimited,
  startFakeTools,
  type FakeTools,
} from '../../fakes/tool-servers.ts';

let fake: FakeTools;
let pacers: Pacer[] = [];
let logLines: string[] = [];

beforeEach(async () => {
  fake = await startFakeTools();
  logLines = [];
});
afterEach(async () => {
  await Promise.all(pacers.map((p) => p.stop()));
  pacers = [];
  await fake.close();
  expect(logLines.join('\n')).not.toMatch(
    new RegExp(`${LINEAR_KEYS.apiKey}|${LINEAR_KEYS.oauthToken}|${HUBSPOT_TOKEN}`),
  );
});

function toolBox(connectors?: ToolSettings['connectors']) {
  const pacer = new Pacer();
  pacers.push(pacer);
  return new ToolBox({
    tools: builtinTools,
    settings: {
      connectors: connectors ?? {
        linear: { baseUrl: fake.baseUrl, token: LINEAR_KEYS.apiKey },
        hubspot: { baseUrl: fake.baseUrl, token: HUBSPOT_TOKEN },
      },
      egressAllowlist: [`127.0.0.1:${fake.port}`],
      perHostPerMinute: 0,
      callTimeoutMs: 1_000,
    },
    pacer,
    log: createLogger('debug', (line) => logLines.push(line)),
  });
}

function scope(jobKey = 'run-1:step:1'): ToolScope {
  return {
    runId: 'run-1',
    flowId: 'f',
    jobKey,
    attempt: 1,
    signal: new AbortController().signal,
    allowed: builtinTools.map((t) => t.name),
  };
}

async function failure(p: Promise<unknown>): Promise<SignoffError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  if (!(err instanceof SignoffError)) throw new Error(`expected a SignoffError, got ${String(err)}`);
  return err;
}

const lastAuth = () => fake.calls.at(-1)!.headers.authorization;

describe('Linear', () => {
  it('sends a personal API key as is (no Bearer), and Linear refuses the same key as Bearer', async () => {
    await toolBox().call('linear.update-issue', { issueId: 'ENG-1', priority: 2 }, scope());
    expect(lastAuth()).toBe(LINEAR_KEYS.apiKey);
    const asBearer = await failure(
      toolBox({ linear: { baseUrl: fake.baseUrl, token: `Bearer ${LINEAR_KEYS.apiKey}` } }).call(
        'linear.update-issue',
        { issueId: 'ENG-1', priority: 2 },
        scope(),
      ),
    );
    expect(asBearer.message).toMatch(/Authentication required/);
    expect(asBearer.details).toMatchObject({ retryable: false });
  });

  it('an OAuth access token given as "Bearer <token>" (.env.example) goes as Bearer and is accepted', async () => {
    const out = await toolBox({ linear: { baseUrl: fake.baseUrl, token: `Bearer ${LINEAR_KEYS.oauthToken}` } }).call(
      'linear.update-issue',
      { issueId: 'ENG-2', title: 'New title' },
      scope(),
    );
    expect(out).toMatchObject({ issueId: 'ENG-2', title: 'New title' });
    expect(lastAuth()).toBe(`Bearer ${LINEAR_KEYS.oauthToken}`);
  });

  it('RATELIMITED waits until X-RateLimit-Requests-Reset (epoch ms), and no Idempotency-Key is ever sent', async () => {
    fake.next(linearRateLimited(8_000));
    const err = await failure(toolBox().call('linear.comment', { issueId: 'ENG-3', body: 'Shipped' }, scope()));
    expect(err.details).toMatchObject({ retryable: true, defer: true });
    expect((err.details as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(6_000);
    expect((err.details as { retryAfterMs: number }).retryAfterMs).toBeLessThanOrEqual(8_000);
    expect(fake.state.issueComments).toHaveLength(0);
    expect(fake.calls.every((c) => c.key === null)).toBe(true);
  });
});

describe('HubSpot', () => {
  it('sends the private app token as Bearer; without it HubSpot answers 401 INVALID_AUTHENTICATION, a refusal', async () => {
    await toolBox().call(
      'hubspot.update-contact',
      { contactId: '7', properties: { lifecyclestage: 'customer' } },
      scope(),
    );
    expect(lastAuth()).toBe(`Bearer ${HUBSPOT_TOKEN}`);
    const wrong = await failure(
      toolBox({ hubspot: { baseUrl: fake.baseUrl, token: 'pat-revoked' } }).call(
        'hubspot.update-contact',
        { contactId: '7', properties: { lifecyclestage: 'lead' } },
        scope(),
      ),
    );
    expect(wrong.message).toMatch(/\(401\): Authentication credentials not found/);
    expect(wrong.details).toMatchObject({ retryable: false });
    expect(fake.state.contacts.get('7')!.lifecyclestage).toBe('customer');
  });

  it('a 429 (HubSpot sends no Retry-After) waits for the window its X-HubSpot-RateLimit-Interval-Milliseconds names', async () => {
    fake.next(hubspotRateLimited(10_000));
    const err = await failure(
      toolBox().call('hubspot.update-contact', { contactId: '8', properties: { phone: '1' } }, scope()),
    );
    expect(err.details).toMatchObject({ retryable: true, defer: true, retryAfterMs: 10_000 });
  });

  it('PATCH honours no idempotency key, so none is sent: a retry after a lost answer sets the same values again', async () => {
    fake.next({ kind: 'drop-after-accept' });
    const change = { contactId: '9', properties: { lifecyclestage: 'customer' } };
    await failure(toolBox().call('hubspot.update-contact', change, scope()));
    const out = await toolBox().call('hubspot.update-contact', change, scope());
    expect(out).toMatchObject({ contactId: '9' });
    expect(fake.calls.map((c) => c.key)).toEqual([null, null]);
    expect(fake.effects).toHaveLength(2); // applied twice, to the same end state: that is what `idempotent` promises
    expect(fake.state.contacts.get('9')!.lifecyclestage).toBe('customer');
    expect(builtinTools.find((t) => t.name === 'hubspot.update-contact')!.safety).toBe('idempotent');
  });
});

describe('generic http.*', () => {
  it('carries no credentials and no Idempotency-Key to a URL a flow names, even with every connector configured', async () => {
    const box = toolBox();
    await box.call('http.get', { url: `${fake.baseUrl}/echo?q=1` }, scope());
    const posted = await box.call('http.post-json', { url: `${fake.baseUrl}/echo`, body: { a: 1 } }, scope());
    expect(posted).toMatchObject({ status: 200, body: { method: 'POST', body: { a: 1 } } });
    expect(fake.calls.map((c) => [c.headers.authorization, c.key])).toEqual([
      [undefined, null],
      [undefined, null],
    ]);
    expect(builtinTools.find((t) => t.name === 'http.post-json')!.safety).toBe('unsafe');
  });
});
