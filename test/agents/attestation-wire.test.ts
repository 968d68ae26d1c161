// Attestations on the wire (kind 7): round trip, schema errors that name the field, and sender rules.

import { beforeAll, describe, expect, it } from 'vitest';
import { makeSimFleet } from '../../agents/sim/fleet.js';
import { initCrypto } from '../../runtime/crypto/sodium.js';
import { Prng } from '../../runtime/lib/prng.js';
import { keyLookup } from '../../runtime/manifest/manifest.js';
import { encodeAttestationBody, type AttestationBody } from '../../runtime/wire/attestation.js';
import { encodeCbor } from '../../runtime/wire/cbor.js';
import { openEnvelope, sealEnvelope } from '../../runtime/wire/envelope.js';
import { kinds } from '../../runtime/wire/kinds.js';

beforeAll(async () => {
  await initCrypto();
});

const hazard: AttestationBody = { agent: 'hazard-detect', observedAt: 1234, basis: 7, obs: { type: 'hazard', cell: [-3, 12], present: true, confidencePerMille: 912 } };

describe('attestation envelope (kind 7)', () => {
  it('has code 7 and round-trips every observation type through sign and open', () => {
    expect(kinds.attestation.code).toBe(7);
    const f = makeSimFleet(new Prng(1), 4, 1);
    const ctx = { fleet: f.fleet, keyOf: keyLookup(f.manifest), verifier: f.verifier };
    const bodies: AttestationBody[] = [
      hazard,
      { agent: 'telemetry-anomaly', observedAt: 5, basis: 0, obs: { type: 'degraded', device: 'f0', severity: 'severe', reason: 'motor 2 imbalance' }, model: { name: 'telemetry-anomaly', version: '1.0.0', hash: new Uint8Array(32).fill(9) } },
      { agent: 'wind', observedAt: 9, basis: 3, obs: { type: 'estimate', quantity: 'wind.speed-mps', value: 4.25 } },
    ];
    for (const sender of ['v1', 'f0']) {
      for (const b of bodies) {
        const bytes = sealEnvelope('attestation', f.fleet, sender, encodeAttestationBody(b), f.signers.get(sender)!);
        const r = openEnvelope(bytes, ctx);
        expect(r.ok, JSON.stringify(!r.ok && r.error)).toBe(true);
        if (r.ok && r.value.kind === 'attestation') expect(r.value.parsed).toEqual(b);
      }
    }
  });

  it('refuses bad fields with a message naming the field', () => {
    const f = makeSimFleet(new Prng(2), 4);
    const ctx = { fleet: f.fleet, keyOf: keyLookup(f.manifest), verifier: f.verifier };
    const cases: [unknown, string][] = [
      [{ ...hazard, obs: { type: 'hazard', cell: [1, 2], present: true, confidence: 1001 } }, 'attestation.obs.confidence'],
      [{ ...hazard, obs: { type: 'hazard', cell: [1], present: true, confidence: 5 } }, 'attestation.obs.cell'],
      [{ ...hazard, obs: { type: 'fire' } }, 'attestation.obs.type'],
      [{ ...hazard, obs: { type: 'estimate', quantity: 'Wind', value: 1 } }, 'attestation.obs.quantity'],
      [{ ...hazard, extra: 1 }, 'unexpected key "extra"'],
    ];
    for (const [body, field] of cases) {
      const raw = { ...(body as Record<string, unknown>) };
      const obs = raw.obs as Record<string, unknown>;
      const bytes = sealEnvelope('attestation', f.fleet, 'v0', encodeCbor(raw.obs === hazard.obs ? raw : { ...raw, obs }), f.signers.get('v0')!);
      const r = openEnvelope(bytes, ctx);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.message).toContain(field);
    }
  });

  it('refuses an attestation from a device outside the manifest', () => {
    const f = makeSimFleet(new Prng(3), 4);
    const other = makeSimFleet(new Prng(4), 5);
    const bytes = sealEnvelope('attestation', f.fleet, 'v4', encodeAttestationBody(hazard), other.signers.get('v4')!);
    const r = openEnvelope(bytes, { fleet: f.fleet, keyOf: keyLookup(f.manifest), verifier: f.verifier });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe('unknown-sender');
  });
});
