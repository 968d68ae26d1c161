// `murmurctl send --arg NAME=VALUE`: a VALUE meant as a JSON list or object that does not parse (a
// bracket missing, a quote the shell ate) is refused on the operator's machine, naming the argument
// and the JSON error, exit 2, nothing sent. Before, it went out as text and the swarm committed it as
// rejected ("args.area must be a list of 3 to 64 [north, east] points in metres", exit 3), which named
// the wrong problem. No broker runs here: the refusal comes before any connection.
//
// The same holds for what the manifest already shows the devices would refuse: a key that is not an
// operator's in it (regenerated, unknown, a device's, an observer's: "may not issue commands" at the edge), a saved command (--raw) that is
// expired, forged, of another fleet or signer, and a fleet.update whose manifest is a draft, a file
// name, or not the next manifest of this fleet. Each used to be signed and published: `published`,
// exit 0, and every device refused it; or committed as rejected with a CBOR error.

import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initCrypto } from '../../runtime/crypto/sodium.js';
import { fleetCommand } from '../../runtime/cli/fleet-commands.js';
import { keygen } from '../../runtime/cli/keys.js';
import { runCli, type CliRun } from '../support/run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'murmurctl-args-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const p = (f: string): string => join(dir, f);

beforeAll(async () => {
  for (const id of ['authority', 'd1']) expect((await runCli('murmur', ['keygen', '--id', id, '--out', p(`${id}.key`)])).code).toBe(0);
  expect((await runCli('murmurctl', ['keygen', '--id', 'ops', '--out', p('ops.key')])).code).toBe(0);
  expect((await runCli('murmur', ['fleet', 'init', '--fleet', 'demo', '--authority', p('authority.key'), '--out', p('draft.json')])).code).toBe(0);
  expect((await runCli('murmur', ['fleet', 'add', p('draft.json'), '--validator', '--key', p('d1.key.pub')])).code).toBe(0);
  expect((await runCli('murmur', ['fleet', 'add', p('draft.json'), '--operator', '--key', p('ops.key.pub'), '--roles', 'operator'])).code).toBe(0);
  // The rest in this process (the CLIs' own keygen and fleet verbs; starting them is tested above and
  // in murmur-fleet.test.ts): other.key is a second key of id ops, as a keygen run again makes.
  await initCrypto();
  for (const [id, file] of [['ops', 'other'], ['bob', 'bob'], ['watcher', 'watcher'], ['authority', 'rogue-authority'], ['admin', 'admin'], ['d2', 'd2'], ['d3', 'd3'], ['d4', 'd4'], ['d5', 'd5'], ['d6', 'd6']] as const) await keygen(id, p(`${file}.key`), false);
  // Four validators: the fewest a manifest change may leave without --force.
  for (const d of ['d2', 'd3', 'd4']) expect(await fleetCommand(['add', p('draft.json'), '--validator', '--key', p(`${d}.key.pub`), '--json'])).toBe(0);
  expect((await runCli('murmur', ['fleet', 'sign', p('draft.json'), '--authority', p('authority.key'), '--out', p('fleet.manifest')])).code).toBe(0);
  for (const argv of [
    // Epoch 2 of the fleet, with an observer and an admin: the next manifest a fleet.update carries.
    ['add', p('draft.json'), '--operator', '--key', p('watcher.key.pub'), '--roles', 'observer', '--json'],
    ['add', p('draft.json'), '--operator', '--key', p('admin.key.pub'), '--roles', 'admin', '--json'],
    ['sign', p('draft.json'), '--authority', p('authority.key'), '--previous', p('fleet.manifest'), '--epoch', '2', '--out', p('next.manifest'), '--json'],
    // Another fleet of the same authority, where ops is an operator too.
    ['init', '--fleet', 'other', '--authority', p('authority.key'), '--out', p('other.json'), '--json'],
    ['add', p('other.json'), '--validator', '--key', p('d1.key.pub'), '--json'],
    ['add', p('other.json'), '--operator', '--key', p('ops.key.pub'), '--roles', 'operator', '--json'],
    ['sign', p('other.json'), '--authority', p('authority.key'), '--out', p('other.manifest'), '--json'],
    // Fleet "demo" again under another authority, with bob as its operator.
    ['init', '--fleet', 'demo', '--authority', p('rogue-authority.key'), '--out', p('rogue.json'), '--json'],
    ['add', p('rogue.json'), '--validator', '--key', p('d1.key.pub'), '--json'],
    ['add', p('rogue.json'), '--operator', '--key', p('bob.key.pub'), '--roles', 'operator', '--json'],
    ['sign', p('rogue.json'), '--authority', p('rogue-authority.key'), '--epoch', '2', '--out', p('rogue.manifest'), '--json'],
  ]) {
    expect(await fleetCommand(argv), argv.join(' ')).toBe(0);
  }
  // Successors of fleet.manifest that every device would take and that leave the fleet stuck, signed
  // with --force (murmur fleet sign refuses each without it: below): one validator removed (3 left);
  // no admin; two of four validators new; every validator replaced by one that is not running.
  const risky: Record<string, string[][]> = {
    three: [['remove', '--id', 'd4']],
    'no-admin': [['remove', '--id', 'admin']],
    'half-new': [['remove', '--id', 'd3'], ['remove', '--id', 'd4'], ['add', '--validator', '--key', p('d5.key.pub')], ['add', '--validator', '--key', p('d6.key.pub')]],
    bricked: [['remove', '--id', 'd1'], ['remove', '--id', 'd2'], ['remove', '--id', 'd3'], ['remove', '--id', 'd4'], ['add', '--validator', '--key', p('d5.key.pub')]],
  };
  for (const [name, edits] of Object.entries(risky)) {
    copyFileSync(p('draft.json'), p(`${name}.json`));
    for (const [verb, ...rest] of edits) expect(await fleetCommand([verb ?? '', p(`${name}.json`), ...rest, '--json'])).toBe(0);
    expect(await fleetCommand(['sign', p(`${name}.json`), '--authority', p('authority.key'), '--previous', p('fleet.manifest'), '--epoch', '2', '--out', p(`${name}.manifest`), '--force', '--json'])).toBe(0);
  }
}, 60_000);

