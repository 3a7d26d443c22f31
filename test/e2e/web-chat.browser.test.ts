/**
 * The local web chat (adapters/console) in headless Chromium, against the bot started as a
 * user starts it. A smoke test first proves playwright-core drives Debian's Chromium here.
 * Then one review, step by step on one page (each test builds on the one before): alice
 * runs ticket-triage in #support, edits the draft, may not approve her own request; bob
 * (support-leads) approves; the run ends `done` having sent the edited reply.
 * Without Chromium these skip (or fail under CI=true): see test/helpers/browser.ts.
 * The final screenshot is test/artifacts/web-chat.png.
 */
import { stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { useTestDb } from '../helpers/db.ts';
import { startPgProxy, type PgProxy } from '../integration/slack/pg-proxy.ts';
import {
  ARTIFACTS_DIR,
  describeWithBrowser,
  launchBrowser,
  startBot,
  stopBot,
  wordOnlyIn,
  type BotProcess,
} from '../helpers/browser.ts';

const EDITED = 'We are sending a technician today.';
/** How long any one thing on the page may take to appear or change. */
const UI_DEADLINE_MS = 10_000;
/** The first card needs the bot to start the run and draft: up to 20 s (the limit). */
const CARD_DEADLINE_MS = 20_000;
/** What ticket-triage's output or context is expected to hold (adjust with the flow). */
interface Recorded {
  sent?: { reply: string };
  approvedBy?: string[];
}

describeWithBrowser('browser smoke', () => {
  let browser: Browser | undefined;
  let server: Server | undefined;
  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
  });

  it('smoke: Chromium loads a data: URL and a page from node:http, runs its script, reads text back', async () => {
    const started = Date.now();
    browser = await launchBrowser();
    console.log(`chromium ${browser.version()} launched in ${Date.now() - started} ms`);
    const page = await browser.newPage();
    await page.goto('data:text/html,<p id="hi">hello from data</p>', { timeout: UI_DEADLINE_MS });
    expect(await page.textContent('#hi')).toBe('hello from data');

    server = createServer((_req, res) =>
      res
        .writeHead(200, { 'content-type': 'text/html' })
        .end('<button id="b" onclick="this.textContent = \'clicked\'">click me</button>'),
    );
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    await page.goto(`http://127.0.0.1:${port}/`, { timeout: UI_DEADLINE_MS });
    await page.click('#b', { timeout: UI_DEADLINE_MS });
    expect(await page.textContent('#b')).toBe('clicked');
  });
});

