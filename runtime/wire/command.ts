// The operator command body: what an operator signs with murmurctl (docs/wire.md, "command").

import { limits } from '../lib/limits.js';
import { encodeCbor } from './cbor.js';
import { bytes, fail, map, onlyKeys, text, uint } from './fields.js';

export interface CommandBody {
  /** The command type, such as "mission.survey" or "noop"; the mission state machine checks args. */
  readonly type: string;
  /** 16 random bytes; a (sender, nonce) pair is accepted once per fleet. */
  readonly nonce: Uint8Array;
  /** Unix time in milliseconds when the operator signed it. */
  readonly issuedAt: number;
  /** Unix time in milliseconds after which no block may include it. */
  readonly expiresAt: number;
  readonly args: Readonly<Record<string, unknown>>;
}

export const commandTypePattern = /^[a-z][a-z0-9]*(?:\.[a-z][a-z0-9-]*)*$/;

export function parseCommandBody(v: unknown): CommandBody {
  const m = map(v, 'command');
  onlyKeys(m, ['type', 'nonce', 'issuedAt', 'expiresAt', 'args'], 'command');
  const type = text(m.type, 'command.type', 64);
  if (!commandTypePattern.test(type)) fail('command.type must look like "mission.survey" (lowercase words joined by dots)');
  const issuedAt = uint(m.issuedAt, 'command.issuedAt');
  const expiresAt = uint(m.expiresAt, 'command.expiresAt');
  if (expiresAt <= issuedAt) fail('command.expiresAt must be after command.issuedAt');
  if (expiresAt - issuedAt > limits.commandLifetimeMsMax) fail(`command lifetime (expiresAt - issuedAt) must be at most ${limits.commandLifetimeMsMax} ms`);
  const args = map(m.args, 'command.args');
  const argsMax = type === 'fleet.update' ? limits.fleetUpdateArgsBytesMax : limits.commandArgsBytesMax;
  if (encodeCbor(args).length > argsMax) fail(`command.args is larger than ${argsMax} bytes${type === 'fleet.update' ? '' : ' (fleet.update: a manifest of up to 256 KiB)'}`);
  return { type, nonce: bytes(m.nonce, 'command.nonce', limits.nonceBytes), issuedAt, expiresAt, args };
}

/** Key order is fixed here; the signature covers exactly these bytes. */
export function encodeCommandBody(c: CommandBody): Uint8Array {
  return encodeCbor({ type: c.type, nonce: c.nonce, issuedAt: c.issuedAt, expiresAt: c.expiresAt, args: c.args });
}
