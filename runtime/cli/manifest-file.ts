// A signed manifest file named on a command line (fleet verify/show/sign --previous, murmurctl --manifest,
// provision --manifest, device.yaml's manifest): a draft, key or other text file given instead is named
// for what it is, and an authority pinned on the command line is named as the operator gave it.

import { readFileSync } from 'node:fs';
import { createVerifier, type Verifier } from '../crypto/sodium.js';
import { bytesEqual, toHex } from '../lib/bytes.js';
import { verifyManifest, type Manifest } from '../manifest/manifest.js';
import { draftFormat } from '../manifest/draft.js';
import { CliError, exitCodes } from './kit.js';
import { fsReason } from './output-file.js';

/**
 * Why `bytes` is a text file (JSON or otherwise) rather than a signed manifest, which is binary CBOR;
 * null when it is not text. Said for what it most likely is: an unsigned draft, a key file, other text.
 * `next`: the manifest is to follow `previous` (fleet.update's), so a draft is to be signed as its
 * next epoch, into a file of its own.
 */
export function textManifestProblem(bytes: Uint8Array, path: string, next?: { previous: string; epoch: number }): string | null {
  const head = Buffer.from(bytes.subarray(0, 4_096)).toString('utf8');
  const text = head.length > 0 && !head.includes('\uFFFD') && !/[\x00-\x08\x0e-\x1f]/.test(head);
  if (!text) return null;
  let format: unknown;
  try {
    format = (JSON.parse(Buffer.from(bytes).toString('utf8')) as { format?: unknown }).format;
  } catch {
    /* text, not JSON */
  }
  if (format === draftFormat && next !== undefined) return `${path} is an unsigned fleet draft, not a signed manifest; sign it with \`murmur fleet sign ${path} --authority KEYFILE --previous ${next.previous} --epoch ${next.epoch} --out next.manifest\` and give --arg manifest=@next.manifest`;
  if (format === draftFormat) return `${path} is an unsigned fleet draft, not a signed manifest; sign it with \`murmur fleet sign ${path} --authority KEYFILE --out fleet.manifest\` and use fleet.manifest`;
  if (format === 'murmur-ed25519-key/1' || format === 'murmur-ed25519-public/1') return `${path} is a key file, not a signed manifest; give the file \`murmur fleet sign\` wrote`;
  return `${path} is a text file, not a signed manifest; give the (binary) file \`murmur fleet sign\` wrote`;
}

export interface PinnedAuthority {
  readonly key: Uint8Array;
  /** How the operator named it, like "--authority-key keys/authority.key.pub". */
  readonly from: string;
}

const short = (k: Uint8Array): string => `${toHex(k).slice(0, 16)}…`;

/**
 * Reads and verifies the signed manifest at `path`. A file that cannot be read or is text is a usage
 * error (2); one that does not verify, or is signed by another authority than `pin`, fails with `code`.
 */
export function readManifestFile(path: string, o: { pin?: PinnedAuthority; code?: number; verifier?: Verifier; what?: string } = {}): Manifest {
  const what = o.what ?? 'manifest';
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new CliError(`cannot read ${what} ${path}: ${fsReason(e)}`, exitCodes.usage);
  }
  const text = textManifestProblem(bytes, path);
  if (text !== null) throw new CliError(text, exitCodes.usage);
  const m = verifyManifest(bytes, o.verifier ?? createVerifier());
  if (!m.ok) throw new CliError(`${what} ${path}: ${m.error}`, o.code ?? exitCodes.failed);
  if (o.pin && !bytesEqual(o.pin.key, m.value.body.authority)) {
    throw new CliError(`${path} is signed by authority ${short(m.value.body.authority)}, not by ${o.pin.from} (${short(o.pin.key)}); check which authority key you meant (murmur fleet show ${path} names its signer)`, o.code ?? exitCodes.failed);
  }
  return m.value;
}
