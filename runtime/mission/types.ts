// The closed vocabulary of the mission state machine: committed inputs in, state and effects out.
// Coordinates are integer decimetres in the fleet's local north/east frame so every device computes
// the same plan bit for bit (no floats in decisions, STYLE.md §8).

/** A point in the fleet's local frame, integer decimetres north and east of the fleet origin. */
export interface PointDm {
  readonly n: number;
  readonly e: number;
}

export type OperatorRoleName = 'admin' | 'operator' | 'observer';

/** Who the manifest in force at this height names; the shell copies it out of the manifest. */
export interface Members {
  readonly epoch: number;
  /** Devices (validators then followers), each a drone the mission may task. */
  readonly devices: readonly string[];
  readonly operators: readonly { readonly id: string; readonly roles: readonly OperatorRoleName[] }[];
}

/** What the shell learned about a `fleet.update` manifest at the edge (signature, fleet, authority). */
export type ManifestCheck = { readonly ok: true; readonly epoch: number } | { readonly ok: false; readonly reason: string };

/** A signed operator command, already verified at the edge and committed in a block. */
export interface MissionCommand {
  readonly kind: 'command';
  /** Hex of the command nonce; with the operator it names the command everywhere (acks, log). */
  readonly id: string;
  readonly operator: string;
  readonly type: string;
  readonly args: Readonly<Record<string, unknown>>;
  readonly issuedAt: number;
  readonly expiresAt: number;
  /** Present only for fleet.update: the shell's verdict on the manifest in args.manifest. */
  readonly manifest?: ManifestCheck;
}

/** A device's signed report of where it is and how much battery it has, committed in a block. */
export interface MissionTelemetry {
  readonly kind: 'telemetry';
  readonly node: string;
  readonly pos: PointDm;
  readonly altDm: number;
  /** 0..1000; -1 when the battery cannot estimate it. */
  readonly batteryPermille: number;
  /** The id of the mission whose waypoints this device has finished flying, if any. */
  readonly completed: string | null;
  /** How far it has flown its part of a mission: how many of its assignment's planned waypoints it
   *  has passed (runtime/mission/progress.ts); null when it is flying none. */
  readonly progress?: MissionProgress | null;
  /** The mission whose part this device's vehicle was handed over from (a pilot or the flight
   *  controller's own failsafe has it, or a restart left it on the ground after it flew for the
   *  mission: runtime/device/executor.ts handedOver), if any. With the `reassignHandedOver`
   *  parameter at 1, the drone leaves that mission (reassign.ts, cause 'handed-over'). */
  readonly handedOver?: string | null;
  /** The report's boot session and sequence number (telemetry.ts), which order a device's reports:
   *  one not after the last applied (a replay, or an older report committed late) changes nothing.
   *  missionTxOf always sets it; absent only in inputs built by hand, which are taken in block order. */
  readonly sent?: TelemetryOrder;
}

/** Where a report stands in its device's sequence: a new boot session starts its seq again. */
export interface TelemetryOrder {
  readonly session: number;
  readonly seq: number;
}

export interface MissionProgress {
  readonly mission: string;
  readonly flown: number;
}

export type MissionTx = MissionCommand | MissionTelemetry;

/** The hazard cells the swarm has committed (agents/swarm/hazard-commit.ts: f+1 devices attested
 *  each), sorted, and the size of the grid's cells. */
export interface HazardSet {
  readonly cellDm: number;
  readonly cells: readonly (readonly [number, number])[];
}

/** One committed block as the mission machine sees it: replicated time, members in force, txs. */
export interface MissionBlock {
  readonly height: number;
  /** The block's replicated timestamp (proposer clock, agreed by commit), Unix ms. */
  readonly timeMs: number;
  readonly members: Members;
  readonly txs: readonly MissionTx[];
  /** The committed hazard set after this block, when this block changed it (the shell applies the
   *  agents' hazard rule to the same block first); absent means unchanged. */
  readonly hazards?: HazardSet;
}

export type DroneActivity = 'idle' | 'tasked' | 'holding' | 'returning' | 'landing';

export interface DroneState {
  readonly id: string;
  /** Last committed position; null until the device's first telemetry is committed. */
  readonly pos: PointDm | null;
  /** Last committed height above home: the telemetry's sixth element, whatever later elements say (a
   *  device that does not know its height sends its last known one there, held: MissionRunner
   *  telemetryFacts), so every version commits the same number. */
  readonly altDm: number;
  readonly batteryPermille: number;
  readonly telemetryHeight: number;
  /** Block time of the block that committed its last telemetry (0: none yet). */
  readonly telemetryMs: number;
  /** The session and seq of its last applied telemetry that carried them (absent before it). */
  readonly telemetrySent?: TelemetryOrder;
  readonly activity: DroneActivity;
}

