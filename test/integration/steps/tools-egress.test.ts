/**
 * RELIABILITY 84 (SSRF) over real sockets: a model-proposed URL for the
 * metadata address, a local database port, a loopback fake that is not a
 * configured connector, an IPv4-mapped loopback, file://, an allowlisted name
 * that resolves to loopback, and a trusted connector that redirects to a
 * private address are all refused as `tool_refused` and logged, and the fake
 * server sees nothing it should not. The trusted base URL itself works.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ToolSettings } from '../../../src/steps/tools/types.ts';
import { SignoffError } from '../../../src/errors.ts';
import { createLogger } from '../../../src/ops/log.ts';
import { Pacer } from '../../../src/ops/pacing.ts';
import { createGuardedHttp } from '../../../src/steps/tools/http.ts';
import { builtinTools } from '../../../src/steps/tools/registry.ts';
import { ToolBox } from '../../../src/steps/tools/toolbox.ts';
import type { ToolScope } from '../../../src/steps/tools/types.ts';
import { startFakeTools, type FakeTools } from '../../fakes/tool-servers.ts';

let fake: FakeTools;
let other: FakeTools;
const pacer = new Pacer();
let logLines: { level: string; msg: string; [k: string]: unknown }[] = [];
const log = createLogger('debug', (line) => logLines.push(JSON.parse(line)));

beforeAll(async () => {
  [fake, other] = await Promise.all([startFakeTools(), startFakeTools()]);
});
afterAll(async () => {
  await pacer.stop();
  await Promise.all([fake.close(), other.close()]);
});
beforeEach(() => {
  fake.calls.length = 0;
  other.calls.length = 0;
  logLines = [];
});

function toolBox(tools: Partial<ToolSettings>, refusals: unknown[] = []) {
  return new ToolBox({
    tools: builtinTools,
    settings: { connectors: {}, egressAllowlist: [], perHostPerMinute: 0, callTimeoutMs: 2_000, ...tools },
    pacer,
    log,
    onRefusal: (scope, detail) => refusals.push({ runId: scope.runId, ...detail }),
  });
}

const scope: ToolScope = {
  runId: 'run-ssrf',
  flowId: 'research',
  jobKey: 'run-ssrf:fetch:1',
  attempt: 1,
  signal: new AbortController().signal,
  allowed: ['http.get', 'http.post-json'],
};

async function refusal(p: Promise<unknown>): Promise<SignoffError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  if (!(err instanceof SignoffError) || err.code !== 'tool_refused')
    throw new Error(`expected tool_refused, got ${String(err)}`);
  expect(err.details).toMatchObject({ retryable: false });
  return err;
}

describe('model-proposed URLs', () => {
  it.each([
    [
      'the metadata address',
      () => 'http://169.254.169.254/latest/meta-data',
      /169\.254\.169\.254 is not on the egress allowlist/,
    ],
    ['a local database port', () => 'http://localhost:5432', /localhost:5432 is not on the egress allowlist/],
    [
      'a loopback server that is not a configured connector',
      () => `http://127.0.0.1:${fake.port}/echo`,
      /is not on the egress allowlist/,
    ],
    ['an IPv4-mapped loopback', () => 'http://[::ffff:127.0.0.1]/', /is not on the egress allowlist/],
    ['file://', () => 'file:///etc/passwd', /scheme file: is not allowed/],
    ['gopher://', () => 'gopher://127.0.0.1:6379/_FLUSHALL', /scheme gopher: is not allowed/],
  ])('%s is refused, logged and reported', async (_what, url, words) => {
    const refusals: unknown[] = [];
    const err = await refusal(toolBox({}, refusals).call('http.get', { url: url() }, scope));
    expect(err.message).toMatch(words);
    expect(refusals).toEqual([{ runId: 'run-ssrf', tool: 'http.get', reason: err.message }]);
    expect(logLines.filter((l) => l.level === 'warn').map((l) => l.msg)).toEqual([
      'egress refused',
      'tool call refused',
    ]);
    expect(fake.calls).toHaveLength(0);
  });

  it('an allowlisted name that resolves to loopback is refused at connect time', async () => {
    const box = toolBox({ egressAllowlist: [`localhost:${fake.port}`] });
    const err = await refusal(
      box.call('http.post-json', { url: `http://localhost:${fake.port}/echo`, body: { a: 1 } }, scope),
    );
    expect(err.message).toMatch(/localhost resolves to a forbidden address: (127\.0\.0\.1|::1) is a loopback address/);
    expect(fake.calls).toHaveLength(0);
  });

  it.each([
    ['169.254.169.254', 'http://169.254.169.254/latest/meta-data', /link-local \(cloud metadata\)/],
    ['[::ffff:7f00:1]', 'http://[::ffff:127.0.0.1]/', /127\.0\.0\.1 is a loopback address/],
    ['10.0.0.1', 'http://10.0.0.1/', /10\.0\.0\.1 is a private address/],
  ])('an allowlisted literal address %s is still refused for what it is', async (entry, url, words) => {
    const err = await refusal(toolBox({ egressAllowlist: [entry] }).call('http.get', { url }, scope));
    expect(err.message).toMatch(words);
  });
});

describe('trusted connector base URLs', () => {
  const trusted = () =>
    toolBox({
      connectors: { zendesk: { baseUrl: fake.baseUrl, token: 't', email: 'a@example.com' } },
      egressAllowlist: [`localhost:${fake.port}`],
    });

  it('the configured base URL itself works, even on loopback', async () => {
    expect(await trusted().call('http.get', { url: `${fake.baseUrl}/echo?q=1` }, scope)).toEqual({
      status: 200,
      body: { method: 'GET', query: { q: '1' } },
    });
  });

  it.each([
    ['the metadata address', 'http://169.254.169.254/', /169\.254\.169\.254 is not on the egress allowlist/],
    ['an allowlisted name that resolves to loopback', () => `http://localhost:${fake.port}/echo`, /loopback/],
  ])('a redirect to %s is checked as untrusted and refused', async (_what, to, words) => {
    const target = typeof to === 'function' ? to() : to;
    const err = await refusal(
      trusted().call('http.get', { url: `${fake.baseUrl}/redirect?to=${encodeURIComponent(target)}` }, scope),
    );
    expect(err.message).toMatch(words);
    expect(fake.calls.map((c) => c.path)).toEqual([`/redirect?to=${encodeURIComponent(target)}`]);
  });

  it('a redirect within the origin is followed; more than 3 hops are refused', async () => {
    expect(await trusted().call('http.get', { url: `${fake.baseUrl}/redirect?to=/echo` }, scope)).toMatchObject({
      status: 200,
    });
    let url = '/echo';
    for (let i = 0; i < 4; i += 1) url = `/redirect?to=${encodeURIComponent(url)}`;
    const err = await refusal(trusted().call('http.get', { url: `${fake.baseUrl}${url}` }, scope));
    expect(err.message).toMatch(/more than 3 redirects/);
  });

  it('credentials do not follow a redirect to another origin', async () => {
    const http = createGuardedHttp({ trustedBaseUrls: [fake.baseUrl, other.baseUrl], allowlist: [], log });
    const res = await http.request({
      method: 'GET',
      url: `${fake.baseUrl}/redirect?to=${encodeURIComponent(`${other.baseUrl}/echo`)}`,
      headers: { Authorization: 'Bearer zd-secret', 'Idempotency-Key': 'k' },
    });
    expect(res.status).toBe(200);
    expect(fake.calls[0]!.headers.authorization).toBe('Bearer zd-secret');
    expect(other.calls[0]!.headers.authorization).toBeUndefined();
    expect(other.calls[0]!.headers['idempotency-key']).toBeUndefined();
  });

  it("a path outside the base URL's prefix is not trusted", async () => {
    const http = createGuardedHttp({ trustedBaseUrls: [`${fake.baseUrl}/api`], allowlist: [], log });
    await refusal(http.request({ method: 'GET', url: `${fake.baseUrl}/apiX/echo` }));
    await refusal(http.request({ method: 'GET', url: `${fake.baseUrl}/api/../echo` }));
    expect((await http.request({ method: 'GET', url: `${fake.baseUrl}/api/v2/tickets/1/comments.json` })).status).toBe(
      401,
    ); // reached the fake (which wants credentials)
    expect(fake.calls).toHaveLength(1);
  });
});
