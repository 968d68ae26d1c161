// Key handling shared by the murmur and murmurctl CLIs: keygen, and reading a public key from a
// key file, a .pub file or hex.

import { existsSync, promises as fs } from 'node:fs';
import { fromHex, toHex } from '../lib/bytes.js';
import { isValidId } from '../lib/ids.js';
import { generateKeyPair, publicKeyBytes } from '../crypto/sodium.js';
import { readKeyFile, writeKeyFile, type Identity } from '../crypto/key-file.js';
import { CliError, exitCodes } from './kit.js';
import { prepareOutputFile, writeOutputFile } from './output-file.js';

export interface PublicKeyFile {
  format: 'murmur-ed25519-public/1';
  id: string;
  publicKey: string;
}

/** Writes PATH (secret, 0600) and PATH.pub (public, shareable). */
export async function keygen(id: string, out: string, force: boolean): Promise<PublicKeyFile> {
  if (!isValidId(id)) throw new CliError(`--id "${id}" must match [a-z0-9][a-z0-9._-]{0,63}`, exitCodes.usage);
  // A directory, or a parent that cannot be made, is the operator's path to fix (exit 2), not a refusal.
  prepareOutputFile(out, '--out', `${id}.key`);
  const kp = generateKeyPair();
  const w = await writeKeyFile(out, { id, ...kp }, { force });
  // Only an identity already there is a refusal (exit 3); a path that cannot be written is the
  // operator's to fix, as for every file the CLIs write (exit 2).
  if (!w.ok && !force && existsSync(out)) throw new CliError(w.error, exitCodes.refused);
  if (!w.ok) throw new CliError(`${w.error}; give a path in a directory you can write`, exitCodes.usage);
  const pub: PublicKeyFile = { format: 'murmur-ed25519-public/1', id, publicKey: toHex(kp.publicKey) };
  writeOutputFile(`${out}.pub`, JSON.stringify(pub, null, 2) + '\n', { flag: '--out', mode: 0o644 });
  return pub;
}

export async function loadIdentity(path: string): Promise<Identity> {
  const r = await readKeyFile(path);
  if (!r.ok) throw new CliError(r.error, exitCodes.usage);
  return r.value;
}

/** Reads `{id, publicKey}` from a .pub file, a key file, or a bare hex key (id then comes from --id). */
export async function readPublicKey(source: string): Promise<{ id?: string; publicKey: Uint8Array }> {
  const hex = fromHex(source);
  if (hex && hex.length === publicKeyBytes) return { publicKey: hex };
  let text: string;
  try {
    text = await fs.readFile(source, 'utf8');
  } catch {
    throw new CliError(`"${source}" is neither a 64-hex-digit public key nor a readable key file`, exitCodes.usage);
  }
  let j: { format?: string; id?: string; publicKey?: string };
  try {
    j = JSON.parse(text) as typeof j;
  } catch {
    throw new CliError(`${source} is not a Murmur key file (not JSON)`, exitCodes.usage);
  }
  if (j.format === 'murmur-ed25519-key/1') {
    const idn = await loadIdentity(source);
    return { id: idn.id, publicKey: idn.publicKey };
  }
  const pk = typeof j.publicKey === 'string' ? fromHex(j.publicKey) : undefined;
  if (j.format !== 'murmur-ed25519-public/1' || !pk || pk.length !== publicKeyBytes || typeof j.id !== 'string') {
    throw new CliError(`${source} is not a Murmur public key file (expected format "murmur-ed25519-public/1")`, exitCodes.usage);
  }
  return { id: j.id, publicKey: pk };
}
