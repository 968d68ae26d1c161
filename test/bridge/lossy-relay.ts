// A relay between two serial ports that loses or corrupts bytes, seeded: the "bad radio" the bridge
// tests put between the companion and the flight controller or MCU.
// Loss comes in bursts (a two-state model), as on real radios; with independent per-byte loss at 10 %
// hardly any 50-byte frame would survive (0.9^50 < 1 %), whatever the protocol. A burst may only
// start while the share lost so far is below the target, so even a short run loses about 10 %.

import { Prng } from '../../runtime/lib/prng.js';
import { openSerial, type ByteTransport } from '../../firmware-bridge/transport.js';

export interface ImpairmentOptions {
  /** Long-run fraction of bytes lost. */
  readonly lossFraction: number;
  /** Mean length of a loss burst, bytes. */
  readonly meanBurstBytes: number;
  /** Probability that a delivered byte is flipped to a random other value. */
  readonly corruptProbability: number;
}

export interface RelayCounters {
  bytesIn: number;
  bytesDropped: number;
  bytesCorrupted: number;
}

/** One direction's channel: returns the bytes that survive. */
export class Impairment {
  private bad = false;
  readonly counters: RelayCounters = { bytesIn: 0, bytesDropped: 0, bytesCorrupted: 0 };
  private readonly pBadToGood: number;
  private readonly pGoodToBad: number;

  constructor(
    private readonly o: ImpairmentOptions,
    private readonly prng: Prng,
  ) {
    this.pBadToGood = 1 / o.meanBurstBytes;
    this.pGoodToBad = o.lossFraction >= 1 ? 1 : (this.pBadToGood * o.lossFraction) / (1 - o.lossFraction);
  }

  pass(chunk: Uint8Array): Uint8Array {
    const out: number[] = [];
    for (const b of chunk) {
      this.counters.bytesIn++;
      const behind = this.counters.bytesDropped < this.o.lossFraction * this.counters.bytesIn;
      this.bad = this.bad ? !this.prng.chance(this.pBadToGood) : behind && this.prng.chance(this.pGoodToBad * 2);
      if (this.bad) {
        this.counters.bytesDropped++;
        continue;
      }
      if (this.prng.chance(this.o.corruptProbability)) {
        this.counters.bytesCorrupted++;
        out.push((b ^ (1 + this.prng.int(255))) & 0xff);
      } else {
        out.push(b);
      }
    }
    return Uint8Array.from(out);
  }
}

export interface Relay {
  readonly forward: Impairment;
  readonly backward: Impairment;
  close(): Promise<void>;
}

/** Opens both ports and relays a→b through `forward`, b→a through `backward`. */
export async function startRelay(pathA: string, pathB: string, o: ImpairmentOptions, seed: number): Promise<Relay> {
  const prng = new Prng(seed);
  const a: ByteTransport = await openSerial({ path: pathA, baudRate: 921_600 });
  const b: ByteTransport = await openSerial({ path: pathB, baudRate: 921_600 });
  const forward = new Impairment(o, prng.split('forward'));
  const backward = new Impairment(o, prng.split('backward'));
  a.onData((c) => {
    const p = forward.pass(c);
    if (p.length > 0) b.write(p);
  });
  b.onData((c) => {
    const p = backward.pass(c);
    if (p.length > 0) a.write(p);
  });
  return {
    forward,
    backward,
    close: async () => {
      await a.close();
      await b.close();
    },
  };
}
