// Serial benchmark over a socat pty pair: goodput through framing (COBS, CRC, fragment headers,
// airtime budget) against the raw byte rate of the configured baud, at a 252-byte radio packet.
// Ptys do not enforce a baud rate (baseline.md §5), so the throttled run is paced by the link's own
// airtime budget; an unthrottled run compares the framing against raw pty writes as CPU cost.

import { performance } from 'node:perf_hooks';
import { SerialPort } from 'serialport';
import { PtyPair } from '../processes.js';
import { fragmentBytesMax } from '../../../runtime/links/radio-frame.js';
import { SerialLink } from '../../../runtime/links/serial-link.js';

export interface SerialResult {
  readonly case: string;
  readonly baud: number;
  readonly packetBytes: number;
  readonly envelopeBytes: number;
  /** Envelope bytes delivered per second. */
  readonly goodputBytesPerSec: number;
  /** What the wire could carry: baud / 10 for 8N1, or the measured raw pty rate. */
  readonly rawBytesPerSec: number;
  readonly ratio: number;
}

async function goodput(baud: number, packetBytes: number, envelopeBytes: number, seconds: number, throttle: boolean, airBitsPerSec?: number): Promise<number> {
  const pair = await PtyPair.start();
  const air = airBitsPerSec === undefined ? {} : { airBitsPerSec };
  const a = new SerialLink({ fleet: 'bench', node: 'a', paths: [pair.a], baud, packetBytes, throttle, ...air });
  const b = new SerialLink({ fleet: 'bench', node: 'b', paths: [pair.b], baud, packetBytes, throttle, ...air });
  await a.start();
  await b.start();
  let bytes = 0;
  let wake: () => void = () => {};
  b.onReceive((f) => {
    bytes += f.bytes.length;
    wake();
  });
  const env = Buffer.alloc(envelopeBytes, 0x5a);
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  // Measure after a warm-up, so the budget's initial burst does not inflate the rate.
  const warmUpMs = Math.min(1_000, (seconds * 1000) / 4);
  let seq = 0;
  let firstAt = 0;
  let firstBytes = 0;
  while (performance.now() < end) {
    // Keep the queue fed but short so the measurement is the link's pace, not a backlog.
    while (a.queued() < 16) {
      env.writeUInt32BE(seq++, 0);
      if (!a.broadcast(env, 'consensus')) break;
    }
    await new Promise<void>((r) => {
      wake = r;
      setTimeout(r, 50);
    });
    if (firstAt === 0 && bytes > 0 && performance.now() - t0 > warmUpMs) {
      firstAt = performance.now();
      firstBytes = bytes;
    }
  }
  const rate = (bytes - firstBytes) / ((performance.now() - firstAt) / 1000);
  await a.stop();
  await b.stop();
  await pair.stop();
  return rate;
}

/** Raw bytes through the pty in packet-sized writes, no framing: what the framing is compared to. */
async function rawPtyRate(packetBytes: number, totalBytes: number): Promise<number> {
  const pair = await PtyPair.start();
  const a = new SerialPort({ path: pair.a, baudRate: 115_200, autoOpen: false });
  const b = new SerialPort({ path: pair.b, baudRate: 115_200, autoOpen: false });
  await new Promise<void>((r, j) => a.open((e) => (e ? j(e) : r())));
  await new Promise<void>((r, j) => b.open((e) => (e ? j(e) : r())));
  let got = 0;
  const done = new Promise<void>((r) =>
    b.on('data', (d: Buffer) => {
      got += d.length;
      if (got >= totalBytes) r();
    }),
  );
  const chunk = Buffer.alloc(packetBytes, 0x5a);
  const t0 = performance.now();
  for (let sent = 0; sent < totalBytes; sent += packetBytes) {
    if (!a.write(chunk)) await new Promise<void>((r) => a.drain(() => r()));
    if ((sent / packetBytes) % 64 === 0) await new Promise((r) => setImmediate(r));
  }
  await done;
  const rate = totalBytes / ((performance.now() - t0) / 1000);
  await new Promise<void>((r) => a.close(() => r()));
  await new Promise<void>((r) => b.close(() => r()));
  await pair.stop();
  return rate;
}

export async function runSerialBench(opts: { seconds: number }): Promise<SerialResult[]> {
  const out: SerialResult[] = [];
  const baud = 57_600;
  const packet = 252;
  const full = 10 * fragmentBytesMax(packet, false); // ten full fragments
  for (const env of [full, 110]) {
    const g = await goodput(baud, packet, env, opts.seconds, true);
    const raw = baud / 10;
    out.push({ case: env === 110 ? 'SiK 57600, one 110-byte vote per packet' : 'SiK 57600, full fragments', baud, packetBytes: packet, envelopeBytes: env, goodputBytesPerSec: Math.round(g), rawBytesPerSec: raw, ratio: Math.round((g / raw) * 1000) / 1000 });
  }
  const e32Env = 2 * fragmentBytesMax(58, false);
  const e32 = await goodput(9_600, 58, e32Env, Math.max(opts.seconds, 6), true, 2_400);
  out.push({ case: 'E32 LoRa, 2.4 kbps air, 58-byte packets', baud: 9_600, packetBytes: 58, envelopeBytes: e32Env, goodputBytesPerSec: Math.round(e32), rawBytesPerSec: 240, ratio: Math.round((e32 / 240) * 1000) / 1000 });
  const rawPty = await rawPtyRate(packet, 4_000_000);
  const unthrottled = await goodput(baud, packet, full, Math.min(opts.seconds, 3), false);
  out.push({ case: 'unthrottled pty: framing vs raw 252-byte writes', baud, packetBytes: packet, envelopeBytes: full, goodputBytesPerSec: Math.round(unthrottled), rawBytesPerSec: Math.round(rawPty), ratio: Math.round((unthrottled / rawPty) * 1000) / 1000 });
  return out;
}
