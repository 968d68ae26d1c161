// The state sync kinds (14..17): round trips, who may send them, size limits checked before decoding,
// and a chunk's envelope that fits the smallest radio MTU (an E32's 2,048-byte unicast) with the
// longest ids the wire allows.

import { beforeAll, describe, expect, it } from 'vitest';
import { hash } from '../../runtime/crypto/sodium.js';
import { limits } from '../../runtime/lib/limits.js';
import { fragmentBytesMax } from '../../runtime/links/radio-frame.js';
import { keyLookup } from '../../runtime/manifest/manifest.js';
import { encodeCbor } from '../../runtime/wire/cbor.js';
import { decodeEnvelope, openEnvelope, sealEnvelope, type OpenContext } from '../../runtime/wire/envelope.js';
import { kinds } from '../../runtime/wire/kinds.js';
import { encodeChunkRequestBody, encodeSnapshotChunkBody, encodeSnapshotOfferBody, encodeSnapshotRequestBody } from '../../runtime/wire/state-sync.js';
import { createVerifier, makeFleet, type FleetFixture } from '../support/fleet-fixture.js';

let fx: FleetFixture;
let ctx: OpenContext;

beforeAll(async () => {
  fx = await makeFleet({ validators: 4, followers: 1 });
  ctx = { fleet: fx.fleet, keyOf: keyLookup(fx.manifest), verifier: createVerifier() };
});

const open = (kind: Parameters<typeof sealEnvelope>[0], body: Uint8Array, sender = 'v1') => openEnvelope(sealEnvelope(kind, fx.fleet, sender, body, fx.signer(sender)), ctx);

describe('state sync messages', () => {
  it('have the codes docs/wire.md names', () => {
    expect([kinds['snapshot-request'].code, kinds['snapshot-offer'].code, kinds['chunk-request'].code, kinds['snapshot-chunk'].code]).toEqual([14, 15, 16, 17]);
  });

  it('round-trip: request, offer, chunk request, chunk', () => {
    const cert = { height: 41, round: 2, blockHash: hash(new Uint8Array([1])), signatures: [{ validator: 'v0', signature: new Uint8Array(64).fill(7) }] };
    const offer = { height: 40, chunkHashes: [hash(new Uint8Array([2])), hash(new Uint8Array([3]))], proofBlock: new Uint8Array([0xa0]), proofCertificate: cert, manifest: fx.manifest.bytes, nonce: 7 };
    const r1 = open('snapshot-request', encodeSnapshotRequestBody({ height: 12, nonce: 1_764_000_000_123 }));
    const r2 = open('snapshot-offer', encodeSnapshotOfferBody(offer));
    const r3 = open('chunk-request', encodeChunkRequestBody({ height: 40, first: 3, count: 16, nonce: 8 }), 'f0');
    const r4 = open('snapshot-chunk', encodeSnapshotChunkBody({ height: 40, index: 1, bytes: new Uint8Array(limits.snapshotChunkBytes).fill(9), nonce: 8 }));
    expect([r1.ok, r2.ok, r3.ok, r4.ok]).toEqual([true, true, true, true]);
    if (r1.ok && r1.value.kind === 'snapshot-request') expect(r1.value.parsed).toEqual({ height: 12, nonce: 1_764_000_000_123 });
    if (r2.ok && r2.value.kind === 'snapshot-offer') expect({ ...r2.value.parsed, chunkHashes: r2.value.parsed.chunkHashes.map((h) => Buffer.from(h).toString('hex')) }).toMatchObject({ height: 40, nonce: 7, chunkHashes: offer.chunkHashes.map((h) => Buffer.from(h).toString('hex')), proofCertificate: { height: 41, round: 2 } });
    if (r3.ok && r3.value.kind === 'chunk-request') expect(r3.value.parsed).toEqual({ height: 40, first: 3, count: 16, nonce: 8 });
    if (r4.ok && r4.value.kind === 'snapshot-chunk') expect(r4.value.parsed.bytes.length).toBe(limits.snapshotChunkBytes);
  });

  it('refuse an operator as sender, a request for too many chunks, an oversized chunk and a bad hash length', () => {
    const asOperator = open('snapshot-request', encodeSnapshotRequestBody({ height: 1, nonce: 1 }), 'op');
    expect(!asOperator.ok && asOperator.error.code).toBe('unknown-sender');
    const many = open('chunk-request', encodeChunkRequestBody({ height: 40, first: 0, count: limits.snapshotChunksPerRequestMax + 1, nonce: 1 }));
    expect(!many.ok && many.error.message).toMatch(/chunkRequest\.count must be at most 16/);
    const none = open('chunk-request', encodeChunkRequestBody({ height: 40, first: 0, count: 0, nonce: 1 }));
    expect(!none.ok && none.error.message).toMatch(/chunkRequest\.count must be at least 1/);
    const big = open('snapshot-chunk', encodeCbor([40, 0, new Uint8Array(limits.snapshotChunkBytes + 1), 1]));
    expect(!big.ok && big.error.message).toMatch(/snapshotChunk\.bytes is 1537 bytes \(limit 1536\)/);
    const shortHash = open('snapshot-offer', encodeCbor([40, [new Uint8Array(31)], new Uint8Array(1), [41, 0, new Uint8Array(32), []], fx.manifest.bytes, 1]));
    expect(!shortHash.ok && shortHash.error.message).toMatch(/snapshotOffer\.chunkHashes\[0\] must be 32 bytes/);
  });

  it('a body over the kind limit is refused by size before its CBOR is read', () => {
    const huge = new Uint8Array(kinds['snapshot-chunk'].bodyBytesMax + 1);
    const env = encodeCbor([1, 17, fx.fleet, 'v1', huge, new Uint8Array(64)]);
    const r = decodeEnvelope(env);
    expect(!r.ok && r.error).toEqual({ code: 'too-large', message: `snapshot-chunk body is ${huge.length} bytes (limit ${kinds['snapshot-chunk'].bodyBytesMax})` });
  });

  it("a full chunk's envelope with 64-character fleet and sender ids fits an E32 radio's unicast MTU", () => {
    const long = 'a'.repeat(64);
    const env = sealEnvelope('snapshot-chunk', long, long, encodeSnapshotChunkBody({ height: Number.MAX_SAFE_INTEGER, index: limits.snapshotChunksMax - 1, bytes: new Uint8Array(limits.snapshotChunkBytes), nonce: Number.MAX_SAFE_INTEGER }), fx.signer('v1'));
    const e32UnicastMtu = limits.radioFragmentsMax * fragmentBytesMax(58, true);
    expect(e32UnicastMtu).toBe(2_048);
    expect(env.length).toBeLessThanOrEqual(e32UnicastMtu);
  });

  it('a retry is never byte-identical to the request before it (routers drop repeats)', () => {
    const a = sealEnvelope('chunk-request', fx.fleet, 'v1', encodeChunkRequestBody({ height: 40, first: 0, count: 16, nonce: 1 }), fx.signer('v1'));
    const b = sealEnvelope('chunk-request', fx.fleet, 'v1', encodeChunkRequestBody({ height: 40, first: 0, count: 16, nonce: 2 }), fx.signer('v1'));
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
  });

  it('the largest offer still fits one envelope', () => {
    expect(kinds['snapshot-offer'].bodyBytesMax + 256).toBeLessThanOrEqual(limits.envelopeBytesMax);
  });
});
