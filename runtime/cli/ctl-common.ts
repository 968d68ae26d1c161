// Shared pieces of the murmurctl verbs: the broker connection, the operator's manifest (its own copy:
// it trusts no device and no broker), duration parsing, and verifying signed acks from devices.

import type { MqttClient } from 'mqtt';
import { brokerUrlProblem, redactBrokerUrl } from '../links/broker-url.js';
import { connectMqtt, loginRefused, rawDataEvent } from '../links/mqtt-connect.js';
import type { Socket } from 'node:net';
import { createVerifier, type Verifier } from '../crypto/sodium.js';
import { keyLookup, type Manifest } from '../manifest/manifest.js';
import { parseAckBody, type AckBody } from '../wire/ack.js';
import { openEnvelope } from '../wire/envelope.js';
import { CliError, exitCodes } from './kit.js';
import { readManifestFile } from './manifest-file.js';
import { describeStall } from '../consensus/stall.js';
import type { StatusJson } from '../device/control-topics.js';
import { toHex } from '../lib/bytes.js';
import { followManifests, type FollowedManifest } from '../manifest/successors.js';
import { decodeManifestProofs } from '../device/manifest-proofs.js';
import type { BlockProof } from '../wire/proof.js';
import type { Result } from '../lib/result.js';

export const commonOptions = {
  broker: { type: 'string' },
  manifest: { type: 'string' },
  json: { type: 'boolean' },
  timeout: { type: 'string' },
} as const;

/** The longest --timeout murmurctl takes: a wait longer than a day is a typo (600h for 600s), and
 *  Node's timers end at 2^31 - 1 ms (24.8 days): past that they fire at once, with a warning. */
export const timeoutMsMax = 24 * 3_600_000;

/** The common options' help, with the verb's own --timeout: what it waits for and its default. */
export function commonHelp(timeout: string): string {
  return `Common options:
  --broker URL       MQTT broker (default $MURMUR_BROKER or mqtt://127.0.0.1:1883)
  --manifest FILE    the signed fleet manifest (default $MURMUR_MANIFEST); used to verify devices
  --timeout DURATION ${timeout}
  --json             machine-readable output
DURATION is like 30s, 500ms, 2m or 1h (a bare number is seconds), at most 24h.`;
}

export function brokerUrl(v: string | undefined): string {
  const url = v ?? process.env.MURMUR_BROKER ?? 'mqtt://127.0.0.1:1883';
  const problem = brokerUrlProblem(url);
  const from = v === undefined && process.env.MURMUR_BROKER !== undefined ? ' (from MURMUR_BROKER)' : '';
  if (problem !== null) throw new CliError(`--broker "${redactBrokerUrl(url)}"${from}: ${problem}; give a broker URL like mqtt://127.0.0.1:1883`, exitCodes.usage);
  return url;
}

/**
 * A duration flag: a positive number with ms, s (the default), m or h. Zero or less is a usage error,
 * and so is more than `maxMs` (by default timeoutMsMax; `overMax` is added to what is said then).
 */
export function parseDuration(v: string | undefined, fallbackMs: number, flag = 'timeout', maxMs = timeoutMsMax, overMax = ''): number {
  if (v === undefined) return fallbackMs;
  const m = /^(-?\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v.trim());
  if (!m) throw new CliError(`--${flag} "${v}" must be a duration like 30s, 500ms, 2m or 1h`, exitCodes.usage);
  const n = Number(m[1]);
  const ms = Math.round(m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : m[2] === 'h' ? n * 3_600_000 : n * 1000);
  if (ms <= 0) throw new CliError(`--${flag} ${v} must be more than 0 ms, like 30s, 500ms, 2m or 1h`, exitCodes.usage);
  if (ms > maxMs) throw new CliError(`--${flag} ${v} is more than ${durationSaid(maxMs).words}, the longest murmurctl waits: give at most ${durationSaid(maxMs).flag}${overMax}`, exitCodes.usage);
  return ms;
}

/** A whole duration as a flag value and in words: 24h and 24 h, 90s and 90 s. */
function durationSaid(ms: number): { flag: string; words: string } {
  const [n, unit] = ms % 3_600_000 === 0 ? [ms / 3_600_000, 'h'] : ms % 60_000 === 0 ? [ms / 60_000, 'm'] : ms % 1_000 === 0 ? [ms / 1_000, 's'] : [ms, 'ms'];
  return { flag: `${n}${unit}`, words: `${n} ${unit === 'm' ? 'min' : unit}` };
}

/** The operator's manifest copy, and `path`, where it was read from (for naming it in what is said). */
export function loadManifest(v: string | undefined): { manifest: Manifest; verifier: Verifier; path: string } {
  const path = v ?? process.env.MURMUR_MANIFEST;
  if (!path) throw new CliError('missing --manifest FILE (the signed fleet manifest; or set MURMUR_MANIFEST)', exitCodes.usage);
  const verifier = createVerifier();
  return { manifest: readManifestFile(path, { verifier, code: exitCodes.usage }), verifier, path };
}

