// A vitest reporter for the suite's watchdog (test/support/run-suite.ts): it appends one JSON line per
// event to the file named by MURMUR_TEST_PROGRESS, so the watchdog, a separate process, can tell a run
// that is making progress from one that is not, and which files had not finished when it stopped.
// Lines: {"e":"start","files":[...]} once, {"e":"tick"} on any other event (a test ready or done, a
// hook, a log), {"e":"fail","file":...} when a test or suite of a file fails (said at once: a file a
// worker then hangs in never ends, and its failure would be lost), {"e":"end","file":...,"state":...}
// per test file, {"e":"done","reason":...} at the end.
// Without MURMUR_TEST_PROGRESS it does nothing.

import { appendFileSync } from 'node:fs';
import type { Reporter, TestCase, TestModule, TestSpecification, TestSuite } from 'vitest/node';

export default class ProgressReporter implements Reporter {
  private readonly path = process.env.MURMUR_TEST_PROGRESS;
  private lastTick = 0;

  private write(line: object): void {
    if (this.path !== undefined) appendFileSync(this.path, `${JSON.stringify(line)}\n`);
  }

  /** Progress, written at most once a second (a busy run has thousands of events). */
  private tick(): void {
    const now = Date.now();
    if (now - this.lastTick < 1000) return;
    this.lastTick = now;
    this.write({ e: 'tick' });
  }

  onTestRunStart(specifications: ReadonlyArray<TestSpecification>): void {
    this.write({ e: 'start', files: [...new Set(specifications.map((s) => s.moduleId))] });
  }

  onTestModuleQueued(): void { this.tick(); }
  onTestModuleCollected(): void { this.tick(); }
  onTestModuleStart(): void { this.tick(); }
  onTestCaseReady(): void { this.tick(); }
  onTestCaseResult(testCase: TestCase): void {
    if (testCase.result().state === 'failed') this.write({ e: 'fail', file: testCase.module.moduleId });
    else this.tick();
  }
  onTestSuiteReady(): void { this.tick(); }
  onTestSuiteResult(testSuite: TestSuite): void {
    if (testSuite.state() === 'failed') this.write({ e: 'fail', file: testSuite.module.moduleId });
    else this.tick();
  }
  onHookStart(): void { this.tick(); }
  onHookEnd(): void { this.tick(); }
  onUserConsoleLog(): void { this.tick(); }

  onTestModuleEnd(testModule: TestModule): void {
    this.write({ e: 'end', file: testModule.moduleId, state: testModule.state() });
  }

  onTestRunEnd(_modules: ReadonlyArray<TestModule>, _errors: ReadonlyArray<unknown>, reason: string): void {
    this.write({ e: 'done', reason });
  }
}
