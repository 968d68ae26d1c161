// The Link conformance suite on the in-memory hub, plus its queue behaviour.

import { describe, expect, it } from 'vitest';
import { bulkEnvelope, ClassQueue } from '../../runtime/links/class-queue.js';
import { createSigner, generateKeyPair, initCrypto } from '../../runtime/crypto/sodium.js';
import { sealEnvelope } from '../../runtime/wire/envelope.js';
import { encodeFrame, fleetTag } from '../../runtime/links/frame.js';
import { MemoryHub } from '../../runtime/links/memory-link.js';
import { limits } from '../../runtime/lib/limits.js';
import { Prng } from '../../runtime/lib/prng.js';
import { frameBadInputs } from './frame-bad-inputs.js';
import { linkConformance, type LinkHarness } from './conformance.js';

const fleet = 'conf-fleet';

async function memoryHarness(): Promise<LinkHarness> {
  const hub = new MemoryHub({ mtuBytes: 16_384 });
  const [a, b, c] = ['a', 'b', 'c'].map((n) => hub.link(n, fleet));
  if (!a || !b || !c) throw new Error('links');
  for (const l of [a, b, c]) await l.start();
  const validWire = (p: Uint8Array) => encodeFrame(fleetTag(fleet), 'consensus', p);
  return {
    a,
    b,
    c,
    ids: ['a', 'b', 'c'],
    inject: async (bytes) => hub.inject('b', bytes, 'mallory'),
    validWire,
    badInputs: () => frameBadInputs(validWire, hub.mtuBytes),
    close: async () => {
      for (const l of [a, b, c]) await l.stop();
    },
  };
}

describe('in-memory link: conformance', () => {
  linkConformance(memoryHarness);
});

describe('class queue', () => {
  it('drains consensus first, sheds old heartbeats and old telemetry, refuses consensus when full, and counts by class', () => {
    const drops: string[] = [];
    const q = new ClassQueue<number>({ consensus: 1, heartbeat: 2, telemetry: 1 }, (cls) => drops.push(cls));
    expect(q.push('telemetry', 1)).toBe(true);
    // Only the newest position says anything: the older report goes, the newer stays.
    expect(q.push('telemetry', 2)).toBe(true);
    expect(q.push('heartbeat', 3)).toBe(true);
    expect(q.push('heartbeat', 4)).toBe(true);
    expect(q.push('heartbeat', 5)).toBe(true);
    expect(q.push('consensus', 6)).toBe(true);
    expect(q.push('consensus', 7)).toBe(false); // a vote is never dropped for a newer one
    expect([q.shift()?.item, q.shift()?.item, q.shift()?.item, q.shift()?.item, q.shift()]).toEqual([6, 4, 5, 2, undefined]);
    expect(drops).toEqual(['telemetry', 'heartbeat', 'consensus']);
  });

  it('bounds each lane by bytes too: consensus refuses past it, telemetry and heartbeats shed their oldest, and says which bound', () => {
    const drops: string[] = [];
    const q = new ClassQueue<string>({ consensus: 100, heartbeat: 100, telemetry: 100 }, (cls, bound) => drops.push(`${cls} ${bound}`), { max: { consensus: 10, heartbeat: 10, telemetry: 10 }, of: (s) => s.length });
    expect(q.push('consensus', 'aaaa')).toBe(true);
    expect(q.push('consensus', 'bbbb')).toBe(true);
    expect(q.push('consensus', 'ccc')).toBe(false); // 11 bytes: refused, though 98 places are free
    expect(q.push('consensus', 'dd')).toBe(true); // 10 bytes exactly
    expect(q.push('consensus', 'sync 1234', true)).toBe(true); // the bulk lane has a budget of its own
    expect(q.push('telemetry', 'p1-----')).toBe(true);
    expect(q.push('telemetry', 'p2--')).toBe(true); // 11 bytes: p1 goes, the newest stays
    expect(q.push('telemetry', 'p3---')).toBe(true);
    expect(q.push('telemetry', 'far too long')).toBe(false); // larger than the whole lane: refused
    expect(q.bytes).toBe(10 + 9 + 9);
    expect(drops).toEqual(['consensus bytes', 'telemetry bytes', 'telemetry bytes']);
    expect([q.shift()?.item, q.shift()?.item, q.shift()?.item, q.shift()?.item, q.shift()?.item, q.shift()?.item]).toEqual(['aaaa', 'bbbb', 'dd', 'sync 1234', 'p2--', 'p3---']);
    expect(q.bytes).toBe(0);
    expect(q.push('consensus', 'eeeeeeeeee')).toBe(true); // what was sent no longer counts
    expect(q.removeWhere('consensus', () => true)).toBe(1);
    expect(q.bytes).toBe(0);
  });

  it("consensus's bulk lane (block and state sync for a peer catching up) drains after heartbeats, before telemetry", async () => {
    const q = new ClassQueue<string>({ consensus: 2, heartbeat: 2, telemetry: 2 });
    expect(q.push('telemetry', 'telemetry')).toBe(true);
    expect(q.push('consensus', 'sync 1', true)).toBe(true);
    expect(q.push('consensus', 'sync 2', true)).toBe(true);
    expect(q.room('consensus', true)).toBe(0);
    expect(q.room('consensus')).toBe(2); // the live height's lane is not filled by bulk
    expect(q.push('consensus', 'sync 3', true)).toBe(false);
    expect(q.push('heartbeat', 'heartbeat')).toBe(true);
    expect(q.push('consensus', 'vote')).toBe(true);
    expect(q.peekClass('consensus')).toBe('vote');
    expect(q.peekClass('consensus', true)).toBe('sync 1');
    expect(q.length).toBe(5);
    expect(q.shift()).toEqual({ cls: 'consensus', item: 'vote', bulk: false });
    expect(q.shift()).toEqual({ cls: 'heartbeat', item: 'heartbeat', bulk: false });
    expect(q.removeWhere('consensus', (x) => x === 'sync 1')).toBe(1); // consensus covers both lanes
    expect(q.shift()).toEqual({ cls: 'consensus', item: 'sync 2', bulk: true });
    expect(q.shift()?.item).toBe('telemetry');
    // Which envelopes are bulk: by kind, from the envelope's header.
    await initCrypto();
    const signer = createSigner(generateKeyPair());
    const seal = (kind: Parameters<typeof sealEnvelope>[0]) => sealEnvelope(kind, fleet, 'n1', new Uint8Array(8), signer);
    expect(['sync-response', 'snapshot-offer', 'snapshot-chunk'].map((k) => bulkEnvelope(seal(k as 'sync-response')))).toEqual([true, true, true]);
    expect(['proposal', 'prevote', 'precommit', 'status', 'sync-request', 'evidence', 'heartbeat'].map((k) => bulkEnvelope(seal(k as 'prevote')))).toEqual([false, false, false, false, false, false, false]);
    expect(bulkEnvelope(new Uint8Array([1, 2, 3]))).toBe(false);
  });

  it('a link whose queue is full refuses consensus, sheds its oldest telemetry, and counts the drops by class', async () => {
    const hub = new MemoryHub({ schedule: () => {} }); // never drains
    const a = hub.link('a', fleet, { queueSizes: { consensus: 3, heartbeat: 1, telemetry: 2 } });
    await a.start();
    const p = new Prng(1).bytes(10);
    expect(Array.from({ length: 5 }, () => a.broadcast(p, 'telemetry'))).toEqual([true, true, true, true, true]);
    expect(Array.from({ length: 4 }, () => a.broadcast(p, 'consensus'))).toEqual([true, true, true, false]);
    expect(a.counters().droppedQueueFullByClass).toEqual({ consensus: 1, heartbeat: 0, telemetry: 3 });
    expect(a.counters().droppedQueueFull).toBe(4);
  });
});

