// The host side of the MCU protocol (docs/mcu.md): version handshake, windowed request/response with
// per-request timeouts and resends that back off (a resend is the identical frame, same seq, so the board
// answers it from its cache instead of applying it twice), and telemetry streams. The sequence window: no
// request is sent while one 32 or more sequence numbers older is still unanswered, because the board
// remembers only the last 64 (MCU_DEDUP_SLOTS) and refuses anything older rather than risk applying it twice.
//
// A board that reset forgets its session and its duplicate memory. The client then stops sending, lets
// every request in flight settle (answered, or ended as "may have been applied"), and only then sends one
// HELLO; nothing sent before that HELLO is ever sent after it. Serial links keep frames in order, so every
// copy of an old request reaches the board before the new session starts, and none is applied in it.

import { err, ok, type Result } from '../../runtime/lib/result.js';
import { limits } from '../../runtime/lib/limits.js';
import { deviceError, type DeviceError } from '../../hal/devices.js';
import type { ByteTransport } from '../transport.js';
import { cobsDecode } from './cobs.js';
import { encodeMcuFrame, McuFrameReader, mcuErrorNames, mcuProtocolVersion, mcuType, type McuMessage } from './frame.js';

export interface McuClientOptions {
  /** How long the first copy of a request waits for its answer; each further copy waits twice as long
   *  as the one before, up to backoffMaxMs. */
  readonly timeoutMs: number;
  /** Copies sent after the first before the request ends as timed out. */
  readonly retries: number;
  /** The longest wait for one copy's answer (default 2000 ms). */
  readonly backoffMaxMs?: number;
  /** The first sequence number (default 1; tests start near the 32-bit wrap). */
  readonly firstSeq?: number;
}

/** Copies wait 100, 200, 400, 800, 1600, 2000 and 2000 ms: 7.1 s in all, and a board taking 200 ms per
 *  answer gets about three copies of each request rather than dozens. */
export const defaultMcuClientOptions: McuClientOptions = { timeoutMs: 100, retries: 6, backoffMaxMs: 2000 };

/** Half the board's dedup memory (MCU_DEDUP_SLOTS = 64 in murmur_mcu.h). */
export const mcuSeqWindow = 32;

export interface McuClientCounters {
  requests: number;
  responses: number;
  retries: number;
  errors: number;
  /** Answers to requests already settled (a resend crossed the first answer, or the board is slower than the timeout). */
  lateResponses: number;
  telemetry: number;
  /** Handshakes made again because the board answered "no handshake" (it reset since the last). */
  rehandshakes: number;
  /** Requests ended as "may have been applied" because the board reset while they were in flight. */
  mayHaveApplied: number;
}

interface Waiting {
  readonly type: number;
  readonly method: number;
  readonly body: unknown;
  readonly onSeq: ((seq: number) => void) | undefined;
  readonly resolve: (r: Result<unknown, DeviceError>) => void;
}

/** What the reader and the client counted, to say what arrived while a request waited. */
interface Arrivals {
  readonly frames: number;
  readonly late: number;
  readonly badCobs: number;
  readonly badCrc: number;
  readonly badCbor: number;
  readonly oversize: number;
}

interface Pending {
  readonly w: Waiting;
  readonly frame: Uint8Array;
  copies: number;
  /** How long the newest copy waits for its answer. */
  waitMs: number;
  timer: NodeJS.Timeout | undefined;
  readonly firstSentAtMs: number;
  readonly arrivalsAtSend: Arrivals;
}

export interface McuHello {
  readonly version: number;
  readonly firmware: string;
}

/**
 * none: no handshake yet, requests refused. handshaking: a HELLO is out, requests wait. open: requests
 * flow. settling: the board answered "no handshake" (it reset); nothing is sent until every request in
 * flight is answered or its wait runs out, then a HELLO. lost: the board reset and the handshake after it
 * failed; the next request tries it again.
 */
type SessionState = 'none' | 'handshaking' | 'open' | 'settling' | 'lost';

/** The firmware's ERROR code for a request before the version handshake (frame.ts mcuErrorNames). */
const noHandshakeCode = 3;

