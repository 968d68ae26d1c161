// The fleet manifest body: who votes, who follows, who may command. Signed by the fleet authority.

import { publicKeyBytes } from '../crypto/sodium.js';
import { limits } from '../lib/limits.js';
import { array, bytes, fail, id, map, onlyKeys, oneOf, uint } from './fields.js';

export const operatorRoles = ['admin', 'operator', 'observer'] as const;
export type OperatorRole = (typeof operatorRoles)[number];

export interface ManifestValidator {
  readonly id: string;
  readonly publicKey: Uint8Array;
  /** Voting power, a positive integer. */
  readonly power: number;
}
export interface ManifestFollower {
  readonly id: string;
  readonly publicKey: Uint8Array;
}
export interface ManifestOperator {
  readonly id: string;
  readonly publicKey: Uint8Array;
  readonly roles: readonly OperatorRole[];
}

export interface ManifestBody {
  readonly fleet: string;
  /** Increases with every change; a device accepts only a higher epoch from the same authority. */
  readonly epoch: number;
  /** The fleet authority's Ed25519 public key; it signs every manifest of this fleet. */
  readonly authority: Uint8Array;
  readonly validators: readonly ManifestValidator[];
  readonly followers: readonly ManifestFollower[];
  readonly operators: readonly ManifestOperator[];
  readonly createdAt: number;
}

export function manifestToCbor(m: ManifestBody): unknown {
  return {
    fleet: m.fleet,
    epoch: m.epoch,
    authority: m.authority,
    validators: m.validators.map((v) => ({ id: v.id, publicKey: v.publicKey, power: v.power })),
    followers: m.followers.map((f) => ({ id: f.id, publicKey: f.publicKey })),
    operators: m.operators.map((o) => ({ id: o.id, publicKey: o.publicKey, roles: [...o.roles] })),
    createdAt: m.createdAt,
  };
}

export function parseManifestBody(v: unknown): ManifestBody {
  const m = map(v, 'manifest');
  onlyKeys(m, ['fleet', 'epoch', 'authority', 'validators', 'followers', 'operators', 'createdAt'], 'manifest');
  const validators = array(m.validators, 'manifest.validators', limits.validatorsMax).map((x, i) => {
    const e = map(x, `manifest.validators[${i}]`);
    onlyKeys(e, ['id', 'publicKey', 'power'], `manifest.validators[${i}]`);
    const power = uint(e.power, `manifest.validators[${i}].power`, 1_000_000);
    if (power < 1) fail(`manifest.validators[${i}].power must be at least 1`);
    return { id: id(e.id, `manifest.validators[${i}].id`), publicKey: bytes(e.publicKey, `manifest.validators[${i}].publicKey`, publicKeyBytes), power };
  });
  const followers = array(m.followers, 'manifest.followers', limits.manifestMembersMax).map((x, i) => {
    const e = map(x, `manifest.followers[${i}]`);
    onlyKeys(e, ['id', 'publicKey'], `manifest.followers[${i}]`);
    return { id: id(e.id, `manifest.followers[${i}].id`), publicKey: bytes(e.publicKey, `manifest.followers[${i}].publicKey`, publicKeyBytes) };
  });
  const operators = array(m.operators, 'manifest.operators', limits.manifestMembersMax).map((x, i) => {
    const e = map(x, `manifest.operators[${i}]`);
    onlyKeys(e, ['id', 'publicKey', 'roles'], `manifest.operators[${i}]`);
    const roles = array(e.roles, `manifest.operators[${i}].roles`, operatorRoles.length).map((r, j) => oneOf(r, `manifest.operators[${i}].roles[${j}]`, operatorRoles));
    return { id: id(e.id, `manifest.operators[${i}].id`), publicKey: bytes(e.publicKey, `manifest.operators[${i}].publicKey`, publicKeyBytes), roles };
  });
  if (validators.length + followers.length + operators.length > limits.manifestMembersMax) fail(`manifest has more than ${limits.manifestMembersMax} members`);
  const ids = new Set<string>();
  for (const e of [...validators, ...followers, ...operators]) {
    if (ids.has(e.id)) fail(`manifest lists id "${e.id}" twice`);
    ids.add(e.id);
  }
  if (ids.has('authority')) fail('manifest member id "authority" is reserved for the fleet authority');
  return {
    fleet: id(m.fleet, 'manifest.fleet'),
    epoch: uint(m.epoch, 'manifest.epoch'),
    authority: bytes(m.authority, 'manifest.authority', publicKeyBytes),
    validators,
    followers,
    operators,
    createdAt: uint(m.createdAt, 'manifest.createdAt'),
  };
}
