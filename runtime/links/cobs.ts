// Consistent Overhead Byte Stuffing (Cheshire and Baker, 1999): removes every 0x00 from a frame so
// 0x00 can delimit frames on a byte stream. Overhead: one byte per 254, plus the delimiter. A receiver
// that joins mid-stream or loses bytes resynchronises at the next 0x00.

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
