// A board for MCU client tests, written from docs/mcu.md, with the faults real boards have: answers
// lost on the wire, resets (the handshake and the duplicate memory forgotten), and a slow main loop.
// It runs on one end of a socat pty pair. ADD deltas name their requests: tests send each delta once,
// so a delta applied twice is a request applied twice.

import { Prng } from '../../runtime/lib/prng.js';
import type { ByteTransport } from '../../firmware-bridge/transport.js';
import { encodeMcuFrame, McuFrameReader, mcuMethod, mcuType, type McuMessage } from '../../firmware-bridge/mcu/frame.js';

export interface BoardFaults {
  /** Each answer is lost with this probability (seeded). */
  readonly answerLossFraction?: number;
  /** The board resets (as if rebooted) after applying this many ADDs, and again after as many more. */
  readonly resetEveryApplies?: number;
  /** Only the first reset happens (resetEveryApplies sets when). */
  readonly resetOnce?: boolean;
  /** Time the board takes for each frame it answers, one frame after the other (a slow main loop). */
  readonly answerDelayMs?: number;
  /** While this says so, HELLOs go unanswered (a board stuck in its bootloader, say). */
  readonly deafToHello?: () => boolean;
  /** Answers ADD with this integer in place of the applied count (an integer beyond 2^53, say). */
  readonly appliedCountOverride?: bigint;
}

export interface ScriptedBoard {
  /** How many times each delta was applied. */
  readonly appliedTimes: Map<number, number>;
  readonly resets: () => number;
  readonly stop: () => void;
}

export function startScriptedBoard(port: ByteTransport, faults: BoardFaults, seed: number): ScriptedBoard {
  const prng = new Prng(seed);
  const reader = new McuFrameReader();
  const appliedTimes = new Map<number, number>();
  const cache = new Map<number, Uint8Array>();
  const inbox: McuMessage[] = [];
  let session = false;
  let applies = 0;
  let resets = 0;
  let txSeq = 1;
  let busy = false;
  let stopped = false;

  const frame = (type: McuMessage['type'], ack: number, method: number, body: unknown): Uint8Array => encodeMcuFrame({ type, seq: txSeq++, ack, method, body });

  const answer = (m: McuMessage): Uint8Array | null => {
    if (m.type === mcuType.hello) {
      if (faults.deafToHello?.()) return null;
      session = true;
      cache.clear();
      return frame(mcuType.helloAck, m.seq, 0, [1, 'scripted-board']);
    }
    if (m.type !== mcuType.request) return null;
    if (!session) return frame(mcuType.error, m.seq, m.method, 3);
    const cached = cache.get(m.seq);
    if (cached) return cached;
    if (m.method !== mcuMethod.add || typeof m.body !== 'number') return frame(mcuType.error, m.seq, m.method, 1);
    appliedTimes.set(m.body, (appliedTimes.get(m.body) ?? 0) + 1);
    applies++;
    const out = frame(mcuType.response, m.seq, m.method, [m.body, faults.appliedCountOverride ?? applies]);
    cache.set(m.seq, out);
    const every = faults.resetEveryApplies ?? 0;
    if (every > 0 && applies % every === 0 && !(faults.resetOnce && resets > 0)) {
      session = false; // a reset: RAM (the session, the duplicate memory) is gone
      cache.clear();
      resets++;
    }
    return out;
  };

  const next = (): void => {
    if (stopped || busy) return;
    const m = inbox.shift();
    if (!m) return;
    busy = true;
    setTimeout(() => {
      busy = false;
      if (stopped) return;
      const out = answer(m);
      if (out && prng.next() >= (faults.answerLossFraction ?? 0)) port.write(out);
      next();
    }, faults.answerDelayMs ?? 0);
  };

  const off = port.onData((chunk) => {
    inbox.push(...reader.push(chunk));
    next();
  });
  return {
    appliedTimes,
    resets: () => resets,
    stop: () => {
      stopped = true;
      off();
    },
  };
}
