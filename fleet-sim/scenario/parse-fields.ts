// Field readers shared by the scenario parser: each checks one value and, when it is wrong, throws a
// ScenarioError that names the field and what was expected (the CLI turns it into exit status 2).

export class ScenarioError extends Error {}

export const fail = (field: string, what: string): never => {
  throw new ScenarioError(`scenario field "${field}": ${what}`);
};

export type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export function obj(v: unknown, field: string): Obj {
  return isObj(v) ? v : fail(field, 'must be a map');
}

export function only(o: Obj, keys: readonly string[], field: string): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) fail(field ? `${field}.${k}` : k, `unknown key (expected one of: ${keys.join(', ')})`);
}

/** The longest duration any field may hold: a day of simulated time is already a long run. */
export const durationMsMax = 86_400_000;

/** "10s", "250ms", "2m" or a bare number of milliseconds, at most durationMsMax. */
export function duration(v: unknown, field: string): number {
  let ms: number;
  // A bare number has no unit: `duration: 30` meant as seconds ran 30 ms and passed. Only 0 is the
  // same in every unit.
  if (v === 0) ms = 0;
  else if (typeof v === 'number') return fail(field, `is the bare number ${v}: give it a unit, such as ${v}s or ${v}ms`);
  else {
    if (typeof v !== 'string') return fail(field, 'must be a duration such as 10s or 250ms');
    const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(v.trim());
    if (!m) return fail(field, `"${v}" is not a duration: a number with ms, s or m (minutes), such as 250ms, 10s or 2m`);
    const n = Number(m[1]);
    ms = Math.round(m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000);
  }
  // 1e300 ms, or 10^13 minutes, would make a run that never ends.
  return ms <= durationMsMax ? ms : fail(field, `must be at most ${durationMsMax / 1000}s (one day), is ${ms} ms`);
}

export function int(v: unknown, field: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(field, `must be an integer in ${min}..${max}`);
  return v as number;
}

export function fraction(v: unknown, field: string): number {
  if (typeof v !== 'number' || !(v >= 0 && v <= 1)) fail(field, 'must be a number between 0 and 1');
  return v as number;
}

export function metres(v: unknown, field: string, min: number, max: number, unit = 'metres'): number {
  if (typeof v !== 'number' || !(v >= min && v <= max)) fail(field, `must be a number of ${unit} in ${min}..${max}`);
  return v as number;
}

/** [north, east] in metres. */
export function pointNe(v: unknown, field: string): [number, number] {
  if (!Array.isArray(v) || v.length !== 2) return fail(field, 'must be [north, east] in metres');
  return [metres(v[0], `${field}[0]`, -100_000, 100_000), metres(v[1], `${field}[1]`, -100_000, 100_000)];
}
