// Readers that turn a decoded CBOR value into a typed body, or an error naming the bad field.
// They throw FieldError internally and `parseWith` turns that into a Result, so each body parser
// reads like its schema.

import { isValidId } from '../lib/ids.js';
import { limits } from '../lib/limits.js';
import { err, ok, type Result } from '../lib/result.js';

class FieldError extends Error {}

export function parseWith<T>(what: string, value: unknown, parse: (v: unknown) => T): Result<T> {
  try {
    return ok(parse(value));
  } catch (e) {
    if (e instanceof FieldError) return err(`bad field in ${what}: ${e.message}`);
    throw e;
  }
}

export function fail(message: string): never {
  throw new FieldError(message);
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);

/**
 * Each element of `list` through `parse`, whose paths start with '#': a failure names the element
 * (`path[i]...`). No path string is built unless one fails, for lists read on every message (a
 * certificate's signatures).
 */
export function eachOf<T>(list: readonly unknown[], path: string, parse: (v: unknown) => T): T[] {
  const out: T[] = [];
  for (let i = 0; i < list.length; i++) {
    try {
      out.push(parse(list[i]));
    } catch (e) {
      if (e instanceof FieldError) fail(e.message.replace('#', `${path}[${i}]`));
      throw e;
    }
  }
  return out;
}

export function map(v: unknown, path: string): Record<string, unknown> {
  if (!isPlainObject(v)) fail(`${path} must be a map`);
  return v;
}

/** Rejects keys outside `allowed`, so a typo or an injected field is never silently ignored. */
export function onlyKeys(m: Record<string, unknown>, allowed: readonly string[], path: string): void {
  for (const k of Object.keys(m)) if (!allowed.includes(k)) fail(`${path} has unexpected key "${k}"`);
}

export function array(v: unknown, path: string, maxLength: number, exactLength?: number): unknown[] {
  if (!Array.isArray(v)) fail(`${path} must be an array`);
  if (exactLength !== undefined && v.length !== exactLength) fail(`${path} must have ${exactLength} elements, has ${v.length}`);
  if (v.length > maxLength) fail(`${path} has ${v.length} elements (limit ${maxLength})`);
  return v;
}

/**
 * A positional body that may grow at the end (ARCHITECTURE.md, wire format evolution): at least `min`
 * elements; the `known` ones this version reads, and up to limits.trailingElementsMax more, written by
 * a newer version, which the caller ignores. The body's byte limit and the CBOR scan limits were
 * checked before this.
 */
export function positional(v: unknown, path: string, min: number, known: number): unknown[] {
  const a = array(v, path, known + limits.trailingElementsMax);
  if (a.length < min) fail(`${path} must have at least ${min} elements, has ${a.length}`);
  return a;
}

export function uint(v: unknown, path: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(`${path} must be an unsigned integer`);
  if (v > max) fail(`${path} must be at most ${max}, is ${v}`);
  return v;
}

export function int(v: unknown, path: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) fail(`${path} must be an integer`);
  if (v < min || v > max) fail(`${path} must be in ${min}..${max}, is ${v}`);
  return v;
}

export function num(v: unknown, path: string, min = -Number.MAX_VALUE, max = Number.MAX_VALUE): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(`${path} must be a finite number`);
  if (v < min || v > max) fail(`${path} must be in ${min}..${max}, is ${v}`);
  return v;
}

export function bool(v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') fail(`${path} must be true or false`);
  return v;
}

export function text(v: unknown, path: string, maxBytes: number): string {
  if (typeof v !== 'string') fail(`${path} must be a text string`);
  if (v.length > maxBytes) fail(`${path} is longer than ${maxBytes} characters`);
  return v;
}

export function id(v: unknown, path: string): string {
  if (!isValidId(v)) fail(`${path} must be an id matching [a-z0-9][a-z0-9._-]{0,63}`);
  return v;
}

export function bytes(v: unknown, path: string, exactLength?: number, maxLength = Number.MAX_SAFE_INTEGER): Uint8Array {
  if (!(v instanceof Uint8Array)) fail(`${path} must be a byte string`);
  if (exactLength !== undefined && v.length !== exactLength) fail(`${path} must be ${exactLength} bytes, is ${v.length}`);
  if (v.length > maxLength) fail(`${path} is ${v.length} bytes (limit ${maxLength})`);
  return v;
}

export function oneOf<T extends string>(v: unknown, path: string, options: readonly T[]): T {
  if (typeof v !== 'string' || !(options as readonly string[]).includes(v)) fail(`${path} must be one of ${options.join(', ')}`);
  return v as T;
}

export function optional<T>(v: unknown, read: (x: unknown) => T): T | undefined {
  return v === undefined || v === null ? undefined : read(v);
}