describeWithBrowser('web chat: ticket-triage reviewed in the browser', () => {
  const db = useTestDb();
  let bot: BotProcess | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let card: Locator;
  let draft = '';
  let hasFailed = false;
  beforeAll(async () => {
    bot = await startBot({ databaseUrl: db.url, schema: db.schema });
    browser = await launchBrowser();
    page = await browser.newPage();
    page.setDefaultTimeout(UI_DEADLINE_MS);
    await page.goto(`${bot.url}/`);
    card = page.locator('[data-testid=card]');
  });
  // The steps share one page: after a failure the rest would only time out, so skip them,
  // and keep what the page and the bot showed at the failure.
  beforeEach((ctx) => {
    if (hasFailed) ctx.skip('an earlier step failed');
  });
  afterEach(async (ctx) => {
    if (ctx.task.result?.state !== 'fail' || hasFailed) return;
    hasFailed = true;
    const shot = path.join(ARTIFACTS_DIR, 'web-chat-failure.png');
    await page?.screenshot({ path: shot, fullPage: true, timeout: UI_DEADLINE_MS }).catch(() => undefined);
    console.error(`screenshot at the failure: ${shot}\nbot log:\n${bot?.log() || '(empty)'}`);
  });
  // Registered after useTestDb, so it runs before the schema is dropped.
  afterAll(async () => {
    await browser?.close();
    await stopBot(bot);
  });

  it('alice runs ticket-triage in #support and a pending card shows the draft', async () => {
    await page.selectOption('[data-testid=person-select]', 'alice');
    await page.click('[data-testid=channel-support]');
    await page.fill(
      '[data-testid=composer]',
      '/signoff run ticket-triage subject="Printer on fire" body="The 3rd floor printer is smoking" customer="ACME"',
    );
    await page.click('[data-testid=send]');
    await page.locator('[data-testid=card][data-status=pending]').waitFor({ timeout: CARD_DEADLINE_MS });
    expect((await card.locator('[data-testid=card-body]').textContent())?.trim()).not.toBe('');
    // No OPENAI_API_KEY: the built-in offline model drafted it, and the card says so (issue 4).
    expect(await card.textContent()).toContain('offline model');
  });

  it('alice edits the draft: version 2, and the card shows the diff', async () => {
    await card.locator('[data-testid=action-edit]').click();
    const field = page.locator('[data-testid=editor] [data-testid=editor-field-reply]');
    draft = await field.inputValue();
    expect(draft.trim()).not.toBe('');
    await field.fill(EDITED);
    await page.click('[data-testid=editor-submit]');
    await page.locator('[data-testid=editor]').waitFor({ state: 'hidden' });
    await expect.poll(() => card.getAttribute('data-version'), { timeout: UI_DEADLINE_MS }).toBe('2');
    const diff = await card.locator('[data-testid=card-diff]').textContent();
    expect(diff).toContain('technician');
    expect(diff).toContain(wordOnlyIn(draft, EDITED));
  });

  it('alice may not approve her own request: an ephemeral notice, the card stays pending', async () => {
    await card.locator('[data-testid=action-approve]').click();
    await expect
      .poll(() => page.locator('[data-testid=ephemeral]').last().textContent(), { timeout: UI_DEADLINE_MS })
      .toMatch(/requested/i);
    expect(await card.getAttribute('data-status')).toBe('pending');
  });

  it('bob (support-leads) approves: the card says so, loses its buttons, and a reply appears in the thread', async () => {
    await page.selectOption('[data-testid=person-select]', 'bob');
    await card.locator('[data-testid=action-approve]').click();
    await expect.poll(() => card.getAttribute('data-status'), { timeout: UI_DEADLINE_MS }).toBe('approved');
    expect(await card.locator('[data-testid=card-status]').textContent()).toMatch(/bob/i);
    expect(await card.locator('[data-testid=action-approve]').count()).toBe(0);
    await page.locator('[data-testid=thread-reply]').first().waitFor();

    const shot = path.join(ARTIFACTS_DIR, 'web-chat.png');
    await page.screenshot({ path: shot, fullPage: true, timeout: UI_DEADLINE_MS });
    expect((await stat(shot)).size).toBeGreaterThan(0);
    console.log(`screenshot: ${shot}`);
  });

  it('the run is done and sent the edited reply', async () => {
    const readRun = async () => db.sql<{ status: string; output: Recorded | null; context: Recorded | null }[]>`
      SELECT status, output, snapshot->'context' AS context FROM runs WHERE flow = 'ticket-triage'`;
    await expect
      .poll(async () => (await readRun()).map((r) => r.status), { timeout: UI_DEADLINE_MS })
      .toEqual(['done']);
    const [run] = await readRun();
    // ticket-triage's output: what `send` recorded, and who approved it.
    expect(run!.output).toMatchObject({ sent: { reply: EDITED }, approvedBy: ['bob'] });
  });
});

describeWithBrowser('web chat: the live dot tells when the bot cannot reach its database', () => {
  const db = useTestDb();
  let proxy: PgProxy | undefined;
  let bot: BotProcess | undefined;
  let browser: Browser | undefined;
  beforeAll(async () => {
    // The bot reaches Postgres through a proxy the test can stall (connections open, no answers).
    proxy = await startPgProxy(db.url);
    bot = await startBot({ databaseUrl: proxy.url, schema: db.schema });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    proxy?.setStalled(false);
    await browser?.close();
    if (bot) await stopBot(bot);
    await proxy?.close();
  });

  it('shows "database unreachable" while the database stalls, and "live" once it answers again', async () => {
    const page = await browser!.newPage();
    page.setDefaultTimeout(UI_DEADLINE_MS);
    await page.goto(`${bot!.url}/`);
    const live = page.locator('[data-testid=live]');
    await expect.poll(() => live.getAttribute('data-state'), { timeout: UI_DEADLINE_MS }).toBe('open');
    proxy!.setStalled(true);
    await expect.poll(() => live.getAttribute('data-state'), { timeout: UI_DEADLINE_MS }).toBe('db-down');
    expect(await live.textContent()).toBe('database unreachable');
    proxy!.setStalled(false);
    await expect.poll(() => live.getAttribute('data-state'), { timeout: UI_DEADLINE_MS }).toBe('open');
  });
});
