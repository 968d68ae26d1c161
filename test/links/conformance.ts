// The Link conformance suite: every Link implementation (in-memory, MQTT via aedes, MQTT via
// Mosquitto, serial radio) runs these same tests through a harness that knows how to build it.

import { expect, it } from 'vitest';
import type { Link, LinkCountersDetail, ReceivedFrame, TrafficClass } from '../../runtime/links/link.js';
import { Prng } from '../../runtime/lib/prng.js';

export interface BadInput {
  /** The counter reason the link must report (bad-crc, truncated, wrong-fleet, oversized, ...); undefined: any. */
  readonly reason: string | undefined;
  readonly bytes: Uint8Array;
}

export interface LinkHarness {
  readonly a: Link;
  readonly b: Link;
  /** A third link, when the transport has addressing, to check that unicast reaches only its target. */
  readonly c?: Link;
  /** Node ids of a, b and c, for unicast. */
  readonly ids: readonly string[];
  /** Writes raw bytes to b as the wire would deliver them. */
  inject(bytes: Uint8Array): Promise<void>;
  /** Bad inputs for b: random bytes, truncated, wrong CRC, oversized, wrong fleet. */
  badInputs(valid: (payload: Uint8Array) => Uint8Array): BadInput[];
  /** Wire bytes of one valid frame carrying `payload` (consensus class), for building bad inputs. */
  validWire(payload: Uint8Array): Uint8Array;
  close(): Promise<void>;
}

