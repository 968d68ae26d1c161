// Heartbeat (kind 6) on the wire: round trip through a signed envelope, sender rules, bad fields.

import { describe, expect, it } from 'vitest';
import { createVerifier } from '../../runtime/crypto/sodium.js';
import { keyLookup } from '../../runtime/manifest/manifest.js';
import { decodeCbor } from '../../runtime/wire/cbor.js';
import { openEnvelope, sealEnvelope } from '../../runtime/wire/envelope.js';
import { encodeHeartbeatBody, parseHeartbeatBody, type HeartbeatBody } from '../../runtime/wire/heartbeat.js';
import { parseWith } from '../../runtime/wire/fields.js';
import { makeFleet } from '../support/fleet-fixture.js';

const hb: HeartbeatBody = { node: 'v1', seq: 42, session: 3, height: 1000, round: 2, health: 'ok', position: [12.5, -3, 40], batteryPct: 87 };

describe('heartbeat wire kind', () => {
  it('round-trips through a signed envelope and stays small enough for one SiK packet', async () => {
    const f = await makeFleet({ validators: 4, followers: 1 });
    const bytes = sealEnvelope('heartbeat', f.fleet, 'v1', encodeHeartbeatBody(hb), f.signer('v1'));
    expect(bytes.length).toBeLessThan(200);
    const opened = openEnvelope(bytes, { fleet: f.fleet, keyOf: keyLookup(f.manifest), verifier: createVerifier() });
    expect(opened.ok).toBe(true);
    if (opened.ok && opened.value.kind === 'heartbeat') expect(opened.value.parsed).toEqual(hb);
    const fromFollower = sealEnvelope('heartbeat', f.fleet, 'f0', encodeHeartbeatBody({ ...hb, node: 'f0', position: null, batteryPct: null }), f.signer('f0'));
    expect(openEnvelope(fromFollower, { fleet: f.fleet, keyOf: keyLookup(f.manifest), verifier: createVerifier() }).ok).toBe(true);
  });

  it('refuses a heartbeat signed by an operator', async () => {
    const f = await makeFleet({});
    const bytes = sealEnvelope('heartbeat', f.fleet, 'op', encodeHeartbeatBody({ ...hb, node: 'op' }), f.signer('op'));
    const opened = openEnvelope(bytes, { fleet: f.fleet, keyOf: keyLookup(f.manifest), verifier: createVerifier() });
    expect(opened.ok).toBe(false);
    if (!opened.ok) expect(opened.error.message).toMatch(/may not send heartbeat/);
  });

  it('names the bad field', () => {
    const parse = (v: unknown[]) => parseWith('heartbeat', v, parseHeartbeatBody);
    const good = decodeCbor(encodeHeartbeatBody(hb), 512);
    expect(good.ok && parse(good.value as unknown[]).ok).toBe(true);
    const bad = (i: number, v: unknown) => {
      const a: unknown[] = ['v1', 1, 0, 1, 0, 'ok', null, null];
      a[i] = v;
      const r = parse(a);
      return r.ok ? '' : r.error;
    };
    expect(bad(0, 'Bad Id')).toMatch(/heartbeat.node/);
    expect(bad(1, -1)).toMatch(/heartbeat.seq/);
    expect(bad(5, 'sleepy')).toMatch(/heartbeat.health/);
    expect(bad(6, [1, 2])).toMatch(/heartbeat.position/);
    expect(bad(7, 101)).toMatch(/heartbeat.batteryPct/);
    expect(parse(['v1', 1]).ok).toBe(false);
  });
});
