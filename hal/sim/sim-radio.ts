// A simulated packet-radio medium: radios in range hear each other after a latency, with seeded loss.
// Delivery happens in step(nowMs) in (due time, send order) order, so a seed replays exactly.

import type { Prng } from '../../runtime/lib/prng.js';
import type { Radio, RadioCounters } from '../devices.js';

export interface SimRadioMediumOptions {
  readonly prng: Prng;
  readonly mtuBytes: number;
  readonly lossRate: number;
  readonly latencyMs: number;
  readonly rangeM: number;
  /** Frames in flight across the whole medium; beyond it a send is refused (counted). */
  readonly inFlightMax: number;
}

interface InFlight {
  readonly dueMs: number;
  readonly order: number;
  readonly to: SimRadio;
  readonly bytes: Uint8Array;
}

export class SimRadioMedium {
  private readonly radios: SimRadio[] = [];
  private queue: InFlight[] = [];
  private order = 0;
  private nowMs = 0;

  constructor(readonly options: SimRadioMediumOptions) {}

  attach(name: string, where: () => { northM: number; eastM: number }): SimRadio {
    const r = new SimRadio(this, name, where);
    this.radios.push(r);
    return r;
  }

  /** Called by SimRadio.send. */
  transmit(from: SimRadio, bytes: Uint8Array): boolean {
    if (this.queue.length >= this.options.inFlightMax) return false;
    const a = from.where();
    for (const to of this.radios) {
      if (to === from || !to.isRunning()) continue;
      const b = to.where();
      if (Math.hypot(a.northM - b.northM, a.eastM - b.eastM) > this.options.rangeM) continue;
      if (this.options.prng.chance(this.options.lossRate)) continue;
      this.queue.push({ dueMs: this.nowMs + this.options.latencyMs, order: this.order++, to, bytes: bytes.slice() });
    }
    return true;
  }

  step(nowMs: number): void {
    this.nowMs = nowMs;
    const due = this.queue.filter((f) => f.dueMs <= nowMs).sort((x, y) => x.dueMs - y.dueMs || x.order - y.order);
    this.queue = this.queue.filter((f) => f.dueMs > nowMs);
    for (const f of due) f.to.deliver(f.bytes);
  }
}

export class SimRadio implements Radio {
  readonly kind = 'radio';
  readonly driver = 'sim';
  readonly mtuBytes: number;
  private running = false;
  private handlers: Array<(bytes: Uint8Array, rssiDbm: number | null) => void> = [];
  private readonly stats: RadioCounters = { framesSent: 0, framesReceived: 0, framesRefused: 0 };

  constructor(
    private readonly medium: SimRadioMedium,
    readonly name: string,
    readonly where: () => { northM: number; eastM: number },
  ) {
    this.mtuBytes = medium.options.mtuBytes;
  }

  start(): Promise<void> {
    this.running = true;
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.running = false;
    return Promise.resolve();
  }

  isRunning(): boolean {
    return this.running;
  }

  send(bytes: Uint8Array): boolean {
    if (!this.running || bytes.length > this.mtuBytes || !this.medium.transmit(this, bytes)) {
      this.stats.framesRefused++;
      return false;
    }
    this.stats.framesSent++;
    return true;
  }

  onReceive(handler: (bytes: Uint8Array, rssiDbm: number | null) => void): () => void {
    this.handlers.push(handler);
    return () => {
      this.handlers = this.handlers.filter((h) => h !== handler);
    };
  }

  deliver(bytes: Uint8Array): void {
    this.stats.framesReceived++;
    for (const h of this.handlers) h(bytes, -60);
  }

  counters(): Readonly<RadioCounters> {
    return { ...this.stats };
  }
}
