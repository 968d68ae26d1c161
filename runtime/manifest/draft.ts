// The editable, unsigned form of a manifest (JSON, keys in hex) that `murmur fleet` edits before the
// authority signs it into the binary manifest devices load.

import { fromHex, toHex } from '../lib/bytes.js';
import { publicKeyBytes } from '../crypto/sodium.js';
import { err, type Result } from '../lib/result.js';
import { array, fail, id, map, oneOf, parseWith, uint } from '../wire/fields.js';
import { operatorRoles, parseManifestBody, type ManifestBody } from '../wire/manifest-body.js';

export interface DraftJson {
  format: 'murmur-fleet-draft/1';
  fleet: string;
  epoch: number;
  authority: string;
  validators: { id: string; publicKey: string; power: number }[];
  followers: { id: string; publicKey: string }[];
  operators: { id: string; publicKey: string; roles: string[] }[];
}

export const draftFormat = 'murmur-fleet-draft/1';

/**
 * A draft file's JSON, checked field by field: a hand edit that breaks its shape is named here (the
 * field and what it must be) rather than found later as a crash. Ids, keys and roles are checked as
 * the manifest checks them; duplicates and limits are left to draftToBody. Other keys are ignored (and
 * not written back), as they always were.
 */
export function parseDraft(v: unknown): Result<DraftJson> {
  return parseWith('fleet draft', v, (x): DraftJson => {
    const m = map(x, 'the draft');
    const field = (o: Record<string, unknown>, k: string, path: string): unknown => {
      if (o[k] === undefined) fail(`${path} is missing`);
      return o[k];
    };
    if (field(m, 'format', 'format') !== draftFormat) fail(`format must be "${draftFormat}"`);
    const key = (o: Record<string, unknown>, path: string): string => {
      const hex = field(o, 'publicKey', path);
      if (typeof hex !== 'string' || fromHex(hex)?.length !== publicKeyBytes) fail(`${path} must be a public key: ${publicKeyBytes * 2} hex digits`);
      return hex;
    };
    const list = (k: string): Record<string, unknown>[] =>
      array(field(m, k, k), k, Number.MAX_SAFE_INTEGER).map((e, i) => {
        const o = map(e, `${k}[${i}]`);
        id(field(o, 'id', `${k}[${i}].id`), `${k}[${i}].id`);
        key(o, `${k}[${i}].publicKey`);
        return o;
      });
    const fleet = id(field(m, 'fleet', 'fleet'), 'fleet');
    const epoch = uint(field(m, 'epoch', 'epoch'), 'epoch');
    const authority = field(m, 'authority', 'authority');
    if (typeof authority !== 'string' || fromHex(authority)?.length !== publicKeyBytes) fail(`authority must be the authority's public key: ${publicKeyBytes * 2} hex digits`);
    return {
      format: draftFormat,
      fleet,
      epoch,
      authority,
      validators: list('validators').map((o, i) => {
        const power = uint(field(o, 'power', `validators[${i}].power`), `validators[${i}].power`, 1_000_000);
        if (power < 1) fail(`validators[${i}].power must be at least 1`);
        return { id: o.id as string, publicKey: o.publicKey as string, power };
      }),
      followers: list('followers').map((o) => ({ id: o.id as string, publicKey: o.publicKey as string })),
      operators: list('operators').map((o, i) => ({
        id: o.id as string,
        publicKey: o.publicKey as string,
        roles: array(field(o, 'roles', `operators[${i}].roles`), `operators[${i}].roles`, operatorRoles.length).map((r, j) => oneOf(r, `operators[${i}].roles[${j}]`, operatorRoles)),
      })),
    };
  });
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
