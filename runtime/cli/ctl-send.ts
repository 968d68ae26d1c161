// `murmurctl send`: sign a command with the operator key, publish it, and wait for the swarm. The
// commit is proven by the block proof devices publish (block + commit certificate), checked here against
// the operator's own manifest copy: more than 2/3 of the voting power signed the block, and the block
// holds the command. The outcome is believed when f + 1 validators' signed acks agree on it (by voting
// power: more than the faulty validators may hold; followers do not count). While too few have answered, the same signed bytes go out again (runtime/cli/outbox.ts): a broker that was
// down or restarted may have taken the first copy to no one.

import { readFileSync, statSync } from 'node:fs';
import { initCrypto, randomBytes, createSigner, type Verifier } from '../crypto/sodium.js';
import { readKeyFile } from '../crypto/key-file.js';
import { bytesEqual, toHex } from '../lib/bytes.js';
import { limits } from '../lib/limits.js';
import { keyLookup, memberOf, operatorOf, verifyManifest, type Manifest } from '../manifest/manifest.js';
import { decodeCbor } from '../wire/cbor.js';
import { commandTypePattern, encodeCommandBody, parseCommandBody } from '../wire/command.js';
import { commandRoles } from '../mission/machine.js';
import { closestName } from '../lib/closest.js';
import { decodeEnvelope, sealEnvelope, verifyEnvelope } from '../wire/envelope.js';
import { parseWith } from '../wire/fields.js';
import { encodeFrame, fleetTag } from '../links/frame.js';
import type { AckBody } from '../wire/ack.js';
import { decodeProof, verifyProof, type BlockProof } from '../wire/proof.js';
import { controlTopics, type StatusJson } from '../device/control-topics.js';
import { redactBrokerUrl } from '../links/broker-url.js';
import { closeMqtt } from '../links/mqtt-connect.js';
import { withinMs } from '../lib/within.js';
import { brokerUrl, closeBoundMs, commonHelp, commonOptions, connect, followedLine, ManifestChanges, loadManifest, openAck, otherEpochLine, parseDuration, stallLine, timeoutMsMax } from './ctl-common.js';
import { CliError, exitCodes, parse, printable, printJson, signalExitCode } from './kit.js';
import { readStatus } from './ctl-documents.js';
import { defaultOutbox, Outbox } from './outbox.js';
import { writeOutputFile } from './output-file.js';
import { textManifestProblem } from './manifest-file.js';
import { manifestChangeRisks } from '../manifest/change-risks.js';
import { copyOnly, manifestOfBlock, type FollowedManifest } from '../manifest/successors.js';
import { membersOf } from '../device/mission-adapter.js';
import { canaryOfCommand } from '../mission/models.js';

/** The command types the mission state machine runs, in its order; anything else is refused before signing. */
const knownTypes = Object.keys(commandRoles);
const adminTypes = knownTypes.filter((t) => !commandRoles[t]?.includes('operator'));

/** `words` joined by ", " in lines of at most `width` characters, each after `indent`. */
function wrapList(words: readonly string[], indent: string, width = 98): string {
  const lines: string[] = [];
  let line = '';
  for (const [i, w] of words.entries()) {
    const item = i < words.length - 1 ? `${w},` : w;
    if (line !== '' && indent.length + line.length + 1 + item.length > width) {
      lines.push(line);
      line = item;
    } else line = line === '' ? item : `${line} ${item}`;
  }
  lines.push(line);
  return lines.join(`\n${indent}`);
}

export const sendUsage = `Usage: murmurctl send TYPE [--arg NAME=VALUE ...] [options]
       murmurctl send --command '{"type":"mission.survey","args":{...}}' [options]
       murmurctl send --raw FILE [options]         publish a saved signed command as it is

  TYPE               ${wrapList(knownTypes, '                     ')}
                     (${wrapList(adminTypes, '                     ')} need the admin role)
  --arg NAME=VALUE   an argument; VALUE is JSON when it parses (numbers, lists), else text
                     (one starting with [ or { must parse: refused otherwise, exit 2);
                     @FILE reads bytes (fleet.update --arg manifest=@fleet.manifest)
  --key FILE         operator key file (default $MURMUR_KEY); refused (exit 3) unless the manifest
                     holds its public key for an operator (not with --raw: it is signed already)
  --ttl DURATION     how long the command stays valid (default 60s, at most 1h; not with --raw)
  --wait MODE        none | committed (default) | executed; while waiting and fewer than f+1
                     validators have answered, the same signed command is published again 3 s, 9 s
                     and 19 s after the first copy, then every 10 s (until --timeout)
  --save FILE        also write the signed command to FILE
  --force            send a fleet.update whose manifest would leave the fleet stuck (below)

${commonHelp('how long to wait (default 30s): for the commit, or with --wait none for the\n                     broker to take the command; the connection included (at most 5s of it)')}

A --raw command is checked as devices check it before it is published: its fleet, signer, signature
and expiry (exit 3 for each). fleet.update's manifest is checked before signing: the signed manifest
of this fleet, by its authority, of a newer epoch than --manifest (exit 2 otherwise); and, unless
--force, one with fewer than 4 validators, with no admin operator, or whose validators kept from
--manifest (same id and key) hold no more than 2/3 of its voting power is refused (exit 3): the
fleet would tolerate no faulty validator, could never change its manifest again, or could commit
nothing until the new validators run and are heard. --raw fleet.update commands are checked too.

With --wait executed, a part that a committed block ended before it was flown (abort, an rtl or land of
its drone, a mission that replaced it, dropped) is said as ended, and one handed to another drone as
handed to it, once validators holding more than f's voting power say so; the wait ends when every part
is done, failed, ended, or handed on and finished by its taker.

Exit codes: 0 committed/executed, 1 failed during execution (a part failed or ended unflown), 2 usage, 3 refused or rejected
(unsigned, forged, expired, replayed, unauthorized, or a check of the mission state machine), or
unverified (its block names another fleet manifest than --manifest, and the proofs of the fleet's
manifest changes that devices publish do not lead there: give the manifest in force; an older
--manifest is followed through the changes they prove, said on stderr),
4 timeout, 5 broker unreachable, 130 interrupted by Ctrl-C (143 by SIGTERM) once the command was
published: one line says whether it was committed or until when it may still be (with --json, the
result so far too: outcome "interrupted" until a commit is proven, and expiresAt). With --json, a
failure before there is a result (a bad flag, a key the manifest does not hold, an expired --raw, the
broker unreachable) is one JSON object on stdout too: {"outcome":"error","exitCode":N,"reason":"..."}.`;

