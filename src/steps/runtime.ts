/**
 * Assembles what steps may call from the config: one pacer for every outbound
 * API, the model gateway (OpenAI-compatible, or the offline model), the tool
 * box with the built-in connectors, and the run budget around both. main.ts
 * and the tests build it the same way.
 */
import type { Config } from '../config.ts';
import type { ServicesFactory } from '../engine/engine.ts';
import type { Logger } from '../ops/log.ts';
import type { Sql } from '../store/client.ts';
import { toolJournal } from '../store/tool-calls.ts';
import { createModelGateway } from './model/gateway.ts';
import { Pacer } from './pacing.ts';
import { createStepServices } from './services.ts';
import { builtinTools } from './tools/registry.ts';
import { ToolBox } from './tools/toolbox.ts';

export interface StepRuntime {
  services: ServicesFactory;
  /** Whether model steps run on the built-in offline model. */
  isOffline: boolean;
  stop(): Promise<void>;
}

export function createStepRuntime(o: { config: Pick<Config, 'model' | 'tools' | 'runBudgetUsd'>; sql: Sql; log: Logger }): StepRuntime {
  const pacer = new Pacer();
  const model = createModelGateway({ settings: o.config.model, sql: o.sql, log: o.log, pacer });
  const tools = new ToolBox({
    tools: builtinTools, settings: o.config.tools, pacer, log: o.log, journal: toolJournal(o.sql), redactPatterns: o.config.model.redactPatterns,
  });
  return {
    services: createStepServices({ sql: o.sql, model, tools, runBudgetUsd: o.config.runBudgetUsd }),
    isOffline: o.config.model.apiKey === null && o.config.model.baseUrl === null,
    stop: () => pacer.stop(),
  };
}
