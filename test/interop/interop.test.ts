// Interop with an independent implementation of docs/wire.md (Debian's python3-nacl and python3-cbor2,
// which import only under /usr/bin/python3). Python signs, Murmur verifies; Murmur signs, Python verifies.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hash, keyPairFromSeed, createSigner } from '../../runtime/crypto/sodium.js';
import { fromHex, toHex, utf8 } from '../../runtime/lib/bytes.js';
import { signManifest, keyLookup } from '../../runtime/manifest/manifest.js';
import { unwrap } from '../../runtime/lib/result.js';
import { encodeBlock, zeroHash } from '../../runtime/wire/block.js';
import { decodeCbor, encodeCbor } from '../../runtime/wire/cbor.js';
import { certificateToCbor, type CommitCertificate } from '../../runtime/wire/certificate.js';
import { encodeCommandBody } from '../../runtime/wire/command.js';
import { openEnvelope, sealEnvelope } from '../../runtime/wire/envelope.js';
import { signingBytes } from '../../runtime/wire/signing.js';
import { encodeVoteBody } from '../../runtime/wire/vote.js';
import { encodeTelemetryBody, parseTelemetryBody, type TelemetryBody } from '../../runtime/wire/telemetry.js';
import { encodeProof } from '../../runtime/wire/proof.js';
import { decodeFrame, fleetTag } from '../../runtime/links/frame.js';
import { createVerifier, makeFleet, type FleetFixture } from '../support/fleet-fixture.js';

const python = '/usr/bin/python3';
const script = join(import.meta.dirname, 'wire_interop.py');
const py = (...args: string[]) => execFileSync(python, [script, ...args], { encoding: 'utf8', timeout: 30_000 }).trim();

const operatorSeed = 'c0ffee01'.repeat(8); // 32 bytes
let fx: FleetFixture;
const dir = mkdtempSync(join(tmpdir(), 'murmur-interop-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(async () => {
  const base = await makeFleet({ validators: 4, powers: [2, 1, 1, 1], operators: [] });
  // Replace the operator with one whose key Python derives from a known seed.
  const operatorKey = keyPairFromSeed(fromHex(operatorSeed) as Uint8Array);
  const body = { ...base.manifest.body, operators: [{ id: 'alice', publicKey: operatorKey.publicKey, roles: ['operator' as const] }] };
  const manifest = unwrap(signManifest(body, createSigner(base.authority)));
  fx = { ...base, manifest };
});

