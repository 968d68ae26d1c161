// Branded ids: a NodeId cannot be passed where a Height is expected (STYLE.md §7).

declare const brand: unique symbol;
export type Brand<T, B extends string> = T & { readonly [brand]: B };

/** A device or operator id from the fleet manifest: [a-z0-9][a-z0-9._-]{0,63}. */
export type NodeId = Brand<string, 'NodeId'>;
export type FleetId = Brand<string, 'FleetId'>;
export type Height = Brand<number, 'Height'>;
export type Round = Brand<number, 'Round'>;
/** Milliseconds on the node's clock (virtual in fleet-sim, wall-clock on a device). */
export type TimeMs = Brand<number, 'TimeMs'>;

export const idPattern = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export function isValidId(s: unknown): s is string {
  return typeof s === 'string' && idPattern.test(s);
}

export const nodeId = (s: string): NodeId => s as NodeId;
export const fleetId = (s: string): FleetId => s as FleetId;
export const height = (n: number): Height => n as Height;
export const round = (n: number): Round => n as Round;
export const timeMs = (n: number): TimeMs => n as TimeMs;

/** Sort ids in a fixed order so iteration never depends on Map insertion order (STYLE.md §8). */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