interface SendResult {
  command: string;
  type: string;
  /** `unverified`: validators say it was committed, in a block that names another fleet manifest than
   *  --manifest and than any the proofs of later changes lead to, so its certificate cannot be checked
   *  (staleManifest says why). */
  outcome: 'refused' | 'accepted' | 'rejected' | 'timeout' | 'unverified';
  reason: string;
  height: number | null;
  round: number | null;
  blockHash: string | null;
  signers: string[];
  signedPower: number;
  totalPower: number;
  assigned: string[];
  /** Each drone's part: its own last ack (started, progress, done, failed), or, once validators holding
   *  more power than the faulty ones may hold agree that a committed block ended it (ack stage `ended`),
   *  `ended` (not flown: aborted, sent home, landed, replaced, dropped) or `handed` (another drone flies
   *  it on: `handedTo`), with those validators in `saidBy`. */
  execution: Record<string, { stage: string; progress: number; reason: string; saidBy?: string[]; handedTo?: string }>;
  latencyMs: { committed: number | null; executed: number | null };
  /** Present when --manifest was older than the fleet's: the manifest followed to (its epoch, hash, and
   *  the height of the block that committed it), proven link by link from --manifest's epoch. */
  followed?: { fromEpoch: number; epoch: number; hash: string; committedAt: number };
  /** An accepted agent.model canary: the devices that run the new version (models.ts canaryOfCommand
   *  over the members of the block that committed it, as every device computes them). */
  canary?: string[];
}

function argValue(name: string, v: string): unknown {
  if (v.startsWith('@')) {
    try {
      return new Uint8Array(readFileSync(v.slice(1)));
    } catch {
      throw new CliError(`--arg value ${v}: cannot read ${v.slice(1)}`, exitCodes.usage);
    }
  }
  try {
    return JSON.parse(v) as unknown;
  } catch (e) {
    // Meant as a list or an object (a bracket missing, a quote the shell ate): said here, not sent as
    // text for the swarm to commit as rejected ("args.area must be a list of 3 to 64 ... points"),
    // which named the wrong problem.
    if (/^\s*[[{]/.test(v)) throw new CliError(`--arg ${name}: ${v} is not valid JSON (${(e as Error).message}); a list or object goes as JSON, e.g. area='[[0,0],[0,60],[60,60]]' (quoted for the shell)`, exitCodes.usage);
    return v;
  }
}

/** Where the operator's manifest copy came from, as said in refusals. */
interface ManifestAt {
  readonly manifest: Manifest;
  readonly path: string;
  readonly verifier: Verifier;
}

/**
 * Why the devices would refuse a command signed by `id` (with `publicKey`, when known: a key file's),
 * by the operator's manifest copy: not in it, a device's id, another public key, or no role that may
 * send any command. Null when the manifest takes it. `what` names the key, like `key ops.key (id "ops")`.
 */
function senderProblem(m: ManifestAt, what: string, id: string, publicKey: Uint8Array | null): string | null {
  const member = memberOf(m.manifest, id);
  const inManifest = `the manifest ${m.path} (fleet "${m.manifest.body.fleet}", epoch ${m.manifest.body.epoch})`;
  const operators = m.manifest.body.operators.map((o) => o.id).join(', ') || 'none';
  if (member === undefined) return `${what} is not in ${inManifest}, whose operators are ${operators}: devices would refuse the command as unauthorized; give an operator's key, or have the fleet authority add ${id} to the manifest (murmur fleet add --operator)`;
  if (member.role !== 'operator') return `${what} names ${member.role} ${id} in ${inManifest}, not an operator: devices would refuse the command as unauthorized (a ${member.role} may not send commands); give an operator's key (${operators})`;
  if (publicKey !== null && !bytesEqual(publicKey, member.publicKey)) return `${what} is not ${id}'s key in the manifest ${m.path} (regenerated? the manifest holds a different public key): devices would refuse the command as forged; give ${id}'s key file, or have the fleet authority sign a manifest with this one`;
  const roles = operatorOf(m.manifest, id)?.roles ?? [];
  if (!roles.some((r) => commandingRoles.has(r))) return `${what}: operator ${id} has role ${roles.join('+') || 'none'} in ${inManifest}, which may send no command (each needs operator or admin): devices would refuse the command as unauthorized; give the key of an operator with one of those roles`;
  return null;
}

/** The operator roles that may send some command type. */
const commandingRoles: ReadonlySet<string> = new Set(Object.values(commandRoles).flat());

/** A saved signed command (--raw FILE), checked as the devices would before it is published: the
 *  fleet, its signer and signature against the manifest copy, and its expiry. */
function rawCommand(file: string, m: ManifestAt, force: boolean): { envelope: Uint8Array; operator: string; nonceHex: string; type: string; expiresAt: number } {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(file));
  } catch {
    throw new CliError(`--raw: cannot read ${file}`, exitCodes.usage);
  }
  const e = decodeEnvelope(bytes);
  if (!e.ok || e.value.kind !== 'command') throw new CliError(`--raw ${file} is not a signed command envelope`, exitCodes.usage);
  const d = decodeCbor(e.value.body, limits.fleetUpdateBytesMax);
  const b = d.ok ? parseWith('command', d.value, parseCommandBody) : d;
  if (!b.ok) throw new CliError(`--raw ${file}: ${b.error}`, exitCodes.usage);
  const sender = e.value.sender;
  if (e.value.fleet !== m.manifest.body.fleet) throw new CliError(`--raw ${file} is a command for fleet "${e.value.fleet}", and the manifest ${m.path} is fleet "${m.manifest.body.fleet}"'s: devices would refuse it as invalid; give the manifest of its fleet, or sign a new command`, exitCodes.refused);
  const who = senderProblem(m, `--raw ${file}: its signer "${sender}"`, sender, null);
  if (who !== null) throw new CliError(who, exitCodes.refused);
  const v = verifyEnvelope(e.value, { fleet: m.manifest.body.fleet, keyOf: keyLookup(m.manifest), verifier: m.verifier });
  if (!v.ok) {
    if (v.error.code === 'bad-signature') throw new CliError(`--raw ${file}: its signature does not verify against ${sender}'s key in the manifest ${m.path} (signed with another key, or altered since): devices would refuse it as forged; sign a new command`, exitCodes.refused);
    throw new CliError(`--raw ${file}: ${v.error.message}`, exitCodes.refused);
  }
  const now = Date.now();
  if (now >= b.value.expiresAt) throw new CliError(`--raw ${file} expired at ${new Date(b.value.expiresAt).toISOString()} (${Math.round((now - b.value.expiresAt) / 1000)} s ago): devices would refuse it as expired; sign a new one`, exitCodes.refused);
  if (force && b.value.type !== 'fleet.update') throw new CliError(`--force sends a fleet.update whose manifest murmurctl would refuse; --raw ${file} is a ${b.value.type}, which has no such check: drop --force`, exitCodes.usage);
  const manifest = b.value.args.manifest;
  const risky = b.value.type === 'fleet.update' && manifest instanceof Uint8Array && !force ? riskyManifest(manifest, `--raw ${file}: its args.manifest`, m) : null;
  if (risky !== null) throw new CliError(risky, exitCodes.refused);
  return { envelope: bytes, operator: sender, nonceHex: toHex(b.value.nonce), type: b.value.type, expiresAt: b.value.expiresAt };
}