/** How long a CLI's goodbye waits for the broker (closeMqtt): the outcome is known and said by then,
 *  and nothing still in flight (a copy sent again, a subscription) changes it. */
export const closeBoundMs = 500;

/** The first byte a broker sends: a CONNACK's (MQTT 3.1.1 and 5). */
const connackByte = 0x20;

/**
 * Connects or fails with exit code 5 (unavailable) within `waitMs`: the broker not answering, refusing
 * this client's login (said as such, with where the credentials come from), or a server that answers
 * but not as an MQTT broker (an HTTP port). `isTimeout`: the wait is the operator's whole --timeout, so
 * running out of it is said as such, with the fix.
 */
export async function connect(url: string, clientPrefix: string, waitMs: number, isTimeout = false): Promise<MqttClient> {
  const client = connectMqtt(url, { clientId: `${clientPrefix}-${process.pid}-${Date.now() % 100_000}`, clean: true, reconnectPeriod: 0, connectTimeout: waitMs, keepalive: 10, writeCache: false });
  // What the server said first, looked at before mqtt.js parses it: anything but a CONNACK is not an
  // MQTT broker (an HTTP server's "HTTP/1.1 400" parsed as a PUBACK with bad flags, said as such).
  let first: number | undefined;
  let tcp = false;
  const stream = client.stream as unknown as Partial<Socket> | undefined;
  stream?.once?.(rawDataEvent, (chunk: Buffer) => void (first ??= chunk[0]));
  stream?.once?.('connect', () => (tcp = true));
  stream?.once?.('secureConnect', () => (tcp = true));
  const gone = new Error('no answer');
  try {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(gone), waitMs);
      client.once('connect', () => {
        clearTimeout(t);
        resolve();
      });
      client.once('error', (e) => {
        clearTimeout(t);
        reject(e);
      });
    });
  } catch (e) {
    client.end(true);
    const at = redactBrokerUrl(url);
    if (first !== undefined && first !== connackByte) throw new CliError(`the server at ${at} answered, but not as an MQTT broker (an HTTP port?); check --broker`, exitCodes.unavailable);
    if (loginRefused(e)) {
      throw new CliError(`the broker at ${at} refused the login: ${(e as Error).message}; check the user name and password in the broker URL (mqtt://user:password@host:port)`, exitCodes.unavailable);
    }
    if (e === gone || (e as Error).message === 'connack timeout') {
      const within = waitMs < 1_000 ? `${waitMs} ms` : `${waitMs / 1_000} s`;
      if (isTimeout) throw new CliError(`no CONNACK from the broker at ${at} within --timeout (${within}); give a longer --timeout`, exitCodes.unavailable);
      if (!tcp) throw new CliError(`cannot reach the broker at ${at}: no connection within ${within} (is the host up, and nothing in the way?)`, exitCodes.unavailable);
      throw new CliError(`the broker at ${at} took the connection but sent no CONNACK within ${within}: is it an MQTT broker, and not overloaded?`, exitCodes.unavailable);
    }
    throw new CliError(`cannot reach the broker at ${at}: ${(e as Error).message}`, exitCodes.unavailable);
  }
  (client.stream as unknown as Partial<Socket>).setNoDelay?.(true);
  return client;
}

/** Opens a signed ack envelope from a device in the manifest, or says why it is not one. */
export function openAck(bytes: Uint8Array, manifest: Manifest, verifier: Verifier): { ok: true; ack: AckBody; sender: string } | { ok: false; reason: string } {
  const e = openEnvelope(bytes, { fleet: manifest.body.fleet, keyOf: keyLookup(manifest), verifier });
  if (!e.ok) return { ok: false, reason: e.error.message };
  if (e.value.kind !== 'ack') return { ok: false, reason: `a ${e.value.kind} message on an ack topic` };
  const ack = e.value.parsed as ReturnType<typeof parseAckBody>;
  if (ack.node !== e.value.sender) return { ok: false, reason: `ack names node ${ack.node} but is signed by ${e.value.sender}` };
  return { ok: true, ack, sender: e.value.sender };
}

/**
 * A line while validators say their fleet commits no block (the `stall` of their status documents:
 * fresh ones, of devices not offline): how many of the `validators` say so, and the view of the one that
 * hears the most voting power (who votes, who is down, behind or not heard). Null otherwise. Under
 * `murmurctl status`'s table, and the reason of a `send` that timed out.
 */
