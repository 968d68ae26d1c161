// The one cbor-x configuration Murmur uses: plain maps as objects, byte strings untagged, no records.
// decodeCbor() runs the structural scan first, so hostile bytes never reach cbor-x unchecked.

import { Decoder, Encoder } from 'cbor-x';
import { limits } from '../lib/limits.js';
import { err, ok, type Result } from '../lib/result.js';
import { scanCbor, type ScanLimits } from './cbor-scan.js';

const encoder = new Encoder({ useRecords: false, tagUint8Array: false, mapsAsObjects: true, variableMapSize: true });
const decoder = new Decoder({ useRecords: false, mapsAsObjects: true });

export const defaultScanLimits: ScanLimits = {
  depthMax: limits.cborDepthMax,
  itemsMax: limits.cborItemsMax,
  collectionLengthMax: limits.cborCollectionLengthMax,
  textBytesMax: limits.cborTextBytesMax,
};

/** Encodes a value; Uint8Array values become plain CBOR byte strings. Key order is insertion order. */
export function encodeCbor(value: unknown): Uint8Array {
  return encoder.encode(value);
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