/**
 * Why fleet.update's args.manifest (read from `file`, given as manifest=@FILE) is not what devices take, or null: the bytes of a signed manifest
 * of this fleet, by its authority, of a newer epoch than the operator's copy. Said before signing:
 * the swarm committed the mistake as rejected (a draft's "CBOR integer or length at byte 0 exceeds
 * 2^53-1", a file name's "must be the signed manifest file, as bytes").
 */
function manifestArgProblem(value: unknown, file: string | undefined, m: ManifestAt): string | null {
  if (value === undefined) return 'fleet.update needs the signed manifest of the next epoch: give it as --arg manifest=@FILE (the file `murmur fleet sign` wrote)';
  if (!(value instanceof Uint8Array)) {
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    if (typeof value === 'string' && isFile(value)) return `--arg manifest=${value} gives the file's name, not the file: give it as manifest=@${value}`;
    return `--arg manifest=${text} is not a manifest: fleet.update takes the signed manifest file's bytes, given as --arg manifest=@FILE`;
  }
  const at = `--arg manifest=@${file ?? '?'}`;
  const text = textManifestProblem(value, file ?? 'the file', { previous: m.path, epoch: m.manifest.body.epoch + 1 });
  if (text !== null) return `${at}: ${text}`;
  const v = verifyManifest(value, m.verifier);
  if (!v.ok) return `${at}: ${v.error}; give the signed manifest \`murmur fleet sign\` wrote`;
  const next = v.value.body;
  const ours = m.manifest.body;
  if (next.fleet !== ours.fleet) return `${at} is a manifest of fleet "${next.fleet}", not of fleet "${ours.fleet}" (the manifest ${m.path}): give the next manifest of fleet "${ours.fleet}"`;
  if (!bytesEqual(next.authority, ours.authority)) return `${at} is signed by authority ${toHex(next.authority).slice(0, 16)}…, not by fleet "${ours.fleet}"'s (${toHex(ours.authority).slice(0, 16)}…, in ${m.path}): devices would reject it; sign the draft with the fleet's authority key`;
  if (next.epoch <= ours.epoch) return `${at} has epoch ${next.epoch}, not newer than the manifest ${m.path} (epoch ${ours.epoch}): devices would reject it; sign the draft with --previous ${m.path} --epoch ${ours.epoch + 1}`;
  return null;
}

/**
 * Why fleet.update's manifest (a valid successor of the operator's copy), which every device would
 * take, would leave the fleet stuck (runtime/manifest/change-risks.ts), in one line; null when it
 * would not. `what` names it, like `--arg manifest=@next.manifest`.
 */
function riskyManifest(bytes: Uint8Array, what: string, m: ManifestAt): string | null {
  const v = verifyManifest(bytes, m.verifier);
  if (!v.ok) return null; // said as what it is elsewhere (or by the devices, for a --raw command)
  const risks = manifestChangeRisks(m.manifest.body, v.value.body);
  if (risks.length === 0) return null;
  return `${what} (epoch ${v.value.body.epoch}) would replace the manifest ${m.path} (epoch ${m.manifest.body.epoch}), but ${risks.join('; and ')}; nothing was signed or sent: pass --force to send it anyway`;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

async function buildEnvelope(a: ReturnType<typeof parseSend>, m: ManifestAt): Promise<{ envelope: Uint8Array; operator: string; nonceHex: string; type: string; expiresAt: number }> {
  const manifest = m.manifest;
  if (a.values.raw !== undefined) return rawCommand(a.values.raw, m, a.values.force === true);
  let type = a.positionals[0];
  let args: Record<string, unknown> = {};
  if (a.values.command !== undefined) {
    let j: { type?: unknown; args?: unknown };
    try {
      j = JSON.parse(a.values.command) as typeof j;
    } catch (e) {
      throw new CliError(`--command is not JSON: ${(e as Error).message}`, exitCodes.usage);
    }
    if (typeof j.type !== 'string') throw new CliError('--command needs a "type" field, like {"type":"hold"}', exitCodes.usage);
    type = j.type;
    if (j.args !== undefined && (typeof j.args !== 'object' || j.args === null || Array.isArray(j.args))) throw new CliError('--command "args" must be an object', exitCodes.usage);
    args = (j.args ?? {}) as Record<string, unknown>;
  }
  if (type === undefined) throw new CliError(`missing the command TYPE\n\n${sendUsage}`, exitCodes.usage);
  if (!commandTypePattern.test(type) || !knownTypes.includes(type)) {
    const near = closestName(type, knownTypes);
    throw new CliError(`"${type}" is not a command type${near !== null ? `; did you mean ${near}?` : ''} (known: ${knownTypes.join(', ')})`, exitCodes.usage);
  }
  for (const kv of a.values.arg ?? []) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new CliError(`--arg "${kv}" must be NAME=VALUE`, exitCodes.usage);
    args[kv.slice(0, i)] = argValue(kv.slice(0, i), kv.slice(i + 1));
  }
  const keyPath = a.values.key ?? process.env.MURMUR_KEY;
  if (!keyPath) throw new CliError('missing --key FILE (the operator key from `murmurctl keygen`; or set MURMUR_KEY)', exitCodes.usage);
  if (type === 'fleet.update') {
    const given = (a.values.arg ?? []).findLast((kv) => kv.startsWith('manifest=@'));
    const problem = manifestArgProblem(args.manifest, given?.slice('manifest=@'.length), m);
    if (problem !== null) throw new CliError(problem, exitCodes.usage);
    const risky = a.values.force === true ? null : riskyManifest(args.manifest as Uint8Array, `--arg manifest=@${given?.slice('manifest=@'.length) ?? '?'}`, m);
    if (risky !== null) throw new CliError(risky, exitCodes.refused);
  } else if (a.values.force === true) {
    throw new CliError(`--force sends a fleet.update whose manifest murmurctl would refuse; ${type} has no such check: drop --force`, exitCodes.usage);
  }
  const idn = await readKeyFile(keyPath);
  if (!idn.ok) throw new CliError(`--key: ${idn.error}`, exitCodes.usage);
  // A key the manifest does not hold for an operator that may command: every device refuses what it
  // signs (forged, unauthorized); said here, before anything is signed or sent.
  const who = senderProblem(m, `key ${keyPath}${a.values.key === undefined ? ' (from MURMUR_KEY)' : ''} (id "${idn.value.id}")`, idn.value.id, idn.value.publicKey);
  if (who !== null) throw new CliError(who, exitCodes.refused);
  const ttl = parseDuration(a.values.ttl, 60_000, 'ttl');
  if (ttl <= 0 || ttl > limits.commandLifetimeMsMax) throw new CliError(`--ttl must be more than 0 and at most ${limits.commandLifetimeMsMax / 60_000} minutes`, exitCodes.usage);
  const nonce = randomBytes(limits.nonceBytes);
  const now = Date.now();
  const body = encodeCommandBody({ type, nonce, issuedAt: now, expiresAt: now + ttl, args });
  const argsMax = type === 'fleet.update' ? limits.fleetUpdateArgsBytesMax : limits.commandArgsBytesMax;
  if (body.length > argsMax + 256) throw new CliError(`the command is ${body.length} bytes; at most ${argsMax} bytes of args fit`, exitCodes.usage);
  const envelope = sealEnvelope('command', manifest.body.fleet, idn.value.id, body, createSigner(idn.value));
  return { envelope, operator: idn.value.id, nonceHex: toHex(nonce), type, expiresAt: now + ttl };
}

