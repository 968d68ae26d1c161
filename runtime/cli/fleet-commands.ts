// `murmur fleet init|add|remove|sign|show|verify`: the fleet authority's manifest workflow.

import { promises as fs } from 'node:fs';
import { createSigner } from '../crypto/sodium.js';
import { toHex } from '../lib/bytes.js';
import { isValidId } from '../lib/ids.js';
import { bodyToDraft, describeManifest, draftFormat, draftToBody, parseDraft, type DraftJson } from '../manifest/draft.js';
import { decodeEnvelope } from '../wire/envelope.js';
import { signManifest } from '../manifest/manifest.js';
import { operatorRoles } from '../wire/manifest-body.js';
import { manifestChangeRisks } from '../manifest/change-risks.js';
import { CliError, exitCodes, need, noStrayArguments, parse, printJson, unknownCommand } from './kit.js';
import { loadIdentity, readPublicKey } from './keys.js';
import { fsReason, writeOutputFile } from './output-file.js';
import { readManifestFile } from './manifest-file.js';

export const fleetUsage = `Usage: murmur fleet <verb> [options] [--json]

  init   --fleet ID --authority KEYFILE --out DRAFT.json [--force]
         start an unsigned manifest draft owned by the authority key
  add    DRAFT.json (--validator | --follower | --operator) --key PUBFILE|KEYFILE|HEX
         [--id ID] [--power N (validators, default 1)] [--roles admin,operator,observer]
  remove DRAFT.json --id ID
  sign   DRAFT.json --authority KEYFILE --out MANIFEST [--epoch N] [--previous OLD_MANIFEST] [--force]
         sign the draft; with --previous the epoch must be higher than the old one, and a draft
         with fewer than 4 validators, with no admin operator, or whose validators kept from the
         old manifest hold no more than 2/3 of its voting power is refused; a MANIFEST of the
         same fleet and epoch is replaced only with --force (which signs those drafts too)
  show   FILE [--json] [--draft]       print a draft or a signed manifest; --draft prints a signed
                                       manifest as a draft to edit (> draft.json)
  verify MANIFEST [--authority-key PUBFILE|HEX] [--json]
         check the signature (and, with --authority-key, that the pinned authority signed it)

  --json   every verb prints one JSON object saying what it did (show: the draft or manifest)`;

async function readDraft(path: string): Promise<DraftJson> {
  let raw: Buffer;
  try {
    raw = await fs.readFile(path);
  } catch (e) {
    throw new CliError(`cannot read draft ${path}: ${fsReason(e)}`, exitCodes.usage);
  }
  let j: unknown;
  try {
    j = JSON.parse(raw.toString('utf8'));
  } catch {
    const env = decodeEnvelope(new Uint8Array(raw));
    if (env.ok && env.value.kind === 'manifest') throw new CliError(`${path} is a signed manifest, not a draft; to edit it, export it first: murmur fleet show ${path} --draft > draft.json`, exitCodes.usage);
    throw new CliError(`${path} is not a fleet draft (JSON with "format": "${draftFormat}", from murmur fleet init)`, exitCodes.usage);
  }
  const format = typeof j === 'object' && j !== null ? (j as { format?: unknown }).format : undefined;
  if (format === 'murmur-ed25519-key/1' || format === 'murmur-ed25519-public/1') throw new CliError(`${path} is a key file, not a fleet draft; give the draft from murmur fleet init (or a signed manifest to show)`, exitCodes.usage);
  if (format !== draftFormat) throw new CliError(`${path} is not a fleet draft (JSON with "format": "${draftFormat}", from murmur fleet init)`, exitCodes.usage);
  const d = parseDraft(j);
  if (!d.ok) throw new CliError(`${path}: ${d.error}; fix it by hand, or start again with murmur fleet init`, exitCodes.usage);
  return d.value;
}

async function writeDraft(path: string, d: DraftJson): Promise<void> {
  const check = draftToBody(d, 0);
  if (!check.ok) throw new CliError(check.error, exitCodes.usage);
  writeOutputFile(path, JSON.stringify(d, null, 2) + '\n', { flag: 'DRAFT' });
}

