// Consistent Overhead Byte Stuffing (Cheshire and Baker, 1999): removes every 0x00 from a frame so
// 0x00 can delimit frames on a byte stream. Overhead: one byte per 254 started, plus the delimiter.
// A receiver that joins mid-stream or loses bytes resynchronises at the next 0x00.

export function cobsEncode(input: Uint8Array): Uint8Array {
  const out = new Uint8Array(input.length + Math.ceil(input.length / 254) + 1);
  let codeAt = 0;
  let o = 1;
  let code = 1;
  for (let i = 0; i < input.length; i++) {
    const b = input[i] as number;
    if (b === 0) {
      out[codeAt] = code;
      codeAt = o++;
      code = 1;
      continue;
    }
    out[o++] = b;
    code++;
    if (code === 0xff) {
      out[codeAt] = code;
      // A full block that ends the input needs no empty block after it (0xff implies no zero): with
      // one, 254 bytes without a zero took 256, a byte past a 256-byte radio packet.
      if (i === input.length - 1) return out.subarray(0, o);
      codeAt = o++;
      code = 1;
    }
  }
  out[codeAt] = code;
  return out.subarray(0, o);
}

/** undefined when the bytes are not valid COBS (a zero inside, or a code running past the end). */
export function cobsDecode(input: Uint8Array): Uint8Array | undefined {
  const out = new Uint8Array(input.length);
  let o = 0;
  let i = 0;
  while (i < input.length) {
    const code = input[i++] as number;
    if (code === 0) return undefined;
    const end = i + code - 1;
    if (end > input.length) return undefined;
    for (; i < end; i++) {
      const b = input[i] as number;
      if (b === 0) return undefined;
      out[o++] = b;
    }
    if (code !== 0xff && i < input.length) out[o++] = 0;
  }
  return out.subarray(0, o);
}

/**
 * Splits a byte stream into COBS packets at each 0x00, whatever the chunking. Bytes that pile up
 * without a delimiter beyond `maxBytes` are discarded (reported as an overflow) and the splitter
 * resynchronises at the next delimiter.
 */
export class CobsSplitter {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly maxBytes: number) {}

  /** The complete packets in this chunk (empty packets between double delimiters are skipped). */
  push(chunk: Uint8Array, onOverflow: () => void = () => {}): Uint8Array[] {
    const c = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const buf = this.pending.length === 0 ? c : Buffer.concat([this.pending, c]);
    const out: Uint8Array[] = [];
    let start = 0;
    for (let z = buf.indexOf(0, start); z >= 0; z = buf.indexOf(0, start)) {
      if (z > start) out.push(buf.subarray(start, z));
      start = z + 1;
    }
    let rest = buf.subarray(start);
    if (rest.length > this.maxBytes) {
      onOverflow();
      rest = Buffer.alloc(0);
    }
    this.pending = Buffer.from(rest); // a copy, so a large chunk is not kept alive by a small tail
    return out;
  }
}