/** murmurctl send with fleet.manifest and port 1 on loopback (nothing listens: a command that got as
 *  far as connecting ends there, exit 5). */
const send = (...args: string[]): Promise<CliRun> => runCli('murmurctl', ['send', ...args, '--broker', 'mqtt://127.0.0.1:1', '--timeout', '2s'], { env: { MURMUR_MANIFEST: p('fleet.manifest'), MURMUR_KEY: '' } });
const unreachable = 'murmurctl: cannot reach the broker at mqtt://127.0.0.1:1: connect ECONNREFUSED 127.0.0.1:1';

/** Exactly `line` on stderr, nothing on stdout, and `code`. */
function refused(r: CliRun, code: number, line: string): void {
  expect(r.stderr, r.stderr).toBe(`murmurctl: ${line}\n`);
  expect(r.stdout).toBe('');
  expect(r.code, r.stderr).toBe(code);
}

it('a list with its closing bracket missing, or an object cut short: one line naming the argument and the JSON error, exit 2', async () => {
  for (const [value, error] of [['[[0,0],[0,60],[60,60]', "Expected ',' or ']'"], ['{"a":1', "Expected ',' or '}'"]] as const) {
    // Port 1 on loopback: nothing listens, so a command that got as far as sending would fail otherwise.
    const r = await runCli('murmurctl', ['send', 'mission.survey', '--arg', `area=${value}`, '--arg', 'spacingM=15', '--manifest', p('fleet.manifest'), '--key', p('ops.key'), '--broker', 'mqtt://127.0.0.1:1', '--timeout', '2s']);
    expect(r.stderr.trimEnd().split('\n'), r.stderr).toEqual([expect.stringMatching(new RegExp(`^murmurctl: --arg area: ${value.replace(/[[\]{}]/g, '\\$&')} is not valid JSON \\(${error.replace(/[[\]{}]/g, '\\$&')}.*\\); a list or object goes as JSON`))]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).toBe('');
  }
}, 30_000);

