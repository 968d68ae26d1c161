// The bounded mempool: checked transactions waiting for a block, first come first served, with a cap
// per operator so one operator (or a stolen key) cannot crowd out the others. Overflow: refused.

import { limits } from '../lib/limits.js';
import type { CheckedTx } from './types.js';

export function txKey(tx: CheckedTx): string {
  return tx.kind === 'command' ? tx.nonceKey : tx.key;
}

export class Mempool {
  private readonly txs = new Map<string, CheckedTx>();
  private readonly perOperator = new Map<string, number>();

  constructor(
    private readonly txsMax: number = limits.mempoolTxsMax,
    private readonly perOperatorMax: number = limits.mempoolPerOperatorMax,
  ) {}

  size(): number {
    return this.txs.size;
  }

  /** Returns a reason when refused. */
  add(tx: CheckedTx): string | null {
    const key = txKey(tx);
    if (this.txs.has(key)) return 'duplicate';
    if (this.txs.size >= this.txsMax) return 'mempool full';
    if (tx.kind === 'command') {
      const n = this.perOperator.get(tx.operator) ?? 0;
      if (n >= this.perOperatorMax) return `operator ${tx.operator} has ${n} commands waiting (limit ${this.perOperatorMax})`;
      this.perOperator.set(tx.operator, n + 1);
    }
    this.txs.set(key, tx);
    return null;
  }

  remove(key: string): void {
    const tx = this.txs.get(key);
    if (!tx) return;
    this.txs.delete(key);
    if (tx.kind === 'command') {
      const n = (this.perOperator.get(tx.operator) ?? 1) - 1;
      if (n <= 0) this.perOperator.delete(tx.operator);
      else this.perOperator.set(tx.operator, n);
    }
  }

  /** Arrival order; the caller filters with the block rules. */
  values(): IterableIterator<CheckedTx> {
    return this.txs.values();
  }
}
