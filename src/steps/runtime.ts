/**
 * Assembles what steps may call from the config: one pacer for every outbound
 * API, the model gateway (OpenAI-compatible, or the offline model), the tool
 * box with the built-in connectors, and the run budget around both. main.ts
 * and the tests build it the same way.
 */
import type { ChatPort } from '../chat/port.ts';
import type { ServicesFactory } from '../engine/engine.ts';
import type { Logger } from '../ops/log.ts';
import type { Metrics } from '../ops/metrics.ts';
import type { Sql } from '../store/client.ts';
import { toolJournal } from '../store/tool-calls.ts';
import { createModelGateway } from './model/gateway.ts';
import { Pacer } from '../ops/pacing.ts';
import { createReportServices } from './reports.ts';
import { createStepServices } from './services.ts';
import type { ModelSettings } from './model/types.ts';
import { builtinTools } from './tools/registry.ts';
import { ToolBox } from './tools/toolbox.ts';
import type { ProposedCall, ToolSettings } from './tools/types.ts';

/** The steps' slice of the config: main.ts passes it (src/config.ts fills it); steps never read config.ts. */
export interface StepSettings {
  model: ModelSettings;
  tools: ToolSettings;
  /** Spending limit of one run's model calls, in US dollars, unless the flow sets its own. */
  runBudgetUsd: number;
}

/** A card's "On approval": the real call a tool would make (method, host, fields, old → new). */
export type ProposedAction = ProposedCall;

export interface StepRuntime {
  services: ServicesFactory;
  /**
   * Asks the tool to describe the call it would make with `input` (validated
   * with the tool's schema), for the review card. Unknown tool or invalid input:
   * a permanent error saying which.
   */
  describeAction(tool: string, input: unknown): Promise<ProposedAction>;
  /** Whether model steps run on the built-in offline model. */
  isOffline: boolean;
  /** Tool hosts whose circuit is open in this process (src/ops/alerts.ts reports them). */
  openCircuits(): string[];
  stop(): Promise<void>;
}

export function createStepRuntime(o: {
  config: StepSettings;
  sql: Sql;
  log: Logger;
  ports?: ReadonlyMap<string, ChatPort>;
  tenants?: ReadonlyMap<string, string>;
  /** Where model usage, 429s and pacing are counted (GET /metrics). Default: not counted. */
  metrics?: Metrics;
}): StepRuntime {
  const pacer = new Pacer(undefined, o.metrics ?? null);
  const model = createModelGateway({ settings: o.config.model, sql: o.sql, log: o.log, pacer, metrics: o.metrics });
  const tools = new ToolBox({
    tools: builtinTools,
    settings: o.config.tools,
    pacer,
    log: o.log,
    journal: toolJournal(o.sql),
    redactPatterns: o.config.model.redactPatterns,
    metrics: o.metrics,
  });
  return {
    services: createStepServices({
      sql: o.sql,
      model,
      tools,
      runBudgetUsd: o.config.runBudgetUsd,
      ...(o.ports
        ? {
            reports: createReportServices({ sql: o.sql, ports: o.ports, ...(o.tenants ? { tenants: o.tenants } : {}) }),
          }
        : {}),
    }),
    describeAction: async (tool, input) => tools.describe(tool, input),
    isOffline: o.config.model.apiKey === null && o.config.model.baseUrl === null,
    openCircuits: () => tools.openCircuits(),
    stop: () => pacer.stop(),
  };
}
