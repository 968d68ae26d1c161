// Report files are written whole or not at all (fleet-sim/report/atomic-file.ts): a write that fails
// part way (here a real file-size limit, `ulimit -f`, which makes write(2) fail with EFBIG exactly as a
// full disk fails with ENOSPC) leaves the previous report byte for byte, and no temporary file.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const child = resolve('test/dashboard/fixtures/write-report.ts');

/** Runs writeReport in a child process, under a file-size limit in KiB when given. */
function write(dir: string, o: { padBytes: number; events: number; tag: string; limitKiB?: number }): { status: number | null; stderr: string } {
  const cmd = `${o.limitKiB !== undefined ? `ulimit -f ${o.limitKiB}; ` : ''}exec "$0" --import tsx "$@"`;
  const r = spawnSync('bash', ['-c', cmd, process.execPath, child, dir, String(o.padBytes), String(o.events), o.tag], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stderr: r.stderr };
}

const files = (dir: string): string[] => readdirSync(dir).sort();
/** Each file's name, size and hash (a diff of megabytes of bytes would take minutes to print). */
const contents = (dir: string): string[] => files(dir).map((f) => {
  const b = readFileSync(join(dir, f));
  return `${f} ${b.length} bytes ${createHash('sha256').update(b).digest('hex').slice(0, 16)}`;
});

describe('report files are written atomically', () => {
  let dir = '';
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('writes both files whole and leaves no temporary file', () => {
    dir = mkdtempSync(join(tmpdir(), 'murmur-report-write-'));
    expect(write(dir, { padBytes: 300_000, events: 5_000, tag: 'first' })).toMatchObject({ status: 0 });
    expect(files(dir)).toEqual(['atomic-seed1.html', 'atomic-seed1.json']);
    const json = JSON.parse(readFileSync(join(dir, 'atomic-seed1.json'), 'utf8')) as { tag: string; pad: string };
    expect([json.tag, json.pad.length]).toEqual(['first', 300_000]);
    const html = readFileSync(join(dir, 'atomic-seed1.html'), 'utf8');
    expect(html.trimEnd().endsWith('</html>')).toBe(true);
    expect(html).toContain('first event 4999');
  });

  for (const c of [
    { what: 'the JSON', padBytes: 400_000, events: 10 },
    { what: 'the HTML (after the JSON was written)', padBytes: 10, events: 20_000 },
  ]) {
    it(`a write of ${c.what} that fails part way leaves the previous report whole and no temporary file`, () => {
      dir = mkdtempSync(join(tmpdir(), 'murmur-report-write-'));
      expect(write(dir, { padBytes: 100, events: 10, tag: 'previous' })).toMatchObject({ status: 0 });
      const before = contents(dir);
      // 256 KiB per file: the new JSON (or HTML) does not fit, so its write fails part way.
      const r = write(dir, { padBytes: c.padBytes, events: c.events, tag: 'second', limitKiB: 256 });
      expect(files(dir)).toEqual(['atomic-seed1.html', 'atomic-seed1.json']);
      expect(contents(dir)).toEqual(before);
      expect(r.status).toBe(1);
      // One line naming the directory and the cause, no stack.
      expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^cannot write the report to ${dir}: EFBIG .*left as they were$`))]);
    });
  }
});