it('a value that is not meant as JSON still goes as text', async () => {
  // Text: built, signed and taken to the broker, whose absence is what ends it (exit 5), not the argument.
  const r = await runCli('murmurctl', ['send', 'param.set', '--arg', 'key=speedMps', '--arg', 'value=6', '--manifest', p('fleet.manifest'), '--key', p('ops.key'), '--broker', 'mqtt://127.0.0.1:1', '--timeout', '2s']);
  expect(r.stderr.trimEnd(), r.stderr).toBe('murmurctl: cannot reach the broker at mqtt://127.0.0.1:1: connect ECONNREFUSED 127.0.0.1:1');
  expect(r.code, r.stderr).toBe(5);
}, 30_000);

describe.concurrent('the operator key, against the manifest, before signing', () => {
  it('a key of the right id that the manifest does not hold (made again), exit 3; nothing signed or saved', async () => {
    const r = await send('noop', '--key', p('other.key'), '--wait', 'none', '--save', p('other.cmd'));
    refused(r, 3, `key ${p('other.key')} (id "ops") is not ops's key in the manifest ${p('fleet.manifest')} (regenerated? the manifest holds a different public key): devices would refuse the command as forged; give ops's key file, or have the fleet authority sign a manifest with this one`);
    expect(() => readFileSync(p('other.cmd'))).toThrow(/ENOENT/);
  });

  it('an id the manifest does not name, and a device id, are named as such (exit 3)', async () => {
    const [bob, device] = await Promise.all([send('noop', '--key', p('bob.key'), '--wait', 'none'), send('noop', '--key', p('d1.key'), '--wait', 'none')]);
    const manifest = `the manifest ${p('fleet.manifest')} (fleet "demo", epoch 1)`;
    refused(bob, 3, `key ${p('bob.key')} (id "bob") is not in ${manifest}, whose operators are ops: devices would refuse the command as unauthorized; give an operator's key, or have the fleet authority add bob to the manifest (murmur fleet add --operator)`);
    refused(device, 3, `key ${p('d1.key')} (id "d1") names validator d1 in ${manifest}, not an operator: devices would refuse the command as unauthorized (a validator may not send commands); give an operator's key (ops)`);
  });

  it('an operator whose roles may send no command (observer), exit 3; MURMUR_KEY is named as where the key came from', async () => {
    const r = await runCli('murmurctl', ['send', 'noop', '--wait', 'none', '--broker', 'mqtt://127.0.0.1:1'], { env: { MURMUR_MANIFEST: p('next.manifest'), MURMUR_KEY: p('watcher.key') } });
    refused(r, 3, `key ${p('watcher.key')} (from MURMUR_KEY) (id "watcher"): operator watcher has role observer in the manifest ${p('next.manifest')} (fleet "demo", epoch 2), which may send no command (each needs operator or admin): devices would refuse the command as unauthorized; give the key of an operator with one of those roles`);
  });

  it("the operator's own key passes, and the command goes to the broker", async () => {
    const r = await send('noop', '--key', p('ops.key'), '--wait', 'none');
    expect(r.stderr.trimEnd()).toBe(unreachable);
    expect(r.code, r.stderr).toBe(5);
  });
});

