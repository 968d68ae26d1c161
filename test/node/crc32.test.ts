// The WAL's checksum must stay the CRC-32 every record on disk was written with: the standard check
// value, and equality with a table-driven reference over random inputs.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32 } from '../../runtime/node/crc32.js';

const table = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function reference(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = (table[(c ^ b) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

describe('crc32', () => {
  it('gives the CRC-32 check value', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });

  it('equals the table-driven CRC-32 on any bytes, views into larger buffers included', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3_000 }), fc.nat(16), (b, cut) => {
        expect(crc32(b)).toBe(reference(b));
        const view = b.subarray(Math.min(cut, b.length));
        expect(crc32(view)).toBe(reference(view));
      }),
    );
  });
});
