// What a running device takes from the fleet manifest in force, which a fleet.update changes while it
// runs: the peers its links listen to (every validator and follower but itself), and whether it still
// belongs to the fleet under its own key. Pure: device.ts asks after its replay, on each commit and once
// a second, and acts on the answers.

import { memberOf, type Manifest } from '../manifest/manifest.js';

/** The devices `self` listens to: the members of every manifest given (the one in force and one already
 *  committed to take over two heights later, so a new member's first votes are heard), sorted. */
export function peersOf(self: string, manifests: readonly Manifest[]): string[] {
  const ids = new Set<string>();
  for (const m of manifests) for (const x of [...m.body.validators, ...m.body.followers]) if (x.id !== self) ids.add(x.id);
  return [...ids].sort();
}

const keyPrefix = (k: Uint8Array): string => `${Buffer.from(k).toString('hex').slice(0, 16)}…`;

/**
 * Why device `id` holding `publicKey` is out of the fleet under the manifest in force, or null while it
 * belongs: the manifest no longer lists it as a validator or follower, or lists another key for it (a
 * key rotation). A manifest in force older than the one the device was started with (`configured`) says
 * nothing yet: the device is still catching up to the epoch it was provisioned for.
 */
export function membershipProblem(id: string, publicKey: Uint8Array, configured: Manifest, inForce: Manifest): string | null {
  const epoch = inForce.body.epoch;
  if (epoch < configured.body.epoch) return null;
  const member = memberOf(inForce, id);
  if (member === undefined) return `the fleet manifest in force (epoch ${epoch}) no longer lists "${id}": a fleet.update removed it`;
  if (member.role === 'operator') return `the fleet manifest in force (epoch ${epoch}) lists "${id}" as an operator, no longer as a validator or follower`;
  if (!Buffer.from(member.publicKey).equals(Buffer.from(publicKey))) return `the fleet manifest in force (epoch ${epoch}) lists another key for "${id}" (${keyPrefix(member.publicKey)}; this device holds ${keyPrefix(publicKey)}): its key was rotated`;
  return null;
}
