// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320): the per-record checksum of the WAL and the
// snapshot file. zlib's, as the link frames use: native, several times faster than a table in
// JavaScript over the blocks every commit record carries.

import { crc32 as zlibCrc32 } from 'node:zlib';

export function crc32(bytes: Uint8Array): number {
  return zlibCrc32(bytes) >>> 0;
}
