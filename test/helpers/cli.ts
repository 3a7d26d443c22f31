/**
 * Runs the `signoff` command line as a process (`node src/cli/signoff.mjs …`, the
 * package's bin), on a test schema, and collects its exit code and output. The
 * child's env starts from the test's, minus the database, platform and model
 * variables, so neither the suite's DATABASE_URL nor a developer's settings leak in; each run has a deadline.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = 'src/cli/signoff.mjs';
const DEADLINE_MS = 60_000;
/** Settings that would point a child at a real platform, model or database: each test passes its own. */
const CLEARED = /^(DATABASE_URL$|SLACK_|DISCORD_|OPENAI_|ZENDESK_|LINEAR_|HUBSPOT_|STRIPE_|WEBHOOK_|MODEL_|SIGNOFF_)/;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: Record<string, string>): Promise<CliResult> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => !CLEARED.test(key)));
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd: REPO_ROOT, env: { ...base, ...env }, timeout: DEADLINE_MS, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        if (code === null)
          return reject(new Error(`signoff ${args.join(' ')} did not finish: ${err?.message}\n${stderr}`));
        resolve({ code, stdout, stderr });
      },
    );
  });
}