function parseSend(argv: string[]) {
  return parse(
    argv,
    { ...commonOptions, arg: { type: 'string', multiple: true }, command: { type: 'string' }, raw: { type: 'string' }, force: { type: 'boolean' }, key: { type: 'string' }, ttl: { type: 'string' }, wait: { type: 'string' }, save: { type: 'string' } },
    sendUsage,
  );
}

/** Why a verified proof does not prove that `envelope` was committed, or null when it does. */
function proofProblem(p: BlockProof, envelope: Uint8Array, manifest: Manifest, verifier: Verifier): string | null {
  const cert = verifyProof(p, manifest.body.fleet, manifest.validators, verifier);
  if (!cert.ok) return cert.error;
  if (!p.block.block.txs.some((t) => bytesEqual(t, envelope))) return 'the certified block does not hold this command';
  return null;
}

/**
 * Why a proof of our command cannot be verified: its block names no manifest of the chain followed from
 * the operator's copy (`m`) that is in force at its height. Either the fleet ran a fleet.update whose
 * proof no device published (or the copy is older than the changes devices keep), or the block is one
 * no device would take (it names a manifest past its time: keys rotated out since may sign such a
 * block). A block checked against a copy's validators anyway was once "certificate verified" with a
 * warning, though that set may still trust a key rotated out since. Names both manifests, what the
 * followed chain reached (`chain`, `chainProblem`), the epoch devices report (`reported`), and the fix.
 */
function staleManifest(p: BlockProof, m: ManifestAt, chain: readonly FollowedManifest[], chainProblem: string | null, said: string, reported: string | null): string {
  const height = p.block.block.height;
  const newest = chain[chain.length - 1] as FollowedManifest;
  const named = chain.find((e) => bytesEqual(e.manifest.hash, p.block.block.manifestHash));
  if (named !== undefined) {
    const next = chain[chain.indexOf(named) + 1] as FollowedManifest;
    return `${said} at height ${height}, in a block that names fleet manifest epoch ${named.manifest.body.epoch}, which epoch ${next.manifest.body.epoch} replaced from height ${next.fromHeight}: no device takes such a block, and its certificate proves nothing (keys rotated out since may sign it)`;
  }
  const followed = chain.length > 1 ? `; the proofs devices publish of the fleet's manifest changes lead from it to epoch ${newest.manifest.body.epoch} only (committed at height ${newest.committedAt})` : '';
  const forked = chainProblem !== null ? `; ${chainProblem}` : '';
  return `${said} at height ${height}, in a block that names fleet manifest ${toHex(p.block.block.manifestHash).slice(0, 16)}, not --manifest ${m.path} (epoch ${m.manifest.body.epoch}, ${toHex(m.manifest.hash).slice(0, 16)})${followed}${forked}: its certificate cannot be verified against a manifest not in force at that height${reported !== null ? `; ${reported}` : '; get the manifest in force (murmurctl status says which epoch devices report) and give it as --manifest'}`;
}

/** The longest a send waits for the broker's CONNACK (a shorter --timeout bounds it). */
const connectWaitMs = 5_000;

/** How long a send waits for the proof of its own commit once f + 1 validators called its resend a
 *  replay: devices publish the proof as they commit, before any refusal of a later copy. */
const replayGraceMs = 2_000;
const proofsMax = 64; // proofs of distinct blocks kept while waiting for the decision; oldest forgotten

/** The argument that names some of the drones, by command type: what a bare id after TYPE meant. */
const dronesArgOf: Readonly<Record<string, string>> = { rtl: 'nodes', land: 'nodes', 'mission.goto': 'node', 'mission.survey': 'drones', formation: 'drones' };

/**
 * Words after TYPE (or any with --command or --raw) were ignored, and the command signed without them:
 * `send land d2` landed every drone. Refused before anything is read, signed or sent.
 */
function strayArgument(a: ReturnType<typeof parseSend>): string | null {
  const whole = a.values.raw !== undefined ? '--raw' : a.values.command !== undefined ? '--command' : null;
  if (whole === '--raw') {
    // Each was ignored: the command is signed already, with its own lifetime.
    const given = ([['command', '--command'], ['arg', '--arg'], ['key', '--key'], ['ttl', '--ttl']] as const).filter(([k]) => a.values[k] !== undefined).map(([, flag]) => flag);
    if (given.length > 0) return `--raw publishes a saved command as it is: leave out ${given.join(' and ')} (it was signed, with its lifetime, before it was saved)`;
  }
  const stray = a.positionals.slice(whole === null ? 1 : 0);
  if (stray.length === 0) return null;
  const word = stray[0] as string;
  if (whole !== null) return `unexpected argument "${word}": ${whole} gives the whole command; nothing was signed or sent`;
  const type = a.positionals[0] as string;
  const key = dronesArgOf[type];
  const hint = key === undefined ? '' : key === 'node' ? `; for one drone: --arg node=${word}` : `; for some drones only: --arg '${key}=["${word}"]' (without it, ${type} is for every drone)`;
  return `unexpected argument "${word}" after ${type}: arguments go as --arg NAME=VALUE${hint}; nothing was signed or sent`;
}

