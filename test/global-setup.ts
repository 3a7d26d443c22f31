/**
 * Vitest global setup: hands every test file a Postgres URL through
 * `inject('databaseUrl')`. Uses DATABASE_URL when set; otherwise, or when
 * SIGNOFF_TEST_EMBEDDED=1 (in the environment or in the project's `env`, which is how
 * the `embedded` project re-runs the store and engine suites on our own server), it
 * starts a throwaway embedded Postgres (fsync off) in a fresh temp dir and removes it
 * at the end. Tests make their own database or schema inside it; this file never does.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
// Type-only import: the augmentation below needs 'vitest' in the program.
import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../src/store/embedded.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A superuser URL: DATABASE_URL or the throwaway embedded server. */
    databaseUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const isEmbeddedForced =
    process.env.SIGNOFF_TEST_EMBEDDED === '1' || project.config.env?.SIGNOFF_TEST_EMBEDDED === '1';
  const externalUrl = process.env.DATABASE_URL;
  if (externalUrl && !isEmbeddedForced) {
    project.provide('databaseUrl', externalUrl);
    return async () => undefined;
  }
  const root = await mkdtemp(path.join(tmpdir(), 'signoff-test-pg-'));
  try {
    // mkdtemp makes 0700; as root, Postgres runs as uid 65534 and must traverse it.
    await chmod(root, 0o755);
    const server = await startEmbeddedPostgres({ dataDir: path.join(root, 'pg'), durable: false });
    project.provide('databaseUrl', server.url);
    return async () => {
      await server.stop();
      await rm(root, { recursive: true, force: true });
    };
  } catch (err) {
    await rm(root, { recursive: true, force: true });
    throw err;
  }
}
