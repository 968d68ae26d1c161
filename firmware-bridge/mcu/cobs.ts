// COBS (Consistent Overhead Byte Stuffing, Cheshire & Baker 1999): a frame contains no 0x00, so 0x00
// delimits frames and a receiver resynchronises at the next delimiter after any corruption.

// One encoder for radio packets and MCU frames. It ends on a full block, as COBS defines: the copy
// that was here added an empty block after one, a byte more than the frame needed.
export { cobsEncode } from '../../runtime/links/cobs.js';

/** Decodes one frame (without its delimiter); null when malformed or longer than maxBytes. */
export function cobsDecode(input: Uint8Array, maxBytes: number): Uint8Array | null {
  const out = new Uint8Array(Math.min(maxBytes, input.length));
  let i = 0;
  let o = 0;
  while (i < input.length) {
    const code = input[i++] as number;
    if (code === 0) return null;
    for (let k = 1; k < code; k++) {
      if (i >= input.length || o >= out.length || input[i] === 0) return null;
      out[o++] = input[i++] as number;
    }
    if (code !== 0xff && i < input.length) {
      if (o >= out.length) return null;
      out[o++] = 0;
    }
  }
  return out.subarray(0, o);
}
