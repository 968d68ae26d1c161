// Identity key files: JSON holding an Ed25519 seed, written 0600 and refused when readable by others.

import { constants, promises as fs } from 'node:fs';
import { dirname } from 'node:path';
import { fromHex, toHex } from '../lib/bytes.js';
import { isValidId } from '../lib/ids.js';
import { fsReason } from '../lib/fs-reason.js';
import { err, ok, type Result } from '../lib/result.js';
import { keyPairFromSeed, publicKeyBytes, secretSeedBytes, type KeyPair } from './sodium.js';

export interface Identity extends KeyPair {
  readonly id: string;
}

interface KeyFileJson {
  format: 'murmur-ed25519-key/1';
  id: string;
  publicKey: string;
  seed: string;
}

export async function writeKeyFile(path: string, identity: Identity, opts: { force?: boolean } = {}): Promise<Result<void>> {
  const body: KeyFileJson = {
    format: 'murmur-ed25519-key/1',
    id: identity.id,
    publicKey: toHex(identity.publicKey),
    seed: toHex(identity.seed),
  };
  await fs.mkdir(dirname(path), { recursive: true });
  const flags = constants.O_WRONLY | constants.O_CREAT | (opts.force ? constants.O_TRUNC : constants.O_EXCL);
  let handle;
  try {
    handle = await fs.open(path, flags, 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
      return err(`key file ${path} already exists; refusing to overwrite an identity (pass --force to replace it)`);
    }
    return err(`cannot create key file ${path}: ${fsReason(e)}`);
  }
  try {
    await handle.chmod(0o600); // O_CREAT's mode is masked by umask; make it exact
    await handle.writeFile(JSON.stringify(body, null, 2) + '\n');
    await handle.sync();
  } finally {
    await handle.close();
  }
  return ok(undefined);
}

/**
 * Reads a secret key file, checking in the order an operator can fix things: it exists, it is a file
 * (not a directory), it is a secret key file (not the .pub beside it), then its mode, then its fields.
 */
export async function readKeyFile(path: string): Promise<Result<Identity>> {
  let st;
  try {
    st = await fs.stat(path);
  } catch (e) {
    return err(`cannot read key file ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  if (st.isDirectory()) return err(`${path} is a directory; give the secret key file written by keygen (like ${path.replace(/\/+$/, '')}/NAME.key)`);
  if (!st.isFile()) return err(`${path} is not a regular file; give the secret key file written by keygen`);
  let text: string;
  try {
    text = await fs.readFile(path, 'utf8');
  } catch (e) {
    return err(`cannot read key file ${path}: ${(e as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return err(`key file ${path} is not valid JSON (damaged, or not a key file); give the secret key file written by \`murmur keygen\`, or restore this one from its backup`);
  }
  const j = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as { [K in keyof KeyFileJson]?: unknown };
  if (j.format === 'murmur-ed25519-public/1') {
    const secret = path.endsWith('.pub') ? ` (${path.slice(0, -'.pub'.length)}?)` : '';
    return err(`${path} is a public key file; give the secret key file written by keygen${secret}`);
  }
  if (j.format !== 'murmur-ed25519-key/1') return err(`key file ${path}: field "format" must be "murmur-ed25519-key/1"; give the secret key file written by \`murmur keygen\`, or restore this one from its backup`);
  if ((st.mode & 0o077) !== 0) {
    const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
    return err(`key file ${path} is readable by other users (mode ${mode}); refusing to use it. Fix with: chmod 600 ${path}`);
  }
  if (!isValidId(j.id)) return err(`key file ${path}: field "id" must match [a-z0-9][a-z0-9._-]{0,63}; give the secret key file written by \`murmur keygen\`, or restore this one from its backup`);
  const seed = typeof j.seed === 'string' ? fromHex(j.seed) : undefined;
  if (!seed || seed.length !== secretSeedBytes) return err(`key file ${path}: field "seed" must be ${secretSeedBytes} bytes of hex; give the secret key file written by \`murmur keygen\`, or restore this one from its backup`);
  const kp = keyPairFromSeed(seed);
  const pk = typeof j.publicKey === 'string' ? fromHex(j.publicKey) : undefined;
  if (!pk || pk.length !== publicKeyBytes || toHex(pk) !== toHex(kp.publicKey)) {
    return err(`key file ${path}: field "publicKey" does not match the seed (the file is damaged); give the secret key file written by \`murmur keygen\`, or restore this one from its backup`);
  }
  return ok({ id: j.id, publicKey: kp.publicKey, seed: kp.seed });
}
