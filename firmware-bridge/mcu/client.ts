// The host side of the MCU protocol: version handshake, windowed request/response with per-request
// timeouts and retries (a retry resends the identical frame, same seq, so the board answers it from
// its cache instead of applying it twice), and telemetry streams. The sequence window: no request is
// sent while one 32 or more sequence numbers older is still unanswered, because the board remembers
// only the last 64 (MCU_DEDUP_SLOTS) and refuses anything older rather than risk applying it twice.

import { err, ok, type Result } from '../../runtime/lib/result.js';
import { limits } from '../../runtime/lib/limits.js';
import { deviceError, type DeviceError } from '../../hal/devices.js';
import type { ByteTransport } from '../transport.js';
import { cobsDecode } from './cobs.js';
import { encodeMcuFrame, McuFrameReader, mcuErrorNames, mcuProtocolVersion, mcuType, type McuMessage } from './frame.js';

export interface McuClientOptions {
  readonly timeoutMs: number;
  readonly retries: number;
  /** The first sequence number (default 1; tests start near the 32-bit wrap). */
  readonly firstSeq?: number;
}

export const defaultMcuClientOptions: McuClientOptions = { timeoutMs: 50, retries: 40 };

/** Half the board's dedup memory (MCU_DEDUP_SLOTS = 64 in murmur_mcu.h). */
export const mcuSeqWindow = 32;

export interface McuClientCounters {
  requests: number;
  responses: number;
  retries: number;
  errors: number;
  /** Responses for requests already answered (a retry crossed the first answer). */
  lateResponses: number;
  telemetry: number;
  /** Handshakes made again because the board answered "no handshake" (it reset since the last). */
  rehandshakes: number;
}

interface Waiting {
  readonly type: number;
  readonly method: number;
  readonly body: unknown;
  readonly onSeq: ((seq: number) => void) | undefined;
  readonly resolve: (r: Result<unknown, DeviceError>) => void;
}

interface Pending {
  readonly frame: Uint8Array;
  readonly resolve: (r: Result<unknown, DeviceError>) => void;
  attempts: number;
  timer: NodeJS.Timeout;
}

export interface McuHello {
  readonly version: number;
  readonly firmware: string;
}

/** The firmware's ERROR code for a request before the version handshake (frame.ts mcuErrorNames). */
const noHandshakeCode = 3;

export class McuClient {
  private nextSeq = 1;
  private readonly pending = new Map<number, Pending>();
  /** Requests waiting for the sequence window; bounded with pending by limits.mcuRequestsPendingMax. */
  private readonly waiting: Waiting[] = [];
  private readonly reader = new McuFrameReader();
  private readonly telemetryHandlers = new Set<(stream: number, body: unknown) => void>();
  private readonly stats: McuClientCounters = { requests: 0, responses: 0, retries: 0, errors: 0, lateResponses: 0, telemetry: 0, rehandshakes: 0 };
  private version = 0;
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

  /** HELLO [min, max] until HELLO_ACK [version, firmware name]; requests before it are refused. */
  async handshake(): Promise<Result<McuHello, DeviceError>> {
    const r = await this.send(mcuType.hello, 0, [mcuProtocolVersion, mcuProtocolVersion]);
    if (!r.ok) return r;
    const body = r.value;
    if (!Array.isArray(body) || body[0] !== mcuProtocolVersion || typeof body[1] !== 'string') {
      return err(deviceError('rejected', `handshake: unexpected HELLO_ACK body ${JSON.stringify(body)}`));
    }
    this.version = body[0] as number;
    return ok({ version: this.version, firmware: body[1] as string });
  }

