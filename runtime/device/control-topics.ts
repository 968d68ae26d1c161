// The control-plane topics devices publish for operators (docs/topics.md, "Control plane"): signed
// acks per command, and JSON status, telemetry, acks and the decision log that a person can read
// with mosquitto_sub. Commands go the other way on the links' commands topic.

import type { FenceKeeperStatus } from '../../hal/devices.js';
import { fleetPrefix } from '../links/mqtt-topics.js';
import type { StallView } from '../consensus/stall.js';

export interface ControlTopics {
  /** Operators publish signed command envelopes here (link framing; see docs/topics.md). */
  readonly commands: string;
  /** Signed ack envelopes (kind 12, raw envelope bytes) about one command. */
  ack(operator: string, nonceHex: string): string;
  /** Every signed ack for any command of `operator` (murmurctl subscribes with its own id). */
  acksOf(operator: string): string;
  /** The proof of one committed block that decided commands: CBOR [block bytes, certificate] (wire/proof.ts). */
  proof(height: number): string;
  readonly proofsAll: string;
  isProof(topic: string): boolean;
  /** Retained, CBOR: the proofs of the blocks that changed the fleet manifest (manifest-proofs.ts), for
   *  an operator whose copy is older to follow (runtime/manifest/successors.ts). */
  manifests(node: string): string;
  readonly manifestsAll: string;
  isManifests(topic: string): boolean;
  /** JSON, retained: the device's latest status. */
  status(node: string): string;
  /** JSON: the device's position, battery and task progress, every telemetry period. */
  telemetry(node: string): string;
  /** JSON: every ack the device publishes, readable. */
  ackJson(node: string): string;
  /** JSON, retained: the newest committed decisions (accepted and rejected commands), at most every 2 s. */
  log(node: string): string;
  /** JSON: each block's decisions, as the device commits it (the log's news, at once). */
  decided(node: string): string;
  /** JSON: refusals of payloads that are not even a readable command (no command to ack). */
  refused(node: string): string;
  /** Everything JSON from every device (for `murmurctl watch`). */
  readonly jsonAll: string;
  readonly statusAll: string;
  readonly logAll: string;
  readonly decidedAll: string;
}

export function controlTopics(fleet: string): ControlTopics {
  const p = fleetPrefix(fleet);
  return {
    commands: `${p}/commands`,
    ack: (operator, nonceHex) => `${p}/ack/${operator}/${nonceHex}`,
    acksOf: (operator) => `${p}/ack/${operator}/+`,
    proof: (height) => `${p}/proof/${height}`,
    proofsAll: `${p}/proof/+`,
    isProof: (topic) => topic.startsWith(`${p}/proof/`),
    manifests: (node) => `${p}/node/${node}/manifests`,
    manifestsAll: `${p}/node/+/manifests`,
    isManifests: (topic) => topic.startsWith(`${p}/node/`) && topic.endsWith('/manifests') && topic.split('/').length === p.split('/').length + 3,
    status: (node) => `${p}/json/${node}/status`,
    telemetry: (node) => `${p}/json/${node}/telemetry`,
    ackJson: (node) => `${p}/json/${node}/ack`,
    log: (node) => `${p}/json/${node}/log`,
    decided: (node) => `${p}/json/${node}/decided`,
    refused: (node) => `${p}/json/${node}/refused`,
    jsonAll: `${p}/json/#`,
    statusAll: `${p}/json/+/status`,
    logAll: `${p}/json/+/log`,
    decidedAll: `${p}/json/+/decided`,
  };
}