describe('memory link queue by bytes', () => {
  it('holds at most linkConsensusQueueBytesMax of consensus and linkTelemetryQueueBytesMax of telemetry, as MQTT does, counts the byte drops, and delivers what it held', async () => {
    const pending: (() => void)[] = [];
    const hub = new MemoryHub({ schedule: (fn) => pending.push(fn) }); // drains when the test says
    const [a, b] = ['a', 'b'].map((n) => hub.link(n, fleet)) as [ReturnType<MemoryHub['link']>, ReturnType<MemoryHub['link']>];
    await a.start();
    await b.start();
    const got: number[] = [];
    b.onReceive((f) => got.push(f.bytes.length));
    // Twenty 1 MB blocks in one burst: 1,024 places took all twenty, 20 MB held until the drain.
    const block = new Uint8Array(limits.envelopeBytesMax).fill(3);
    const blocksAccepted = Array.from({ length: 20 }, () => a.broadcast(block, 'consensus')).filter(Boolean).length;
    const fit = Math.floor(limits.linkConsensusQueueBytesMax / (block.length + limits.linkFrameOverheadBytes));
    expect(blocksAccepted).toBe(fit);
    // Telemetry keeps the newest that fit, by bytes; the oldest go.
    const report = new Uint8Array(300_000).fill(5);
    for (let i = 0; i < 10; i++) expect(a.broadcast(report, 'telemetry')).toBe(true);
    const keptTelemetry = Math.floor(limits.linkTelemetryQueueBytesMax / (report.length + limits.linkFrameOverheadBytes));
    const c = a.counters();
    expect(c.droppedQueueBytesByClass).toEqual({ consensus: 20 - fit, heartbeat: 0, telemetry: 10 - keptTelemetry });
    expect(c.droppedQueueFullByClass).toEqual({ consensus: 20 - fit, heartbeat: 0, telemetry: 10 - keptTelemetry });
    for (let i = 0; i < 10 && pending.length > 0; i++) pending.shift()?.();
    expect(got).toEqual([...Array.from({ length: fit }, () => block.length), ...Array.from({ length: keptTelemetry }, () => report.length)]);
    // What was sent no longer counts: a block fits again.
    expect(a.broadcast(block, 'consensus')).toBe(true);
  });
});

describe('memory hub faults', () => {
  it('drops copies the filter refuses (a partition) and counts them', async () => {
    const cut = new Set(['a>c', 'c>a']);
    const hub = new MemoryHub({ filter: (from, to) => !cut.has(`${from}>${to}`) });
    const [a, b, c] = ['a', 'b', 'c'].map((n) => hub.link(n, fleet)) as [ReturnType<MemoryHub['link']>, ReturnType<MemoryHub['link']>, ReturnType<MemoryHub['link']>];
    for (const l of [a, b, c]) await l.start();
    const got: string[] = [];
    b.onReceive(() => got.push('b'));
    c.onReceive(() => got.push('c'));
    a.broadcast(Uint8Array.of(1, 2, 3), 'consensus');
    a.unicast('c', Uint8Array.of(4), 'consensus');
    await new Promise((r) => setTimeout(r, 20));
    expect(got).toEqual(['b']);
    expect(hub.lost).toBe(2);
  });
});