export async function fleetCommand(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  const opts = {
    fleet: { type: 'string' },
    authority: { type: 'string' },
    'authority-key': { type: 'string' },
    out: { type: 'string' },
    force: { type: 'boolean' },
    validator: { type: 'boolean' },
    follower: { type: 'boolean' },
    operator: { type: 'boolean' },
    key: { type: 'string' },
    id: { type: 'string' },
    power: { type: 'string' },
    roles: { type: 'string' },
    epoch: { type: 'string' },
    previous: { type: 'string' },
    json: { type: 'boolean' },
    draft: { type: 'boolean' },
  } as const;
  const a = parse(rest, opts, fleetUsage);
  const v = a.values;
  if (v.help) {
    process.stdout.write(fleetUsage + '\n');
    return exitCodes.ok;
  }
  const file = a.positionals[0];
  noStrayArguments(a.positionals, verb === 'init' ? 0 : 1, () => (verb === 'init' ? 'fleet init takes the fleet as --fleet ID and the draft as --out FILE' : `fleet ${verb ?? ''} takes one file, ${file ?? ''}`));
  switch (verb) {
    case 'init': {
      const fleet = need(v.fleet, 'fleet');
      if (!isValidId(fleet)) throw new CliError(`--fleet "${fleet}" must match [a-z0-9][a-z0-9._-]{0,63}`, exitCodes.usage);
      const authority = await loadIdentity(need(v.authority, 'authority'));
      const out = need(v.out, 'out');
      const d: DraftJson = { format: 'murmur-fleet-draft/1', fleet, epoch: 1, authority: toHex(authority.publicKey), validators: [], followers: [], operators: [] };
      writeOutputFile(out, JSON.stringify(d, null, 2) + '\n', { flag: '--out', exclusive: v.force !== true, example: 'draft.json' });
      if (v.json) printJson({ ok: true, verb: 'init', draft: out, fleet, epoch: d.epoch, authority: d.authority });
      else process.stdout.write(`wrote draft ${out} for fleet "${fleet}"\n`);
      return exitCodes.ok;
    }
    case 'add': {
      const path = need(file, 'DRAFT (first argument)');
      const d = await readDraft(path);
      const roles = [v.validator, v.follower, v.operator].filter(Boolean).length;
      if (roles !== 1) throw new CliError('give exactly one of --validator, --follower, --operator', exitCodes.usage);
      // Only a validator votes: a follower's or an operator's --power was dropped unsaid.
      if (v.power !== undefined && !v.validator) throw new CliError(`--power is a validator's voting power; ${v.follower ? 'a follower' : 'an operator'} has none (drop --power, or add it with --validator)`, exitCodes.usage);
      // Written in digits only: 1e3 was taken as 1000, and 1e30 was blamed on the draft when it was signed.
      if (v.power !== undefined && (!/^\d{1,7}$/.test(v.power) || Number(v.power) < 1 || Number(v.power) > 1_000_000)) throw new CliError(`--power must be a whole number from 1 to 1000000, got "${v.power}"`, exitCodes.usage);
      const pk = await readPublicKey(need(v.key, 'key'));
      const id = v.id ?? pk.id;
      if (!id || !isValidId(id)) throw new CliError('an id is needed: pass --id ID (or a key file that names one)', exitCodes.usage);
      const all = [...d.validators, ...d.followers, ...d.operators];
      if (all.some((m) => m.id === id)) throw new CliError(`"${id}" is already in the draft; remove it first`, exitCodes.refused);
      const publicKey = toHex(pk.publicKey);
      if (all.some((m) => m.publicKey === publicKey)) throw new CliError(`that public key is already in the draft`, exitCodes.refused);
      if (v.validator) {
        const power = v.power === undefined ? 1 : Number(v.power);
        d.validators.push({ id, publicKey, power });
      } else if (v.follower) {
        d.followers.push({ id, publicKey });
      } else {
        const list = (v.roles ?? 'operator').split(',').map((r) => r.trim());
        for (const r of list) if (!(operatorRoles as readonly string[]).includes(r)) throw new CliError(`--roles: "${r}" is not one of ${operatorRoles.join(', ')}`, exitCodes.usage);
        d.operators.push({ id, publicKey, roles: list });
      }
      await writeDraft(path, d);
      const role = v.validator ? 'validator' : v.follower ? 'follower' : 'operator';
      const added = [...d.validators, ...d.followers, ...d.operators].find((m) => m.id === id);
      if (v.json) printJson({ ok: true, verb: 'add', draft: path, role, ...added });
      else process.stdout.write(`added ${role} "${id}" to ${path}\n`);
      return exitCodes.ok;
    }
    case 'remove': {
      const path = need(file, 'DRAFT (first argument)');
      const d = await readDraft(path);
      const id = need(v.id, 'id');
      const before = d.validators.length + d.followers.length + d.operators.length;
      d.validators = d.validators.filter((m) => m.id !== id);
      d.followers = d.followers.filter((m) => m.id !== id);
      d.operators = d.operators.filter((m) => m.id !== id);
      if (d.validators.length + d.followers.length + d.operators.length === before) throw new CliError(`"${id}" is not in ${path} (murmur fleet show ${path} lists who is)`, exitCodes.usage);
      await writeDraft(path, d);
      if (v.json) printJson({ ok: true, verb: 'remove', draft: path, id });
      else process.stdout.write(`removed "${id}" from ${path}\n`);
      return exitCodes.ok;
    }
    case 'sign': {
      const path = need(file, 'DRAFT (first argument)');
      const d = await readDraft(path);
      if (v.epoch !== undefined) {
        const e = Number(v.epoch);
        if (!Number.isInteger(e) || e < 1) throw new CliError('--epoch must be a positive integer', exitCodes.usage);
        d.epoch = e;
      }
      const authority = await loadIdentity(need(v.authority, 'authority'));
      const prev = v.previous ? readManifestFile(v.previous, { pin: { key: authority.publicKey, from: `--authority ${v.authority ?? ''}` }, code: exitCodes.refused, what: '--previous' }) : null;
      if (prev !== null) {
        if (d.epoch <= prev.body.epoch) throw new CliError(`epoch ${d.epoch} must be higher than the previous manifest's epoch ${prev.body.epoch} (pass --epoch ${prev.body.epoch + 1})`, exitCodes.refused);
        if (prev.body.fleet !== d.fleet) throw new CliError(`the previous manifest is for fleet "${prev.body.fleet}", the draft for "${d.fleet}"`, exitCodes.refused);
      }
      if (d.validators.length === 0) throw new CliError('the draft has no validators; add at least one with "murmur fleet add DRAFT --validator --key ..."', exitCodes.refused);
      const body = draftToBody(d, Date.now());
      if (!body.ok) throw new CliError(body.error, exitCodes.usage);
      // A successor every device would take that leaves the fleet stuck: refused before it exists.
      const risks = prev !== null && v.force !== true ? manifestChangeRisks(prev.body, body.value) : [];
      if (risks.length > 0) throw new CliError(`refusing to sign epoch ${d.epoch} to replace ${v.previous ?? ''} (epoch ${prev?.body.epoch ?? ''}): ${risks.join('; and ')}; pass --force to sign it anyway`, exitCodes.refused);
      const m = signManifest(body.value, createSigner(authority));
      if (!m.ok) throw new CliError(m.error, exitCodes.refused);
      const out = need(v.out, 'out');
      if (v.force !== true) sameEpochOverwrite(out, d.fleet, d.epoch);
      writeOutputFile(out, m.value.bytes, { flag: '--out', example: 'fleet.manifest' });
      if (v.json) printJson({ ok: true, verb: 'sign', draft: path, manifest: out, fleet: d.fleet, epoch: d.epoch, hash: toHex(m.value.hash), validators: d.validators.length, followers: d.followers.length, operators: d.operators.length });
      else process.stdout.write(`signed ${out}: fleet "${d.fleet}" epoch ${d.epoch}, ${members(d)}, hash ${toHex(m.value.hash)}\n`);
      return exitCodes.ok;
    }
    case 'show': {
      const path = need(file, 'FILE (first argument)');
      const raw = await fs.readFile(path).catch((e: unknown) => {
        throw new CliError(`cannot read ${path}: ${fsReason(e)}`, exitCodes.usage);
      });
      let out: Record<string, unknown>;
      if (raw[0] === 0x7b /* '{' */) {
        const d = await readDraft(path);
        out = { signed: false, ...d };
      } else {
        const m = readManifestFile(path);
        out = v.draft ? { ...bodyToDraft(m.body) } : { signed: true, ...describeManifest(m.body, m.hash) };
      }
      if (v.json || v.draft) printJson(out);
      else process.stdout.write(formatShow(out) + '\n');
      return exitCodes.ok;
    }
    case 'verify': {
      const path = need(file, 'MANIFEST (first argument)');
      const pinned = v['authority-key'] ? (await readPublicKey(v['authority-key'])).publicKey : undefined;
      const m = readManifestFile(path, pinned ? { pin: { key: pinned, from: `--authority-key ${v['authority-key']}` } } : {});
      const b = m.body;
      if (v.json) printJson({ ok: true, fleet: b.fleet, epoch: b.epoch, hash: toHex(m.hash), validators: b.validators.length, followers: b.followers.length, operators: b.operators.length });
      else process.stdout.write(`ok: ${path} is a valid manifest for fleet "${b.fleet}" epoch ${b.epoch} signed by authority ${toHex(b.authority).slice(0, 16)}… (${members(b)})\n`);
      return exitCodes.ok;
    }
    default:
      throw unknownCommand(verb ?? '', ['init', 'add', 'remove', 'sign', 'show', 'verify'], 'murmur fleet');
  }
}

