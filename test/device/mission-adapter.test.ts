// The mission adapter: committed envelopes become mission inputs; telemetry counts only for its signer,
// and a fleet.update manifest is checked (authority, fleet) before the mission machine sees it.

import { beforeAll, describe, expect, it } from 'vitest';
import { createSigner, generateKeyPair } from '../../runtime/crypto/sodium.js';
import { unwrap } from '../../runtime/lib/result.js';
import { signManifest } from '../../runtime/manifest/manifest.js';
import { membersOf, missionTxOf } from '../../runtime/device/mission-adapter.js';
import { encodeCommandBody } from '../../runtime/wire/command.js';
import { sealEnvelope } from '../../runtime/wire/envelope.js';
import { encodeTelemetryBody, parseTelemetryBody } from '../../runtime/wire/telemetry.js';
import { decodeCbor, encodeCbor } from '../../runtime/wire/cbor.js';
import { limits } from '../../runtime/lib/limits.js';
import { createVerifier, makeFleet, type FleetFixture } from '../support/fleet-fixture.js';

let f: FleetFixture;
let ctx: Parameters<typeof missionTxOf>[1];

beforeAll(async () => {
  f = await makeFleet({ validators: 4, operators: [{ id: 'boss', roles: ['admin'] }] });
  ctx = { manifestAt: () => f.manifest, verifier: createVerifier(), authority: f.authority.publicKey };
});

const telemetry = (sender: string, node: string): Uint8Array =>
  sealEnvelope('telemetry', f.fleet, sender, encodeTelemetryBody({ node, session: 1, seq: 7, northDm: 123, eastDm: -45, altDm: 100, batteryPermille: 870, completed: '' }), f.signer(sender));

function fleetUpdate(manifest: Uint8Array): Uint8Array {
  const body = encodeCommandBody({ type: 'fleet.update', nonce: new Uint8Array(16).fill(9), issuedAt: 1, expiresAt: 2, args: { manifest } });
  return sealEnvelope('command', f.fleet, 'boss', body, f.signer('boss'));
}