export async function sendCommand(argv: string[]): Promise<number> {
  const a = parseSend(argv);
  if (a.values.help) return void process.stdout.write(sendUsage + '\n'), exitCodes.ok;
  const stray = strayArgument(a);
  if (stray !== null) throw new CliError(stray, exitCodes.usage);
  const wait = a.values.wait ?? 'committed';
  if (wait !== 'none' && wait !== 'committed' && wait !== 'executed') throw new CliError(`--wait must be none, committed or executed (got "${wait}")`, exitCodes.usage);
  const timeoutMs = parseDuration(a.values.timeout, 30_000, 'timeout', timeoutMsMax, ' (the command stays valid for --ttl, at most 1h, anyway)');
  await initCrypto();
  const loaded = loadManifest(a.values.manifest);
  const { verifier, path } = loaded;
  // The operator's copy, until proofs of later manifest changes that it can check show a newer one in force.
  let manifest = loaded.manifest;
  const { envelope, operator, nonceHex, type, expiresAt } = await buildEnvelope(a, { manifest, verifier, path });
  if (a.values.save !== undefined) writeOutputFile(a.values.save, envelope, { flag: '--save', mode: 0o600, example: 'command.cmd' });
  const ref = `${operator}/${nonceHex}`;
  /** What a signal that ends the wait leaves behind, said in one line: the command may be committed. */
  const stopOnSignal = (code: number) => (): void => {
    const what = `${type} ${ref}`;
    // A script reading --json got nothing at all: it gets the result so far, its outcome 'interrupted'
    // until a commit is proven, and until when the command may still be committed.
    if (a.values.json) {
      printJson({ ...r, outcome: r.height !== null ? r.outcome : 'interrupted', interrupted: true, expiresAt: new Date(expiresAt).toISOString() });
    }
    process.stderr.write(
      r.height !== null
        ? `murmurctl: interrupted: ${what} was committed at height ${r.height} (${r.outcome}); its drones go on without this wait: murmurctl status shows them\n`
        : `murmurctl: interrupted: ${what} went to the broker and may still be committed until ${new Date(expiresAt).toISOString().slice(11, 19)} UTC (its --ttl): murmurctl log shows whether it was\n`,
    );
    process.exit(code);
  };
  const onSignal = new Map<string, () => void>();
  const topics = controlTopics(manifest.body.fleet);
  const url = brokerUrl(a.values.broker);
  // --timeout bounds the whole wait, the connection's too (at most connectWaitMs of it): a shorter one
  // that runs out before the broker's CONNACK is said as such, not as a broker that cannot be reached.
  const client = await connect(url, 'murmurctl', Math.min(timeoutMs, connectWaitMs), timeoutMs <= connectWaitMs);
  // Connected once: a broker that restarts while we wait is reconnected to (and subscribed to again),
  // and the waiting command goes out again soon after (Outbox.reconnected).
  client.options.reconnectPeriod = 1_000;
  const r: SendResult = { command: ref, type, outcome: 'timeout', reason: '', height: null, round: null, blockHash: null, signers: [], signedPower: 0, totalPower: manifest.totalPower, assigned: [], execution: {}, latencyMs: { committed: null, executed: null } };
  const t0 = performance.now();
  const rejectedProofs: string[] = [];
  const outbox = new Outbox();
  client.on('connect', () => outbox.reconnected(Date.now()));
  let resent = false;
  /** Devices that said, after we published again, that the command was committed already (and at what). */
  const replayedAfterResend = new Map<string, string>();
  // Whether we may have missed the proof of our own commit: the connection dropped after we subscribed,
  // or a proof of a block holding our command came in (checked or not). Without either, a resend
  // called a replay by f + 1 validators means the command was committed before this send published it.
  let connectionLost = false;
  /** Anything from the fleet's devices (an ack, a proof of a block): without it a timeout says where it listened. */
  let heardFleet = false;
  /** The validators' latest status documents (their `stall` explains a timeout). */
  const statuses = new Map<string, Partial<StatusJson>>();
  let ownCommitSeen = false;
  client.on('close', () => (connectionLost = true));
  let replayGrace: NodeJS.Timeout | null = null;
  // Proofs by block hash: devices publish one per block (proof/<height>) and it proves itself.
  const proofs = new Map<string, BlockProof>();
  // The certificate proves the commit; the outcome (accepted or rejected, and why) is what devices say,
  // believed once validators holding more voting power than the faulty ones may hold (less than a third)
  // say the same, so at least one honest validator does. Only validators count: the fault assumption
  // bounds them, not followers (any number of which may lie), and it bounds their power, not their number.
  const decisions = new Map<string, AckBody>();
  const refusals = new Map<string, Map<string, string>>(); // refusal kind -> device -> reason; one per device, so bounded by the manifest
  let powerOf = new Map(manifest.validators.map((v) => [v.id, v.power]));
  let faultyPowerMax = Math.floor((manifest.totalPower - 1) / 3);
  // Devices publish, retained, the proofs of the blocks that changed the fleet manifest: followed from
  // the copy with keys it trusts (runtime/manifest/successors.ts), a newer manifest in force replaces it
  // below (whose word counts, which keys sign acks). Before, such a fleet's commits were `unverified`.
  const changes = new ManifestChanges(loaded.manifest, verifier);
  let chain: readonly FollowedManifest[] = copyOnly(manifest);
  /** Why the proofs heard do not make a chain (two manifests of one epoch), or null. */
  let chainProblem: string | null = null;
  const followChanges = (payload: Uint8Array): void => {
    if (!changes.add(payload)) return; // nothing new to follow
    const f = changes.follow();
    if (!f.ok) return void (chainProblem = f.error);
    chain = f.value;
    const newest = chain[chain.length - 1] as FollowedManifest;
    if (newest.manifest.body.epoch <= manifest.body.epoch) return;
    manifest = newest.manifest;
    powerOf = new Map(manifest.validators.map((v) => [v.id, v.power]));
    faultyPowerMax = Math.floor((manifest.totalPower - 1) / 3);
    r.totalPower = manifest.totalPower;
    r.followed = { fromEpoch: loaded.manifest.body.epoch, epoch: manifest.body.epoch, hash: toHex(manifest.hash), committedAt: newest.committedAt };
    if (!a.values.json) process.stderr.write(`murmurctl: ${followedLine(chain, path, "its validators' word counts")}\n`);
  };
  /** Whether `nodes` include validators whose power exceeds what the faulty ones may hold. */
  const vouched = (nodes: Iterable<string>): boolean => {
    let power = 0;
    for (const n of new Set(nodes)) power += powerOf.get(n) ?? 0;
    return power > faultyPowerMax;
  };
  const agreedDecision = (): AckBody | null => {
    const tally = new Map<string, string[]>();
    for (const d of decisions.values()) {
      const k = JSON.stringify([d.height, toHex(d.blockHash ?? new Uint8Array(0)), d.stage, d.reason, d.assigned]);
      const nodes = [...(tally.get(k) ?? []), d.node];
      if (vouched(nodes)) return d;
      tally.set(k, nodes);
    }
    return null;
  };
  let commitSaid = false; // the commit's lines went out before the drones finished (--wait executed)
  // A part a committed block ended (an abort, an rtl or land of its drone, a mission that replaced it,
  // the swarm handing it on or dropping it) never reports done; each validator says so in an `ended`
  // ack (runtime/device/ended-parts.ts), believed as a decision is: by validators holding more power
  // than the faulty ones may hold. Before, such a part was waited for until --timeout (exit 4), even
  // when another drone had flown it and the mission was complete.
  const endedSaid = new Map<string, Map<string, Set<string>>>(); // drone -> what ended its part -> validators; one statement per validator and drone
  /** Drones that took an ended part on after they reported done: awaited until they report again. */
  const takers = new Set<string>();
  /** Drones that took an ended part on: the height of the block that handed it to them. Their acks of an
   *  earlier height are of their route from before (a lagging taker's, or one a broker replays: the same
   *  bytes as then), not of the part they fly now, and are not taken for its end. */
  const handedAt = new Map<string, number>();
  /** Records what a validator said ended `about`'s part; true once it is believed. */
  const noteEnded = (ack: AckBody): boolean => {
    const [about, to] = ack.assigned;
    // What followers say is not evidence; nor a statement about a drone the manifest does not hold (which
    // also bounds what is kept: validators times members).
    if (about === undefined || !powerOf.has(ack.node) || memberOf(manifest, about) === undefined || (to !== undefined && memberOf(manifest, to) === undefined)) return false;
    const said = endedSaid.get(about) ?? new Map<string, Set<string>>();
    endedSaid.set(about, said);
    if ([...said.values()].some((nodes) => nodes.has(ack.node))) return false;
    const key = JSON.stringify([to ?? null, ack.reason, ack.height, ack.progress]);
    const nodes = (said.get(key) ?? new Set<string>()).add(ack.node);
    said.set(key, nodes);
    if (!vouched(nodes) || r.execution[about]?.saidBy !== undefined) return false;
    const own = r.execution[about];
    // Its drone said it flew the whole part (done) before the block that ended it was committed.
    if (own?.stage === 'done' && to === undefined) return true;
    r.execution[about] = { stage: to !== undefined ? 'handed' : 'ended', progress: Math.max(own?.progress ?? 0, ack.progress), reason: ack.reason, saidBy: [...nodes].sort(), ...(to !== undefined ? { handedTo: to } : {}) };
    if (to !== undefined && r.execution[to]?.stage === 'done') takers.add(to);
    if (to !== undefined) handedAt.set(to, Math.max(handedAt.get(to) ?? 0, ack.height));
    if (!a.values.json) process.stderr.write(line(`  ${about}: ${to !== undefined ? '' : 'ended: '}${ack.reason} (said by ${[...nodes].sort().join(', ')})`));
    return true;
  };
  const finishedPart = (n: string): boolean => {
    const stage = r.execution[n]?.stage;
    return stage === 'ended' || stage === 'handed' || ((stage === 'done' || stage === 'failed') && !takers.has(n));
  };
  const executedAll = (): boolean => r.height !== null && partsOf(r).every(finishedPart);
  /** Records the commit once the agreed decision's block has a valid proof; true when nothing more is awaited. */
  const settle = (): boolean => {
    if (r.height !== null) return false;
    const d = agreedDecision();
    const p = d?.blockHash ? proofs.get(toHex(d.blockHash)) : undefined;
    if (!d || !p) return false;
    const under = manifestOfBlock(chain, p.block.block.height, p.block.block.manifestHash);
    if (under === null) {
      r.outcome = 'unverified';
      r.reason = staleManifest(p, { manifest: loaded.manifest, verifier, path }, chain, chainProblem, `validators (${[...decisions.values()].filter((x) => x.blockHash !== null && bytesEqual(x.blockHash, p.block.hash)).map((x) => x.node).sort().join(', ')}) say ${ref} was committed and ${d.stage}`, otherEpochLine([...statuses.values()], manifest.body.epoch, path));
      return true;
    }
    const problem = proofProblem(p, envelope, under.manifest, verifier);
    if (problem) {
      rejectedProofs.push(`height ${d.height}: ${problem}`);
      proofs.delete(toHex(p.block.hash));
      return false;
    }
    const check = verifyProof(p, manifest.body.fleet, under.manifest.validators, verifier);
    r.outcome = d.stage === 'rejected' ? 'rejected' : 'accepted';
    r.reason = d.reason;
    r.height = p.certificate.height;
    r.round = p.certificate.round;
    r.blockHash = toHex(p.certificate.blockHash);
    if (check.ok) Object.assign(r, { signers: [...check.value.signers], signedPower: check.value.signedPower });
    r.assigned = [...d.assigned];
    const canary = type === 'agent.model' && r.outcome === 'accepted' ? canaryOfCommand(commandArgs(envelope), membersOf(under.manifest).devices) : null;
    if (canary !== null) r.canary = canary;
    r.latencyMs.committed = Math.round(performance.now() - t0);
    const finished = wait === 'committed' || d.stage === 'rejected' || r.assigned.length === 0 || executedAll();
    // Waiting for the drones (a survey takes minutes): say the commit now, not after the last one lands.
    if (!finished && !a.values.json) {
      commitLines(r).forEach((l) => process.stdout.write(line(l)));
      commitSaid = true;
    }
    return finished;
  };
  // Every wait on the broker ends by --timeout: one that stops acknowledging (frozen, or hostile) held a
  // subscribe or publish, and then the end of the connection, for ever.
  const deadline = Date.now() + timeoutMs;
  /** The broker acknowledged no copy of the command (PUBACK) before --timeout. */
  let unacknowledged = false;
  try {
    // The validators' status documents too (retained, one each): a timeout in a fleet that commits no
    // block says who it waits for (their `stall`), not just that nothing came.
    const statusTopics = new Map(manifest.validators.map((v) => [topics.status(v.id), v.id]));
    // Listened to before subscribing: the retained documents come with the subscription's
    // acknowledgement, and a listener added after it was awaited missed them (the epoch in force too).
    client.on('message', (topic, payload) => {
      if (topics.isManifests(topic)) return followChanges(new Uint8Array(payload));
      const statusOf = statusTopics.get(topic);
      if (statusOf === undefined) return;
      // Checked as status checks it (ctl-documents.ts): a malformed one (a `stall` of another shape) made
      // the timeout's stall line an internal error. One that does not fit is not heard.
      const read = readStatus(payload.toString('utf8'), statusOf);
      if (read.ok) statuses.set(statusOf, read.status);
    });
    const subscribed = client.subscribeAsync({ [topics.ack(operator, nonceHex)]: { qos: 1 }, [topics.proofsAll]: { qos: 1 }, [topics.manifestsAll]: { qos: 1 }, ...Object.fromEntries([...statusTopics.keys()].map((t) => [t, { qos: 0 as const }])) });
    if (!(await withinMs(subscribed, timeoutMs))) throw new CliError(`the broker at ${redactBrokerUrl(url)} did not acknowledge the subscription to the fleet's answers within --timeout ${timeoutMs / 1000} s: nothing was published`, exitCodes.unavailable);
    await subscribed;
    const finished = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      if (wait === 'none') return done();
      client.on('message', (topic, payload) => {
        if (statusTopics.has(topic) || topics.isManifests(topic)) return; // read above
        heardFleet = true;
        if (topics.isProof(topic)) {
          const p = decodeProof(new Uint8Array(payload));
          if (!p.ok) return void rejectedProofs.push(`${topic}: ${p.error}`.slice(0, 200));
          if (proofs.size >= proofsMax) proofs.delete(proofs.keys().next().value as string);
          proofs.set(toHex(p.value.block.hash), p.value);
          if (p.value.block.block.txs.some((t) => bytesEqual(t, envelope))) ownCommitSeen = true;
          if (settle()) done();
          return;
        }
        const o = openAck(new Uint8Array(payload), manifest, verifier);
        if (!o.ok || o.ack.command !== ref) return;
        const ack = o.ack;
        if (ack.stage === 'refused' && r.outcome === 'timeout' && r.height === null) {
          // Our own copy of a command that was committed meanwhile: the proof is what we wait for.
          if (resent && ack.reason.startsWith('replayed')) {
            replayedAfterResend.set(ack.node, ack.reason);
            // Believed (f + 1 by power): the proof of a commit of ours was published before these
            // refusals; give it replayGraceMs to arrive, then stop waiting for one that will not.
            if (replayGrace === null && vouched(replayedAfterResend.keys())) {
              replayGrace = setTimeout(() => {
                if (r.height === null && decisions.size === 0 && !ownCommitSeen) done();
              }, replayGraceMs);
            }
            return;
          }
          // One device may lag (an old manifest) or lie: a refusal stands once f + 1 validators (by power)
          // refuse for the same kind (the text before ':'; the rest may hold device-local detail such as its clock).
          if ([...refusals.values()].some((nodes) => nodes.has(ack.node))) return; // one refusal per device
          const kind = ack.reason.split(':')[0] ?? '';
          const said = refusals.get(kind) ?? new Map<string, string>();
          said.set(ack.node, ack.reason);
          refusals.set(kind, said);
          if (!vouched(said.keys())) return;
          said.forEach((_, n) => powerOf.has(n) || said.delete(n)); // what followers said is not evidence
          const [first] = [...said.keys()].sort();
          r.outcome = 'refused';
          r.reason = `${said.get(first ?? '') ?? ack.reason} (said by ${[...said.keys()].sort().join(', ')})`;
          return done();
        }
        if ((ack.stage === 'accepted' || ack.stage === 'rejected') && !decisions.has(ack.node)) {
          decisions.set(ack.node, ack);
          if (settle()) return done();
        }
        if (ack.stage === 'ended' && !noteEnded(ack)) return;
        if ((ack.stage === 'started' || ack.stage === 'progress' || ack.stage === 'done' || ack.stage === 'failed') && ack.height < (handedAt.get(ack.node) ?? 0)) {
          if (!a.values.json) process.stderr.write(line(`  ${ack.node}: ${ack.stage} of its route from before height ${handedAt.get(ack.node)} (not yet the part it took on)`));
          return;
        }
        if (ack.stage === 'started' || ack.stage === 'progress' || ack.stage === 'done' || ack.stage === 'failed') {
          const before = r.execution[ack.node];
          if (before?.saidBy !== undefined && before.stage === 'ended' && ack.stage === 'done') {
            // Its drone flew the whole part before the block that ended it took effect there (a device acks
            // nothing but a failure of a part once it applied its end), heard after the validators: done,
            // as when its done comes first (noteEnded). Before, the outcome hung on which came first.
            r.execution[ack.node] = { stage: 'done', progress: ack.progress, reason: ack.reason };
          } else if (before?.saidBy !== undefined) {
            // Its part ended or handed on by a committed block (believed above): its own later word does not undo that.
            before.progress = Math.max(before.progress, ack.progress);
          } else r.execution[ack.node] = { stage: ack.stage, progress: ack.progress, reason: ack.reason };
          takers.delete(ack.node);
          if (!a.values.json) process.stderr.write(line(`  ${ack.node}: ${ack.stage} ${Math.floor(ack.progress / 10)}%${ack.reason ? ` ${ack.reason}` : ''}`));
        }
        if (ack.stage === 'started' || ack.stage === 'progress' || ack.stage === 'done' || ack.stage === 'failed' || ack.stage === 'ended') {
          if (executedAll() && wait === 'executed') {
            r.latencyMs.executed = Math.round(performance.now() - t0);
            return done();
          }
        }
      });
    });
    const frame = Buffer.from(encodeFrame(fleetTag(manifest.body.fleet), 'consensus', envelope));
    // From here the command may be out: Ctrl-C ended the wait without a word, and the operator never
    // learnt its id, nor that it could still commit (and fly) after the prompt came back.
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, onSignal.set(sig, stopOnSignal(signalExitCode(sig))).get(sig) as () => void);
    // Not awaited while waiting for the fleet: a broker that forwards the command but never acknowledges
    // it must not hide the commit its devices prove. With --wait none the acknowledgement is the outcome.
    const published = client.publishAsync(topics.commands, frame, { qos: 1 });
    let acknowledged = false;
    let publishFailed: unknown = null;
    published.then(() => (acknowledged = true), (e: unknown) => (publishFailed = e));
    if (wait === 'none') await withinMs(published, Math.max(0, deadline - Date.now()));
    // No device said anything yet (the broker was down, or came back before the devices subscribed
    // again): the same signed bytes go out again, 3 s after, then at growing intervals, until expiry.
    const publishedAt = Date.now();
    if (wait !== 'none') outbox.add(ref, frame, expiresAt, publishedAt);
    const again = setInterval(() => {
      // f + 1 validators (by power) answered, so one honest validator has the command; or the commit is proven.
      const answered = [...decisions.keys(), ...[...refusals.values()].flatMap((m) => [...m.keys()]), ...Object.keys(r.execution)];
      if (r.height !== null || vouched(answered)) outbox.settle(ref);
      if (!client.connected) return;
      const now = Date.now();
      const copies = outbox.due(now).map((e) => e.frame);
      // The outbox drops a command past its expiry (no device takes it), but a device explains a refusal
      // of one command at most once per 2 s: a saved command sent again within 2 s of the last answer
      // heard nothing, and the wait ran out --timeout. One more copy, as late as the outbox's first,
      // gets the refusal said.
      if (!resent && answered.length === 0 && expiresAt <= now && now - publishedAt >= defaultOutbox.firstMs) copies.push(frame);
      for (const copy of copies) {
        resent = true;
        if (!a.values.json) process.stderr.write(`too few devices have answered yet: publishing ${ref} again (the same signed bytes)\n`);
        client.publish(topics.commands, Buffer.from(copy), { qos: 1 });
      }
    }, 500);
    await finished.finally(() => {
      clearInterval(again);
      if (replayGrace !== null) clearTimeout(replayGrace);
    });
    if (publishFailed !== null) throw publishFailed;
    unacknowledged = !acknowledged;
    if (r.outcome === 'timeout' && unacknowledged && !heardFleet) {
      r.reason = `the broker at ${redactBrokerUrl(url)} did not acknowledge the command (no PUBACK) within --timeout: it may not have reached the fleet; murmurctl log shows whether it was committed`;
    } else if (r.outcome === 'timeout' && !heardFleet) {
      // No ack and no block proof: the wrong broker or the wrong manifest (another fleet's topics), or
      // devices that are down or too few to commit. The bare timeout named none of these.
      r.reason = `nothing came from fleet "${manifest.body.fleet}" on ${redactBrokerUrl(url)} (no device's answer, no block proof): its devices are down or too few to commit, or --broker or --manifest is another fleet's (murmurctl status shows which)`;
    }
    const stall = r.outcome === 'timeout' && r.height === null ? stallLine([...statuses.values()], manifest.validators.length, Date.now()) : null;
    if (stall !== null) r.reason = `${stall}. The command may still commit once blocks come again, before it expires (murmurctl log shows whether it did)`;
    if (r.outcome === 'timeout' && vouched(replayedAfterResend.keys())) {
      const [first] = [...replayedAfterResend.keys()].sort();
      const said = `said by ${[...replayedAfterResend.keys()].sort().join(', ')}`;
      if (!connectionLost && !ownCommitSeen && decisions.size === 0) {
        // Connected all along and no word of a commit of ours: it was committed before this send (a
        // saved command sent again, whose first copy a device left unexplained within 2 s of the last).
        r.outcome = 'refused';
        r.reason = `${replayedAfterResend.get(first ?? '') ?? ''} (${said})`;
      } else {
        // Our own copy met a commit we never saw the proof of (we were reconnecting, say): say what f + 1
        // validators said instead of a bare timeout.
        r.reason = `${replayedAfterResend.get(first ?? '') ?? ''} (${said}; its proof did not reach us: see murmurctl log)`;
      }
    }
  } finally {
    onSignal.forEach((f, sig) => process.off(sig, f));
    await closeMqtt(client, closeBoundMs);
  }
  if (wait === 'none' && unacknowledged) return report(r, wait, rejectedProofs, a.values.json === true);
  if (wait === 'none') {
    if (a.values.json) printJson({ command: ref, type, outcome: 'published' });
    else process.stdout.write(`published ${type} ${ref}\n`);
    return exitCodes.ok;
  }
  return report(r, wait, rejectedProofs, a.values.json === true, commitSaid);
}