/** The JSON status document (retained on status(node)); murmurctl status renders it as a table row. */
export interface StatusJson {
  readonly node: string;
  readonly role: 'validator' | 'follower';
  readonly state: 'starting' | 'ready' | 'stopping' | 'offline';
  readonly height: number;
  readonly round: number;
  readonly proposer: string;
  /** The epoch of the fleet manifest in force at the height being decided (changes by fleet.update).
   *  Absent from devices older than this field. */
  readonly epoch?: number;
  readonly peers: Readonly<Record<string, 'alive' | 'suspect' | 'dead' | 'recovered'>>;
  readonly batteryPct: number | null;
  /** upM null: the flight controller says the drone's height is not known (its estimator's vertical
   *  position invalid), and no stale number stands for it. */
  readonly position: { readonly northM: number; readonly eastM: number; readonly upM: number | null } | null;
  /** The mission in force; `progressPct`: this device's part of it, the most it has acked (never less:
   *  not the last ack of any command, which under a hold was the hold's), at least what its committed
   *  telemetry says it flew, 100 once done (MissionRunner.missionSummary). */
  readonly mission: { readonly id: string; readonly status: string; readonly progressPct: number } | null;
  /** Why the vehicle is out of this device's hands (a pilot's mode switch or sticks, the flight
   *  controller's own failsafe) until the swarm commits a new task for it; absent while the device
   *  flies it, and from older devices. */
  readonly handedOver?: string;
  /** The newest committed evidence of misbehaviour (at most 8): who double-signed which vote, and the
   *  height whose block carries the proof. Absent from devices older than this field. */
  readonly evidence?: readonly { readonly culprit: string; readonly height: number; readonly round: number; readonly vote: string; readonly committedAt: number }[];
  /** Hazard cells the swarm committed (f+1 devices attested them; at most 32, newest last): the cell on
   *  the 5 m grid, its centre in metres from the origin, the height that committed it, and the devices
   *  whose attestations committed it (CellRecord.committedBy). */
  readonly hazards?: readonly { readonly cell: readonly [number, number]; readonly northM: number; readonly eastM: number; readonly committedAt: number; readonly attesters?: readonly string[] }[];
  /** Local reflexes that sent the drone home or down (a battery below its reserve, outside the
   *  geofence, no quorum contact for long) since the device started. Absent from older devices. */
  readonly failsafes?: number;
  /** Envelopes whose first copy reached this device through a radio flood relay since it started
   *  (present when it has a radio). */
  readonly relayedFirst?: number;
  /** What the device dropped since it started, in totals: envelopes before consensus by reason
   *  (murmur_envelopes_dropped_total), bad frames by reason summed over its links
   *  (murmur_link_bad_frames), and the copies its router dropped as already seen, over all links
   *  (murmur_envelopes_duplicate_total). Reasons with none are left out. Absent from older devices. */
  readonly dropped?: DroppedJson;
  /** Why the fleet manifest in force puts this device out of the fleet (removed, or another key listed
   *  for its id): the device stops on it, so this is in its last retained status. Absent otherwise. */
  readonly notMember?: string;
  /** Snapshots installed by state sync since the device started, and offers or chunks it refused. */
  readonly stateSync?: { readonly installs: number; readonly refused: number };
  /** A light follower's sources: the validators it takes committed blocks from; null while it hears
   *  every vote (a validator, or consensus.followerSources 0). Absent from older devices. */
  readonly blockSources?: readonly string[] | null;
  /** The geofence kept on the flight controller as its own failsafe (hal.driver mavlink, once the
   *  device has a fence): uploading, on-fc or failed (with the reason; retried in the background),
   *  and the upload and failure counts since start. Absent otherwise. */
  readonly fcFence?: FenceKeeperStatus;
  /** The device's agents (empty when agents are disabled), in name order. */
  readonly agents: readonly AgentStatusJson[];
  /** A validator's view while its fleet commits no block for longer than rounds 0-3 of its timeouts
   *  take (stall.ts): the height and round, the validators it has votes from there, those behind, those
   *  not heard, and the voting power heard against the quorum. Absent while blocks come, from
   *  followers, and from older devices. */
  readonly stall?: StallView;
  readonly timeMs: number;
}

/** StatusJson.dropped: `{"envelopes":{"bad-signature":3},"frames":{"wrong-fleet":100},"duplicates":41}`. */
export interface DroppedJson {
  readonly envelopes: Readonly<Record<string, number>>;
  readonly frames: Readonly<Record<string, number>>;
  readonly duplicates: number;
}

/** One agent as the scheduler reports it: which engine infers, which model runs, how it is doing. */
export interface AgentStatusJson {
  readonly name: string;
  /** onnxruntime, pure-ts, rules, or none for an agent without a model. */
  readonly engine: string;
  /** starting, running, backoff (crashed or overran, restart pending) or stopped. */
  readonly state: string;
  /** name@version of the model in use, or null (rules or no model). */
  readonly model: string | null;
  /** Why the model the rollout assigned was refused (hash mismatch, missing file), or null. */
  readonly modelRefused: string | null;
  /** Why better engines were passed over, or why the agent is not deciding (e.g. its input is too sparse). */
  readonly engineReasons: readonly string[];
  readonly restarts: number;
  readonly ticks: number;
  readonly overruns: number;
  readonly lastError: string | null;
}

export interface DecisionJson {
  readonly height: number;
  readonly index: number;
  readonly command: string;
  readonly operator: string;
  readonly type: string;
  readonly outcome: 'accepted' | 'rejected';
  readonly reason: string;
  readonly blockHash: string;
}
