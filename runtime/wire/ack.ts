// The ack body (kind 12): a device's signed report on one operator command, from edge refusal to
// execution. The `committed` ack carries the block and its commit certificate, so murmurctl can
// check the commit itself against the manifest without trusting the device or the broker.

import { limits } from '../lib/limits.js';
import { encodeCbor } from './cbor.js';
import { certificateToCbor, parseCertificate, type CommitCertificate } from './certificate.js';
import { array, bytes, fail, id, map, onlyKeys, oneOf, text, uint } from './fields.js';

export const ackStages = ['refused', 'committed', 'rejected', 'accepted', 'started', 'progress', 'done', 'failed'] as const;
export type AckStage = (typeof ackStages)[number];

export interface AckBody {
  /** "<operator>/<nonce hex>": the command this ack is about. */
  readonly command: string;
  readonly node: string;
  readonly stage: AckStage;
  /** Height of the block that committed the command; 0 before commit. */
  readonly height: number;
  /** Why it was refused, rejected or failed; "" otherwise. */
  readonly reason: string;
  /** Execution progress 0..1000 (started 0, done 1000). */
  readonly progress: number;
  /** Devices that were given a part of the command (accepted acks); empty otherwise. */
  readonly assigned: readonly string[];
  /** Committed acks: the block bytes and the certificate that committed them. */
  readonly block: Uint8Array | null;
  readonly certificate: CommitCertificate | null;
}

export const commandRefPattern = /^[a-z0-9][a-z0-9._-]{0,63}\/[0-9a-f]{32}$/;

export function parseAckBody(v: unknown): AckBody {
  const m = map(v, 'ack');
  onlyKeys(m, ['command', 'node', 'stage', 'height', 'reason', 'progress', 'assigned', 'block', 'certificate'], 'ack');
  const command = text(m.command, 'ack.command', 100);
  if (!commandRefPattern.test(command)) fail('ack.command must be "<operator>/<32 hex digits of the nonce>"');
  const block = m.block === null ? null : bytes(m.block, 'ack.block', undefined, limits.blockBytesMax);
  const certificate = m.certificate === null ? null : parseCertificate(m.certificate);
  if ((block === null) !== (certificate === null)) fail('ack.block and ack.certificate come together');
  return {
    command,
    node: id(m.node, 'ack.node'),
    stage: oneOf(m.stage, 'ack.stage', ackStages),
    height: uint(m.height, 'ack.height'),
    reason: text(m.reason, 'ack.reason', 1_024),
    progress: uint(m.progress, 'ack.progress', 1_000),
    assigned: array(m.assigned, 'ack.assigned', limits.manifestMembersMax).map((x, i) => id(x, `ack.assigned[${i}]`)),
    block,
    certificate,
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
    block: a.block,
    certificate: a.certificate === null ? null : certificateToCbor(a.certificate),
  });
}