/** What send prints of a verified commit: where, who certified it, and its outcome. */
/** Every drone with a part of the command: those assigned, and any that took an ended part on. */
function partsOf(r: SendResult): string[] {
  return [...new Set([...r.assigned, ...Object.values(r.execution).flatMap((e) => (e.handedTo !== undefined ? [e.handedTo] : []))])];
}

/** One line that holds what devices said (their reasons): its control characters escaped, so none
 *  reaches the operator's terminal (nor a newline that starts a line of their making). */
const line = (text: string): string => `${printable(text)}\n`;

function commitLines(r: SendResult): string[] {
  return [
    `committed ${r.type} ${r.command} at height ${r.height} (round ${r.round}), block ${r.blockHash?.slice(0, 16)}`,
    `certificate verified: signed by ${r.signers.join(', ')} (${r.signedPower} of ${r.totalPower} voting power)`,
    r.outcome === 'rejected' ? `rejected: ${r.reason}` : `accepted${r.assigned.length > 0 ? `; assigned to ${r.assigned.join(', ')}` : ''}${r.reason ? `; ${r.reason}` : ''}`,
    // Accepted is the swarm's word on the command, not on the file: a canary that cannot run it refuses it.
    ...(r.canary ? [`canary: ${r.canary.join(', ')} (murmurctl status shows whether each loaded the new version or refused it, and why)`] : []),
  ];
}