describe.concurrent('send --raw FILE: a saved command, checked as the devices check it', () => {
  it('an expired one is refused naming when it expired (exit 3)', async () => {
    // Signed with a 1 ms lifetime and saved (the broker's absence ends that run after the save).
    expect((await send('noop', '--key', p('ops.key'), '--ttl', '1ms', '--wait', 'none', '--save', p('expired.cmd'))).code).toBe(5);
    const r = await send('--raw', p('expired.cmd'));
    expect(r.stderr).toMatch(new RegExp(`^murmurctl: --raw ${p('expired.cmd')} expired at \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z \\(\\d+ s ago\\): devices would refuse it as expired; sign a new one\n$`));
    expect(r.code, r.stderr).toBe(3);
  });

  it('--ttl and --key with --raw are usage errors (exit 2): the command is signed already, with its lifetime', async () => {
    expect((await send('noop', '--key', p('ops.key'), '--ttl', '5m', '--wait', 'none', '--save', p('saved.cmd'))).code).toBe(5);
    const [ttl, both] = await Promise.all([send('--raw', p('saved.cmd'), '--ttl', '5m'), send('--raw', p('saved.cmd'), '--key', p('ops.key'), '--ttl', '5m')]);
    refused(ttl, 2, '--raw publishes a saved command as it is: leave out --ttl (it was signed, with its lifetime, before it was saved)');
    refused(both, 2, '--raw publishes a saved command as it is: leave out --key and --ttl (it was signed, with its lifetime, before it was saved)');
    // Without them it is published as it is (here: taken to the broker, which is not there).
    const r = await send('--raw', p('saved.cmd'), '--wait', 'none');
    expect(r.stderr.trimEnd()).toBe(unreachable);
    expect(r.code).toBe(5);
  });

  it('one whose signature does not verify against its signer key in the manifest is refused as forged (exit 3)', async () => {
    expect((await send('noop', '--key', p('ops.key'), '--wait', 'none', '--save', p('to-forge.cmd'))).code).toBe(5);
    const bytes = readFileSync(p('to-forge.cmd'));
    bytes.writeUInt8((bytes.at(-1) ?? 0) ^ 1, bytes.length - 1); // the last byte of the signature
    writeFileSync(p('forged.cmd'), bytes);
    refused(await send('--raw', p('forged.cmd')), 3, `--raw ${p('forged.cmd')}: its signature does not verify against ops's key in the manifest ${p('fleet.manifest')} (signed with another key, or altered since): devices would refuse it as forged; sign a new command`);
  });

  it("one signed by someone the manifest does not name, or for another fleet, is refused (exit 3)", async () => {
    const [bob, other] = await Promise.all([
      runCli('murmurctl', ['send', 'noop', '--key', p('bob.key'), '--manifest', p('rogue.manifest'), '--wait', 'none', '--save', p('bob.cmd'), '--broker', 'mqtt://127.0.0.1:1']),
      runCli('murmurctl', ['send', 'noop', '--key', p('ops.key'), '--manifest', p('other.manifest'), '--wait', 'none', '--save', p('other-fleet.cmd'), '--broker', 'mqtt://127.0.0.1:1']),
    ]);
    expect([bob.code, other.code], bob.stderr + other.stderr).toEqual([5, 5]);
    const [rawBob, rawOther] = await Promise.all([send('--raw', p('bob.cmd')), send('--raw', p('other-fleet.cmd'))]);
    refused(rawBob, 3, `--raw ${p('bob.cmd')}: its signer "bob" is not in the manifest ${p('fleet.manifest')} (fleet "demo", epoch 1), whose operators are ops: devices would refuse the command as unauthorized; give an operator's key, or have the fleet authority add bob to the manifest (murmur fleet add --operator)`);
    refused(rawOther, 3, `--raw ${p('other-fleet.cmd')} is a command for fleet "other", and the manifest ${p('fleet.manifest')} is fleet "demo"'s: devices would refuse it as invalid; give the manifest of its fleet, or sign a new command`);
  });
});

