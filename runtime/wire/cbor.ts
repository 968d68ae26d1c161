// The one cbor-x configuration Murmur uses: plain maps as objects, byte strings untagged, no records.
// decodeCbor() runs the structural scan first, so hostile bytes never reach cbor-x unchecked.

import { Decoder, Encoder } from 'cbor-x';
import { limits } from '../lib/limits.js';
import { err, ok, type Result } from '../lib/result.js';
import { scanCbor, type ScanLimits } from './cbor-scan.js';

const encoder = new Encoder({ useRecords: false, tagUint8Array: false, mapsAsObjects: true, variableMapSize: true });
// int64AsNumber: the scan has already refused integers beyond ±(2^53-1), so numbers are exact.
const decoderOptions = { useRecords: false, mapsAsObjects: true, int64AsNumber: true }; // int64AsNumber is missing from cbor-x's .d.ts
const decoder = new Decoder(decoderOptions);

export const defaultScanLimits: ScanLimits = {
  depthMax: limits.cborDepthMax,
  itemsMax: limits.cborItemsMax,
  collectionLengthMax: limits.cborCollectionLengthMax,
  textBytesMax: limits.cborTextBytesMax,
};

/** Encodes a value; Uint8Array values become plain CBOR byte strings. Key order is insertion order. */
export function encodeCbor(value: unknown): Uint8Array {
  return encoder.encode(widenLargeInts(value));
}

const u32Limit = 0x100000000;

/**
 * cbor-x writes integers beyond 32 bits as float64; CBOR readers elsewhere (and the canonical vote
 * form) expect major type 0/1 integers. Such integers are handed to cbor-x as BigInt, which it writes
 * as 64-bit integers. Returns the input itself when nothing needs widening.
 */
function widenLargeInts(v: unknown): unknown {
  if (typeof v === 'number') {
    return Number.isInteger(v) && (v >= u32Limit || v < -u32Limit) && Number.isSafeInteger(v) ? BigInt(v) : v;
  }
  if (typeof v !== 'object' || v === null || v instanceof Uint8Array) return v;
  if (Array.isArray(v)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const w = widenLargeInts(v[i]);
      if (w !== v[i]) (out ??= v.slice())[i] = w;
    }
    return out ?? v;
  }
  let out: Record<string, unknown> | undefined;
  const obj = v as Record<string, unknown>;
  for (const k of Object.keys(obj)) {
    const w = widenLargeInts(obj[k]);
    if (w !== obj[k]) (out ??= { ...obj })[k] = w;
  }
  return out ?? v;
}

export function decodeCbor(bytes: Uint8Array, maxBytes: number, scan: ScanLimits = defaultScanLimits): Result<unknown> {
  if (bytes.length > maxBytes) return err(`too large: ${bytes.length} bytes (limit ${maxBytes})`);
  const s = scanCbor(bytes, scan);
  if (!s.ok) return s;
  try {
    return ok(decoder.decode(bytes));
  } catch (e) {
    return err(`malformed CBOR: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/**
 * Encodes with every map's keys in sorted order (and undefined members left out), so two equal values
 * give equal bytes however their objects were built: what a state snapshot needs, since its hash is
 * compared across nodes. Arrays keep their order.
 */
export function encodeCanonicalCbor(value: unknown): Uint8Array {
  return encodeCbor(sortKeys(value));
}

function sortKeys(v: unknown): unknown {
  if (typeof v !== 'object' || v === null || v instanceof Uint8Array) return v;
  if (Array.isArray(v)) return v.map(sortKeys);
  const obj = v as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(obj).sort()) if (obj[k] !== undefined) out[k] = sortKeys(obj[k]);
  return out;
}
