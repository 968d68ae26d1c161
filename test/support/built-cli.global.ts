// Vitest global setup: compiles the device code once per test run (`npm run build`'s compiler, into a
// scratch tree laid out as a release: bin/, dist/, package.json, node_modules) so the tests that start
// Murmur's CLIs as OS processes start the built JavaScript, as a device does, instead of loading every
// TypeScript module through tsx's loader in each process: about 0.3 s of CPU per start instead of 0.9 s
// (murmurctl --help on the development VM), over the few hundred processes the suite starts.
//
// MURMUR_TEST_CLI=source starts them from the TypeScript sources instead (bin/ in the clone, as a user
// runs them from a clone); the tests of that path itself (README quickstart, npm start) always do.
// In watch mode every rerun compiles again first (a few seconds), so a rerun never starts CLIs older
// than the sources; a build that fails removes the compiled tree rather than leave the last one.

import { cpSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { build } from '../../deploy/build.js';
import { sweepDeadScratch } from './stale-dirs.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The root whose bin/*.js the tests start: the scratch release tree, or the clone. */
    cliRoot: string;
  }
}

const repoRoot = join(import.meta.dirname, '..', '..');

export default function setup(project: TestProject): () => void {
  if (process.env.MURMUR_TEST_CLI === 'source') {
    project.provide('cliRoot', repoRoot);
    return () => {};
  }
  const scratch = join(repoRoot, '.murmur-tmp');
  // Trees of runs killed before their teardown (their PID is gone), and build scratch of theirs.
  const swept = sweepDeadScratch(scratch);
  if (swept.length > 0) process.stdout.write(`removed ${swept.length} scratch director${swept.length === 1 ? 'y' : 'ies'} of test runs that ended without their teardown: ${swept.join(', ')}\n`);
  const root = join(scratch, `test-cli-${process.pid}`);
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  symlinkSync(join(repoRoot, 'node_modules'), join(root, 'node_modules'));
  const compile = (): void => {
    try {
      const built = build(repoRoot, join(root, 'dist'));
      cpSync(join(repoRoot, 'bin'), join(root, 'bin'), { recursive: true });
      cpSync(join(repoRoot, 'package.json'), join(root, 'package.json'));
      process.stdout.write(`tests start Murmur's CLIs built: ${built.jsFiles} files compiled into ${root} in ${built.wallMs} ms (MURMUR_TEST_CLI=source: from the sources)\n`);
    } catch (e) {
      // A failed build leaves the last good one in place (deploy/build.ts); here that would be one older
      // than the sources, so it goes: a CLI a test starts then fails for want of it, never runs stale.
      rmSync(join(root, 'dist'), { recursive: true, force: true });
      if (e instanceof Error) e.message += `\nthe tests start Murmur's CLIs compiled from the sources: ${join(root, 'dist')} was removed, so none starts from an older build; fix the error, or set MURMUR_TEST_CLI=source`;
      throw e;
    }
  };
  try {
    compile();
  } catch (e) {
    rmSync(root, { recursive: true, force: true });
    throw e;
  }
  // Watch mode: the sources may have changed since; the CLIs the rerun starts are compiled from them.
  project.onTestsRerun(() => compile());
  project.provide('cliRoot', root);
  return () => rmSync(root, { recursive: true, force: true });
}