describe.concurrent('fleet.update: args.manifest checked before signing (exit 2)', () => {
  const update = (...args: string[]): Promise<CliRun> => send('fleet.update', '--key', p('ops.key'), '--wait', 'none', ...args);

  it('a draft, a file name without @, nothing, a key file: each named, with the fix', async () => {
    const [draft, name, none, key] = await Promise.all([update('--arg', `manifest=@${p('draft.json')}`), update('--arg', `manifest=${p('next.manifest')}`), update(), update('--arg', `manifest=@${p('ops.key.pub')}`)]);
    refused(draft, 2, `--arg manifest=@${p('draft.json')}: ${p('draft.json')} is an unsigned fleet draft, not a signed manifest; sign it with \`murmur fleet sign ${p('draft.json')} --authority KEYFILE --previous ${p('fleet.manifest')} --epoch 2 --out next.manifest\` and give --arg manifest=@next.manifest`);
    refused(name, 2, `--arg manifest=${p('next.manifest')} gives the file's name, not the file: give it as manifest=@${p('next.manifest')}`);
    refused(none, 2, 'fleet.update needs the signed manifest of the next epoch: give it as --arg manifest=@FILE (the file `murmur fleet sign` wrote)');
    refused(key, 2, `--arg manifest=@${p('ops.key.pub')}: ${p('ops.key.pub')} is a key file, not a signed manifest; give the file \`murmur fleet sign\` wrote`);
  });

  it("a manifest that is not this fleet's next: the same epoch, another fleet's, another authority's", async () => {
    const [same, other, rogue] = await Promise.all([update('--arg', `manifest=@${p('fleet.manifest')}`), update('--arg', `manifest=@${p('other.manifest')}`), update('--arg', `manifest=@${p('rogue.manifest')}`)]);
    refused(same, 2, `--arg manifest=@${p('fleet.manifest')} has epoch 1, not newer than the manifest ${p('fleet.manifest')} (epoch 1): devices would reject it; sign the draft with --previous ${p('fleet.manifest')} --epoch 2`);
    refused(other, 2, `--arg manifest=@${p('other.manifest')} is a manifest of fleet "other", not of fleet "demo" (the manifest ${p('fleet.manifest')}): give the next manifest of fleet "demo"`);
    expect(rogue.stderr).toMatch(new RegExp(`^murmurctl: --arg manifest=@${p('rogue.manifest')} is signed by authority [0-9a-f]{16}…, not by fleet "demo"'s \\([0-9a-f]{16}…, in ${p('fleet.manifest')}\\): devices would reject it; sign the draft with the fleet's authority key\n$`));
    expect(rogue.code).toBe(2);
  });

  it('binary bytes that are no manifest at all', async () => {
    writeFileSync(p('noise.bin'), Buffer.from([0xff, 0x00, 0x01, 0x02]));
    const r = await update('--arg', `manifest=@${p('noise.bin')}`);
    expect(r.stderr).toMatch(new RegExp(`^murmurctl: --arg manifest=@${p('noise.bin')}: manifest is not a valid signed envelope: .*; give the signed manifest \`murmur fleet sign\` wrote\n$`));
    expect(r.code).toBe(2);
  });

  it('the next manifest of this fleet passes (then the broker is not there)', async () => {
    const r = await update('--arg', `manifest=@${p('next.manifest')}`);
    expect(r.stderr.trimEnd()).toBe(unreachable);
    expect(r.code).toBe(5);
  });
});

