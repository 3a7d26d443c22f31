/**
 * Two projects. `main` runs every test against DATABASE_URL when it is set, else
 * against a throwaway embedded Postgres (test/global-setup.ts). When DATABASE_URL is
 * set, `embedded` also runs the store and engine suites on the embedded server, so the
 * code we ship for machines without Postgres is tested against the same suites. The
 * store suites are the tests whose subject is a src/store module's SQL: the click
 * inbox and posts (store/slack), the console's messages (store/console), the model
 * ledger (store/ledger), reviews, reminders and their audit (store/reviews, store/jobs).
 */
import { defineConfig } from 'vitest/config';

const hasDatabaseUrl = Boolean(process.env.DATABASE_URL);

export default defineConfig({
  test: {
    pool: 'forks',
    // Two files at a time: most of the suite waits on bot processes, Postgres and fakes rather
    // than computing, so on CI's 2 cores two workers take ~8.5 minutes where vitest's default
    // there (cores - 1 = one worker) took ~11. Tests are isolated by schema, port and data dir.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default', './test/summary-reporter.ts'],
    projects: [
      {
        extends: true,
        test: { name: 'main', include: ['test/**/*.test.ts'], globalSetup: ['test/global-setup.ts'] },
      },
      ...(hasDatabaseUrl
        ? [
            {
              extends: true as const,
              test: {
                name: 'embedded',
                include: [
                  'test/integration/store/**/*.test.ts',
                  'test/integration/engine/**/*.test.ts',
                  'test/integration/slack/click-inbox.test.ts',
                  'test/integration/console/port.test.ts',
                  'test/integration/steps/model-gateway.test.ts',
                  'test/integration/review/**/*.test.ts',
                ],
                // It starts its own servers whatever the project; once in `main` is enough.
                exclude: ['test/integration/store/embedded.test.ts'],
                globalSetup: ['test/global-setup.ts'],
                env: { SIGNOFF_TEST_EMBEDDED: '1' },
              },
            },
          ]
        : []),
    ],
  },
});
