// The fleet-sim scenario (DESIGN.md "fleet-sim scenario"), after parsing: times in ms, nodes by index.

import type { ForgeryKind } from '../sim/forged-commands.js';

/** Byzantine behaviours in consensus traffic (random worlds draw from these). */
export const behaviors = ['equivocate', 'twins', 'forge', 'replay', 'silent', 'amnesia', 'flood', 'invalid-block', 'wrong-proposer', 'forge-snapshot'] as const;
/** Byzantine behaviours of a device's agents: it signs hazard attestations that lie (its consensus
 *  traffic stays honest), so only the f+1 rule stands between the lie and the swarm's map. */
export const agentBehaviors = ['fake-hazard', 'deny-hazard'] as const;
export type AgentBehavior = (typeof agentBehaviors)[number];
export type Behavior = (typeof behaviors)[number] | AgentBehavior;

/** A node by index (validators 0..n-1, then followers) or the validator proposing at that moment. */
export type NodeRef = number | 'proposer';

/** A node's id in every mode: validators v00, v01, ..., then followers f00, f01, ... */
export function nodeId(index: number, validators: number): string {
  return index < validators ? `v${String(index).padStart(2, '0')}` : `f${String(index - validators).padStart(2, '0')}`;
}

export type Fault =
  | { readonly at: number; readonly kind: 'crash'; readonly node: NodeRef }
  /** `crashed`: the node the latest crash fault took down (a crashed `proposer` is only known then). */
  | { readonly at: number; readonly kind: 'restart'; readonly node: number | 'crashed'; readonly wal: 'intact' | 'torn' | 'holes' }
  | { readonly at: number; readonly kind: 'byzantine'; readonly node: number; readonly behavior: Behavior }
  | { readonly at: number; readonly kind: 'partition'; readonly groups: readonly (readonly number[])[]; readonly until: number }
  | { readonly at: number; readonly kind: 'one-way'; readonly from: readonly number[]; readonly to: readonly number[]; readonly until: number }
  | { readonly at: number; readonly kind: 'broker-down'; readonly until: number }
  | { readonly at: number; readonly kind: 'loss'; readonly loss: number; readonly until: number }
  /** From `at` the node's board clock reads `offsetMs` off true time (a board without a real-time clock
   *  booted with an old time, a bad GNSS fix). Its consensus clock never goes back (SteadyClock): a step
   *  forward is taken at once, a step back at the node's next start. Deterministic mode only. */
  | { readonly at: number; readonly kind: 'clock'; readonly node: number; readonly offsetMs: number }
  /** An attacker on the broker publishes forged commands at this rate, cycling through `kinds`
   *  (fleet-sim/sim/forged-commands.ts). */
  | { readonly at: number; readonly kind: 'forged-commands'; readonly perSec: number; readonly until: number; readonly kinds: readonly ForgeryKind[] };

/** Commands one rate workload submits at most (fleet-sim/sim/world.ts); the parser refuses more. */
export const rateCommandsMax = 1_000_000;

/**
 * The times (ms) of something sent perSec times a second from `from` until before `to`, at most `max` of
 * them: the k-th at from + k * 1000 / perSec, each computed on its own. A running sum of the gap drifts
 * when 1000 / perSec is not a whole number (6/s: 166.66... ms) and slipped one more in below `to`
 * (6/s from 2 s to 13 s gave 67 where the parser counts 66: ceil(perSec * window / 1000)).
 */
export function* rateTimes(from: number, to: number, perSec: number, max: number): Generator<number> {
  for (let k = 0; k < max; k++) {
    const t = from + (k * 1000) / perSec;
    if (!(t < to)) return;
    yield t;
  }
}

export type Workload =
  | { readonly kind: 'rate'; readonly from: number; readonly to: number; readonly perSec: number; readonly command: string }
  | { readonly kind: 'once'; readonly at: number; readonly command: string; readonly args: Readonly<Record<string, unknown>> }
  /** fleet.update: the world's authority signs the next epoch's manifest with this set (node indexes);
   *  the operator sends it as the command's `manifest` argument. */
  | { readonly kind: 'fleet-update'; readonly at: number; readonly validators: readonly number[]; readonly followers: readonly number[] };

export interface LinkModel {
  readonly latencyMs: number;
  readonly jitterMs: number;
  readonly loss: number;
  readonly duplicate: number;
}

/** A serial radio on every device (the runtime's SerialLink and Router: runtime/links). */
export interface RadioModel {
  /** UART baud; 8N1, so baud / 10 bytes per second of airtime per sender. */
  readonly baud: number;
  /** Bytes per radio packet on the air (SiK 252, E32 58), COBS and delimiter included. */
  readonly mtuBytes: number;
  /** Chance that one receiver misses one packet. */
  readonly loss: number;
  /** Horizontal distance within which two radios hear each other. */
  readonly rangeM: number;
  /** Flood relay hops (the runtime's default is 3). */
  readonly hopLimit: number;
  /** A queued relay is cancelled once its packet was heard this many times; 0: never (default: the
   *  runtime's defaultRelaySuppress, 3). */
  readonly relaySuppress?: number;
  /** A relay waits a random 0..relayJitterMs first (default: the runtime's defaultRelayJitterMs, four
   *  packets' airtime; 0: at once). */
  readonly relayJitterMs?: number;
}

/** Hardware in the loop: these nodes fly a simulated flight controller over MAVLink 2 on a pty. */
export interface HilModel {
  readonly nodes: readonly number[];
  readonly autopilot: 'px4' | 'ardupilot';
}

