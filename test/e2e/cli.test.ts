/**
 * The `signoff` command line as a process (the package's bin), against a test
 * schema: what it prints, what it changes, and the exit codes scripts rely on
 * (0 ok, 1 failed or not found, 2 usage).
 */
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';
import { useTestDb } from '../helpers/db.ts';

const db = useTestDb();
const env = () => ({ DATABASE_URL: db.url, SIGNOFF_SCHEMA: db.schema });

describe('signoff flows', () => {
  it('flows list --json lists the flows main loads, with their versions', async () => {
    const { code, stdout } = await runCli(['flows', 'list', '--json'], env());
    expect(code).toBe(0);
    const flows = JSON.parse(stdout) as { id: string; version: string }[];
    expect(flows.map((f) => f.id)).toEqual(['lead-qualification', 'refund-approval', 'ticket-triage', 'weekly-digest']);
    expect(flows.every((f) => /^[0-9a-f]{12,}$/.test(f.version))).toBe(true);
  });
});

describe('signoff usage errors', () => {
  it('an unknown command exits 2 with a usage line', async () => {
    const { code, stdout, stderr } = await runCli(['frobnicate'], env());
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain("unknown command 'frobnicate'");
    expect(stderr).toContain('usage: signoff [options] [command]');
  });

  it('a missing argument exits 2 with the usage line of that command', async () => {
    const { code, stderr } = await runCli(['flows', 'show'], env());
    expect(code).toBe(2);
    expect(stderr).toContain("missing required argument 'id'");
    expect(stderr).toContain('usage: signoff flows show [options] <id>');
  });

  it('a flow that does not exist exits 1 and names the known ones', async () => {
    const { code, stderr } = await runCli(['flows', 'show', 'nope'], env());
    expect(code).toBe(1);
    expect(stderr).toContain('no flow "nope"; known flows: lead-qualification, refund-approval, ticket-triage');
  });
});
