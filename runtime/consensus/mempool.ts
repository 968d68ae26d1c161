// The bounded mempool: checked transactions waiting for a block, first come first served, with a cap
// per operator so one operator (or a stolen key) cannot crowd out the others. Overflow: refused.
//
// Devices' own transactions (attestations, telemetry) have a cap per device and one for all devices
// together, below the pool's: any member's signature makes one, so without them one faulty device (a
// follower will do) signing attestations as fast as it can filled the pool and every operator command
// after it was refused "mempool full" until blocks drained it, which the same device refilled.

import { limits } from '../lib/limits.js';
import type { CheckedTx } from './types.js';

export function txKey(tx: CheckedTx): string {
  return tx.kind === 'command' ? tx.nonceKey : tx.key;
}

export interface MempoolLimits {
  readonly txsMax: number;
  readonly perOperatorMax: number;
  readonly perDeviceMax: number;
  readonly deviceTxsMax: number;
}

const defaults: MempoolLimits = { txsMax: limits.mempoolTxsMax, perOperatorMax: limits.mempoolPerOperatorMax, perDeviceMax: limits.mempoolPerDeviceMax, deviceTxsMax: limits.mempoolDeviceTxsMax };

export class Mempool {
  private readonly txs = new Map<string, CheckedTx>();
  /** Waiting commands per operator, and attestations and telemetry per device (by signer id). */
  private readonly perOperator = new Map<string, number>();
  private readonly perDevice = new Map<string, number>();
  private deviceTxs = 0;
  private readonly l: MempoolLimits;

  constructor(l: Partial<MempoolLimits> = {}) {
    this.l = { ...defaults, ...l };
  }

  size(): number {
    return this.txs.size;
  }

  /** Returns a reason when refused. */
  add(tx: CheckedTx): string | null {
    const key = txKey(tx);
    if (this.txs.has(key)) return 'duplicate';
    if (this.txs.size >= this.l.txsMax) return 'mempool full';
    if (tx.kind === 'command') {
      const n = this.perOperator.get(tx.operator) ?? 0;
      if (n >= this.l.perOperatorMax) return `operator ${tx.operator} has ${n} commands waiting (limit ${this.l.perOperatorMax})`;
      this.perOperator.set(tx.operator, n + 1);
    } else if (tx.kind === 'other') {
      const sender = tx.sender ?? '';
      const n = this.perDevice.get(sender) ?? 0;
      if (n >= this.l.perDeviceMax) return `device ${sender} has ${n} attestations and telemetry waiting (limit ${this.l.perDeviceMax})`;
      if (this.deviceTxs >= this.l.deviceTxsMax) return `devices have ${this.deviceTxs} attestations and telemetry waiting (limit ${this.l.deviceTxsMax}; the rest is kept for commands)`;
      this.perDevice.set(sender, n + 1);
      this.deviceTxs++;
    }
    this.txs.set(key, tx);
    return null;
  }

  remove(key: string): void {
    const tx = this.txs.get(key);
    if (!tx) return;
    this.txs.delete(key);
    if (tx.kind === 'command') decrement(this.perOperator, tx.operator);
    else if (tx.kind === 'other') {
      decrement(this.perDevice, tx.sender ?? '');
      this.deviceTxs--;
    }
  }

  /** Arrival order; the caller filters with the block rules. */
  values(): IterableIterator<CheckedTx> {
    return this.txs.values();
  }
}

function decrement(counts: Map<string, number>, id: string): void {
  const n = (counts.get(id) ?? 1) - 1;
  if (n <= 0) counts.delete(id);
  else counts.set(id, n);
}
