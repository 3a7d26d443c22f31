/**
 * A ToolBox against a fresh fake tool server per test, as the tool tests use
 * it: every connector configured at the fake, pacing off, a 300 ms call
 * timeout, logs captured, and after each test a check that no token reached a
 * log line (I5). Register with `useToolBoxes()` at the top of a test file.
 */
import { afterEach, beforeEach, expect } from 'vitest';
import { SignoffError } from '../../src/errors.ts';
import { createLogger } from '../../src/ops/log.ts';
import { Pacer } from '../../src/ops/pacing.ts';
import type { CircuitOptions } from '../../src/steps/tools/circuit.ts';
import { builtinTools } from '../../src/steps/tools/registry.ts';
import { ToolBox } from '../../src/steps/tools/toolbox.ts';
import type { ToolDefinition, ToolScope, ToolSettings } from '../../src/steps/tools/types.ts';
import { startFakeTools, ZENDESK_AGENT, type FakeTools } from '../fakes/tool-servers.ts';

export const TOKEN = ZENDESK_AGENT.apiToken;
export const ZENDESK = { token: TOKEN, email: ZENDESK_AGENT.email };

export interface ToolBoxOptions {
  connectors?: ToolSettings['connectors'];
  tools?: ToolDefinition[];
  circuit?: CircuitOptions;
  refusals?: unknown[];
}

export function useToolBoxes() {
  const state = { fake: null as unknown as FakeTools, logLines: [] as string[] };
  let pacers: Pacer[] = [];
  beforeEach(async () => {
    state.fake = await startFakeTools();
    state.logLines = [];
  });
  afterEach(async () => {
    await Promise.all(pacers.map((p) => p.stop()));
    pacers = [];
    await state.fake.close();
    expect(state.logLines.join('\n')).not.toContain(TOKEN);
  });
  const toolBox = (o: ToolBoxOptions = {}) => {
    const pacer = new Pacer();
    pacers.push(pacer);
    const connectors = o.connectors ?? {
      zendesk: { baseUrl: state.fake.baseUrl, ...ZENDESK },
      linear: { baseUrl: state.fake.baseUrl, token: 'lin_api_test' },
      hubspot: { baseUrl: state.fake.baseUrl, token: 'pat-test' },
    };
    return new ToolBox({
      tools: o.tools ?? builtinTools,
      settings: { connectors, egressAllowlist: [], perHostPerMinute: 0, callTimeoutMs: 300 },
      pacer,
      log: createLogger('debug', (line) => state.logLines.push(line)),
      circuit: o.circuit,
      onRefusal: (scope, detail) => o.refusals?.push({ runId: scope.runId, ...detail }),
    });
  };
  return { state, toolBox };
}

export function toolScope(o: Partial<ToolScope> = {}): ToolScope {
  return {
    runId: 'run-1',
    flowId: 'ticket-triage',
    jobKey: 'run-1:send:1',
    attempt: 1,
    signal: new AbortController().signal,
    allowed: builtinTools.map((t) => t.name),
    ...o,
  };
}

/** The SignoffError a promise rejects with (fails the test if it resolves or throws something else). */
export async function failure(p: Promise<unknown>): Promise<SignoffError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  if (!(err instanceof SignoffError)) throw new Error(`expected a SignoffError, got ${String(err)}`);
  return err;
}