export class McuClient {
  private nextSeq = 1;
  private readonly pending = new Map<number, Pending>();
  /** Requests waiting for the sequence window or a session; bounded with pending by limits.mcuRequestsPendingMax. */
  private readonly waiting: Waiting[] = [];
  /** Requests the reset board refused unapplied (their only copy answered "no handshake"): sent again
   *  first, under new sequence numbers, once the new session is open. */
  private readonly refusedUnapplied: Waiting[] = [];
  private readonly reader = new McuFrameReader();
  private readonly telemetryHandlers = new Set<(stream: number, body: unknown) => void>();
  private readonly stats: McuClientCounters = { requests: 0, responses: 0, retries: 0, errors: 0, lateResponses: 0, telemetry: 0, rehandshakes: 0, mayHaveApplied: 0 };
  private state: SessionState = 'none';
  private handshaking: Promise<Result<McuHello, DeviceError>> | null = null;
  private settleTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly offData: () => void;

  constructor(
    private readonly transport: ByteTransport,
    private readonly o: McuClientOptions = defaultMcuClientOptions,
  ) {
    this.nextSeq = (o.firstSeq ?? 1) >>> 0 || 1;
    this.offData = transport.onData((chunk) => {
      for (const m of this.reader.push(chunk)) this.receive(m);
    });
  }

  /**
   * HELLO [min, max] until HELLO_ACK [version, firmware name]; requests before it are refused. A HELLO
   * clears the board's duplicate memory, so it is refused while requests are in flight (a copy resent
   * after it would be applied again).
   */
  handshake(): Promise<Result<McuHello, DeviceError>> {
    if (this.handshaking) return this.handshaking;
    if (this.state === 'settling') return Promise.resolve(err(deviceError('rejected', 'handshake: the board reset and the client is already settling its requests before shaking hands again')));
    if (this.pending.size > 0) {
      return Promise.resolve(err(deviceError('rejected', `handshake with ${this.pending.size} MCU requests in flight: a HELLO clears the board's duplicate memory, so wait for their answers first`)));
    }
    return this.startHandshake(this.state === 'none' ? 'none' : 'lost');
  }

  /**
   * onSeq learns the sequence number the request travels with (tests use it to predict digests); it is
   * called again when the request is sent under a new one after a board reset that refused it unapplied.
   * A board that reset since the handshake (power, watchdog, a new flash) answers "no handshake": the
   * client settles what is in flight and shakes hands again (see the file's head). A request whose only
   * copy got that answer was not applied, and is sent again in the new session; one with more copies
   * out may have been applied by an earlier copy before the reset (answers name only the sequence
   * number, not the copy), so it ends with an error that says so and is not sent again.
   */
  request(method: number, body: unknown, onSeq?: (seq: number) => void): Promise<Result<unknown, DeviceError>> {
    if (this.state === 'none') return Promise.resolve(err(deviceError('stopped', 'MCU request before the version handshake')));
    const r = this.send(mcuType.request, method, body, onSeq);
    if (this.state === 'lost' && !this.closed) void this.startHandshake('lost');
    return r;
  }

  onTelemetry(handler: (stream: number, body: unknown) => void): () => void {
    this.telemetryHandlers.add(handler);
    return () => this.telemetryHandlers.delete(handler);
  }

  counters(): Readonly<McuClientCounters & { reader: McuFrameReader['counters'] }> {
    return { ...this.stats, reader: { ...this.reader.counters } };
  }

