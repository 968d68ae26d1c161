// Readers for command arguments as they arrive from CBOR: each returns the typed value or a reason
// naming the argument and what it should be, which becomes the rejection reason in the audit log.

import { isValidId } from '../lib/ids.js';
import { limits } from '../lib/limits.js';
import { toDm } from './params.js';
import type { PointDm } from './types.js';

export class ArgError extends Error {}

const argFail = (message: string): never => {
  throw new ArgError(message);
};

/** Local coordinates are bounded so integer products stay far below 2^53. */
const coordMMax = 100_000;

export function num(args: Readonly<Record<string, unknown>>, key: string, min: number, max: number): number;
export function num(args: Readonly<Record<string, unknown>>, key: string, min: number, max: number, fallback: number): number;
export function num(args: Readonly<Record<string, unknown>>, key: string, min: number, max: number, fallback?: number): number {
  const v = args[key];
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) return argFail(`args.${key} must be a number from ${min} to ${max}`);
  if (v < min || v > max) return argFail(`args.${key} is ${v}; it must be from ${min} to ${max}`);
  return v;
}

export function str(args: Readonly<Record<string, unknown>>, key: string, maxLen: number): string {
  const v = args[key];
  if (typeof v !== 'string' || v.length === 0 || v.length > maxLen) return argFail(`args.${key} must be a text of 1 to ${maxLen} characters`);
  return v;
}

export function oneOfArg<T extends string>(args: Readonly<Record<string, unknown>>, key: string, allowed: readonly T[]): T {
  const v = args[key];
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) return argFail(`args.${key} must be one of ${allowed.join(', ')}`);
  return v as T;
}

export function pointArg(v: unknown, what: string): PointDm {
  if (!Array.isArray(v) || v.length !== 2) return argFail(`${what} must be [north, east] in metres`);
  const [n, e] = v as unknown[];
  if (typeof n !== 'number' || typeof e !== 'number' || !Number.isFinite(n) || !Number.isFinite(e)) return argFail(`${what} must be two numbers [north, east] in metres`);
  if (Math.abs(n) > coordMMax || Math.abs(e) > coordMMax) return argFail(`${what} is more than ${coordMMax} m from the fleet origin`);
  return { n: toDm(n), e: toDm(e) };
}

export function pointsArg(args: Readonly<Record<string, unknown>>, key: string, min: number, max: number): PointDm[] {
  const v = args[key];
  if (!Array.isArray(v) || v.length < min || v.length > max) return argFail(`args.${key} must be a list of ${min} to ${max} [north, east] points in metres`);
  return v.map((p: unknown, i) => pointArg(p, `args.${key}[${i}]`));
}

/** An optional list of device ids; every id must be a device in the manifest in force. */
export function nodesArg(args: Readonly<Record<string, unknown>>, key: string, devices: readonly string[]): string[] | null {
  const v = args[key];
  if (v === undefined) return null;
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.length === 0 || list.length > limits.manifestMembersMax) return argFail(`args.${key} must be a device id or a non-empty list of device ids`);
  const out = new Set<string>();
  for (const x of list as unknown[]) {
    if (!isValidId(x)) return argFail(`args.${key} holds ${JSON.stringify(x)}, which is not a device id`);
    if (!devices.includes(x)) return argFail(`args.${key} names "${x}", which is not a device in the fleet manifest`);
    out.add(x);
  }
  return [...out].sort();
}

export function noExtraArgs(args: Readonly<Record<string, unknown>>, allowed: readonly string[]): void {
  for (const k of Object.keys(args).sort()) if (!allowed.includes(k)) argFail(`args.${k} is not an argument of this command (allowed: ${allowed.join(', ') || 'none'})`);
}
