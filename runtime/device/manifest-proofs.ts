// The proofs of the blocks that changed the fleet manifest, kept by each device in its data directory
// and published retained on node/<self>/manifests (docs/topics.md, "Manifest proofs"), so an operator
// whose manifest copy is older than the fleet's can follow the changes with keys it already trusts
// (runtime/manifest/successors.ts) instead of asking anyone for the manifest in force. A proof is the
// block (holding the manifest tx) and its commit certificate, exactly as the device committed them.

import { err, ok, type Result } from '../lib/result.js';
import { limits } from '../lib/limits.js';
import { decodeCbor, encodeCbor } from '../wire/cbor.js';
import { decodeProof, type BlockProof } from '../wire/proof.js';
import type { CommittedBlock } from '../consensus/types.js';
import type { Storage } from '../node/ports.js';

/** The file in the data directory; the same bytes as the retained payload. */
export const manifestProofsFile = 'manifest-proofs.cbor';
/** Proofs kept: the newest manifest changes (an operator's copy older than this many changes must be replaced). */
export const manifestProofsKept = 16;
/** The payload's limit, under the broker's packet limit with room for the topic: oldest dropped first. */
export const manifestProofsBytesMax = 1_048_576;

/** CBOR array of proofs (byte strings, each `[block bytes, certificate]` as wire/proof.ts encodes it), oldest first. */
export function encodeManifestProofs(proofs: readonly Uint8Array[]): Uint8Array {
  return encodeCbor(proofs.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)));
}

/** Decodes a payload; never throws on input. Proofs that do not decode are skipped and counted. */
export function decodeManifestProofs(bytes: Uint8Array): Result<{ proofs: BlockProof[]; raw: Uint8Array[]; bad: number }> {
  const d = decodeCbor(bytes, manifestProofsBytesMax);
  if (!d.ok) return err(`manifest proofs: ${d.error}`);
  if (!Array.isArray(d.value)) return err('manifest proofs: not an array of block proofs');
  const proofs: BlockProof[] = [];
  const raw: Uint8Array[] = [];
  let bad = 0;
  for (const item of d.value.slice(0, manifestProofsKept)) {
    const p = item instanceof Uint8Array ? decodeProof(item) : err('not a byte string');
    if (!p.ok) {
      bad++;
      continue;
    }
    proofs.push(p.value);
    raw.push(new Uint8Array(item as Uint8Array));
  }
  return ok({ proofs, raw, bad });
}

/**
 * Keeps the proofs of this device's committed blocks that hold a manifest tx. `publish` gets the
 * whole payload each time it changes (and once at start when the data directory holds some).
 */
export class ManifestProofs {
  private proofs: { height: number; bytes: Uint8Array }[] = [];

  constructor(
    private readonly storage: Storage,
    private readonly publish: (payload: Uint8Array) => void,
    /** Told once when the kept file does not decode (it is then started again from the next change). */
    warn: (message: string) => void,
  ) {
    const kept = storage.read(manifestProofsFile);
    if (kept === undefined) return;
    const d = decodeManifestProofs(kept);
    if (!d.ok || d.value.bad > 0) warn(`${manifestProofsFile} in the data directory ${d.ok ? `holds ${d.value.bad} proofs that do not decode` : `does not decode (${d.error})`}: ${d.ok ? 'the others are kept' : 'kept anew from the next manifest change'}`);
    if (d.ok) this.proofs = d.value.proofs.map((p, i) => ({ height: p.block.block.height, bytes: d.value.raw[i] as Uint8Array }));
  }

  /** The payload to publish (retained), or null while none is kept. */
  payload(): Uint8Array | null {
    return this.proofs.length === 0 ? null : encodeManifestProofs(this.proofs.map((p) => p.bytes));
  }

  /** Keeps `cb`'s proof if its block holds a manifest tx (a replayed block already kept is not kept twice). */
  onCommit(cb: CommittedBlock): void {
    if (!cb.txs.some((t) => t.kind === 'manifest')) return;
    const height = cb.block.height;
    if (this.proofs.some((p) => p.height === height)) return;
    if (cb.proof.length > limits.proofBytesMax) return;
    this.proofs = [...this.proofs, { height, bytes: cb.proof }].sort((a, b) => a.height - b.height).slice(-manifestProofsKept);
    let payload = encodeManifestProofs(this.proofs.map((p) => p.bytes));
    while (payload.length > manifestProofsBytesMax && this.proofs.length > 1) {
      this.proofs = this.proofs.slice(1);
      payload = encodeManifestProofs(this.proofs.map((p) => p.bytes));
    }
    this.storage.replace(manifestProofsFile, payload);
    this.publish(payload);
  }
}
