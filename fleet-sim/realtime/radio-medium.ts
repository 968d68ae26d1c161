// The air for real-time mode. Every device runs its real serial radio link (runtime/links/serial-link.ts)
// on one end of a socat pty pair; the medium holds the other ends. Each COBS packet a device writes is
// one radio packet: it keeps that transmitter busy for its airtime at the scenario's baud rate, then
// reaches every device in range that is up, each copy lost with the scenario's loss or cut by a
// partition (the `reach` rule). Multi-hop is the devices' own flood relay, as on real radios.
// The medium also reads the heartbeats it carries (height, round, position, battery) so fleet-sim
// can follow the fleet while the broker is down.

import { startPtyPair, type PtyPair } from '../../firmware-bridge/tools/processes.js';
import { openSerial, type ByteTransport } from '../../firmware-bridge/transport.js';
import { CobsSplitter, cobsDecode } from '../../runtime/links/cobs.js';
import { decodeRadioFrame, type RadioFrame } from '../../runtime/links/radio-frame.js';
import { nodeTag } from '../../runtime/links/serial-link.js';
import { fleetTag as tagOfFleet } from '../../runtime/links/frame.js';
import { limits } from '../../runtime/lib/limits.js';
import { Prng } from '../../runtime/lib/prng.js';
import { decodeCbor } from '../../runtime/wire/cbor.js';
import { decodeEnvelope } from '../../runtime/wire/envelope.js';
import { parseHeartbeatBody } from '../../runtime/wire/heartbeat.js';
import type { RadioModel } from '../scenario/scenario.js';

/** How long stop() waits for one pty end to close after its socat is gone. */
const closeWaitMs = 1_000;

export interface PositionM {
  readonly northM: number;
  readonly eastM: number;
}

export interface RadioMediumOptions {
  readonly fleet: string;
  readonly ids: readonly string[];
  readonly radio: RadioModel;
  readonly seed: number;
  /** Where device i is now; null when unknown (then it is taken to be in range of everyone). */
  readonly position: (i: number) => PositionM | null;
  /** Whether device i's radio is powered (a crashed device hears nothing). */
  readonly up: (i: number) => boolean;
  /** Faults between two devices: cut (partition) or an extra loss probability for this packet. */
  readonly reach: (from: number, to: number) => { readonly cut: boolean; readonly loss: number };
}

export interface RadioCounters {
  packetsSent: number;
  copiesDelivered: number;
  copiesLost: number;
  copiesCut: number;
  copiesOutOfRange: number;
  /** Packets dropped because the transmitter's backlog passed radioMediumBacklogMs. */
  packetsOverflowed: number;
  /** Packets on the air whose origin is another device: flood relays. */
  relays: number;
}

/** What the medium heard in a device's latest heartbeat. */
export interface HeardHeartbeat {
  readonly height: number;
  readonly round: number;
  readonly position: readonly [number, number, number] | null;
  readonly batteryPct: number | null;
  readonly atMs: number;
}

interface Port {
  readonly pair: PtyPair;
  readonly end: ByteTransport;
  readonly splitter: CobsSplitter;
  /** When the transmitter finishes the packets already on the air (performance.now() ms). */
  busyUntilMs: number;
}

export class RadioMedium {
  readonly counters: RadioCounters = { packetsSent: 0, copiesDelivered: 0, copiesLost: 0, copiesCut: 0, copiesOutOfRange: 0, packetsOverflowed: 0, relays: 0 };
  readonly heard = new Map<number, HeardHeartbeat>();
  private readonly ports: Port[] = [];
  private readonly prng: Prng;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly fleetTag: number;
  private readonly indexById: Map<string, number>;
  /** Each device's origin tag, to tell its own packets from its relays. */
  private readonly tags: readonly number[];
  private running = false;

  constructor(private readonly o: RadioMediumOptions) {
    this.prng = new Prng(o.seed ^ 0x5ad10);
    this.fleetTag = tagOfFleet(o.fleet);
    this.indexById = new Map(o.ids.map((id, i) => [id, i]));
    this.tags = o.ids.map((id) => nodeTag(id));
  }

