// Bad inputs for links that carry the plain link frame (memory, MQTT): one per drop reason.

import { crc32 } from 'node:zlib';
import { encodeFrame, fleetTag } from '../../runtime/links/frame.js';
import { Prng } from '../../runtime/lib/prng.js';
import type { BadInput } from './conformance.js';

export function frameBadInputs(valid: (p: Uint8Array) => Uint8Array, mtuBytes: number): BadInput[] {
  const prng = new Prng(99);
  const good = valid(prng.bytes(60));
  const badCrc = new Uint8Array(good);
  badCrc[20] = (badCrc[20] as number) ^ 0x5a;
  const oversized = Buffer.alloc(mtuBytes + 64, 7);
  oversized[0] = 0xa1;
  const random = prng.bytes(80);
  random[0] = 0x13; // not the frame version, so the reason is certain
  // A frame for another fleet with a correct CRC.
  const wrongFleet = encodeFrame(fleetTag('other-fleet'), 'consensus', prng.bytes(60));
  // A valid header but an unknown class, CRC fixed up.
  const badClass = Buffer.from(valid(prng.bytes(30)));
  badClass[1] = 9;
  badClass.writeUInt32BE(crc32(badClass.subarray(0, badClass.length - 4)) >>> 0, badClass.length - 4);
  return [
    { reason: 'bad-version', bytes: random },
    { reason: 'truncated', bytes: good.subarray(0, 8) },
    { reason: 'bad-crc', bytes: good.subarray(0, good.length - 3) },
    { reason: 'bad-crc', bytes: badCrc },
    { reason: 'oversized', bytes: oversized },
    { reason: 'wrong-fleet', bytes: wrongFleet },
    { reason: 'bad-class', bytes: badClass },
  ];
}