describe('docs/wire.md against an independent Python implementation', () => {
  it('Python signs an operator command; Murmur verifies it and reads every field', () => {
    const issuedAt = 1_764_000_000_000; // above 2^32: a 64-bit CBOR integer
    const [hex = '', frameHex = ''] = py('sign-command', operatorSeed, fx.fleet, 'alice', '11'.repeat(16), String(issuedAt), 'mission.goto', JSON.stringify({ waypoints: [[47.39, 8.54, 30]], group: 'all' })).split('\n');
    // The link frame Python built from the document is the one Murmur's links read on the commands topic.
    const frame = decodeFrame(fromHex(frameHex) as Uint8Array, fleetTag(fx.fleet), 1_048_576);
    expect(frame.ok ? toHex(frame.value.envelope) : frame.error).toBe(hex);
    expect(frame.ok && frame.value.cls).toBe('consensus');
    const r = openEnvelope(fromHex(hex) as Uint8Array, { fleet: fx.fleet, keyOf: keyLookup(fx.manifest), verifier: createVerifier() });
    expect(r.ok ? 'ok' : r.error.message).toBe('ok');
    if (r.ok && r.value.kind === 'command') {
      expect(r.value.parsed).toMatchObject({ type: 'mission.goto', issuedAt, expiresAt: issuedAt + 60_000, args: { waypoints: [[47.39, 8.54, 30]], group: 'all' } });
      expect(toHex(r.value.parsed.nonce)).toBe('11'.repeat(16));
    }
  });

  it('a Python-signed command for another fleet, or by an unknown operator, is refused', () => {
    const [other = ''] = py('sign-command', operatorSeed, 'other-fleet', 'alice', '22'.repeat(16), '1764000000000', 'noop', '{}').split('\n');
    const r1 = openEnvelope(fromHex(other) as Uint8Array, { fleet: fx.fleet, keyOf: keyLookup(fx.manifest), verifier: createVerifier() });
    expect(!r1.ok && r1.error.code).toBe('wrong-fleet');
    const [stranger = ''] = py('sign-command', '01'.repeat(32), fx.fleet, 'alice', '33'.repeat(16), '1764000000000', 'noop', '{}').split('\n');
    const r2 = openEnvelope(fromHex(stranger) as Uint8Array, { fleet: fx.fleet, keyOf: keyLookup(fx.manifest), verifier: createVerifier() });
    expect(!r2.ok && r2.error.code).toBe('bad-signature');
  });

  it("device telemetry, a handover's tenth element included: Python encodes the same body bytes from docs/wire.md, and reads a Murmur-signed report", () => {
    const base = { node: 'v1', session: 7, seq: 2 ** 40, northDm: -1_234, eastDm: 10_000_000, altDm: 300, batteryPermille: -1, completed: '' };
    const mission = `${'o'.repeat(64)}/${'ab'.repeat(16)}`; // the longest a command ref is
    const bodies: TelemetryBody[] = [
      { ...base, completed: 'alice/01' },
      { ...base, progress: { mission, flown: 65_535 } },
      { ...base, handedOver: mission }, // null in the ninth, the handover in the tenth
      { ...base, progress: { mission: 'alice/02', flown: 3 }, handedOver: 'alice/02' },
    ];
    for (const b of bodies) {
      const hex = py('encode-telemetry', JSON.stringify(b));
      expect(hex, JSON.stringify(b)).toBe(toHex(encodeTelemetryBody(b)));
      const read = decodeCbor(fromHex(hex) as Uint8Array, 256);
      expect(read.ok ? parseTelemetryBody(read.value) : read.error).toEqual(b);
    }
    const handed = bodies[2] as TelemetryBody;
    const manifestFile = join(dir, 'telemetry.manifest');
    const envelopeFile = join(dir, 'telemetry.envelope');
    writeFileSync(manifestFile, fx.manifest.bytes);
    writeFileSync(envelopeFile, sealEnvelope('telemetry', fx.fleet, 'v1', encodeTelemetryBody(handed), fx.signer('v1')));
    expect(JSON.parse(py('read-telemetry', manifestFile, envelopeFile))).toEqual({ signature: true, bytes: encodeTelemetryBody(handed).length, elements: 10, node: 'v1', sender: 'v1', seq: 2 ** 40, northDm: -1_234, batteryPermille: -1, completed: '', progress: null, handedOver: mission });
    // Signed by another device than the one it names: the signature holds, the node differs (the
    // mission adapter ignores such a report: runtime/device/mission-adapter.ts).
    writeFileSync(envelopeFile, sealEnvelope('telemetry', fx.fleet, 'v2', encodeTelemetryBody(handed), fx.signer('v2')));
    expect(JSON.parse(py('read-telemetry', manifestFile, envelopeFile))).toMatchObject({ signature: true, node: 'v1', sender: 'v2' });
  });

  const proofs: Record<string, Record<string, unknown>> = {};
  function writeCase(name: string, signers: string[], forge = false) {
    const command = sealEnvelope('command', fx.fleet, 'alice', encodeCommandBody({ type: 'noop', nonce: new Uint8Array(16).fill(9), issuedAt: 1_764_000_000_000, expiresAt: 1_764_000_060_000, args: {} }), createSigner(keyPairFromSeed(fromHex(operatorSeed) as Uint8Array)));
    const block = encodeBlock({ height: 42, parent: hash(utf8('41')), timeMs: 1_764_000_000_500, proposer: 'v1', txs: [command], lastCommit: null, manifestHash: fx.manifest.hash, appHash: zeroHash });
    const blockHash = hash(block);
    const msg = signingBytes('precommit', fx.fleet, encodeVoteBody({ height: 42, round: 3, blockHash }));
    const cert: CommitCertificate = {
      height: 42,
      round: 3,
      blockHash,
      signatures: [...signers].sort().map((v) => ({ validator: v, signature: fx.signer(forge && v === signers[0] ? 'v3' : v).sign(msg) })),
    };
    const files = ['manifest', 'command', 'cert', 'block'].map((f) => join(dir, `${name}.${f}`));
    writeFileSync(files[0] as string, fx.manifest.bytes);
    writeFileSync(files[1] as string, command);
    writeFileSync(files[2] as string, encodeCbor(certificateToCbor(cert)));
    writeFileSync(files[3] as string, block);
    const proofFile = join(dir, `${name}.proof`);
    writeFileSync(proofFile, encodeProof(block, cert));
    proofs[name] = JSON.parse(py('verify-proof', files[0] as string, proofFile, files[1] as string)) as Record<string, unknown>;
    return JSON.parse(py('verify', files[0] as string, toHex(fx.authority.publicKey), ...(files.slice(1) as string[]))) as Record<string, unknown>;
  }

  it('Murmur signs a manifest, a command and a commit certificate; Python verifies all three', () => {
    expect(writeCase('good', ['v0', 'v1', 'v2'])).toEqual({ manifest: true, command: true, commandType: 'noop', blockHashMatches: true, certificate: true, signedPower: 4, totalPower: 5 });
    // The block proof devices publish, checked from docs/wire.md alone.
    expect(proofs.good).toEqual({ certificate: true, blockHashMatches: true, heightMatches: true, holdsCommand: true });
  });

  it('Python rejects a certificate short of 2/3 of the power, and one with a forged signature', () => {
    expect(writeCase('short', ['v1', 'v2', 'v3'])).toMatchObject({ certificate: false, signedPower: 3, totalPower: 5 });
    expect(writeCase('forged', ['v0', 'v1', 'v2'], true)).toMatchObject({ certificate: false });
    expect(proofs.short).toMatchObject({ certificate: false, holdsCommand: true });
    expect(proofs.forged).toMatchObject({ certificate: false });
  });
});
