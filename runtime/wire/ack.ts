// The ack body (kind 12): a device's signed report on one operator command, from edge refusal to
// execution. Accepted and rejected acks name the committed block by hash; the block itself and its
// commit certificate travel once per block as a proof (wire/proof.ts), so murmurctl checks the commit
// against the manifest without trusting a device or the broker, and acks stay small.

import { limits } from '../lib/limits.js';
import { encodeCbor } from './cbor.js';
import { array, bytes, fail, id, map, onlyKeys, oneOf, text, uint } from './fields.js';

/** `ended`: a committed block ended a drone's part of a mission before it was flown (an abort, an rtl or
 *  land of it, a mission that replaced it, or the swarm took the part away: runtime/device/ended-parts.ts).
 *  Each validator says so of every such part, its own or another drone's (a silent drone says nothing),
 *  and murmurctl believes it once validators holding more power than the faulty ones may hold agree.
 *  Added after the others: a murmurctl of a version before it cannot parse such an ack and drops it. */
export const ackStages = ['refused', 'committed', 'rejected', 'accepted', 'started', 'progress', 'done', 'failed', 'ended'] as const;
export type AckStage = (typeof ackStages)[number];

export interface AckBody {
  /** "<operator>/<nonce hex>": the command this ack is about. */
  readonly command: string;
  readonly node: string;
  readonly stage: AckStage;
  /** Height of the block that committed the command; 0 before commit. */
  readonly height: number;
  /** Why it was refused, rejected, failed or ended; "" otherwise. */
  readonly reason: string;
  /** Execution progress 0..1000 (started: 0, or the progress made when a route is carried on from its middle; done 1000). */
  readonly progress: number;
  /** Devices that were given a part of the command (accepted acks); for an ended ack, the drone whose
   *  part ended and, when another drone flies it on, that drone; empty otherwise. */
  readonly assigned: readonly string[];
  /** Accepted and rejected acks: BLAKE2b-256 of the committed block's bytes; null otherwise. */
  readonly blockHash: Uint8Array | null;
}

export const commandRefPattern = /^[a-z0-9][a-z0-9._-]{0,63}\/[0-9a-f]{32}$/;

export function parseAckBody(v: unknown): AckBody {
  const m = map(v, 'ack');
  onlyKeys(m, ['command', 'node', 'stage', 'height', 'reason', 'progress', 'assigned', 'blockHash'], 'ack');
  const command = text(m.command, 'ack.command', 100);
  if (!commandRefPattern.test(command)) fail('ack.command must be "<operator>/<32 hex digits of the nonce>"');
  const stage = oneOf(m.stage, 'ack.stage', ackStages);
  const blockHash = m.blockHash === null ? null : bytes(m.blockHash, 'ack.blockHash', 32);
  const decided = stage === 'accepted' || stage === 'rejected';
  if (decided !== (blockHash !== null)) fail('ack.blockHash is set exactly on accepted and rejected acks');
  return {
    command,
    node: id(m.node, 'ack.node'),
    stage,
    height: uint(m.height, 'ack.height'),
    reason: text(m.reason, 'ack.reason', 1_024),
    progress: uint(m.progress, 'ack.progress', 1_000),
    assigned: array(m.assigned, 'ack.assigned', limits.manifestMembersMax).map((x, i) => id(x, `ack.assigned[${i}]`)),
    blockHash,
  };
}

export function encodeAckBody(a: AckBody): Uint8Array {
  return encodeCbor({
    command: a.command,
    node: a.node,
    stage: a.stage,
    height: a.height,
    reason: a.reason,
    progress: a.progress,
    assigned: [...a.assigned],
    blockHash: a.blockHash,
  });
}
