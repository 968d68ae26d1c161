// The radio's outbound queue under load: each lane's guaranteed share of what is sent (a radio that live
// consensus fills still sends heartbeats and block-sync answers), and relays of others' frames behind the
// device's own in the lane of their class.

import { describe, expect, it } from 'vitest';
import { bulkEnvelope, bulkEnvelopeStart, ClassQueue, radioLaneShares } from '../../runtime/links/class-queue.js';
import { createSigner, generateKeyPair, initCrypto } from '../../runtime/crypto/sodium.js';
import { fragmentBytesMax } from '../../runtime/links/radio-frame.js';
import { sealEnvelope } from '../../runtime/wire/envelope.js';

interface Item {
  readonly name: string;
  readonly bytes: number;
}

const sizes = { consensus: 1_000, heartbeat: 1_000, telemetry: 1_000 };
const bytesOf = { max: { consensus: 1e9, heartbeat: 1e9, telemetry: 1e9 }, of: (i: Item) => i.bytes };

/** Keeps every lane full (refilled after each send) and returns the bytes each lane got out of `sends`. */
function saturate(q: ClassQueue<Item>, sends: number): Record<string, number> {
  const got: Record<string, number> = { consensus: 0, heartbeat: 0, bulk: 0, telemetry: 0 };
  const fill = () => {
    while (q.room('consensus') > 0 && q.peekClass('consensus') === undefined) q.push('consensus', { name: 'vote', bytes: 252 });
    if (q.peekClass('consensus', true) === undefined) q.push('consensus', { name: 'block', bytes: 252 }, true);
    if (q.peekClass('heartbeat') === undefined) q.push('heartbeat', { name: 'beat', bytes: 180 });
    if (q.peekClass('telemetry') === undefined) q.push('telemetry', { name: 'position', bytes: 120 });
  };
  for (let i = 0; i < sends; i++) {
    fill();
    const s = q.shift();
    if (!s) break;
    const lane = s.bulk ? 'bulk' : s.cls;
    got[lane] = (got[lane] ?? 0) + s.item.bytes;
  }
  return got;
}

describe('lane shares on a radio that live consensus fills', () => {
  it('sends heartbeats, block-sync answers and telemetry at least their share of the bytes, and consensus the rest', () => {
    const shares = radioLaneShares(0.1);
    const got = saturate(new ClassQueue<Item>(sizes, () => {}, bytesOf, shares), 2_000);
    const total = Object.values(got).reduce((a, b) => a + b, 0);
    // Before: strict order sent consensus only (0 heartbeats, 0 block-sync answers).
    expect(got.heartbeat! / total).toBeGreaterThanOrEqual(shares.heartbeat - 0.01);
    expect(got.bulk! / total).toBeGreaterThanOrEqual(shares.bulk - 0.01);
    expect(got.telemetry! / total).toBeGreaterThanOrEqual(shares.telemetry - 0.01);
    expect(got.consensus! / total).toBeGreaterThanOrEqual(1 - shares.heartbeat - shares.bulk - shares.telemetry - 0.01);
  });

  it('still drains in strict order without shares (MQTT and in-memory links)', () => {
    const got = saturate(new ClassQueue<Item>(sizes, () => {}, bytesOf), 500);
    expect(got).toEqual({ consensus: 500 * 252, heartbeat: 0, bulk: 0, telemetry: 0 });
  });

  it('sends consensus first while no other lane is owed its share, and a lane that empties saves none up', () => {
    const q = new ClassQueue<Item>(sizes, () => {}, bytesOf, radioLaneShares(0.1));
    for (let i = 0; i < 20; i++) q.push('consensus', { name: `vote ${i}`, bytes: 100 });
    q.push('heartbeat', { name: 'beat', bytes: 100 });
    const order: string[] = [];
    for (let s = q.shift(); s; s = q.shift()) order.push(s.item.name);
    // The heartbeat earns 10 bytes per 100 sent: owed its 100 after ten votes.
    expect(order.indexOf('beat')).toBe(10);
    // The votes after it went while the heartbeat lane was empty, so it is owed nothing now: ten votes
    // go before a new heartbeat again, not one.
    for (let i = 0; i < 20; i++) q.push('consensus', { name: `later ${i}`, bytes: 100 });
    q.push('heartbeat', { name: 'beat 2', bytes: 100 });
    const later: string[] = [];
    for (let s = q.shift(); s; s = q.shift()) later.push(s.item.name);
    expect(later.indexOf('beat 2')).toBe(10);
    expect(q.length).toBe(0);
  });

  it('refuses shares that leave live consensus nothing', () => {
    expect(() => new ClassQueue<Item>(sizes, () => {}, bytesOf, { heartbeat: 0.5, bulk: 0.45, telemetry: 0.05 })).toThrow(/sum below 1/);
  });
});

describe('relays in the lane of their class, behind the own items there', () => {
  it('sends own items of a lane before relays queued earlier, and a bulk relay stays in the bulk lane', () => {
    const q = new ClassQueue<string>({ consensus: 10, heartbeat: 10, telemetry: 10 });
    q.push('consensus', 'relayed vote', false, 'relay');
    q.push('consensus', 'relayed block-sync answer', true, 'relay');
    q.push('consensus', 'own vote');
    q.push('consensus', 'own block-sync answer', true);
    expect(q.peekClass('consensus')).toBe('own vote');
    const order: string[] = [];
    for (let s = q.shift(); s; s = q.shift()) order.push(`${s.item}${s.bulk ? ' (bulk)' : ''}`);
    expect(order).toEqual(['own vote', 'relayed vote', 'own block-sync answer (bulk)', 'relayed block-sync answer (bulk)']);
  });

  it('sheds a relayed heartbeat before its own when the heartbeat lane is full, by count and by bytes', () => {
    const q = new ClassQueue<string>({ consensus: 2, heartbeat: 2, telemetry: 2 }, () => {}, { max: { consensus: 100, heartbeat: 10, telemetry: 100 }, of: (s) => s.length });
    q.push('heartbeat', 'own1');
    q.push('heartbeat', 'rel1', false, 'relay');
    expect(q.push('heartbeat', 'own2')).toBe(true); // full by count: rel1 goes, not own1
    expect([...[q.peekClass('heartbeat')]]).toEqual(['own1']);
    expect(q.bytes).toBe(8);
    q.push('heartbeat', 'rel2', false, 'relay'); // full by count again: the oldest own goes
    expect(q.shift()?.item).toBe('own2');
    expect(q.shift()?.item).toBe('rel2');
    expect(q.bytes).toBe(0);
  });
});

describe('a relay knows a block-sync answer from its first fragment', () => {
  it('tells bulk from live consensus on the first radio fragment of an envelope, as bulkEnvelope does on the whole', async () => {
    await initCrypto();
    const signer = createSigner(generateKeyPair());
    const first = (e: Uint8Array) => e.subarray(0, fragmentBytesMax(252, false));
    const answer = sealEnvelope('sync-response', 'f', 'n1', new Uint8Array(1_500), signer);
    const proposal = sealEnvelope('proposal', 'f', 'n1', new Uint8Array(1_500), signer);
    expect([bulkEnvelope(first(answer)), bulkEnvelopeStart(first(answer))]).toEqual([false, true]); // the whole-envelope check cannot
    expect(bulkEnvelopeStart(first(proposal))).toBe(false);
    expect(bulkEnvelopeStart(new Uint8Array([0x86]))).toBe(false);
  });
});
