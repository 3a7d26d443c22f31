/**
 * Prompts: the markdown files flows keep their instructions in
 * (`flows/prompts/*.md`, with a `## system` and a `## user` section), how their
 * `{{placeholders}}` are filled, and the two rules every text obeys before it
 * leaves for a model: known secrets are redacted (RELIABILITY 86, OWASP LLM02)
 * and an over-long prompt is cut with a marker that says so (RELIABILITY 81,
 * LLM10). Pure apart from reading the file; no network, no SQL.
 */
import { readFile } from 'node:fs/promises';
import { SignoffError } from '../../errors.ts';

/** A prompt file, split into its two sections (text as written, trimmed). */
export interface PromptTemplate {
  path: string;
  system: string;
  user: string;
}

export interface RenderedPrompt {
  system: string;
  prompt: string;
}

// Redaction is shared with tool and provider errors (issue 16); model code keeps importing it from here.
export { redact, REDACTED } from '../../ops/redact.ts';

/**
 * Cuts `text` to at most `maxChars` characters, the marker included, so the
 * model (and a reviewer reading the request) can tell material is missing.
 */
export function truncateForModel(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  // The marker for the whole text is at least as long as the final one: the result always fits.
  let keep = Math.max(0, maxChars - truncationMarker(text.length).length);
  // Never split a surrogate pair: half an emoji is invalid UTF-16 for the provider.
  if (keep > 0 && /[\uD800-\uDBFF]/.test(text.charAt(keep - 1))) keep -= 1;
  return text.slice(0, keep) + truncationMarker(text.length - keep);
}

function truncationMarker(omitted: number): string {
  return `\n…[truncated: ${omitted} characters omitted]`;
}

/** Loaded templates by path: prompt files are part of the deployment and do not change while it runs. */
const templates = new Map<string, Promise<PromptTemplate>>();

/** Reads a prompt file once (later calls share the first read). */
export function loadPrompt(path: string): Promise<PromptTemplate> {
  let loading = templates.get(path);
  if (!loading) {
    loading = readFile(path, 'utf8').then((text) => parsePrompt(path, text));
    // A failed read is not cached: the file may be fixed and the step retried.
    loading.catch(() => templates.delete(path));
    templates.set(path, loading);
  }
  return loading;
}

/** Splits a prompt file at its `## system` and `## user` headings; anything before the first is a comment. */
export function parsePrompt(path: string, text: string): PromptTemplate {
  const sections = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of text.split(/\r?\n/)) {
    const heading = /^##\s+(\S+)\s*$/.exec(line);
    if (heading) sections.set(heading[1]!.toLowerCase(), (current = []));
    else current?.push(line);
  }
  const system = sections.get('system')?.join('\n').trim();
  const user = sections.get('user')?.join('\n').trim();
  if (!system || !user) {
    throw new SignoffError('flow_invalid', `prompt file ${path} needs a non-empty "## system" and "## user" section`);
  }
  return { path, system, user };
}

/**
 * Fills a template. `{{name}}` takes the value of `name` (undefined renders
 * empty) and throws when `vars` has no such key, so a typo fails the step
 * loudly instead of sending a literal `{{name}}`. `{{#name}}…{{/name}}`
 * renders its body only when `name` is a non-empty string. Values are
 * inserted once and never re-read as template syntax.
 */
export function renderPrompt(template: PromptTemplate, vars: Record<string, string | undefined>): RenderedPrompt {
  return { system: renderText(template, template.system, vars), prompt: renderText(template, template.user, vars) };
}

function renderText(template: PromptTemplate, text: string, vars: Record<string, string | undefined>): string {
  let out = text;
  // Repeat so blocks nested inside other blocks are resolved too.
  for (let previous = ''; previous !== out;) {
    previous = out;
    out = out.replace(/\{\{#(\w+)\}\}([\s\S]*?)\{\{\/\1\}\}/g, (_m, name: string, body: string) =>
      vars[name] ? body : '',
    );
  }
  const stray = /\{\{[#/](\w+)\}\}/.exec(out);
  if (stray)
    throw new SignoffError(
      'flow_invalid',
      `prompt ${template.path}: block "${stray[1]}" is not closed with {{/${stray[1]}}}`,
    );
  out = out.replace(/\{\{\s*(\w+)\s*\}\}/g, (_m, name: string) => {
    if (!Object.hasOwn(vars, name)) {
      throw new SignoffError(
        'flow_invalid',
        `prompt ${template.path} uses {{${name}}}, but no value named "${name}" was given`,
      );
    }
    return vars[name] ?? '';
  });
  // A block left out leaves its blank lines behind.
  return out.replace(/\n{3,}/g, '\n\n').trim();
}