/** What a run must show besides safety; the flight ones read the report's `flight` section. */
export interface Expect {
  readonly safety: boolean;
  readonly committedFraction?: number;
  readonly maxStallMs?: number;
  readonly geofenceBreachesMax?: number;
  readonly failsafesMin?: number;
  readonly hazardsCommittedMin?: number;
  readonly hazardsCommittedMax?: number;
  readonly minSeparationM?: number;
  /** Times drones may fly into the world's obstacles (world.hazards), counted on the simulated vehicles. */
  readonly obstacleStrikesMax?: number;
  readonly surveyedFractionMin?: number;
  /** The manifest epoch in force at the end (a validator-set change happened). */
  readonly epoch?: number;
  /** Envelopes some device received first through a radio relay (multi-hop carried traffic). */
  readonly relayedDeliveriesMin?: number;
  /** Every forged command was refused with the reason it deserves, and none was committed. */
  readonly forgedRefused?: boolean;
  /** The validators committed evidence must name (each at least once); evidence naming any other
   *  validator fails too (an honest one framed). */
  readonly evidenceAgainst?: readonly number[];
  /** Snapshots honest nodes installed by state sync, at least. */
  readonly stateSyncInstallsMin?: number;
  /** Snapshot offers or chunks honest nodes refused (a forger was caught), at least. */
  readonly stateSyncRefusedMin?: number;
  /** What honest nodes refused or dropped, at least this many of each kind named (the report's
   *  `refused`; deterministic mode only): a defence seen at work, not only survived. */
  readonly refusedMin?: Readonly<Partial<Record<RefusedKind, number>>>;
  /** How far ahead of true time a committed block's time may run, at most (ms; the report's
   *  blockTimeAheadMaxMs; deterministic mode only): a fast clock's proposals refused. */
  readonly blockTimeAheadMaxMs?: number;
}

/** What the report's `refused` counts on honest nodes (fleet-sim/sim/world.ts countRefusal):
 *  malformed: messages dropped at the edge that are no envelope (bytes that do not decode, an unknown kind);
 *  notProposer: proposals dropped because their signer is not the round's proposer;
 *  invalidBlock: proposed blocks found invalid (an appHash, parent, time or tx that the chain refuses), once per block and node;
 *  tornLogTails: torn or damaged ends of a node's logs (WAL, ahead log, signer state) dropped as it started;
 *  replayedCommands: commands a replayer sent again after they were committed (each honest node refuses
 *  them as seen before; one committed twice is a safety violation, checkers.ts);
 *  badSignatures: signed messages dropped at the edge because their signature does not verify against
 *  the key of the validator or device they name (a flipped bit, or one signed in another's name). */
export const refusedKinds = ['malformed', 'notProposer', 'invalidBlock', 'tornLogTails', 'replayedCommands', 'badSignatures'] as const;
export type RefusedKind = (typeof refusedKinds)[number];

export interface Scenario {
  readonly name: string;
  readonly seed: number;
  readonly durationMs: number;
  readonly validators: number;
  readonly followers: number;
  readonly mqtt: LinkModel;
  /** links.radio: a serial radio on every device; deterministic mode models it (sim/radio-net.ts),
   *  real-time mode gives each device's real serial link fleet-sim's air (realtime/radio-medium.ts). */
  readonly radio?: RadioModel;
  /** Real-time mode only: nodes that drive the simulated flight controller (firmware-bridge/sim-fc). */
  readonly hil?: HilModel;
  /** The devices' router policy per traffic class (runtime/links/router.ts; default consensus 'all',
   *  telemetry 'first'): 'first' puts a class on the radio only while the broker is down. */
  readonly linkPolicy?: Partial<Record<'consensus' | 'heartbeat' | 'telemetry', 'all' | 'first'>>;
  /** Roles of the simulated operator "op" in the manifest (default operator; admin may change the fleet). */
  readonly operatorRoles?: readonly ('operator' | 'admin')[];
  readonly faults: readonly Fault[];
  readonly workload: readonly Workload[];
  readonly expect: Expect;
  /** Consensus timeouts (ms); defaults suit a 2 ms LAN. */
  readonly consensus: {
    readonly proposeMs: number;
    readonly commitWaitMs: number;
    readonly gossipMs: number;
    /** Heights between checkpoints (default 32); blocks carry the latest one's commitment. */
    readonly checkpointEveryHeights?: number;
    /** Blocks each node keeps for block sync (default 256); a node further behind state-syncs. */
    readonly syncWindowHeights?: number;
    /** Every node writes its checkpoint snapshot to disk and empties its WAL this often (default: never). */
    readonly snapshotEveryHeights?: number;
    /** Validators each follower takes committed blocks from (default 2); 0: followers hear every vote. */
    readonly followerSources?: number;
  };
  /** Simulated time after `duration`, with the network healed, in which progress is required. */
  readonly livenessBudgetMs: number;
  /** The physical world fleet-sim's flight layer flies in (fleet-sim/flight): hazards the drones' range
   *  sensors can see. Consensus ignores it. */
  readonly world?: {
    readonly hazards: readonly Hazard[];
    /** Each drone's pack, Wh (default: the simulated quadcopter's 100 Wh). */
    readonly batteryWh?: number;
    /** The fence every drone's local reflex keeps it inside, [north, east] metres. */
    readonly geofence?: readonly (readonly [number, number])[];
    /** Where the drones wait: a grid of pads `spacingM` apart, `columns` wide, its first pad at `origin`. */
    readonly pads?: { readonly spacingM: number; readonly columns: number; readonly origin: readonly [number, number] };
  };
}

/** A vertical obstacle (mast, tree, building) in the local frame, metres. */
export interface Hazard {
  readonly northM: number;
  readonly eastM: number;
  readonly radiusM: number;
  readonly heightM: number;
}
