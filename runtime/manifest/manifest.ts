// The signed fleet manifest: loading, verifying and querying it. A tampered or wrongly signed manifest
// is refused with a message saying so; nothing starts on it.

import { hash, type Signer, type Verifier } from '../crypto/sodium.js';
import { bytesEqual, toHex } from '../lib/bytes.js';
import { compareIds } from '../lib/ids.js';
import { err, ok, type Result } from '../lib/result.js';
import { decodeCbor, encodeCbor } from '../wire/cbor.js';
import { parseWith } from '../wire/fields.js';
import { kinds, type KindName } from '../wire/kinds.js';
import { decodeEnvelope, sealEnvelope, verifyEnvelope } from '../wire/envelope.js';
import { manifestToCbor, parseManifestBody, type ManifestBody, type ManifestOperator, type ManifestValidator, type OperatorRole } from '../wire/manifest-body.js';

export const authoritySenderId = 'authority';

export interface Manifest {
  readonly body: ManifestBody;
  /** The signed envelope exactly as the authority produced it. */
  readonly bytes: Uint8Array;
  /** BLAKE2b-256 of `bytes`; blocks name the manifest in force by this hash. */
  readonly hash: Uint8Array;
  /** Validators sorted by id: the order every node iterates in. */
  readonly validators: readonly ManifestValidator[];
  readonly totalPower: number;
}

export function signManifest(body: ManifestBody, authority: Signer): Result<Manifest> {
  if (!bytesEqual(body.authority, authority.publicKey)) return err('the signing key is not the authority key named in the manifest');
  const bytes = sealEnvelope('manifest', body.fleet, authoritySenderId, encodeCbor(manifestToCbor(body)), authority);
  return ok(fromVerified(body, bytes));
}

/**
 * Checks a signed manifest. With `pinnedAuthority` (a device's configured authority key), a manifest
 * signed by any other key is refused even if its signature is internally consistent.
 */
export function verifyManifest(bytes: Uint8Array, verifier: Verifier, pinnedAuthority?: Uint8Array): Result<Manifest> {
  const raw = decodeEnvelope(bytes);
  if (!raw.ok) return err(`manifest is not a valid signed envelope: ${raw.error.message}`);
  if (raw.value.kind !== 'manifest') return err(`file holds a ${raw.value.kind} message, not a manifest`);
  if (raw.value.sender !== authoritySenderId) return err(`manifest sender must be "${authoritySenderId}", is "${raw.value.sender}"`);
  // The body names its own authority key; parse it (unverified) to learn which key to check it with.
  const authorityKey = peekAuthority(raw.value.body);
  if (!authorityKey.ok) return err(`manifest body is invalid: ${authorityKey.error}`);
  if (pinnedAuthority && !bytesEqual(pinnedAuthority, authorityKey.value)) {
    return err(`manifest is signed for authority ${toHex(authorityKey.value).slice(0, 16)}…, but this device trusts authority ${toHex(pinnedAuthority).slice(0, 16)}…`);
  }
  const v = verifyEnvelope(raw.value, { fleet: raw.value.fleet, verifier, keyOf: () => authorityKey.value });
  if (!v.ok) {
    if (v.error.code === 'bad-signature') return err('manifest signature does not verify: the manifest was tampered with or signed by another key');
    return err(`manifest is invalid: ${v.error.message}`);
  }
  if (v.value.kind !== 'manifest') return err('not a manifest');
  const body = v.value.parsed;
  if (body.fleet !== raw.value.fleet) return err(`manifest body names fleet "${body.fleet}" but its envelope names "${raw.value.fleet}"`);
  return ok(fromVerified(body, bytes));
}

/** The authority key a signed manifest names, unverified (null: not a manifest): for naming what does
 *  not match in an error, never for trusting it. */
export function manifestAuthority(bytes: Uint8Array): Uint8Array | null {
  const raw = decodeEnvelope(bytes);
  if (!raw.ok || raw.value.kind !== 'manifest') return null;
  const a = peekAuthority(raw.value.body);
  return a.ok ? a.value : null;
}

function peekAuthority(body: Uint8Array): Result<Uint8Array> {
  const d = decodeCbor(body, kinds.manifest.bodyBytesMax);
  if (!d.ok) return d;
  const p = parseWith('manifest', d.value, parseManifestBody);
  return p.ok ? ok(p.value.authority) : p;
}

function fromVerified(body: ManifestBody, bytes: Uint8Array): Manifest {
  const validators = [...body.validators].sort((a, b) => compareIds(a.id, b.id));
  let totalPower = 0;
  for (const v of validators) totalPower += v.power;
  return { body, bytes, hash: hash(bytes), validators, totalPower };
}

export type MemberRole = 'validator' | 'follower' | 'operator';

type Member = { readonly role: MemberRole; readonly publicKey: Uint8Array };

/** Each manifest's members by id, built on first use: every received message looks its sender up, and a
 *  scan of a thousand-device manifest for each operator command was 3% of a 1000-device simulation's
 *  CPU profile (within the benchmark's run-to-run noise). */
const membersOf = new WeakMap<Manifest, ReadonlyMap<string, Member>>();

export function memberOf(m: Manifest, id: string): Member | undefined {
  let byId = membersOf.get(m);
  if (byId === undefined) {
    const map = new Map<string, Member>();
    // The first listing wins, as the scan in validators, followers, operators order did.
    const add = (role: MemberRole, list: readonly { readonly id: string; readonly publicKey: Uint8Array }[]): void => {
      for (const x of list) if (!map.has(x.id)) map.set(x.id, { role, publicKey: x.publicKey });
    };
    add('validator', m.body.validators);
    add('follower', m.body.followers);
    add('operator', m.body.operators);
    membersOf.set(m, (byId = map));
  }
  return byId.get(id);
}

export function operatorOf(m: Manifest, id: string): ManifestOperator | undefined {
  return m.body.operators.find((x) => x.id === id);
}

export function hasRole(op: ManifestOperator, role: OperatorRole): boolean {
  return op.roles.includes(role) || op.roles.includes('admin');
}

/** Which member roles may send which kinds: devices never sign commands, operators never vote. */
const kindSenders: Record<KindName, readonly MemberRole[]> = {
  manifest: [],
  command: ['operator'],
  proposal: ['validator'],
  prevote: ['validator'],
  precommit: ['validator'],
  heartbeat: ['validator', 'follower'],
  attestation: ['validator', 'follower'],
  status: ['validator', 'follower'],
  'sync-request': ['validator', 'follower'],
  'sync-response': ['validator', 'follower'],
  evidence: ['validator'],
  ack: ['validator', 'follower'],
  telemetry: ['validator', 'follower'],
  'snapshot-request': ['validator', 'follower'],
  'snapshot-offer': ['validator', 'follower'],
  'chunk-request': ['validator', 'follower'],
  'snapshot-chunk': ['validator', 'follower'],
};

/** The `keyOf` lookup for openEnvelope, answering with a reason when a sender may not send a kind. */
export function keyLookup(m: Manifest): (sender: string, kind: KindName) => Uint8Array | string {
  return (sender, kind) => {
    const member = memberOf(m, sender);
    if (!member) return `sender "${sender}" is not in the fleet manifest (epoch ${m.body.epoch})`;
    if (!kindSenders[kind].includes(member.role)) return `a ${member.role} ("${sender}") may not send ${kind} messages`;
    return member.publicKey;
  };
}
