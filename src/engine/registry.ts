/**
 * Finds the flows: every `flows/<id>.flow.ts` default-exports a `defineFlow(...)`.
 * The file name must match the flow id, so a flow is found where its id says.
 */
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SignoffError } from '../errors.ts';
import type { Flow } from './flow.ts';

export async function loadFlows(dir: string): Promise<Flow<any>[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.flow.ts')).sort();
  const flows: Flow<any>[] = [];
  for (const file of files) {
    const mod = (await import(pathToFileURL(resolve(join(dir, file))).href)) as { default?: Flow<any> };
    const flow = mod.default;
    if (!flow || typeof flow.version !== 'string') {
      throw new SignoffError('flow_invalid', `${file} must default-export defineFlow({...})`);
    }
    if (`${flow.id}.flow.ts` !== file) {
      throw new SignoffError('flow_invalid', `${file} defines flow "${flow.id}"; name the file ${flow.id}.flow.ts`);
    }
    flows.push(flow);
  }
  return flows;
}
