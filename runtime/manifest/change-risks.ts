// The manifest changes `murmur fleet sign --previous` and `murmurctl send fleet.update` refuse unless
// --force: a next manifest every device would take (signed, newer) that leaves the fleet unable to
// commit, without fault tolerance, or with no one who may change the manifest again.

import { bytesEqual } from '../lib/bytes.js';
import type { ManifestBody } from '../wire/manifest-body.js';

/** The fewest validators that tolerate a faulty or stopped one: n >= 3f + 1 with f = 1 (BFT bound). */
export const validatorsMin = 4;

const list = (ids: readonly string[]): string => (ids.length === 0 ? 'none' : ids.join(', '));

/**
 * What is wrong with replacing `current` (the manifest in force) by `next`, one clause each, or an empty
 * list. Checked:
 * - fewer than validatorsMin validators: f = 0, so one validator down stops every commit;
 * - the validators kept from `current` (same id and public key: a rotated key is a process started
 *   anew) holding no more than 2/3 of `next`'s voting power: a quorum is more than 2/3, so nothing
 *   commits until the new ones run with the new manifest and are heard (the review's bricked fleet: its
 *   only validator was one that was not running, and no later fleet.update could commit to repair it);
 * - no operator with the admin role: fleet.update needs one, so the manifest could never change again.
 */
export function manifestChangeRisks(current: ManifestBody, next: ManifestBody): string[] {
  const risks: string[] = [];
  const n = next.validators.length;
  if (n < validatorsMin) {
    risks.push(`it has ${n} validator${n === 1 ? '' : 's'} (${list(next.validators.map((v) => v.id))}): fewer than ${validatorsMin} tolerate no faulty or stopped validator, so one down stops every commit`);
  }
  const kept = next.validators.filter((v) => current.validators.some((c) => c.id === v.id && bytesEqual(c.publicKey, v.publicKey)));
  const keptPower = kept.reduce((s, v) => s + v.power, 0);
  const total = next.validators.reduce((s, v) => s + v.power, 0);
  if (total > 0 && keptPower * 3 <= total * 2) {
    const added = next.validators.filter((v) => !kept.includes(v)).map((v) => v.id);
    risks.push(
      `the validators it keeps from epoch ${current.epoch} (${list(kept.map((v) => v.id))}) hold ${keptPower} of its ${total} voting power, not more than 2/3: nothing commits (no later fleet.update either) until ${list(added)} run with the new manifest and are heard; change fewer validators (or keys) at once`,
    );
  }
  if (!next.operators.some((o) => o.roles.includes('admin'))) {
    risks.push('no operator has the admin role: fleet.update needs one, so the manifest could never be changed again; add one (murmur fleet add DRAFT --operator --key KEY --roles admin)');
  }
  return risks;
}
