/**
 * `signoff flows show <id> --mermaid` prints diagrams Mermaid itself accepts:
 * each is parsed by `mermaid.parse` in headless Chromium (mermaid needs a DOM;
 * its bundle is read from node_modules, nothing is downloaded). A machine with
 * nested and parallel states, delays, eventless and guarded transitions checks
 * the parts the shipped flows do not use, and a broken diagram shows the parser
 * does refuse.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { createMachine } from 'xstate';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { toMermaid } from '../../src/cli/mermaid.ts';
import { describeWithBrowser, launchBrowser } from '../helpers/browser.ts';
import { runCli } from '../helpers/cli.ts';

const MERMAID_BUNDLE = path.join(
  fileURLToPath(new URL('../..', import.meta.url)),
  'node_modules/mermaid/dist/mermaid.min.js',
);

describeWithBrowser('signoff flows show --mermaid', () => {
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    browser = await launchBrowser();
    page = await browser.newPage();
    await page.setContent('<!doctype html><html><body></body></html>');
    await page.addScriptTag({ path: MERMAID_BUNDLE });
  }, 60_000);
  afterAll(async () => browser?.close());

  /** Mermaid's verdict on `text`: the diagram type, or the parser's error. */
  async function parse(text: string): Promise<{ ok: true; type: string } | { ok: false; error: string }> {
    return page.evaluate(async (diagram) => {
      const mermaid = (globalThis as any).mermaid;
      try {
        const result = await mermaid.parse(diagram);
        return { ok: true as const, type: String(result.diagramType) };
      } catch (err) {
        return { ok: false as const, error: String((err as Error).message ?? err) };
      }
    }, text);
  }

  it('prints ticket-triage as a stateDiagram-v2 that mermaid.parse accepts', async () => {
    const { code, stdout } = await runCli(['flows', 'show', 'ticket-triage', '--mermaid'], {});
    expect(code).toBe(0);
    expect(stdout.startsWith('stateDiagram-v2\n')).toBe(true);
    for (const line of [
      '[*] --> s__received',
      's__received --> s__reading : always [isToRead]',
      's__received --> s__classifying : always',
      's__awaitingReview : invokes replyReview',
      's__awaitingReview --> s__sending : review.approved',
      's__awaitingReview --> s__drafting : review.rejected [mayRedraft]',
      's__classifying --> s__drafting : xstate.done.actor.classify',
      's__sent --> [*]',
    ])
      expect(stdout).toContain(line);
    expect(await parse(stdout)).toEqual({ ok: true, type: 'stateDiagram' });
  }, 60_000);

  it('prints every shipped flow as a diagram mermaid accepts', async () => {
    const { stdout } = await runCli(['flows', 'list', '--json'], {});
    const ids = (JSON.parse(stdout) as { id: string }[]).map((f) => f.id);
    expect(ids.length).toBeGreaterThanOrEqual(4);
    for (const id of ids) {
      const shown = await runCli(['flows', 'show', id, '--mermaid'], {});
      expect([id, await parse(shown.stdout)]).toEqual([id, { ok: true, type: 'stateDiagram' }]);
    }
  }, 120_000);

  it('draws nested and parallel states, delays, eventless and guarded transitions that mermaid accepts', async () => {
    const machine = createMachine({
      id: 'shapes',
      initial: 'working',
      states: {
        working: {
          initial: 'drafting',
          invoke: { src: 'watch', id: 'watch' },
          states: {
            drafting: { on: { 'draft.done': 'checking' }, after: { 60_000: 'stalled' } },
            checking: { always: [{ guard: 'isClean', target: 'ready' }, { target: 'drafting' }] },
            stalled: { on: { nudge: 'drafting' } },
            ready: { type: 'final' },
          },
          on: { 'run.cancel': '#shapes.cancelled' },
          onDone: 'reviewing',
        },
        reviewing: {
          type: 'parallel',
          states: {
            legal: { initial: 'waiting', states: { waiting: { on: { 'legal.ok': 'ok' } }, ok: { type: 'final' } } },
            finance: { initial: 'waiting', states: { waiting: { on: { 'finance.ok': 'ok' } }, ok: { type: 'final' } } },
          },
          onDone: 'done',
        },
        done: { type: 'final' },
        cancelled: { type: 'final' },
      },
    });
    const diagram = toMermaid(machine);
    for (const line of [
      '  state s__working {',
      '    [*] --> s__working__drafting',
      '    s__working__drafting --> s__working__stalled : after 60000 ms',
      '    s__working__checking --> s__working__ready : always [isClean]',
      '    s__working__ready --> [*]',
      '  state "working · invokes watch" as s__working',
      '    --',
      '  s__working --> s__cancelled : run.cancel',
    ])
      expect(diagram).toContain(line);
    expect(diagram).toMatch(/s__working --> s__reviewing : xstate\.done\.state\.shapes\.working/);
    expect(await parse(diagram)).toEqual({ ok: true, type: 'stateDiagram' });
    // The parser does refuse: the same diagram with its first composite block left open.
    expect((await parse(diagram.replace(/\n {2}}\n/, '\n'))).ok).toBe(false);
  }, 60_000);
});
