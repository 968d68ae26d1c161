// Fleet parameters the operator may change with `param.set`, with units, ranges and defaults. Values
// are kept in the operator's units; planning converts them to integer decimetres when it reads them.

export interface ParamSpec {
  readonly min: number;
  readonly max: number;
  readonly initial: number;
  readonly what: string;
}

export const paramSpecs: Readonly<Record<string, ParamSpec>> = {
  altitudeM: { min: 5, max: 120, initial: 30, what: 'mission altitude above home, metres' },
  speedMps: { min: 1, max: 15, initial: 8, what: 'cruise speed, metres per second' },
  laneSpacingM: { min: 2, max: 200, initial: 20, what: 'distance between survey lanes, metres' },
  formationSpacingM: { min: 3, max: 100, initial: 10, what: 'distance between drones in a formation, metres' },
  separationM: { min: 2, max: 30, initial: 3, what: 'clearance between drones on their way to a route: horizontal, and between transit altitudes, metres' },
  batteryReservePct: { min: 10, max: 60, initial: 25, what: 'battery below which a drone gets no new task, and leaves the mission it flies (its unflown lanes go to another), percent' },
  lostAfterS: { min: 30, max: 3600, initial: 120, what: 'block time without committed telemetry after which a drone of the mission is lost (its unflown lanes go to another), seconds; a fleet that may fly on the radio alone needs at least 210 at the 1 s telemetry period (a device with a radio and a part of a mission warns: runtime/device/telemetry-gate.ts)' },
};

export const paramNames = Object.keys(paramSpecs).sort();

export function initialParams(): Record<string, number> {
  const p: Record<string, number> = {};
  for (const k of paramNames) p[k] = (paramSpecs[k] as ParamSpec).initial;
  return p;
}

/** Metres (or m/s) to integer decimetres; the one place a float becomes a planning integer. */
export const toDm = (m: number): number => Math.round(m * 10);

export function paramOf(params: Readonly<Record<string, number>>, key: string): number {
  return params[key] ?? (paramSpecs[key] as ParamSpec).initial;
}
