// The own envelopes a radio link holds in its queue and has not put on the air whole yet, by content.
// Consensus re-broadcasts what still matters every gossip interval (runtime/consensus/core.ts), which
// on a broker costs nothing, but a 7 KB proposal takes about 1.3 s of a 57600-baud radio's airtime: a
// copy queued every 500 ms behind the last one piled up hundreds of packets per validator in the
// default scenario's broker outage, and rounds timed out behind them. A send of bytes that already wait
// for the same destination is therefore not queued again (the copy waiting will say the same thing);
// once the last fragment of the waiting copy is on the air, the next send queues a fresh one.

import { bytesEqual } from '../lib/bytes.js';

interface Waiting {
  readonly bytes: Uint8Array;
  readonly msgKey: string;
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

  /** Whether identical bytes for the same destination already wait in the queue. */
  has(bytes: Uint8Array, dest: number | undefined): boolean {
    const w = this.byContent.get(contentKey(bytes, dest));
    return w !== undefined && bytesEqual(w.bytes, bytes);
  }

  /** The envelope was queued as message `msgKey` (origin:msgId). A different envelope under the same
   *  key (a chance collision) is simply not remembered: it is only ever queued again, never lost. */
  add(bytes: Uint8Array, dest: number | undefined, msgKey: string): void {
    const k = contentKey(bytes, dest);
    if (this.byContent.has(k)) return;
    this.byContent.set(k, { bytes, msgKey });
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
