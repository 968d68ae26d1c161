// The editable, unsigned form of a manifest (JSON, keys in hex) that `murmur fleet` edits before the
// authority signs it into the binary manifest devices load.

import { fromHex, toHex } from '../lib/bytes.js';
import { publicKeyBytes } from '../crypto/sodium.js';
import { err, type Result } from '../lib/result.js';
import { parseWith } from '../wire/fields.js';
import { parseManifestBody, type ManifestBody } from '../wire/manifest-body.js';

export interface DraftJson {
  format: 'murmur-fleet-draft/1';
  fleet: string;
  epoch: number;
  authority: string;
  validators: { id: string; publicKey: string; power: number }[];
  followers: { id: string; publicKey: string }[];
  operators: { id: string; publicKey: string; roles: string[] }[];
}

export function draftToBody(d: DraftJson, createdAt: number): Result<ManifestBody> {
  if (d.format !== 'murmur-fleet-draft/1') return err('draft field "format" must be "murmur-fleet-draft/1"');
  const key = (hex: unknown, where: string): Uint8Array | string => {
    const b = typeof hex === 'string' ? fromHex(hex) : undefined;
    return b && b.length === publicKeyBytes ? b : `${where} must be ${publicKeyBytes} bytes of hex`;
  };
  const problems: string[] = [];
  const k = (hex: unknown, where: string): Uint8Array => {
    const r = key(hex, where);
    if (typeof r === 'string') {
      problems.push(r);
      return new Uint8Array(publicKeyBytes);
    }
    return r;
  };
  const candidate = {
    fleet: d.fleet,
    epoch: d.epoch,
    authority: k(d.authority, 'authority'),
    validators: (d.validators ?? []).map((v, i) => ({ id: v.id, publicKey: k(v.publicKey, `validators[${i}].publicKey`), power: v.power })),
    followers: (d.followers ?? []).map((f, i) => ({ id: f.id, publicKey: k(f.publicKey, `followers[${i}].publicKey`) })),
    operators: (d.operators ?? []).map((o, i) => ({ id: o.id, publicKey: k(o.publicKey, `operators[${i}].publicKey`), roles: o.roles })),
    createdAt,
  };
  if (problems.length > 0) return err(`draft: ${problems[0]}`);
  return parseWith('draft', candidate, parseManifestBody);
}

export function bodyToDraft(b: ManifestBody): DraftJson {
  return {
    format: 'murmur-fleet-draft/1',
    fleet: b.fleet,
    epoch: b.epoch,
    authority: toHex(b.authority),
    validators: b.validators.map((v) => ({ id: v.id, publicKey: toHex(v.publicKey), power: v.power })),
    followers: b.followers.map((f) => ({ id: f.id, publicKey: toHex(f.publicKey) })),
    operators: b.operators.map((o) => ({ id: o.id, publicKey: toHex(o.publicKey), roles: [...o.roles] })),
  };
}

/** A readable form for `murmur fleet show` and JSON output. */
export function describeManifest(b: ManifestBody, manifestHash?: Uint8Array): Record<string, unknown> {
  const d = bodyToDraft(b);
  return {
    fleet: d.fleet,
    epoch: d.epoch,
    createdAt: new Date(b.createdAt).toISOString(),
    ...(manifestHash ? { hash: toHex(manifestHash) } : {}),
    authority: d.authority,
    totalPower: b.validators.reduce((s, v) => s + v.power, 0),
    validators: d.validators,
    followers: d.followers,
    operators: d.operators,
  };
}
