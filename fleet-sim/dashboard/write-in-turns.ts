// Writes a long body (a late page's recording, /recording.json) in pieces without holding the event
// loop the run shares: each piece once the stream took the one before, with a turn of the loop after it.

import type { Writable } from 'node:stream';

/** Pulls and writes pieces until the iterable ends: true once all are written, false when the stream
 *  closed, alive() said no, or a piece was not taken within stallMs. Each piece is pulled, checked and
 *  written in one turn, so a caller's iterator can hand over to live writes without a gap. */
export async function writeInTurns(out: Writable, pieces: Iterable<string>, stallMs: number, alive: () => boolean = () => true): Promise<boolean> {
  for (const piece of pieces) {
    if (!alive() || out.destroyed) return false;
    if (piece === '') continue;
    if (!out.write(piece) && !(await drained(out, stallMs))) return false;
    // A turn even after 'drain': a socket whose reader keeps up completes each write at once and emits
    // 'drain' on process.nextTick, and awaiting that alone sent 50 MB with no timer of the run firing.
    await turn();
  }
  return alive() && !out.destroyed;
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Resolves true once out has drained, false if it closed or did not drain within ms. */
function drained(out: Writable, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const finish = (ok: boolean): void => {
      clearTimeout(timer);
      out.off('drain', onDrain);
      out.off('close', onClose);
      resolve(ok);
    };
    const onDrain = (): void => finish(true);
    const onClose = (): void => finish(false);
    const timer = setTimeout(() => finish(false), ms);
    out.on('drain', onDrain);
    out.on('close', onClose);
  });
}