  /** One socat pty pair per device; resolves when the medium holds every far end. */
  async start(): Promise<void> {
    this.running = true;
    try {
      for (let i = 0; i < this.o.ids.length; i++) {
        const pair = await startPtyPair();
        const end = await openSerial({ path: pair.b, baudRate: this.o.radio.baud }).catch(async (e: unknown) => {
          await pair.stop();
          throw e;
        });
        const port: Port = { pair, end, splitter: new CobsSplitter(limits.radioRxBufferBytesMax), busyUntilMs: 0 };
        end.onData((chunk) => {
          for (const packet of port.splitter.push(chunk)) this.transmit(i, packet);
        });
        this.ports.push(port);
      }
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  /** The serial device path device i's radio opens (its end of the pty pair). */
  devicePath(i: number): string {
    const p = this.ports[i];
    if (!p) throw new Error(`radio medium: no pty for device ${i}`);
    return p.pair.a;
  }

  /** Pairs of devices that are up and within range of each other now (for the dashboard's map). */
  links(): [number, number][] {
    const out: [number, number][] = [];
    for (let i = 0; i < this.ports.length; i++) {
      if (!this.o.up(i)) continue;
      for (let j = i + 1; j < this.ports.length; j++) if (this.o.up(j) && this.inRange(i, j)) out.push([i, j]);
    }
    return out;
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const ports = this.ports.splice(0);
    for (const p of ports) {
      // socat first: its exit hangs up our end, so a close behind a blocked write cannot wait forever.
      await p.pair.stop();
      await Promise.race([p.end.close(), new Promise((r) => setTimeout(r, closeWaitMs))]);
    }
  }

  private inRange(a: number, b: number): boolean {
    const pa = this.o.position(a);
    const pb = this.o.position(b);
    if (!pa || !pb) return true;
    return Math.hypot(pa.northM - pb.northM, pa.eastM - pb.eastM) <= this.o.radio.rangeM;
  }

  /** One packet from device `from`: on the air for its airtime, then heard by those in range. */
  private transmit(from: number, packet: Uint8Array): void {
    const port = this.ports[from];
    if (!port || !this.running) return;
    this.counters.packetsSent++;
    const origin = this.snoop(packet);
    if (origin !== -1 && origin !== this.tags[from]) this.counters.relays++;
    const now = performance.now();
    // 10 bits per byte on a UART (start, 8 data, stop), the delimiter included.
    const airMs = ((packet.length + 1) * 10 * 1000) / this.o.radio.baud;
    const startMs = Math.max(now, port.busyUntilMs);
    if (startMs - now > limits.radioMediumBacklogMs) {
      this.counters.packetsOverflowed++;
      return;
    }
    port.busyUntilMs = startMs + airMs;
    const wire = Buffer.concat([packet, Buffer.of(0)]);
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.deliver(from, wire);
    }, Math.max(0, Math.round(port.busyUntilMs - now)));
    this.timers.add(t);
  }

  private deliver(from: number, wire: Buffer): void {
    if (!this.running || !this.o.up(from)) return;
    for (let to = 0; to < this.ports.length; to++) {
      if (to === from || !this.o.up(to)) continue;
      if (!this.inRange(from, to)) {
        this.counters.copiesOutOfRange++;
        continue;
      }
      const r = this.o.reach(from, to);
      if (r.cut) {
        this.counters.copiesCut++;
        continue;
      }
      const loss = 1 - (1 - this.o.radio.loss) * (1 - r.loss);
      if (loss > 0 && this.prng.next() < loss) {
        this.counters.copiesLost++;
        continue;
      }
      this.counters.copiesDelivered++;
      this.ports[to]?.end.write(wire);
    }
  }

  /** Heartbeats fit one radio packet; read them (unverified: fleet-sim only watches) for the live view.
   *  Returns the packet's origin tag (-1 if it does not decode), so a relay can be told from its origin. */
  private snoop(packet: Uint8Array): number {
    const raw = cobsDecode(packet);
    if (!raw) return -1;
    const f = decodeRadioFrame(raw, this.fleetTag, limits.radioFragmentsMax);
    if (!f.ok) return -1;
    this.heartbeatOf(f.value);
    return f.value.origin;
  }

  private heartbeatOf(f: RadioFrame): void {
    if (f.cls !== 'heartbeat' || f.count !== 1) return;
    const env = decodeEnvelope(f.fragment);
    if (!env.ok || env.value.kind !== 'heartbeat') return;
    const i = this.indexById.get(env.value.sender);
    const body = decodeCbor(env.value.body, 256);
    if (i === undefined || !body.ok) return;
    try {
      const h = parseHeartbeatBody(body.value);
      const prev = this.heard.get(i);
      if (prev && prev.height > h.height) return; // an old heartbeat relayed late
      this.heard.set(i, { height: h.height, round: h.round, position: h.position, batteryPct: h.batteryPct, atMs: performance.now() });
    } catch {
      // not a heartbeat body we can read: nothing to show
    }
  }
}
