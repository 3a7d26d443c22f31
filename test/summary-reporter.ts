/**
 * Prints one plain line at the very end of a run, `N passed, N failed` (plus
 * `, N skipped` when any were), for CI logs and scripts to grep. Counts single tests
 * across all projects. A file that failed without a failing test (it did not load, or
 * a beforeAll/afterAll hook threw) counts as one failed test, and so does each
 * unhandled error or a run that failed with no test to blame (no test files found),
 * so "0 failed" appears only when vitest itself passed.
 */
import type { Reporter, SerializedError, TestModule, TestRunEndReason, Vitest } from 'vitest/node';

interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}

export default class SummaryReporter implements Reporter {
  private vitest: Vitest | undefined;

  onInit(vitest: Vitest): void {
    this.vitest = vitest;
  }

  onTestRunEnd(
    testModules: ReadonlyArray<TestModule>,
    unhandledErrors: ReadonlyArray<SerializedError>,
    reason: TestRunEndReason,
  ): void {
    const counts: Counts = { passed: 0, failed: unhandledErrors.length, skipped: 0 };
    for (const testModule of testModules) addModule(counts, testModule);
    // A run vitest failed for any other reason (e.g. no test files found) still says so.
    if (reason === 'failed' && counts.failed === 0) counts.failed = 1;
    const line = formatSummary(counts);
    if (this.vitest) this.vitest.logger.log(line);
    else console.log(line);
  }
}

function addModule(counts: Counts, testModule: TestModule): void {
  let failedHere = 0;
  for (const test of testModule.children.allTests()) {
    const state = test.result().state;
    if (state === 'passed') counts.passed++;
    else if (state === 'failed') failedHere++;
    else counts.skipped++; // skipped, todo, or still pending when the run was interrupted
  }
  if (failedHere === 0 && testModule.state() === 'failed') failedHere = 1;
  counts.failed += failedHere;
}

export function formatSummary({ passed, failed, skipped }: Counts): string {
  return `${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`;
}
