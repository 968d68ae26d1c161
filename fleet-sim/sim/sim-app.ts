// The application each simulated node runs: a digest chained over every committed command and the
// count of them. Small, but it depends on the whole history, so a node that restores it from a
// snapshot (its own, or one fetched by state sync) and then diverges is caught by the checkers.

import { hash } from '../../runtime/crypto/sodium.js';
import { concatBytes, utf8 } from '../../runtime/lib/bytes.js';
import { err, ok, type Result } from '../../runtime/lib/result.js';
import type { CommittedBlock } from '../../runtime/consensus/types.js';
import type { Application } from '../../runtime/node/ports.js';
import { decodeCbor, encodeCbor } from '../../runtime/wire/cbor.js';

export interface SimAppState {
  readonly height: number;
  readonly commands: number;
  readonly digest: Uint8Array;
}

// digest || utf8(nonceKey), built in one reused buffer: the bytes are hashed at once, and a fresh
// ArrayBuffer per command costs more than the hash. Keys longer than the buffer get their own.
const scratch = Buffer.alloc(256);

function chainInput(digest: Uint8Array, nonceKey: string): Uint8Array {
  if (digest.length + 3 * nonceKey.length > scratch.length) return concatBytes(digest, utf8(nonceKey));
  scratch.set(digest, 0);
  const written = scratch.write(nonceKey, digest.length, 'utf8');
  return scratch.subarray(0, digest.length + written);
}

export class SimApp implements Application {
  height = 0;
  commands = 0;
  digest: Uint8Array = new Uint8Array(32);

  /** `hashOf`: BLAKE2b-256 (the world's, which remembers answers across nodes). `onApplied`: told after
   *  every applied block (the world's checkers compare the states of all nodes). */
  constructor(
    private readonly hashOf: (bytes: Uint8Array) => Uint8Array = hash,
    private readonly onApplied: (s: SimAppState) => void = () => {},
  ) {}

  commit(c: CommittedBlock): void {
    for (const tx of c.txs) {
      if (tx.kind !== 'command') continue;
      this.digest = this.hashOf(chainInput(this.digest, tx.nonceKey));
      this.commands++;
    }
    this.height = c.block.height;
    this.onApplied({ height: this.height, commands: this.commands, digest: this.digest });
  }

  exportState(): Uint8Array {
    return encodeCbor([this.height, this.commands, this.digest]);
  }

  importState(bytes: Uint8Array): Result<void> {
    const d = decodeCbor(bytes, 128);
    if (!d.ok) return err(`sim app state: ${d.error}`);
    const v = d.value;
    if (!Array.isArray(v) || v.length !== 3 || typeof v[0] !== 'number' || typeof v[1] !== 'number' || !(v[2] instanceof Uint8Array) || v[2].length !== 32) return err('sim app state must be [height, commands, digest(32)]');
    this.height = v[0];
    this.commands = v[1];
    this.digest = v[2];
    return ok(undefined);
  }
}