/**
 * Signing over a manifest of the same fleet and epoch replaced it without a word: a draft changed and
 * signed again without --epoch gave the fleet two different manifests of one epoch (devices and operators
 * holding either), and murmurctl then warned that "the fleet has changed its manifest". Refused unless
 * --force; a new epoch over the old file (--previous FILE --epoch N+1 --out FILE) is the way to change it.
 */
function sameEpochOverwrite(out: string, fleet: string, epoch: number): void {
  let old;
  try {
    old = readManifestFile(out);
  } catch {
    return; // nothing there, or not a signed manifest (and if it cannot be written, writeOutputFile says why)
  }
  if (old.body.fleet !== fleet || old.body.epoch !== epoch) return;
  throw new CliError(
    `--out ${out} already holds fleet "${fleet}" epoch ${epoch} (hash ${toHex(old.hash).slice(0, 16)}…); two different manifests of one epoch split the fleet: to change it, sign epoch ${epoch + 1} with --previous ${out} --epoch ${epoch + 1}, or pass --force to replace it (only while no device or operator uses it)`,
    exitCodes.refused,
  );
}

function formatShow(o: Record<string, unknown>): string {
  const lines = [`fleet ${String(o.fleet)}  epoch ${String(o.epoch)}  ${o.signed ? 'signed' : 'UNSIGNED draft'}`];
  if (o.hash) lines.push(`hash ${String(o.hash)}`);
  lines.push(`authority ${String(o.authority)}`);
  const list = (title: string, xs: unknown) => {
    const arr = xs as { id: string; publicKey: string; power?: number; roles?: string[] }[];
    lines.push(`${title} (${arr.length}):`);
    for (const x of arr) lines.push(`  ${x.id.padEnd(20)} ${x.publicKey.slice(0, 16)}…${x.power !== undefined ? `  power ${x.power}` : ''}${x.roles ? `  roles ${x.roles.join(',')}` : ''}`);
  };
  list('validators', o.validators);
  list('followers', o.followers);
  list('operators', o.operators);
  return lines.join('\n');
}

/** "4 validators, 1 follower, 2 operators": a manifest's members counted, each noun in its number. */
function members(m: { readonly validators: readonly unknown[]; readonly followers: readonly unknown[]; readonly operators: readonly unknown[] }): string {
  const n = (k: number, one: string): string => `${k} ${one}${k === 1 ? '' : 's'}`;
  return `${n(m.validators.length, 'validator')}, ${n(m.followers.length, 'follower')}, ${n(m.operators.length, 'operator')}`;
}
