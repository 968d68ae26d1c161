// The waits between starts of a device whose data directory takes no writes (runtime/device/storage-wait.ts):
// 1 s doubling to 60 s and no further, however long it waits, and the free bytes of a real file system.

import { describe, expect, it } from 'vitest';
import { freeBytesOf, storageRetryMs } from '../../runtime/device/storage-wait.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

describe('storage wait', () => {
  it('waits 1 s, doubling, capped at 60 s, even after a day of attempts', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7].map(storageRetryMs)).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]);
    expect(storageRetryMs(1_440)).toBe(60_000);
  });

  it('says how much room the file system has, and null for a directory that is gone', () => {
    expect(freeBytesOf(tmpdir())).toBeGreaterThan(0);
    expect(freeBytesOf(join(tmpdir(), 'murmur-no-such-dir-for-statfs', 'x'))).toBeNull();
  });
});