// Review finding 3 (members-review.md): a fleet.update whose manifest removed every running validator
// was committed as accepted (exit 0), and nothing committed ever again, no later fleet.update either;
// removing one of four validators (f = 0) or the last admin went through without a word.
describe.concurrent('fleet.update: a manifest that would leave the fleet stuck is refused unless --force (exit 3)', () => {
  const update = (file: string, ...args: string[]): Promise<CliRun> => send('fleet.update', '--key', p('ops.key'), '--wait', 'none', '--arg', `manifest=@${p(file)}`, ...args);
  const replacing = (file: string): string => `--arg manifest=@${p(file)} (epoch 2) would replace the manifest ${p('fleet.manifest')} (epoch 1), but`;
  const fewer = (n: number, ids: string): string => `it has ${n} validator${n === 1 ? '' : 's'} (${ids}): fewer than 4 tolerate no faulty or stopped validator, so one down stops every commit`;
  const noAdmin = 'no operator has the admin role: fleet.update needs one, so the manifest could never be changed again; add one (murmur fleet add DRAFT --operator --key KEY --roles admin)';
  const keeps = (kept: string, power: string, added: string): string => `the validators it keeps from epoch 1 (${kept}) hold ${power} voting power, not more than 2/3: nothing commits (no later fleet.update either) until ${added} run with the new manifest and are heard; change fewer validators (or keys) at once`;
  const sendAnyway = 'nothing was signed or sent: pass --force to send it anyway';

  it('fewer than 4 validators, no admin, two of four validators new, every validator replaced: each named', async () => {
    const [three, none, half, bricked] = await Promise.all([update('three.manifest'), update('no-admin.manifest'), update('half-new.manifest'), update('bricked.manifest')]);
    refused(three, 3, `${replacing('three.manifest')} ${fewer(3, 'd1, d2, d3')}; ${sendAnyway}`);
    refused(none, 3, `${replacing('no-admin.manifest')} ${noAdmin}; ${sendAnyway}`);
    refused(half, 3, `${replacing('half-new.manifest')} ${keeps('d1, d2', '2 of its 4', 'd5, d6')}; ${sendAnyway}`);
    refused(bricked, 3, `${replacing('bricked.manifest')} ${fewer(1, 'd5')}; and ${keeps('none', '0 of its 1', 'd5')}; ${sendAnyway}`);
  });

  it('--force sends it (then the broker is not there); --force with another command type is a usage error', async () => {
    const [forced, noop] = await Promise.all([update('bricked.manifest', '--force'), send('noop', '--key', p('ops.key'), '--wait', 'none', '--force')]);
    expect(forced.stderr.trimEnd()).toBe(unreachable);
    expect(forced.code).toBe(5);
    refused(noop, 2, '--force sends a fleet.update whose manifest murmurctl would refuse; noop has no such check: drop --force');
    expect((await send('noop', '--key', p('ops.key'), '--wait', 'none', '--save', p('force-noop.cmd'))).code).toBe(5);
    refused(await send('--raw', p('force-noop.cmd'), '--force'), 2, `--force sends a fleet.update whose manifest murmurctl would refuse; --raw ${p('force-noop.cmd')} is a noop, which has no such check: drop --force`);
  });

  it('a saved fleet.update (--raw) is checked too', async () => {
    expect((await update('three.manifest', '--force', '--save', p('three.cmd'))).code).toBe(5);
    const [raw, forced] = await Promise.all([send('--raw', p('three.cmd'), '--wait', 'none'), send('--raw', p('three.cmd'), '--wait', 'none', '--force')]);
    refused(raw, 3, `--raw ${p('three.cmd')}: its args.manifest (epoch 2) would replace the manifest ${p('fleet.manifest')} (epoch 1), but ${fewer(3, 'd1, d2, d3')}; ${sendAnyway}`);
    expect(forced.stderr.trimEnd()).toBe(unreachable);
    expect(forced.code).toBe(5);
  });

  it('murmur fleet sign --previous refuses the same drafts unless --force, naming every problem in one line', async () => {
    const r = await runCli('murmur', ['fleet', 'sign', p('bricked.json'), '--authority', p('authority.key'), '--previous', p('fleet.manifest'), '--epoch', '3', '--out', p('bricked-again.manifest')]);
    expect(r.stderr).toBe(`murmur: refusing to sign epoch 3 to replace ${p('fleet.manifest')} (epoch 1): ${fewer(1, 'd5')}; and ${keeps('none', '0 of its 1', 'd5')}; pass --force to sign it anyway\n`);
    expect(r.code).toBe(3);
    expect(() => readFileSync(p('bricked-again.manifest'))).toThrow(/ENOENT/);
  });
});
