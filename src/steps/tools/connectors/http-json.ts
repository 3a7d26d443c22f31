/**
 * Generic JSON calls to a URL a flow or a model supplies. These are the tools
 * an injected prompt would aim at an internal address, so they are never
 * trusted: every URL and every redirect hop must pass the egress guard
 * (allowlisted host, public addresses only; RELIABILITY 84). They need no
 * connector settings and have no local mode: there is nothing to configure.
 */
import { z } from 'zod';
import type { ToolDefinition } from '../types.ts';
import { field } from './connector.ts';

/** Only the length is checked here: the egress guard judges the URL itself, and logs the refusal. */
const url = z.string().min(1).max(2_048);

const getInput = z.object({ url });
const postInput = z.object({ url, body: z.unknown() });
const responseOutput = z.object({ status: z.number().int(), body: z.unknown() });

type GetInput = z.infer<typeof getInput>;
type PostInput = z.infer<typeof postInput>;
type ResponseOutput = z.infer<typeof responseOutput>;

function hostOf(raw: string): string {
  try {
    return new URL(raw).host || raw.slice(0, 80);
  } catch {
    return 'an invalid URL';
  }
}

export const httpGet: ToolDefinition<GetInput, ResponseOutput> = {
  name: 'http.get',
  connector: 'http',
  description: 'GET a JSON document from an allowlisted public URL.',
  input: getInput,
  output: responseOutput,
  safety: 'idempotent',
  isWrite: false,
  async call(input, ctx) {
    const res = await ctx.http.request({ method: 'GET', url: input.url });
    return { status: res.status, body: res.body };
  },
  describe(input) {
    return { tool: 'http.get', method: 'GET', host: hostOf(input.url), fields: [field('url', input.url)] };
  },
};

export const httpPostJson: ToolDefinition<PostInput, ResponseOutput> = {
  name: 'http.post-json',
  connector: 'http',
  description: 'POST a JSON body to an allowlisted public URL.',
  input: postInput,
  output: responseOutput,
  // A POST to an arbitrary endpoint may create something each time, and there is no key to dedupe it.
  safety: 'unsafe',
  isWrite: true,
  async call(input, ctx) {
    const res = await ctx.http.request({ method: 'POST', url: input.url, body: input.body ?? null });
    return { status: res.status, body: res.body };
  },
  describe(input) {
    return {
      tool: 'http.post-json',
      method: 'POST',
      host: hostOf(input.url),
      fields: [field('url', input.url), field('body', input.body ?? null)],
    };
  },
};
