/**
 * The weekly digest in the web chat, in headless Chromium, against the bot started as a
 * user starts it: two weeks of seeded decisions (ending a few minutes from now, so the
 * digest `/signoff digest` builds now covers exactly them), then the message on the page
 * with every section, its figures, and the chart as a PNG the page loaded. Counts,
 * durations and spend are the seed's (test/helpers/digest-seed.ts); the hour and weekday
 * of each decision move with the seed, so working hours are checked as a section only.
 * The screenshot is test/artifacts/weekly-digest.png.
 */
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { useTestDb } from '../helpers/db.ts';
import { SEED, seedDigest } from '../helpers/digest-seed.ts';
import {
  ARTIFACTS_DIR,
  describeWithBrowser,
  launchBrowser,
  startBot,
  stopBot,
  type BotProcess,
} from '../helpers/browser.ts';

const UI_DEADLINE_MS = 10_000;
/** The digest run: a step that reads, a model step (offline) and the post with its chart. */
const DIGEST_DEADLINE_MS = 30_000;
/** The seeded week ends this long after the seed is written; the command must come before it. */
const LEAD_MS = 5 * 60_000;

describeWithBrowser('web chat: the weekly digest', () => {
  const db = useTestDb();
  let bot: BotProcess | undefined;
  let browser: Browser | undefined;
  let page: Page;

  beforeAll(async () => {
    await seedDigest(db.sql, Date.now() + LEAD_MS - new Date(SEED.endAt).getTime());
    bot = await startBot({ databaseUrl: db.url, schema: db.schema });
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1200, height: 1600 } });
    page.setDefaultTimeout(UI_DEADLINE_MS);
    await page.goto(`${bot.url}/`);
  });
  afterAll(async () => {
    await browser?.close();
    await stopBot(bot);
  });

  it('/signoff digest in #general posts every section with the seeded figures and a PNG chart', async () => {
    await page.selectOption('[data-testid=person-select]', 'alice');
    await page.click('[data-testid=channel-general]');
    await page.fill('[data-testid=composer]', '/signoff digest');
    await page.click('[data-testid=send]');
    const digest = page.locator('[data-testid=message]', { hasText: 'Weekly digest · general' });
    await digest.waitFor({ timeout: DIGEST_DEADLINE_MS });
    const text = (await digest.textContent()) ?? '';
    for (const figure of [
      'Summary (offline: no model is configured, so rules wrote these sentences): 6 (+4) reviews were decided: 3 approved, 2 rejected, 1 expired.',
      'Runs started: 8 (+4)',
      'refund: 3 (+3)',
      'ticket-triage: 5 (+1)',
      'Reviews decided: approved 3 (+2) · approved after an edit 1 (+1) · rejected 2 (+1) · expired 1 (+1) · escalated 1 (+1)',
      'refund: 45m / 57m over 2 decisions (last week -)',
      'ticket-triage: 30m / 54m over 3 decisions (last week 1h 10m / 1h 50m)',
      'Oldest pending reviews (2 waiting):',
      '/signoff status run-P1',
      '/signoff status run-P2',
      'Decisions per person:',
      '@Alice',
      ': 2 (=), outside working hours',
      'Decisions outside working hours (Mon–Fri 09:00–18:00 Europe/Berlin)',
      'Rejection reasons (grouped by plain rules (offline model)): tone 1 (+1) · wrong facts 1 (+1) · missing information 0 (−1)',
      'Edited before approval: 1 of 3 approvals, 14% of words changed on average (last week 0 of 1, -)',
      'Policy refusals: self approval 1 (+1) · not allowed 0 (−1) · stale version 2 (+2)',
      'Model spend: $0.0350 (+$0.0050)',
      'ticket-triage: $0.0300 (=) in 2 calls, per approved item $0.0150',
      'Decisions per day, by outcome, with the median time to decision:',
    ])
      expect(text).toContain(figure);
    // The chart: an <img> the page loaded from the web chat, a PNG 800 px wide.
    const image = digest.locator('[data-testid=notice-image]');
    await expect
      .poll(
        () =>
          image.evaluate((img) => {
            const shown = img as unknown as { complete: boolean; naturalWidth: number };
            return shown.complete && shown.naturalWidth;
          }),
        { timeout: UI_DEADLINE_MS },
      )
      .toBe(800);
    const src = await image.getAttribute('src');
    const res = await fetch(`${bot!.url}${src}`);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(
      Buffer.from(await res.arrayBuffer())
        .subarray(0, 8)
        .toString('hex'),
    ).toBe('89504e470d0a1a0a');
    expect(await image.getAttribute('alt')).toMatch(/^Decisions per day in general from /);
    await digest.screenshot({ path: path.join(ARTIFACTS_DIR, 'weekly-digest.png') });
  });
});
