// One process per data directory (runtime/device/data-lock.ts): a second lock on a directory is refused
// naming the holder's pid, a released lock can be taken again, and (the socket-file form other
// platforms use) a file nothing answers on is taken over. Across processes, with kill -9 freeing the
// lock: test/device/e2e.test.ts.

import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { lockDataDir } from '../../runtime/device/data-lock.js';

const work = mkdtempSync(join(tmpdir(), 'murmur-lock-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('data directory lock', () => {
  for (const abstract of [true, false]) {
    it(`${abstract ? 'abstract socket' : 'socket file'}: a second lock is refused naming the holder, also through another spelling of the path; released, it can be taken again`, async () => {
      const dir = join(work, abstract ? 'a' : 'f');
      mkdirSync(dir);
      symlinkSync(dir, `${dir}-link`);
      const first = await lockDataDir(dir, { abstract });
      expect(first.ok).toBe(true);
      for (const spelling of [dir, `${dir}-link`, `${dir}/.`]) {
        const second = await lockDataDir(spelling, { abstract });
        expect(second.ok ? 'locked twice' : second.error).toBe(`${realpathSync(dir)} is in use by another murmur process (pid ${process.pid}); stop it first: two processes on one signer state could sign twice`);
      }
      if (first.ok) await first.value.release();
      const again = await lockDataDir(dir, { abstract });
      expect(again.ok).toBe(true);
      if (again.ok) await again.value.release();
    });
  }

  it('socket file: one nothing answers on (left by a process that died) is taken over', async () => {
    const dir = join(work, 'stale');
    mkdirSync(dir);
    writeFileSync(join(tmpdir(), `murmur-data-${createHash('sha256').update(realpathSync(dir)).digest('hex').slice(0, 24)}.sock`), '');
    const l = await lockDataDir(dir, { abstract: false });
    expect(l.ok ? 'taken' : l.error).toBe('taken');
    if (l.ok) await l.value.release();
  });

  it('names a directory that does not exist', async () => {
    const l = await lockDataDir(join(work, 'nowhere'));
    expect(l.ok ? 'locked' : l.error).toMatch(/^cannot lock .*nowhere: ENOENT/);
  });
});