/** What a drone is told to do. Waypoints are flown in order at the mission altitude; the first is
 *  reached at `transitAltDm` (climbing to it first) when that is given. `then`: what the drone does
 *  after the last one: a survey's drone returns home (its lanes are flown), a goto's or formation's
 *  holds where it is (being there is the point). */
export type Task =
  /** `replan`: the same mission's route changed around a committed hazard; carry on from where the
   *  drone is rather than from the first waypoint. */
  /** `blocked`: legs with no way round the committed hazards inside the geofence (hazards.ts
   *  routeAround), each the index of the waypoint it leads to, in order: the drone holds when the
   *  next waypoint is one and reports the task failed with the reason, never flying that leg.
   *  `joins`: the waypoints from `from` to `to` are flown at `altDm` (a part taken over from a lost
   *  drone and the way to it: reassign.ts), climbing to it first where the drone is.
   *  `droppedEnd`: the part's last planned waypoints lie inside a committed keep-out, so the route ends
   *  before them (routeAround drops them), and why, naming the hazard cells (reassign.ts
   *  assignmentTask). A re-plan (or a restart's resume) that leaves the drone none of its route ahead
   *  does not end its part: it holds where it is and reports the task failed with this reason, never
   *  done; a later re-plan that gives it a route ahead (a hazard.clear) flies on. */
  | { readonly type: 'waypoints'; readonly mission: string; readonly waypoints: readonly PointDm[]; readonly altDm: number; readonly transitAltDm?: number; readonly speedDmps: number; readonly then: 'return' | 'hold'; readonly replan?: true; readonly blocked?: readonly { readonly to: number; readonly reason: string }[]; readonly joins?: readonly { readonly from: number; readonly to: number; readonly altDm: number }[]; readonly droppedEnd?: string }
  | { readonly type: 'hold'; readonly mission: string | null }
  | { readonly type: 'resume'; readonly mission: string }
  | { readonly type: 'rtl' }
  | { readonly type: 'land' }
  | { readonly type: 'abort' };

/** A drone's part of a mission as the allocator plans it. */
export interface Route {
  readonly node: string;
  readonly waypoints: readonly PointDm[];
}

export interface Assignment extends Route {
  /** The altitude of the leg to the first waypoint (deconflict.ts): the mission altitude, or a layer
   *  above it that keeps this drone's leg clear of the others'. */
  readonly transitAltDm: number;
  /** How many of `waypoints` the drone's committed telemetry says it has passed (absent: none). A
   *  device restarted mid-mission resumes from it (progress.ts resumeStart). */
  readonly flown?: number;
  /** Parts taken over from lost drones (reassign.ts), each from planned waypoint `at` to the next
   *  part or the end: flown, with the way to it, at `altDm` (a layer above the mission altitude
   *  clear of the other drones' paths there: deconflict.ts joinAltitude). */
  readonly joins?: readonly { readonly at: number; readonly altDm: number }[];
}

export type MissionKind = 'survey' | 'goto' | 'formation';

export interface ActiveMission {
  readonly id: string;
  readonly kind: MissionKind;
  readonly operator: string;
  readonly height: number;
  /** Block time of the block that started it. */
  readonly startMs: number;
  readonly status: 'active' | 'held';
  readonly altDm: number;
  readonly speedDmps: number;
  /** Sorted by node id. */
  readonly assignments: readonly Assignment[];
  /** Assigned devices whose committed telemetry says they finished; sorted. */
  readonly done: readonly string[];
}

/** A model version the swarm committed, named by its file's sha256 (64 lowercase hex digits). */
export interface ModelVersion {
  readonly version: string;
  readonly sha256: string;
  /** Height of the block that committed it. */
  readonly height: number;
}

export interface CanaryVersion extends ModelVersion {
  readonly permille: number;
  /** The devices that run it, chosen deterministically (models.ts selectCanary); sorted. */
  readonly nodes: readonly string[];
}

/** One model's rollout (models.ts): a canary on a few devices, then promoted to all or rolled back. */
export interface ModelRollout {
  readonly model: string;
  /** What every device outside the canary runs; null means the version each device shipped with. */
  readonly stable: ModelVersion | null;
  /** The stable version before the last promote, so a promoted version can be rolled back once. */
  readonly previous: ModelVersion | null;
  readonly canary: CanaryVersion | null;
}

