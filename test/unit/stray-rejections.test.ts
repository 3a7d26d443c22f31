/**
 * src/ops/stray-rejections.ts in a process of its own (the rule is about what the process
 * does): a broken connection's rejection that nobody awaited is logged and survived, any
 * other stray rejection is logged and ends the process with 1.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { isConnectionError } from '../../src/ops/stray-rejections.ts';

/** Runs a script that installs the handler, rejects `reason` unawaited, then says it lived. */
function strayInChild(reason: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const script = `
    import { createLogger } from './src/ops/log.ts';
    import { handleStrayRejections } from './src/ops/stray-rejections.ts';
    handleStrayRejections(createLogger('info', (l) => process.stderr.write(l + '\\n'), { format: 'json' }));
    void Promise.reject(${reason});
    setTimeout(() => { process.stdout.write('still running'); process.exit(0); }, 300);`;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: new URL('../..', import.meta.url).pathname,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('stray promise rejections', () => {
  it('tells a broken connection by its code', () => {
    expect(isConnectionError(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isConnectionError(Object.assign(new Error('write CONNECTION_CLOSED'), { code: 'CONNECTION_CLOSED' }))).toBe(
      true,
    );
    expect(isConnectionError(Object.assign(new Error('duplicate key'), { code: '23505' }))).toBe(false);
    expect(isConnectionError(new Error('read ECONNRESET'))).toBe(false);
    expect(isConnectionError(null)).toBe(false);
  });

  it("a broken connection's stray rejection is logged and the process goes on", async () => {
    const { code, stdout, stderr } = await strayInChild(
      `Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })`,
    );
    expect([code, stdout]).toEqual([0, 'still running']);
    expect(stderr).toContain('a broken connection rejected a promise nobody awaited; carrying on');
  }, 20_000);

  it('any other stray rejection is logged and ends the process with 1', async () => {
    const { code, stdout, stderr } = await strayInChild(`new Error('a bug of ours')`);
    expect([code, stdout]).toEqual([1, '']);
    expect(stderr).toContain('unhandled promise rejection; stopping');
    expect(stderr).toContain('a bug of ours');
  }, 20_000);
});
