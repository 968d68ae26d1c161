// Fleet parameters the operator may change with `param.set`, with units, ranges and defaults. Values
// are kept in the operator's units; planning converts them to integer decimetres when it reads them.

export interface ParamSpec {
  readonly min: number;
  readonly max: number;
  readonly initial: number;
  readonly what: string;
  /** Whole numbers only (a switch): param.set refuses a fraction. */
  readonly integer?: true;
  /** Added after fleets were running: not in the initial committed params (initialParams), read as
   *  `initial` while unset (paramOf). The params are part of every checkpoint (appHash): a node of this
   *  version replaying from genesis must write the bytes that a node of the version before, or one
   *  restored from a snapshot it wrote, does; the key appears in all of them at its param.set. */
  readonly addedLater?: true;
}

export const paramSpecs: Readonly<Record<string, ParamSpec>> = {
  altitudeM: { min: 5, max: 120, initial: 30, what: 'mission altitude above home, metres' },
  speedMps: { min: 1, max: 15, initial: 8, what: 'cruise speed, metres per second' },
  laneSpacingM: { min: 2, max: 200, initial: 20, what: 'distance between survey lanes, metres' },
  formationSpacingM: { min: 3, max: 100, initial: 10, what: 'distance between drones in a formation, metres' },
  separationM: { min: 2, max: 30, initial: 3, what: 'clearance between drones on their way to a route: horizontal, and between transit altitudes, metres' },
  batteryReservePct: { min: 10, max: 60, initial: 25, what: 'battery below which a drone gets no new task, and leaves the mission it flies (its unflown lanes go to another), percent' },
  // A switch an admin sets once every device runs a version that reads the telemetry's handover
  // element: a node that does not read it would keep the drone in the mission and reach another state
  // than its peers (ARCHITECTURE.md, "Wire format evolution": a new element changes committed state
  // only behind a committed switch). Hence 0 at first, even in a new fleet.
  reassignHandedOver: { min: 0, max: 1, initial: 0, integer: true, addedLater: true, what: '1: a drone of the mission whose committed telemetry says it was handed over from it (a pilot or its flight controller\'s failsafe has it, or a restart left it on the ground) leaves the mission, told nothing, and its unflown lanes go to another; 0: it keeps its part until an operator acts. Set 1 once every device runs a version that reads the handover' },
  lostAfterS: { min: 30, max: 3600, initial: 120, what: 'block time without committed telemetry after which a drone of the mission is lost (its unflown lanes go to another), seconds; a fleet that may fly on the radio alone needs at least 210 at the 1 s telemetry period (a device with a radio and a part of a mission warns: runtime/device/telemetry-gate.ts)' },
};

export const paramNames = Object.keys(paramSpecs).sort();

export function initialParams(): Record<string, number> {
  const p: Record<string, number> = {};
  for (const k of paramNames) if (paramSpecs[k]?.addedLater !== true) p[k] = (paramSpecs[k] as ParamSpec).initial;
  return p;
}

/** Metres (or m/s) to integer decimetres; the one place a float becomes a planning integer. */
export const toDm = (m: number): number => Math.round(m * 10);

export function paramOf(params: Readonly<Record<string, number>>, key: string): number {
  return params[key] ?? (paramSpecs[key] as ParamSpec).initial;
}
