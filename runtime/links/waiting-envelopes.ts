// The own envelopes a radio link holds in its queue and has not put on the air whole yet, by content.
// Consensus re-broadcasts what still matters every gossip interval (runtime/consensus/core.ts), which
// on a broker costs nothing, but a 7 KB proposal takes about 1.3 s of a 57600-baud radio's airtime: a
// copy queued every 500 ms behind the last one piled up hundreds of packets per validator in the
// default scenario's broker outage, and rounds timed out behind them. A send of bytes that already wait
// for the same destination is therefore not queued again (the copy waiting will say the same thing);
// once the last fragment of the waiting copy is on the air, the next send queues a fresh one. Only
// consensus is tracked: its queue never evicts (it refuses when full), so every copy leaves it through
// the air, the stale limit or a clear, each of which calls `gone`. A copy that has waited long enough
// to be near the stale limit does not absorb a new send: the link queues a fresh copy instead.

import { bytesEqual } from '../lib/bytes.js';

interface Waiting {
  readonly bytes: Uint8Array;
  readonly msgKey: string;
  /** When it was queued (the link's clock). */
  readonly queuedMs: number;
}

/** An envelope ends in its 64-byte signature, so its last six bytes and its length make a key that two
 *  different envelopes share only by chance (then the bytes tell them apart). */
function contentKey(bytes: Uint8Array, dest: number | undefined): string {
  const n = bytes.length;
  let tail = 0;
  for (let i = Math.max(0, n - 6); i < n; i++) tail = tail * 256 + (bytes[i] as number);
  return `${dest ?? '*'}:${n}:${tail}`;
}

export class WaitingEnvelopes {
  private readonly byContent = new Map<string, Waiting>();
  private readonly byMsg = new Map<string, string>();

  /** Whether identical bytes for the same destination wait in the queue, queued at `since` or later. */
  has(bytes: Uint8Array, dest: number | undefined, since: number): boolean {
    const w = this.byContent.get(contentKey(bytes, dest));
    return w !== undefined && w.queuedMs >= since && bytesEqual(w.bytes, bytes);
  }

  /** The envelope was queued as message `msgKey` (origin:msgId). A different envelope under the same
   *  key (a chance collision) is simply not remembered: it is only ever queued again, never lost. */
  add(bytes: Uint8Array, dest: number | undefined, msgKey: string, queuedMs: number): void {
    const k = contentKey(bytes, dest);
    // An older copy still waiting (too old to absorb this send): the newer one is remembered instead.
    const older = this.byContent.get(k);
    if (older !== undefined && !bytesEqual(older.bytes, bytes)) return;
    this.byContent.set(k, { bytes, msgKey, queuedMs });
    this.byMsg.set(msgKey, k);
  }

  /** Message `msgKey` left the queue: its last fragment went on the air, or it was dropped. */
  gone(msgKey: string): void {
    const k = this.byMsg.get(msgKey);
    if (k === undefined) return;
    this.byMsg.delete(msgKey);
    if (this.byContent.get(k)?.msgKey === msgKey) this.byContent.delete(k);
  }

  clear(): void {
    this.byContent.clear();
    this.byMsg.clear();
  }

  get size(): number {
    return this.byMsg.size;
  }
}
