// The own envelopes a radio link holds in its queue and has not put on the air whole yet, by content.
// Consensus re-broadcasts what still matters every gossip interval (runtime/consensus/core.ts), which
// on a broker costs nothing, but a 7 KB proposal takes about 1.3 s of a 57600-baud radio's airtime: a
// copy queued every 500 ms behind the last one piled up hundreds of packets per validator in the
// default scenario's broker outage, and rounds timed out behind them. A send of bytes that already wait
// for the same destination is therefore not queued again (the copy waiting will say the same thing);
// once the last fragment of the waiting copy is on the air, the next send queues a fresh one. Only
// consensus is tracked: its queue never evicts (it refuses when full), so every copy leaves it through
// the air, the stale limit or a clear, each of which calls `gone`. A send the waiting copy absorbs
// counts as wanting it again: the stale limit runs from the last time consensus handed it over
// (`wantedAt`), so the one copy is not dropped as stale just after consensus asked for it anew.

import { bytesEqual } from '../lib/bytes.js';

interface Waiting {
  readonly bytes: Uint8Array;
  readonly msgKey: string;
  /** When consensus last handed these bytes over (the link's clock). */
  wantedMs: number;
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

  /** True when identical bytes for the same destination wait in the queue: they are wanted again at
   *  `nowMs`, and the send needs no copy of its own. */
  absorb(bytes: Uint8Array, dest: number | undefined, nowMs: number): boolean {
    const w = this.byContent.get(contentKey(bytes, dest));
    if (w === undefined || !bytesEqual(w.bytes, bytes)) return false;
    w.wantedMs = nowMs;
    return true;
  }

  /** When message `msgKey` (origin:msgId) was last wanted, if it is an own envelope that waits. */
  wantedAt(msgKey: string): number | undefined {
    const k = this.byMsg.get(msgKey);
    const w = k === undefined ? undefined : this.byContent.get(k);
    return w?.msgKey === msgKey ? w.wantedMs : undefined;
  }

  /** The envelope was queued as message `msgKey` (origin:msgId). A different envelope under the same
   *  key (a chance collision) is simply not remembered: it is only ever queued again, never lost. */
  add(bytes: Uint8Array, dest: number | undefined, msgKey: string, queuedMs: number): void {
    const k = contentKey(bytes, dest);
    if (this.byContent.has(k)) return;
    this.byContent.set(k, { bytes, msgKey, wantedMs: queuedMs });
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