  /**
   * onSeq learns the sequence number the request travels with (tests use it to predict digests). A
   * board that reset since the handshake (power, watchdog, a new flash) answers "no handshake" and has
   * applied nothing: the client shakes hands again and sends the request once more. Only when that
   * answer came to the first copy: to a resent one, an earlier copy may have reached the board before
   * it reset and been applied (its answer lost), so the request ends with an error that says so
   * instead of being applied twice.
   */
  async request(method: number, body: unknown, onSeq?: (seq: number) => void): Promise<Result<unknown, DeviceError>> {
    if (this.version === 0) return err(deviceError('stopped', 'MCU request before the version handshake'));
    const r = await this.send(mcuType.request, method, body, onSeq);
    if (r.ok || !r.error.message.startsWith(`MCU error ${noHandshakeCode} `)) return r;
    this.stats.rehandshakes++;
    const h = await this.handshake();
    if (!h.ok) return err(deviceError(h.error.code, `the board reset (it answered "no handshake"), and the handshake again failed: ${h.error.message}`));
    return this.send(mcuType.request, method, body, onSeq);
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
    for (const [seq, p] of this.pending) {
      clearTimeout(p.timer);
      p.resolve(err(deviceError('stopped', 'MCU client closed')));
      this.pending.delete(seq);
    }
    for (const w of this.waiting.splice(0)) w.resolve(err(deviceError('stopped', 'MCU client closed')));
  }

  /** Sequence numbers wrap at 2^32 (0 is skipped), so distances are modular. */
  private windowOpen(): boolean {
    let behind = 0;
    for (const seq of this.pending.keys()) behind = Math.max(behind, (this.nextSeq - seq) >>> 0);
    return behind < mcuSeqWindow;
  }

  private drain(): void {
    while (this.waiting.length > 0 && this.windowOpen()) {
      const w = this.waiting.shift() as Waiting;
      this.transmit(w);
    }
  }

  private send(type: number, method: number, body: unknown, onSeq?: (seq: number) => void): Promise<Result<unknown, DeviceError>> {
    if (this.closed) return Promise.resolve(err(deviceError('stopped', 'MCU client closed')));
    if (this.pending.size + this.waiting.length >= limits.mcuRequestsPendingMax) {
      return Promise.resolve(err(deviceError('rejected', `more than ${limits.mcuRequestsPendingMax} MCU requests in flight`)));
    }
    return new Promise((resolve) => {
      const w: Waiting = { type, method, body, onSeq, resolve };
      if (this.waiting.length === 0 && this.windowOpen()) this.transmit(w);
      else this.waiting.push(w);
    });
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
    const resolve = (r: Result<unknown, DeviceError>): void => {
      w.resolve(r);
      this.drain();
    };
    const retry = (): void => {
      const p = this.pending.get(seq);
      if (!p) return;
      if (p.attempts > this.o.retries) {
        this.pending.delete(seq);
        resolve(err(deviceError('timeout', `MCU request seq ${seq}: no answer after ${p.attempts} attempts`)));
        return;
      }
      p.attempts++;
      this.stats.retries++;
      this.transport.write(frame);
      p.timer = setTimeout(retry, this.o.timeoutMs);
    };
    this.pending.set(seq, { frame, resolve, attempts: 1, timer: setTimeout(retry, this.o.timeoutMs) });
    this.transport.write(frame);
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
    clearTimeout(p.timer);
    this.pending.delete(m.ack);
    if (m.type === mcuType.error) {
      this.stats.errors++;
      const code = typeof m.body === 'number' ? m.body : -1;
      if (code === noHandshakeCode && p.attempts > 1) {
        p.resolve(err(deviceError('rejected', `MCU request seq ${m.ack}: the board reset while it was being sent (it answered "no handshake" to copy ${p.attempts}), and an earlier copy may have been applied before it did; not sent again: read the board's state before repeating it`)));
        return;
      }
      p.resolve(err(deviceError('rejected', `MCU error ${code} (${mcuErrorNames[code] ?? 'unknown'}) for seq ${m.ack}`)));
      return;
    }
    this.stats.responses++;
    p.resolve(ok(m.body));
  }
}
