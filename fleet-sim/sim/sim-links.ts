// A simulated device's links behind its router (runtime/links/router.ts): every message goes out on
// the broker and, when the scenario has one, on the serial radio; the receiver keeps the first copy
// of each envelope, whichever link brought it, and drops the rest (the router's SHA-256 digest cache,
// which also remembers what the device itself sent so echoes and relays of it are dropped). Without a
// radio the broker is the only path and nothing is hashed, so pure-consensus worlds pay nothing.
// The digest window (limits.routerDedupWindowMs) lets consensus's byte-identical re-broadcasts through.

import { limits } from '../../runtime/lib/limits.js';
import type { Prng } from '../../runtime/lib/prng.js';
import { bytesDigest, DedupWindow } from '../../runtime/links/dedup-cache.js';
import type { TrafficClass } from '../../runtime/links/link.js';
import { defaultPolicy, type ClassPolicy } from '../../runtime/links/router.js';
import type { RadioModel, Scenario } from '../scenario/scenario.js';
import { blockTxBytesOnAir, bytesPerSecond } from '../../runtime/links/airtime.js';
import type { EventQueue } from './event-queue.js';
import { operatorIndex, SimNetwork } from './network.js';
import { RadioNet, type RadioCounters } from './radio-net.js';

export interface RouterCounters {
  /** Envelopes delivered up first by each link. */
  firstByMqtt: number;
  firstByRadio: number;
  /** Of those first by radio, how many a relay carried (the receiver was reached through others). */
  relayedDeliveries: number;
  /** Later copies dropped (the other link, a relay, a duplicate or a replay within the window). */
  duplicates: number;
}

export interface RadioReport extends RadioCounters {
  readonly router: RouterCounters;
}

export class SimLinks {
  readonly net: SimNetwork;
  readonly radio: RadioNet | null;
  readonly router: RouterCounters = { firstByMqtt: 0, firstByRadio: 0, relayedDeliveries: 0, duplicates: 0 };
  private readonly seen: (DedupWindow | null)[];
  private readonly digests = new WeakMap<Uint8Array, string>();
  private readonly policy: Readonly<Record<TrafficClass, ClassPolicy>>;
  private readonly radioModel: RadioModel | undefined;

  constructor(
    private readonly queue: EventQueue,
    netPrng: Prng,
    radioPrng: Prng | null,
    s: Scenario,
    count: number,
    position: (i: number) => { readonly northM: number; readonly eastM: number } | null,
    private readonly deliver: (to: number, bytes: Uint8Array, announced: boolean) => void,
  ) {
    const direct = s.radio === undefined;
    this.radioModel = s.radio;
    this.policy = { ...defaultPolicy, ...s.linkPolicy };
    this.net = new SimNetwork(queue, netPrng, s.mqtt, () => count, direct ? (to, bytes, _from, announced) => deliver(to, bytes, announced) : (to, bytes, _from, announced) => this.arrive(to, bytes, 'mqtt', false, announced));
    this.seen = new Array<DedupWindow | null>(count).fill(null);
    this.radio =
      s.radio && radioPrng
        ? new RadioNet(
            s.radio,
            {
              now: () => queue.now,
              at: (t, fire) => queue.at(t, fire),
              position,
              blocked: (from, to) => this.net.blocked(from, to),
              deliver: (to, bytes, relayed) => this.arrive(to, bytes, 'radio', relayed),
            },
            radioPrng,
            count,
          )
        : null;
  }

  /** A node's process starts: its router forgets, its radio starts with an empty queue. */
  boot(i: number): void {
    if (!this.radio) return;
    this.seen[i] = new DedupWindow(limits.routerDedupEntriesMax, limits.routerDedupWindowMs);
    this.radio.boot(i);
  }

  down(i: number): void {
    if (!this.radio) return;
    this.seen[i] = null;
    this.radio.down(i);
  }

  /** Router.send: MQTT first, then the radio; a class whose policy is 'first' goes on the radio only
   *  while the broker is down ('all', the consensus default, uses every link that is up). */
  send(from: number, to: number | null, bytes: Uint8Array, cls: TrafficClass): void {
    const consensus = cls === 'consensus';
    if (!this.radio || from === operatorIndex) return this.net.send(from, to, bytes, consensus);
    this.seen[from]?.add(this.digest(bytes), this.queue.now);
    const mqttUp = !this.net.brokerDown;
    if (mqttUp) this.net.send(from, to, bytes, consensus);
    if (mqttUp && this.policy[cls] === 'first') return;
    this.radio.send(from, to, bytes, cls);
  }

  /** A validator's certified block, on the broker only (a serial radio carries votes to everyone, light
   *  followers included, and no announcements). */
  announce(from: number, bytes: Uint8Array): void {
    this.seen[from]?.add(this.digest(bytes), this.queue.now);
    this.net.announce(from, bytes);
  }

  /** 16 bytes of SHA-256, as the router keys envelopes; computed once per envelope object. */
  private digest(bytes: Uint8Array): string {
    let d = this.digests.get(bytes);
    if (d === undefined) {
      d = bytesDigest(bytes);
      this.digests.set(bytes, d);
    }
    return d;
  }

  private arrive(to: number, bytes: Uint8Array, link: 'mqtt' | 'radio', relayed: boolean, announced = false): void {
    const seen = this.seen[to];
    if (!seen) return; // the node's process is down
    if (!seen.add(this.digest(bytes), this.queue.now)) {
      this.router.duplicates++;
      return;
    }
    if (link === 'mqtt') this.router.firstByMqtt++;
    else {
      this.router.firstByRadio++;
      if (relayed) this.router.relayedDeliveries++;
    }
    this.deliver(to, bytes, announced);
  }

  /** Router.blockTxBytesHint: the radio's quarter second of airtime while the broker is down (the
   *  radio is then the only link up), no limit while it is up. */
  blockTxBytesHint(): number | undefined {
    if (!this.radioModel || !this.net.brokerDown) return undefined;
    return blockTxBytesOnAir(bytesPerSecond({ baud: this.radioModel.baud, burstBytes: this.radioModel.mtuBytes }));
  }

  radioReport(): RadioReport | null {
    if (!this.radio) return null;
    const c = this.radio.counters;
    return { ...c, dropped: { ...c.dropped }, router: { ...this.router } };
  }
}