describe('mission adapter', () => {
  it('reads the members in force: validators then followers, operators with roles', () => {
    expect(membersOf(f.manifest)).toEqual({ epoch: 1, devices: ['v0', 'v1', 'v2', 'v3'], operators: [{ id: 'boss', roles: ['admin'] }] });
  });

  it('reads the progress a telemetry report may carry as its ninth element, and an eight-element report as before', () => {
    const body = { node: 'v1', session: 1, seq: 8, northDm: 1, eastDm: 2, altDm: 300, batteryPermille: 800, completed: '' };
    const withProgress = encodeTelemetryBody({ ...body, progress: { mission: 'ops/ab', flown: 5 } });
    expect(parseTelemetryBody(unwrap(decodeCbor(withProgress, 256)))).toEqual({ ...body, progress: { mission: 'ops/ab', flown: 5 } });
    expect(parseTelemetryBody(unwrap(decodeCbor(encodeTelemetryBody(body), 256)))).toEqual(body);
    expect(encodeTelemetryBody(body)).toEqual(encodeCbor(['v1', 1, 8, 1, 2, 300, 800, '']));
    const tx = missionTxOf(sealEnvelope('telemetry', f.fleet, 'v1', withProgress, f.signer('v1')), ctx, f.fleet);
    expect(tx).toMatchObject({ kind: 'telemetry', node: 'v1', progress: { mission: 'ops/ab', flown: 5 } });
    expect(() => parseTelemetryBody(['v1', 1, 8, 1, 2, 300, 800])).toThrow(/telemetry must have at least 8 elements, has 7/);
    expect(() => parseTelemetryBody(['v1', 1, 8, 1, 2, 300, 800, '', ['ops/ab', -1]])).toThrow(/flown/);
  });

  it('reads the handover a telemetry report may carry as its tenth element (null in the ninth without progress), signed as sent', () => {
    const body = { node: 'v1', session: 1, seq: 9, northDm: 1, eastDm: 2, altDm: 0, batteryPermille: 800, completed: '' };
    const handed = encodeTelemetryBody({ ...body, handedOver: 'ops/ab' });
    // An array: the bytes signed are these, whatever order the fields were given in.
    expect(handed).toEqual(encodeCbor(['v1', 1, 9, 1, 2, 0, 800, '', null, 'ops/ab']));
    expect(parseTelemetryBody(unwrap(decodeCbor(handed, 256)))).toEqual({ ...body, handedOver: 'ops/ab' });
    const tx = missionTxOf(sealEnvelope('telemetry', f.fleet, 'v1', handed, f.signer('v1')), ctx, f.fleet);
    expect(tx).toEqual({ kind: 'telemetry', node: 'v1', pos: { n: 1, e: 2 }, altDm: 0, batteryPermille: 800, completed: null, progress: null, handedOver: 'ops/ab', sent: { session: 1, seq: 9 } });
    // With progress too (the codec allows it; a device sends one or the other), both read back.
    const both = encodeTelemetryBody({ ...body, progress: { mission: 'ops/ab', flown: 3 }, handedOver: 'ops/ab' });
    expect(parseTelemetryBody(unwrap(decodeCbor(both, 256)))).toEqual({ ...body, progress: { mission: 'ops/ab', flown: 3 }, handedOver: 'ops/ab' });
    // Null or "" there is no handover; anything but text is refused with the field's name.
    expect(parseTelemetryBody(['v1', 1, 9, 1, 2, 0, 800, '', null, null])).toEqual(body);
    expect(parseTelemetryBody(['v1', 1, 9, 1, 2, 0, 800, '', null, ''])).toEqual(body);
    expect(() => parseTelemetryBody(['v1', 1, 9, 1, 2, 0, 800, '', null, 7])).toThrow(/telemetry.handedOver must be a text string/);
    expect(() => parseTelemetryBody(['v1', 1, 9, 1, 2, 0, 800, '', null, 'x'.repeat(101)])).toThrow(/telemetry.handedOver is longer than 100/);
  });

  it('the longest report a device sends with a handover, and its height not known, fits the telemetry body limit', () => {
    // The longest ids: a 64-character node, a mission named by a 64-character operator and a 16-byte
    // nonce in hex (commandRef), the largest numbers each field takes; the eleventh element too.
    const node = 'n'.repeat(64);
    const mission = `${'o'.repeat(64)}/${'ab'.repeat(16)}`;
    const body = encodeTelemetryBody({ node, session: 0xffffffff, seq: Number.MAX_SAFE_INTEGER, northDm: -10_000_000, eastDm: -10_000_000, altDm: -10_000_000, batteryPermille: 1000, completed: '', handedOver: mission, heightUnknown: true });
    expect(body.length).toBeLessThanOrEqual(limits.telemetryBytesMax);
    expect(parseTelemetryBody(unwrap(decodeCbor(body, limits.telemetryBytesMax)))).toMatchObject({ node, handedOver: mission, heightUnknown: true });
  });

  it('turns a device telemetry envelope into integer telemetry, and ignores one naming another device', () => {
    expect(missionTxOf(telemetry('v1', 'v1'), ctx, f.fleet)).toEqual({ kind: 'telemetry', node: 'v1', pos: { n: 123, e: -45 }, altDm: 100, batteryPermille: 870, completed: null, progress: null, sent: { session: 1, seq: 7 } });
    expect(missionTxOf(telemetry('v1', 'v2'), ctx, f.fleet)).toBeNull();
  });

  it('checks a fleet.update manifest against the pinned authority', () => {
    const good = unwrap(signManifest({ ...f.manifest.body, epoch: 2 }, createSigner(f.authority)));
    const ok = missionTxOf(fleetUpdate(good.bytes), ctx, f.fleet);
    expect(ok).toMatchObject({ kind: 'command', type: 'fleet.update', operator: 'boss', manifest: { ok: true, epoch: 2 } });
    const rogue = generateKeyPair();
    const bad = unwrap(signManifest({ ...f.manifest.body, epoch: 3, authority: rogue.publicKey }, createSigner(rogue)));
    const refused = missionTxOf(fleetUpdate(bad.bytes), ctx, f.fleet);
    expect(refused).toMatchObject({ kind: 'command', manifest: { ok: false } });
    expect(refused?.kind === 'command' && refused.manifest?.ok === false && refused.manifest.reason).toMatch(/but this device trusts authority/);
  });
});
