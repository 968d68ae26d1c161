// The decision-log entry of a manifest a block committed: under the id of the fleet.update that named it
// (ChainState.pendingManifests), so `murmurctl log` shows which admin's command changed the fleet, and
// when the new set came into force. Before, a manifest changed the fleet with no entry of its own.

import { toHex } from '../lib/bytes.js';
import type { DecisionJson } from './control-topics.js';

export interface AppliedManifest {
  readonly hash: Uint8Array;
  /** The fleet.update's id (operator/nonce). */
  readonly command: string;
  readonly epoch: number;
  readonly fromHeight: number;
}

export function manifestDecision(m: AppliedManifest, height: number, index: number, blockHash: string): DecisionJson {
  const operator = m.command.split('/')[0] as string;
  return { height, index, command: m.command, operator, type: 'manifest', outcome: 'accepted', reason: `manifest epoch ${m.epoch} (${toHex(m.hash).slice(0, 16)}…) named by fleet.update ${m.command}, in force from height ${m.fromHeight}`, blockHash };
}
