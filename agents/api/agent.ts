// The agent API: what an agent declares (inputs, period, CPU budget), what it receives each tick
// (plain typed data: HAL samples and committed swarm state, with time as an input), and what it may
// output (a local HAL flight action, or an observation to attest to consensus).

import type { BatteryState, FlightAction, FlightState, ImuSample, RangeReading } from '../../hal/devices.js';
import type { ModelRef, Observation } from '../../runtime/wire/attestation.js';
import type { EngineKind } from '../inference/engine.js';
import type { CommittedModel } from '../models/registry.js';

/** Position in the fleet's local frame (hal/geo.ts geoToLocal around the mission origin). */
export interface LocalPosition {
  readonly timeMs: number;
  readonly northM: number;
  readonly eastM: number;
  /** Metres above home; NaN when unknown (the flight controller's estimator says its vertical position
   *  is not valid, FlightState.heightUnknown): a held or drifting altitude is no height to judge by. */
  readonly altM: number;
  /** Radians clockwise from north; NaN when unknown (no attitude reading): course over ground is not
   *  a heading (a hovering drone has none), and guessing north turns every bearing wrong. */
  readonly headingRad: number;
  readonly velocityNorthMps: number;
  readonly velocityEastMps: number;
}

/** From the failure detector: when this device last heard from a quorum of validators. */
export interface LinkState {
  readonly lastQuorumContactMs: number;
}

export interface Point {
  readonly northM: number;
  readonly eastM: number;
}

/** The slice of committed swarm state agents read; the runtime derives it from applied blocks. */
export interface CommittedView {
  readonly height: number;
  /** Byzantine faults tolerated: floor((validators - 1) / 3). */
  readonly f: number;
  /** Committed hazard cells as [north, east] indexes of `cellM`-sized cells. */
  readonly hazards: readonly (readonly [number, number])[];
  readonly cellM: number;
  /** The mission's geofence polygon (local frame), or null when none is committed. */
  readonly geofence: readonly Point[] | null;
  readonly home: Point | null;
  /** The model each agent must run on this device, from the committed rollout. */
  readonly models: Readonly<Record<string, CommittedModel | null>>;
}

export interface AgentInputs {
  /** Node clock (virtual in the simulator). Agents never read a clock themselves. */
  readonly nowMs: number;
  /** IMU samples since the previous tick. */
  readonly imu?: readonly ImuSample[];
  readonly battery?: BatteryState;
  /** The newest reading of every range beam. */
  readonly range?: readonly RangeReading[];
  readonly position?: LocalPosition;
  readonly flight?: FlightState;
  readonly link?: LinkState;
  readonly committed?: CommittedView;
}

export type InputName = Exclude<keyof AgentInputs, 'nowMs'>;

/** Higher wins when two agents ask for different actions in one tick (see scheduler.ts). */
export const actionPriority: Readonly<Record<FlightAction['type'], number>> = {
  land: 100,
  'return-to-launch': 90,
  hold: 80,
  velocity: 70,
  goto: 50,
  takeoff: 40,
  arm: 30,
  disarm: 20,
};

export type AgentOutput =
  /** A local reflex: executed at once through the HAL, never waiting for consensus. `avoidance`: a move
   *  out of a collision's way (the obstacle back-off), which passes a latched failsafe and goes before
   *  one that fires in its pass; the failsafe is sent (again) when this agent releases (scheduler.ts). */
  | { readonly type: 'action'; readonly action: FlightAction; readonly reason: string; readonly avoidance?: true }
  /** An observation the whole swarm should know: signed and proposed to consensus. */
  | { readonly type: 'attest'; readonly obs: Observation; readonly model?: ModelRef }
  /** A hold this agent asked for is over (its cause went away): the device goes back to its task. */
  | { readonly type: 'release'; readonly reason: string }
  /** An obstacle in the drone's way that its own range sensor hit (at: the hit point, local metres;
   *  beamRad: the beam's direction, clockwise from north): the device's own routing keeps clear of it
   *  from then on (runtime/mission/hazards.ts withLocalKeepOut). Local: nothing goes to consensus. */
  | { readonly type: 'obstacle'; readonly northM: number; readonly eastM: number; readonly beamRad: number };

export interface TickResult<S> {
  readonly state: S;
  readonly outputs?: readonly AgentOutput[];
}

/** Passed to start(): the agent's persisted state from its last good tick, if any. */
export interface StartContext<S> {
  readonly nowMs: number;
  readonly restored: S | undefined;
  /** The committed view of the scheduler's latest tick (undefined before the first): a restarted
   *  agent loads the model the rollout assigns at once, not the shipped one until its next tick. */
  readonly committed?: CommittedView;
}

/**
 * An agent. State `S` must survive JSON (it is persisted after every good tick and handed back on
 * restart); anything else (a loaded model, buffers) lives in the agent object and is rebuilt by start().
 */
export interface Agent<S = unknown> {
  readonly name: string;
  readonly inputs: readonly InputName[];
  /** How often tick() runs, in node-clock ms. */
  readonly periodMs: number;
  /** CPU budget for one tick, ms; repeated overruns restart the agent. */
  readonly budgetMs: number;
  /** A reflex: rules only, its tick synchronous. Reflexes tick first in every pass and their actions
   *  go out before the other agents' ticks (which await inference) are waited for; see scheduler.ts. */
  readonly reflex?: boolean;
  start(ctx: StartContext<S>): S | Promise<S>;
  tick(state: S, inputs: AgentInputs): TickResult<S> | Promise<TickResult<S>>;
  stop?(): void | Promise<void>;
  /** Which engine the agent infers with right now, or 'none' for agents without a model. */
  engine?(): EngineKind | 'none';
  /** The model in use, for status. */
  model?(): ModelRef | undefined;
  /** Why better inference engines were passed over. */
  engineReasons?(): readonly string[];
  /** Why the committed model was refused (hash mismatch, missing file), or null. */
  modelRefusal?(): string | null;
}
