// Domain separation: the exact bytes an Ed25519 signature covers (docs/wire.md, "Signed bytes").
//   "murmur/v1/" || kindName || 0x00 || fleetId || 0x00 || body
// The kind name keeps a prevote signature from being replayed as a precommit; the fleet id keeps a
// signature from one fleet from being replayed in another.

import { concatBytes, utf8 } from '../lib/bytes.js';

const tagCache = new Map<string, Uint8Array>();

export function signingBytes(kindName: string, fleet: string, body: Uint8Array): Uint8Array {
  const key = `${kindName}\u0000${fleet}`;
  let prefix = tagCache.get(key);
  if (!prefix) {
    prefix = utf8(`murmur/v1/${kindName}\u0000${fleet}\u0000`);
    if (tagCache.size < 64) tagCache.set(key, prefix);
  }
  return concatBytes(prefix, body);
}