export type ParamValue = number;

export interface MissionState {
  readonly height: number;
  readonly timeMs: number;
  /** Sorted by id; rebuilt from the members in force at every block. */
  readonly drones: readonly DroneState[];
  readonly mission: ActiveMission | null;
  /** Polygon in the local frame; null means no fence. */
  readonly geofence: readonly PointDm[] | null;
  readonly geofenceAltDmMax: number;
  /** Named numeric parameters (see params.ts for names, units and ranges). */
  readonly params: Readonly<Record<string, ParamValue>>;
  /** Model rollouts, sorted by model name. */
  readonly models: readonly ModelRollout[];
  /** Committed hazards every route keeps clear of (runtime/mission/hazards.ts); null: none yet. */
  readonly hazards: HazardSet | null;
  /** Commands accepted and rejected so far (the full log is the chain; these are counts). */
  readonly accepted: number;
  readonly rejected: number;
}

/** The audit entry every committed command produces, accepted or not. */
export interface Decision {
  readonly height: number;
  readonly index: number;
  readonly id: string;
  readonly operator: string;
  readonly type: string;
  readonly outcome: 'accepted' | 'rejected';
  /** Why it was rejected; for an accepted mission, the drones it left out and why (else ''). */
  readonly reason: string;
}

/**
 * Who decided a task (MissionEffect `task`): `operator`, an operator's command of this block named the
 * drone (a mission's part, rtl, land, abort, hold, resume; `command` is that command's id); `automatic`,
 * the machine on its own from committed inputs (a lost drone sent home, a re-plan round committed
 * hazards or a new fence, a lost drone's part grown onto another's route; `command` is the mission's
 * id, which is also the id of the command that started it, so it cannot tell the two apart). A device
 * does not carry out an automatic task while a pilot or the flight controller's own failsafe has its
 * vehicle (runtime/device/executor.ts run): only an operator takes a vehicle back.
 */
export type TaskOrigin = 'operator' | 'automatic';

/** Why a drone left a mission it had not finished (reassign.ts lostDrones; `operator`: an operator's
 *  rtl or land of it, commands.ts). */
export type LostCause = 'removed' | 'battery' | 'silent' | 'handed-over' | 'operator';

export type MissionEffect =
  | { readonly type: 'decision'; readonly decision: Decision }
  /** A task for one drone; each device executes the ones naming itself. `origin` (TaskOrigin): from an
   *  operator's command, or the machine's own from committed inputs; device-local output, in no hash. */
  | { readonly type: 'task'; readonly node: string; readonly command: string; readonly task: Task; readonly origin: TaskOrigin }
  | { readonly type: 'param'; readonly key: string; readonly value: ParamValue }
  | { readonly type: 'geofence'; readonly polygon: readonly PointDm[]; readonly altDmMax: number }
  /** The shell submits the authority-signed manifest as a tx; it is in force two heights after the block
   *  that commits that tx, so from `earliestFromHeight` (the fleet.update's height + 3) at the earliest. */
  | { readonly type: 'fleet-update'; readonly command: string; readonly epoch: number; readonly manifest: Uint8Array; readonly earliestFromHeight: number }
  /** An accepted `agent.model` command and the model's rollout after it. */
  | { readonly type: 'model-rollout'; readonly action: 'canary' | 'promote' | 'rollback'; readonly rollout: ModelRollout }
  /** Committed hazards changed the mission's routes for these drones (their tasks follow); a held
   *  mission is re-planned too and stays held. */
  | { readonly type: 'replan'; readonly height: number; readonly mission: string; readonly nodes: readonly string[]; readonly keepOuts: number }
  /** An accepted `hazard.clear`: these committed hazard cells are no longer committed. The shell clears
   *  them in the hazard rule's state too (agents/swarm/hazard-commit.ts clearHazards), which logs who. */
  | { readonly type: 'hazard-clear'; readonly command: string; readonly operator: string; readonly cells: readonly (readonly [number, number])[] }
  /** A drone was lost from the mission (reassign.ts): why, and who flies the `waypoints` planned
   *  waypoints of its part it had not flown (null: nobody, they are dropped). */
  | { readonly type: 'reassign'; readonly height: number; readonly mission: string; readonly from: string; readonly cause: LostCause; readonly reason: string; readonly to: string | null; readonly waypoints: number };

export interface ApplyResult {
  readonly state: MissionState;
  readonly effects: readonly MissionEffect[];
}