  /** Ends every waiting request, stops reading the transport (which stays open: the caller's), and
   *  refuses requests from then on. */
  close(): void {
    this.closed = true;
    this.offData();
    clearTimeout(this.settleTimer);
    const closed = err(deviceError('stopped', 'MCU client closed'));
    for (const [seq, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(seq);
      p.w.resolve(closed);
    }
    for (const w of [...this.refusedUnapplied.splice(0), ...this.waiting.splice(0)]) w.resolve(closed);
  }

  private startHandshake(onFailure: 'none' | 'lost'): Promise<Result<McuHello, DeviceError>> {
    this.state = 'handshaking';
    this.handshaking = this.hello().then((h) => {
      this.handshaking = null;
      if (this.closed) return h;
      if (h.ok) {
        this.state = 'open';
        this.waiting.unshift(...this.refusedUnapplied.splice(0));
        this.drain();
        return h;
      }
      this.state = onFailure;
      const why = onFailure === 'lost' ? `the board reset (it answered "no handshake"), and the handshake again failed: ${h.error.message}` : `the handshake failed: ${h.error.message}`;
      for (const w of [...this.refusedUnapplied.splice(0), ...this.waiting.splice(0)]) w.resolve(err(deviceError(h.error.code, `MCU request not sent: ${why}`)));
      return h;
    });
    return this.handshaking;
  }

  private async hello(): Promise<Result<McuHello, DeviceError>> {
    if (this.closed) return err(deviceError('stopped', 'MCU client closed'));
    const r = await new Promise<Result<unknown, DeviceError>>((resolve) => this.transmit({ type: mcuType.hello, method: 0, body: [mcuProtocolVersion, mcuProtocolVersion], onSeq: undefined, resolve }));
    if (!r.ok) return err(deviceError(r.error.code, `handshake: ${r.error.message}`));
    const body = r.value;
    if (!Array.isArray(body) || body[0] !== mcuProtocolVersion || typeof body[1] !== 'string') {
      return err(deviceError('rejected', `handshake: unexpected HELLO_ACK body ${JSON.stringify(body)}`));
    }
    return ok({ version: body[0] as number, firmware: body[1] as string });
  }

  /** Sequence numbers wrap at 2^32 (0 is skipped), so distances are modular. */
  private windowOpen(): boolean {
    let behind = 0;
    for (const seq of this.pending.keys()) behind = Math.max(behind, (this.nextSeq - seq) >>> 0);
    return behind < mcuSeqWindow;
  }

  private drain(): void {
    while (this.state === 'open' && this.waiting.length > 0 && this.windowOpen()) {
      const w = this.waiting.shift() as Waiting;
      this.transmit(w);
    }
  }

  private send(type: number, method: number, body: unknown, onSeq?: (seq: number) => void): Promise<Result<unknown, DeviceError>> {
    if (this.closed) return Promise.resolve(err(deviceError('stopped', 'MCU client closed')));
    if (this.pending.size + this.waiting.length + this.refusedUnapplied.length >= limits.mcuRequestsPendingMax) {
      return Promise.resolve(err(deviceError('rejected', `more than ${limits.mcuRequestsPendingMax} MCU requests in flight`)));
    }
    return new Promise((resolve) => {
      const w: Waiting = { type, method, body, onSeq, resolve };
      if (this.state === 'open' && this.waiting.length === 0 && this.windowOpen()) this.transmit(w);
      else this.waiting.push(w);
    });
  }

  private arrivals(): Arrivals {
    const r = this.reader.counters;
    return { frames: r.frames, late: this.stats.lateResponses, badCobs: r.badCobs, badCrc: r.badCrc, badCbor: r.badCbor, oversize: r.oversize };
  }

  private transmit(w: Waiting): void {
    const seq = this.nextSeq;
    this.nextSeq = (this.nextSeq + 1) >>> 0 || 1;
    const frame = encodeMcuFrame({ type: w.type as McuMessage['type'], seq, ack: 0, method: w.method, body: w.body });
    const decodedBytes = cobsDecode(frame.subarray(0, frame.length - 1), frame.length)?.length ?? frame.length;
    if (decodedBytes > limits.mcuFrameBytesMax) {
      w.resolve(err(deviceError('rejected', `MCU request of ${decodedBytes} bytes exceeds the ${limits.mcuFrameBytesMax}-byte frame limit`)));
      this.drain();
      return;
    }
    w.onSeq?.(seq);
    this.stats.requests++;
    const p: Pending = { w, frame, copies: 1, waitMs: this.o.timeoutMs, timer: undefined, firstSentAtMs: Date.now(), arrivalsAtSend: this.arrivals() };
    p.timer = setTimeout(() => this.resend(seq), p.waitMs);
    this.pending.set(seq, p);
    this.transport.write(frame);
  }

  private resend(seq: number): void {
    const p = this.pending.get(seq);
    if (!p) return;
    if (p.copies > this.o.retries) {
      this.settle(seq, p, err(deviceError('timeout', this.timeoutMessage(seq, p))));
      return;
    }
    p.copies++;
    this.stats.retries++;
    p.waitMs = Math.min(p.waitMs * 2, this.o.backoffMaxMs ?? 2000);
    p.timer = setTimeout(() => this.resend(seq), p.waitMs);
    this.transport.write(p.frame);
  }

  /** Says what arrived from the board while the request waited, which tells a dead board from a slow
   *  one, a noisy line or answers this host cannot read. */
  private timeoutMessage(seq: number, p: Pending): string {
    const now = this.arrivals();
    const a = p.arrivalsAtSend;
    const seen = [
      [now.late - a.late, 'answers to requests already settled (is the board slower than the timeout?)'],
      [now.badCrc - a.badCrc, 'frames with a bad CRC'],
      [now.badCobs - a.badCobs, 'frames with bad COBS'],
      [now.oversize - a.oversize, `frames over ${limits.mcuFrameBytesMax} bytes`],
      [now.badCbor - a.badCbor, 'frames this host could not read (an integer beyond ±(2^53-1), a tag, or a header other than five 32-bit unsigned integers and a body)'],
    ] as const;
    const parts = seen.filter(([n]) => n > 0).map(([n, what]) => `${n} ${what}`);
    const what = p.w.type === mcuType.hello ? 'MCU HELLO' : 'MCU request';
    const applied = p.w.type === mcuType.request ? '; it may have been applied' : '';
    const heard = parts.length > 0 ? `meanwhile the board sent ${parts.join(', ')}` : now.frames > a.frames ? 'the board sent other frames meanwhile' : 'nothing arrived from the board meanwhile';
    return `${what} seq ${seq}: no answer after ${p.copies} copies over ${Date.now() - p.firstSentAtMs} ms${applied}; ${heard}`;
  }

  /** Ends a request in flight; then sends what waits, or, while settling, shakes hands once all are done. */
  private settle(seq: number, p: Pending, r: Result<unknown, DeviceError> | 'sent again later'): void {
    clearTimeout(p.timer);
    this.pending.delete(seq);
    if (r === 'sent again later') this.refusedUnapplied.push(p.w);
    else p.w.resolve(r);
    if (this.state === 'open') this.drain();
    else if (this.state === 'settling' && this.pending.size === 0) this.endSettling();
  }

  private mayHaveApplied(seq: number, p: Pending, why: string): void {
    this.stats.mayHaveApplied++;
    const message = `MCU request seq ${seq} may have been applied: the board reset while it was in flight (${why}); it is not sent again: read the board's state before repeating it`;
    this.settle(seq, p, err(deviceError('rejected', message)));
  }

  /** The board answered "no handshake" to a request: it reset since the handshake. */
  private boardReset(seq: number, p: Pending): void {
    if (this.state === 'open') {
      this.state = 'settling';
      this.stats.rehandshakes++;
      // No more copies: each request still out waits once more for the answer to a copy already sent.
      let waitMs = this.o.timeoutMs;
      for (const q of this.pending.values()) {
        clearTimeout(q.timer);
        q.timer = undefined;
        waitMs = Math.max(waitMs, q.waitMs);
      }
      this.settleTimer = setTimeout(() => this.endSettling(), waitMs);
    }
    if (p.copies === 1) {
      // Its one copy reached the board after the reset, which applies nothing before a handshake.
      this.settle(seq, p, 'sent again later');
      return;
    }
    this.mayHaveApplied(seq, p, `it answered "no handshake" after ${p.copies} copies were sent, and an earlier one may have been applied before the reset`);
  }

  private endSettling(): void {
    if (this.state !== 'settling') return;
    this.state = 'handshaking'; // from here nothing is sent before the HELLO
    clearTimeout(this.settleTimer);
    for (const [seq, p] of [...this.pending]) this.mayHaveApplied(seq, p, 'no answer came for it after the board answered "no handshake" to another request');
    void this.startHandshake('lost');
  }

  private receive(m: McuMessage): void {
    if (m.type === mcuType.telemetry) {
      this.stats.telemetry++;
      for (const h of this.telemetryHandlers) h(m.method, m.body);
      return;
    }
    if (m.type !== mcuType.response && m.type !== mcuType.error && m.type !== mcuType.helloAck) return;
    const p = this.pending.get(m.ack);
    if (!p) {
      this.stats.lateResponses++;
      return;
    }
    if (m.type === mcuType.error) {
      this.stats.errors++;
      const code = typeof m.body === 'number' ? m.body : -1;
      if (code === noHandshakeCode && p.w.type === mcuType.request) {
        this.boardReset(m.ack, p);
        return;
      }
      this.settle(m.ack, p, err(deviceError('rejected', `MCU error ${code} (${mcuErrorNames[code] ?? 'unknown'}) for seq ${m.ack}`)));
      return;
    }
    this.stats.responses++;
    this.settle(m.ack, p, ok(m.body));
  }
}
