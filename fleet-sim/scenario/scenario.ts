// The fleet-sim scenario (DESIGN.md "fleet-sim scenario"), after parsing: times in ms, nodes by index.

export const behaviors = ['equivocate', 'twins', 'forge', 'replay', 'silent', 'amnesia', 'flood', 'invalid-block', 'wrong-proposer', 'forge-snapshot'] as const;
export type Behavior = (typeof behaviors)[number];

/** A node by index (validators 0..n-1, then followers) or the validator proposing at that moment. */
export type NodeRef = number | 'proposer';

export type Fault =
  | { readonly at: number; readonly kind: 'crash'; readonly node: NodeRef }
  | { readonly at: number; readonly kind: 'restart'; readonly node: number; readonly wal: 'torn' | 'intact' }
  | { readonly at: number; readonly kind: 'byzantine'; readonly node: number; readonly behavior: Behavior }
  | { readonly at: number; readonly kind: 'partition'; readonly groups: readonly (readonly number[])[]; readonly until: number }
  | { readonly at: number; readonly kind: 'one-way'; readonly from: readonly number[]; readonly to: readonly number[]; readonly until: number }
  | { readonly at: number; readonly kind: 'broker-down'; readonly until: number }
  | { readonly at: number; readonly kind: 'loss'; readonly loss: number; readonly until: number };

export type Workload =
  | { readonly kind: 'rate'; readonly from: number; readonly to: number; readonly perSec: number; readonly command: string }
  | { readonly kind: 'once'; readonly at: number; readonly command: string; readonly args: Readonly<Record<string, unknown>> };

export interface LinkModel {
  readonly latencyMs: number;
  readonly jitterMs: number;
  readonly loss: number;
  readonly duplicate: number;
}

/** A transparent serial radio on every device (SiK-like): packets paced at `baud`, `mtuBytes` per
 *  packet, each copy lost with `loss`, heard within `rangeM`, flooded over at most `hops` hops. */
export interface RadioModel {
  readonly baud: number;
  readonly mtuBytes: number;
  readonly loss: number;
  readonly rangeM: number;
  readonly hops: number;
}

/** Hardware in the loop: these nodes fly a simulated flight controller over MAVLink 2 on a pty. */
export interface HilModel {
  readonly nodes: readonly number[];
  readonly autopilot: 'px4' | 'ardupilot';
}

export interface Scenario {
  readonly name: string;
  readonly seed: number;
  readonly durationMs: number;
  readonly validators: number;
  readonly followers: number;
  readonly mqtt: LinkModel;
  /** links.radio: used by real-time mode (each device's real serial radio link over fleet-sim's air). */
  readonly radio?: RadioModel;
  /** Real-time mode only: nodes that drive the simulated flight controller (firmware-bridge/sim-fc). */
  readonly hil?: HilModel;
  readonly faults: readonly Fault[];
  readonly workload: readonly Workload[];
  readonly expect: { readonly safety: boolean; readonly committedFraction?: number; readonly maxStallMs?: number };
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
  };
}

/** A vertical obstacle (mast, tree, building) in the local frame, metres. */
export interface Hazard {
  readonly northM: number;
  readonly eastM: number;
  readonly radiusM: number;
  readonly heightM: number;
}
