// deploy/install.sh interrupted while it switches the links (after the health-check trap is set, before
// `current` has moved): the rollback leaves current and previous as they were before the install. A stand-in
// `mv` on PATH holds the installer just before the rename of one link until the test has signalled it.

import { chmodSync, existsSync, mkdirSync, mkdtempSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { makeFixtureBundle } from './fixture-bundle.js';
import { runInstall, startProcess } from './run-install.js';

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'murmur-install-window-'));
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

/**
 * An `mv` that, once, waits before a rename onto opt/murmur/$HOLD_LINK: it creates $HOLD_MARK and waits (at
 * most 20 s) for $HOLD_GO, then renames, or fails without renaming when $HOLD_GO says "skip" or never came.
 */
const holdingMv = `#!/bin/sh
for last; do :; done
case $last in
  */opt/murmur/"$HOLD_LINK")
    if [ ! -e "$HOLD_MARK" ]; then
      : > "$HOLD_MARK"; i=0
      while [ ! -e "$HOLD_GO" ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
      { [ -e "$HOLD_GO" ] && [ "$(cat "$HOLD_GO")" != skip ]; } || exit 1
    fi ;;
esac
exec /usr/bin/mv "$@"
`;

async function waitForFile(file: string, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!existsSync(file)) {
    if (Date.now() > until) throw new Error(`${file} did not appear within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.concurrent('a signal while install.sh switches the links', () => {
  for (const [link, moment] of [['previous', 'before either link moved'], ['current', 'after previous moved, before current']] as const) {
    it(`SIGTERM ${moment}: current and previous are what they were, pending removed`, async ({ expect }) => {
      const dir = join(work, link);
      const prefix = join(dir, 'root');
      const bundles = join(dir, 'bundles');
      const shims = join(dir, 'bin');
      mkdirSync(shims, { recursive: true });
      writeFileSync(join(shims, 'mv'), holdingMv);
      chmodSync(join(shims, 'mv'), 0o755);
      for (const v of ['0.9.0', '1.0.0']) expect((await runInstall(join(makeFixtureBundle(bundles, v, 'pass'), 'install.sh'), ['--prefix', prefix])).code).toBe(0);
      const links = () => ['current', 'previous'].map((l) => readlinkSync(join(prefix, 'opt/murmur', l)));
      expect(links()).toEqual(['releases/1.0.0', 'releases/0.9.0']);

      const mark = join(dir, 'held');
      const go = join(dir, 'go');
      const env = { PATH: `${shims}:${process.env.PATH ?? ''}`, HOLD_LINK: link, HOLD_MARK: mark, HOLD_GO: go };
      const { child, done } = startProcess('sh', [join(makeFixtureBundle(bundles, '2.0.0', 'pass'), 'install.sh'), '--prefix', prefix], env);
      await waitForFile(mark);
      expect(links()[0]).toBe('releases/1.0.0');
      child.kill('SIGTERM'); // acted on once the held rename is done
      writeFileSync(go, '');
      const r = await done;
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 1, stderr: 'install: interrupted before the health check of 2.0.0 passed: switching back\ninstall: rolled back: current is 1.0.0 again; 2.0.0 stays in releases/ for inspection; the data directory was not touched\n' });
      expect(links()).toEqual(['releases/1.0.0', 'releases/0.9.0']);
      expect(existsSync(join(prefix, 'opt/murmur/.switch-pending'))).toBe(false);
    });
  }

  it('kill -9 between the two renames: the next run gives previous back', async ({ expect }) => {
    const dir = join(work, 'kill9');
    const prefix = join(dir, 'root');
    const bundles = join(dir, 'bundles');
    const shims = join(dir, 'bin');
    mkdirSync(shims, { recursive: true });
    writeFileSync(join(shims, 'mv'), holdingMv);
    chmodSync(join(shims, 'mv'), 0o755);
    for (const v of ['0.9.0', '1.0.0']) expect((await runInstall(join(makeFixtureBundle(bundles, v, 'pass'), 'install.sh'), ['--prefix', prefix])).code).toBe(0);
    const links = () => ['current', 'previous'].map((l) => readlinkSync(join(prefix, 'opt/murmur', l)));
    const script = join(makeFixtureBundle(bundles, '2.0.0', 'pass'), 'install.sh');
    const { child, done } = startProcess('sh', [script, '--prefix', prefix], { PATH: `${shims}:${process.env.PATH ?? ''}`, HOLD_LINK: 'current', HOLD_MARK: join(dir, 'held'), HOLD_GO: join(dir, 'go') });
    await waitForFile(join(dir, 'held'));
    child.kill('SIGKILL'); // what a power cut leaves: previous moved, current not
    writeFileSync(join(dir, 'go'), 'skip'); // the held mv, orphaned, ends without renaming
    await done;
    expect(links()).toEqual(['releases/1.0.0', 'releases/1.0.0']);

    const again = await runInstall(join(bundles, 'murmur-1.0.0-fixture/install.sh'), ['--prefix', prefix]);
    expect(again.code).toBe(0);
    expect(links()).toEqual(['releases/1.0.0', 'releases/0.9.0']);
    expect(existsSync(join(prefix, 'opt/murmur/.switch-pending'))).toBe(false);
  });

  it('a failed health check gives previous back too (it used to be removed: no rollback target left)', async ({ expect }) => {
    const dir = join(work, 'failed-check');
    const prefix = join(dir, 'root');
    const bundles = join(dir, 'bundles');
    for (const v of ['0.9.0', '1.0.0']) expect((await runInstall(join(makeFixtureBundle(bundles, v, 'pass'), 'install.sh'), ['--prefix', prefix])).code).toBe(0);
    const r = await runInstall(join(makeFixtureBundle(bundles, '2.0.0', 'fail'), 'install.sh'), ['--prefix', prefix, '--health-timeout', '1']);
    expect(r.code).toBe(1);
    expect(['current', 'previous'].map((l) => readlinkSync(join(prefix, 'opt/murmur', l)))).toEqual(['releases/1.0.0', 'releases/0.9.0']);
  });
});
