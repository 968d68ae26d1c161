// Domain separation: the exact bytes an Ed25519 signature covers (docs/wire.md, "Signed bytes").
//   "murmur/v1/" || kindName || 0x00 || fleetId || 0x00 || body
// The kind name keeps a prevote signature from being replayed as a precommit; the fleet id keeps a
// signature from one fleet from being replayed in another.

import { concatBytes, utf8 } from '../lib/bytes.js';
import { limits } from '../lib/limits.js';

// Kind name -> fleet -> prefix: looked up by the two strings as they come, with no key built (a
// template-literal key cost a string and its flattening for every signature made and checked).
const tagCache = new Map<string, Map<string, Uint8Array>>();
let tagCount = 0;

function prefixOf(kindName: string, fleet: string): Uint8Array {
  let byFleet = tagCache.get(kindName);
  let prefix = byFleet?.get(fleet);
  if (!prefix) {
    prefix = utf8(`murmur/v1/${kindName}\u0000${fleet}\u0000`);
    if (tagCount < 64) {
      if (!byFleet) tagCache.set(kindName, (byFleet = new Map()));
      byFleet.set(fleet, prefix);
      tagCount++;
    }
  }
  return prefix;
}

export function signingBytes(kindName: string, fleet: string, body: Uint8Array): Uint8Array {
  return concatBytes(prefixOf(kindName, fleet), body);
}

let scratch = new Uint8Array(1_024);
let scratchInUse = false;

/**
 * Hands `use` the same bytes as signingBytes, built in a buffer this module reuses: every received
 * message is checked this way, and a fresh ArrayBuffer per check costs more than the copy. `use` must
 * not keep the view past its return. Bodies over limits.signingScratchBytesMax, and calls from inside
 * `use`, get their own copy.
 */
export function withSigningBytes<T>(kindName: string, fleet: string, body: Uint8Array, use: (message: Uint8Array) => T): T {
  const prefix = prefixOf(kindName, fleet);
  const length = prefix.length + body.length;
  if (scratchInUse || length > limits.signingScratchBytesMax) return use(concatBytes(prefix, body));
  if (scratch.length < length) scratch = new Uint8Array(Math.min(limits.signingScratchBytesMax, Math.max(length, 2 * scratch.length)));
  scratch.set(prefix, 0);
  scratch.set(body, prefix.length);
  scratchInUse = true;
  try {
    return use(scratch.subarray(0, length));
  } finally {
    scratchInUse = false;
  }
}