/** Collects frames on a link and waits for a condition with a deadline. */
export class Inbox {
  readonly frames: ReceivedFrame[] = [];
  constructor(link: Link) {
    link.onReceive((f) => this.frames.push({ ...f, bytes: new Uint8Array(f.bytes) }));
  }
  async waitFor(n: number, timeoutMs = 5_000): Promise<ReceivedFrame[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length < n && Date.now() < deadline) await sleep(5);
    return this.frames;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function waitUntil(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

export function linkConformance(makeHarness: () => Promise<LinkHarness>, opts: { messages?: number; settleMs?: number } = {}): void {
  const messages = opts.messages ?? 200;
  const prng = new Prng(2026);

  const withHarness = (fn: (h: LinkHarness) => Promise<void>) => async () => {
    const h = await makeHarness();
    try {
      await fn(h);
    } finally {
      await h.close();
    }
  };

  it(
    'is up after start and delivers a broadcast intact to the other side, with the link name',
    withHarness(async (h) => {
      expect(h.a.isUp()).toBe(true);
      expect(h.b.isUp()).toBe(true);
      const inbox = new Inbox(h.b);
      const payload = prng.bytes(100);
      expect(h.a.broadcast(payload, 'consensus')).toBe(true);
      const got = await inbox.waitFor(1);
      expect(got.length).toBe(1);
      expect(hex(got[0]?.bytes ?? new Uint8Array())).toBe(hex(payload));
      expect(got[0]?.link).toBe(h.b.name);
    }),
  );

  it(
    `delivers ${messages} mixed-class messages, each exactly once`,
    withHarness(async (h) => {
      const inbox = new Inbox(h.b);
      const sent = new Set<string>();
      const classes: TrafficClass[] = ['consensus', 'heartbeat', 'telemetry'];
      for (let i = 0; i < messages; i++) {
        const p = prng.bytes(20 + prng.int(150));
        p[0] = i & 0xff;
        p[1] = i >> 8;
        sent.add(hex(p));
        // Heartbeats keep only the newest when the queue is full: pace them so none is shed here.
        expect(h.a.broadcast(p, classes[i % 3] as TrafficClass)).toBe(true);
        if (i % 3 === 1) await sleep(1);
      }
      // A link may shed old heartbeats when it falls behind (their queue drops the oldest, counted);
      // consensus and telemetry are never lost on these loss-free transports.
      const shed = () => (h.a.counters() as LinkCountersDetail).droppedQueueFullByClass.heartbeat;
      await waitUntil(() => inbox.frames.length >= messages - shed(), 20_000, `${messages} messages (less shed heartbeats)`);
      await sleep(opts.settleMs ?? 50);
      const got = inbox.frames.map((f) => hex(f.bytes));
      expect(new Set(got).size).toBe(got.length);
      expect(got.length).toBe(messages - shed());
      expect(shed()).toBeLessThanOrEqual(messages / 10);
      for (const g of got) expect(sent.has(g)).toBe(true);
      const ca = h.a.counters() as LinkCountersDetail;
      expect(ca.droppedQueueFullByClass.consensus + ca.droppedQueueFullByClass.telemetry).toBe(0);
      expect(ca.framesSent).toBeGreaterThanOrEqual(messages - shed());
      expect(h.b.counters().framesReceived).toBeGreaterThanOrEqual(messages - shed());
    }),
  );

  it(
    'unicast reaches its target (and not a bystander, where the link has addressing)',
    withHarness(async (h) => {
      const inB = new Inbox(h.b);
      const inC = h.c ? new Inbox(h.c) : undefined;
      const payload = prng.bytes(64);
      expect(h.a.unicast(h.ids[1] as string, payload, 'consensus')).toBe(true);
      await inB.waitFor(1);
      expect(inB.frames.map((f) => hex(f.bytes))).toEqual([hex(payload)]);
      if (inC) {
        await sleep(opts.settleMs ?? 100);
        expect(inC.frames.length).toBe(0);
      }
    }),
  );

  it(
    'carries an envelope of exactly mtuBytes and refuses a larger one',
    withHarness(async (h) => {
      const inbox = new Inbox(h.b);
      const size = Math.min(h.a.mtuBytes, 64 * 1024);
      const big = prng.bytes(size);
      expect(h.a.broadcast(big, 'consensus')).toBe(true);
      await inbox.waitFor(1, 15_000);
      expect(inbox.frames.length).toBe(1);
      expect(hex(inbox.frames[0]?.bytes ?? new Uint8Array())).toBe(hex(big));
      if (h.a.mtuBytes <= 64 * 1024) {
        expect(h.a.broadcast(prng.bytes(h.a.mtuBytes + 1), 'consensus')).toBe(false);
        expect((h.a.counters() as LinkCountersDetail).refusedOversize).toBe(1);
      }
    }),
  );

  it(
    'counts and drops bad frames (random, truncated, wrong CRC, oversized, wrong fleet) and keeps working',
    withHarness(async (h) => {
      const inbox = new Inbox(h.b);
      const bad = h.badInputs((p) => h.validWire(p));
      expect(bad.length).toBeGreaterThanOrEqual(5);
      const before = h.b.counters() as LinkCountersDetail;
      for (const x of bad) await h.inject(x.bytes);
      await waitUntil(() => h.b.counters().droppedBadFrame - before.droppedBadFrame >= bad.length, 5_000, 'bad frames to be counted');
      const after = h.b.counters() as LinkCountersDetail;
      for (const x of bad) {
        if (x.reason !== undefined) expect(after.badFrameReasons[x.reason] ?? 0, `reason ${x.reason}`).toBeGreaterThan(before.badFrameReasons[x.reason] ?? 0);
      }
      expect(inbox.frames.length).toBe(0);
      // A good frame injected the same way, then a normal send, still arrive (16 bytes fit any radio packet).
      const p1 = prng.bytes(16);
      await h.inject(h.validWire(p1));
      const p2 = prng.bytes(40);
      expect(h.a.broadcast(p2, 'consensus')).toBe(true);
      await inbox.waitFor(2);
      expect(inbox.frames.map((f) => hex(f.bytes)).sort()).toEqual([hex(p1), hex(p2)].sort());
    }),
  );

  it(
    'stops cleanly: down after stop, sends refused',
    withHarness(async (h) => {
      await h.a.stop();
      expect(h.a.isUp()).toBe(false);
      expect(h.a.broadcast(prng.bytes(10), 'consensus')).toBe(false);
    }),
  );
}
