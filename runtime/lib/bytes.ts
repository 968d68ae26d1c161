// Byte helpers shared by the wire codec, crypto and storage.

export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Equal bytes, compared natively (memcmp: it stops at the first difference, so not for secrets). For
 *  the long public runs compared on hot paths: snapshot chunks, block proofs. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

/** Hex of the 32-byte values hashHex saw last, one per value of the last byte. */
interface HexOfHash {
  readonly bytes: Uint8Array;
  readonly hex: string;
}
const hashBytes = 32;
const hexOfHashes: (HexOfHash | null)[] = new Array<HexOfHash | null>(256).fill(null);

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/**
 * toHex of a public value, usually a 32-byte block hash: every vote names one, and each node reads it
 * from every vote it hears. A hash is answered from a small table when it equals, byte for byte, the
 * one last seen with the same final byte: comparing 32 bytes costs a quarter of building the string,
 * and the same string then serves every vote-set and map lookup. Never for secrets (the table keeps
 * what it is given).
 */
export function hashHex(b: Uint8Array): string {
  if (b.length !== hashBytes) return toHex(b);
  const slot = b[hashBytes - 1] as number;
  const known = hexOfHashes[slot] ?? null;
  if (known !== null && bytesEqualPublic(known.bytes, b)) return known.hex;
  const hex = toHex(b);
  hexOfHashes[slot] = { bytes: new Uint8Array(b), hex }; // a copy (a Buffer's slice() would share): the caller's bytes may change
  return hex;
}

/** Equal bytes, compared in JavaScript (short public values, where a native call costs more). */
function bytesEqualPublic(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return a.length === b.length;
}

export function fromHex(s: string): Uint8Array | undefined {
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(s)) return undefined;
  return new Uint8Array(Buffer.from(s, 'hex'));
}

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A Buffer view over the same memory (cbor-x writes Buffers as plain byte strings, untagged). */
export function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}