/** The args of the command in `envelope` (one this send built and checked). */
function commandArgs(envelope: Uint8Array): Readonly<Record<string, unknown>> {
  const e = decodeEnvelope(envelope);
  const d = e.ok ? decodeCbor(e.value.body, limits.fleetUpdateBytesMax) : e;
  const b = d.ok ? parseWith('command', d.value, parseCommandBody) : d;
  return b.ok ? b.value.args : {};
}

function report(r: SendResult, wait: string, badProofs: string[], json: boolean, commitSaid = false): number {
  // A part another drone took on is that drone's to finish; one ended unflown is not done.
  const failed = Object.entries(r.execution).filter(([, e]) => e.stage === 'failed' || e.stage === 'ended').sort(([x], [y]) => (x < y ? -1 : 1));
  const code =
    r.outcome === 'refused' || r.outcome === 'rejected' || r.outcome === 'unverified' ? exitCodes.refused
    : r.outcome === 'timeout' ? exitCodes.timeout
    : failed.length > 0 ? exitCodes.failed
    : wait === 'executed' && r.assigned.length > 0 && r.latencyMs.executed === null ? exitCodes.timeout
    : exitCodes.ok;
  if (json) {
    printJson({ ...r, ...(badProofs.length > 0 ? { unprovenAcks: badProofs } : {}) });
    return code;
  }
  const out = (s: string): void => void process.stdout.write(line(s));
  if (r.outcome === 'refused') out(`refused: ${r.reason}`);
  else if (r.outcome === 'unverified') out(`unverified: ${r.reason}`);
  else if (r.outcome === 'timeout' && wait === 'none') out(`timeout: ${r.reason}`);
  else if (r.outcome === 'timeout') out(`timeout: no verified commit of ${r.command} before --timeout${badProofs.length > 0 ? ` (acks without a valid proof: ${badProofs.join('; ')})` : ''}${r.reason ? `; ${r.reason}` : ''}`);
  else {
    if (!commitSaid) commitLines(r).forEach(out);
    if (wait === 'executed' && r.assigned.length > 0) {
      for (const n of partsOf(r)) {
        const e = r.execution[n];
        const said = e?.saidBy ? `; said by ${e.saidBy.join(', ')}` : '';
        out(`  ${n}: ${!e ? 'no report' : e.stage === 'handed' ? `${e.reason}${said ? ` (${said.slice(2)})` : ''}` : `${e.stage}${e.reason ? ` (${e.reason}${said})` : ''}`}`);
      }
      if (code === exitCodes.timeout) out('timeout: not every assigned device reported done before --timeout');
      if (code === exitCodes.failed) out(`failed: ${failed.length === 1 ? 'a part was' : `${failed.length} parts were`} not flown to the end (${failed.map(([n]) => n).join(', ')}: above)`);
    }
  }
  return code;
}
