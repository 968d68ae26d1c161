// The MAVLink signing key a device shares with its flight controller (device.yaml
// hal.mavlink.signingKeyFile): read where the config is checked and where the HAL opens the port, without
// the config's schema libraries.

import { readFileSync } from 'node:fs';
import { err, ok, type Result } from '../lib/result.js';

/** A MAVLink signing key file: 64 hex digits (surrounding white space allowed), the 32-byte key. */
export function readSigningKey(path: string): Result<Uint8Array, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return err(`cannot read ${path}`);
  }
  const hex = text.trim();
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) return err(`${path} does not hold a signing key: 64 hex digits, ${hex.length} characters found`);
  return ok(Uint8Array.from(Buffer.from(hex, 'hex')));
}