export function stallLine(statuses: readonly (Partial<StatusJson> | null)[], validators: number, nowMs: number): string | null {
  const views = statuses.flatMap((s) => {
    const fresh = s?.timeMs !== undefined && nowMs - s.timeMs <= 5_000;
    return s?.stall !== undefined && typeof s.node === 'string' && fresh && s.state !== 'offline' && s.state !== 'stopping' ? [{ node: s.node, stall: s.stall }] : [];
  });
  // A validator that hears others at later heights is behind them, not stalled with its fleet.
  const behind = views.filter((v) => (v.stall.ahead?.length ?? 0) > 0);
  const stalled = views.filter((v) => (v.stall.ahead?.length ?? 0) === 0);
  const [best] = stalled.sort((a, b) => b.stall.votingPower - a.stall.votingPower || (a.node < b.node ? -1 : 1));
  const lagging = behind.map((v) => v.node).sort();
  if (best === undefined) {
    const [first] = behind.sort((a, b) => (a.node < b.node ? -1 : 1));
    return first === undefined ? null : `${lagging.join(', ')} behind the fleet (the others commit on); ${first.node}: ${describeStall(first.stall)}`;
  }
  const alsoBehind = lagging.length > 0 ? `; behind the others: ${lagging.join(', ')}` : '';
  return `fleet stalled (${stalled.length} of ${validators} validators say so); ${best.node}: ${describeStall(best.stall)}${alsoBehind}`;
}

/**
 * A line when the devices' status documents report another fleet manifest epoch in force than the
 * operator's copy (`epoch`, read from `path`): a newer one (the fleet ran a fleet.update the copy does
 * not have: status misses the members it added, and send cannot verify commits against the copy), or
 * only older ones (the copy's change is not in force yet, or was never committed). Null
 * when none reports another, or no status says its epoch. Reports, not proof: status documents are
 * unsigned, so this is said, never acted on.
 */
export function otherEpochLine(statuses: readonly (Partial<StatusJson> | null)[], epoch: number, path: string): string | null {
  const byEpoch = new Map<number, string[]>();
  for (const s of statuses) if (typeof s?.epoch === 'number' && typeof s.node === 'string') byEpoch.set(s.epoch, [...(byEpoch.get(s.epoch) ?? []), s.node]);
  const epochs = [...byEpoch.keys()].sort((a, b) => b - a);
  const [newest] = epochs;
  if (newest === undefined || newest === epoch) return null;
  const who = (e: number): string => (byEpoch.get(e) ?? []).sort().join(', ');
  if (newest > epoch) return `devices report fleet manifest epoch ${newest} in force (${who(newest)}), newer than --manifest ${path} (epoch ${epoch}): this copy lacks the fleet's later changes (members, keys, validators), and commits cannot be verified against it; get the manifest of epoch ${newest} (the one the fleet authority signed for the last fleet.update) and give it as --manifest`;
  return `devices report fleet manifest epoch ${newest} in force (${who(newest)}), older than --manifest ${path} (epoch ${epoch}): its change is not in force yet (two heights after the block that commits it) or was never committed (murmurctl log shows the fleet.update's outcome); until then give the manifest of epoch ${newest}`;
}

/**
 * The line on stderr when the proofs devices publish of the fleet's manifest changes lead from the
 * operator's copy (epoch `fromEpoch`, read from `path`) to a newer manifest (`chain`'s last,
 * runtime/manifest/successors.ts); `then` says what murmurctl does with it.
 */
export function followedLine(chain: readonly FollowedManifest[], path: string, then: string): string {
  const newest = chain[chain.length - 1] as FollowedManifest;
  const from = (chain[0] as FollowedManifest).manifest.body.epoch;
  const n = chain.length - 1;
  return `the fleet's manifest is epoch ${newest.manifest.body.epoch} (${toHex(newest.manifest.hash).slice(0, 16)}), newer than --manifest ${path} (epoch ${from}): followed through ${n} committed change${n > 1 ? 's' : ''}, each proven by its block's certificate (the last at height ${newest.committedAt}); ${then}`;
}

/** Proofs of manifest changes kept (each device publishes at most 16, mostly the same blocks). */
const changeProofsMax = 256;

/**
 * The proofs of manifest changes that devices publish retained (node/<node>/manifests), collected from
 * their payloads by block, and the chain of manifests they lead to from the operator's copy
 * (runtime/manifest/successors.ts). What send and status follow an older --manifest with.
 */
export class ManifestChanges {
  private readonly proofs = new Map<string, BlockProof>();

  constructor(
    private readonly copy: Manifest,
    private readonly verifier: Verifier,
  ) {}

  /** Adds a payload's proofs; true when one of them was new (each device publishes mostly the same). */
  add(payload: Uint8Array): boolean {
    const d = decodeManifestProofs(payload);
    if (!d.ok) return false;
    const before = this.proofs.size;
    for (const p of d.value.proofs) if (this.proofs.size < changeProofsMax) this.proofs.set(toHex(p.block.hash), p);
    return this.proofs.size > before;
  }

  /** The chain from the copy, or why the proofs make none (two manifests of one epoch). */
  follow(): Result<FollowedManifest[]> {
    return followManifests(this.copy, [...this.proofs.values()], this.verifier);
  }
}
