// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), table-driven; the C firmware computes the
// same bit by bit. 32 bits because a test pushes thousands of corrupt frames through it.

const table = new Uint32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  table[n] = c >>> 0;
}

export function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) crc = (table[(crc ^ b) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** FNV-1a over (seq, delta) little-endian: the firmware's order-independent digest of applied ADDs. */
export function addDigest(seq: number, delta: number): number {
  let h = 0x811c9dc5;
  const d = delta >>> 0;
  for (let i = 0; i < 4; i++) h = Math.imul(h ^ ((seq >>> (8 * i)) & 0xff), 0x01000193) >>> 0;
  for (let i = 0; i < 4; i++) h = Math.imul(h ^ ((d >>> (8 * i)) & 0xff), 0x01000193) >>> 0;
  return h >>> 0;
}
