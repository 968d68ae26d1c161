// Wire format evolution (ARCHITECTURE.md): a positional body (telemetry, heartbeat) may grow at the end.
// A decoder reads the elements it knows and ignores up to limits.trailingElementsMax more, so a fleet
// mid-upgrade, where newer devices sign reports with an element older ones do not know, does not
// split: an older validator that refused such a report refused every block holding it ("block holds a
// bad tx"). The body's byte limit and the CBOR scan limits still apply, and past the bound it is refused.

import { describe, expect, it } from 'vitest';
import { keyLookup } from '../../runtime/manifest/manifest.js';
import { limits } from '../../runtime/lib/limits.js';
import { missionTxOf } from '../../runtime/device/mission-adapter.js';
import { encodeCbor } from '../../runtime/wire/cbor.js';
import { openEnvelope, sealEnvelope, type OpenContext } from '../../runtime/wire/envelope.js';
import { encodeHeartbeatBody } from '../../runtime/wire/heartbeat.js';
import { encodeTelemetryBody } from '../../runtime/wire/telemetry.js';
import { createVerifier, makeFleet } from '../support/fleet-fixture.js';

const f = await makeFleet({ validators: 4 });
const members = keyLookup(f.manifest);
const ctx: OpenContext = { fleet: f.fleet, keyOf: (sender, kind) => members(sender, kind), verifier: createVerifier() };
const adapter = { manifestAt: () => f.manifest, verifier: createVerifier(), authority: f.authority.publicKey };

const report = { node: 'v1', session: 3, seq: 9, northDm: 120, eastDm: -40, altDm: 300, batteryPermille: 810, completed: '', progress: { mission: 'ops/ab', flown: 4 } };
const known = ['v1', 3, 9, 120, -40, 300, 810, '', ['ops/ab', 4]];
const seal = (kind: 'telemetry' | 'heartbeat', body: unknown[]): Uint8Array => sealEnvelope(kind, f.fleet, 'v1', encodeCbor(body), f.signer('v1'));

describe('a record from a newer version, with elements this one does not know', () => {
  it('a telemetry report with two more elements opens as the report it knows, and the mission machine gets the same input', () => {
    expect(encodeCbor(known)).toEqual(encodeTelemetryBody(report));
    // The tenth (handedOver) and eleventh (heightUnknown) elements are null: absent; the two after
    // them are unknown here.
    const newer = seal('telemetry', [...known, null, null, 17, { wind: [3, 4] }]);
    const opened = openEnvelope(newer, ctx);
    expect(opened.ok ? opened.value.parsed : opened.error.message).toEqual(report);
    const plain = missionTxOf(seal('telemetry', known), adapter, f.fleet);
    expect(plain).not.toBeNull();
    expect(missionTxOf(newer, adapter, f.fleet)).toEqual(plain);
    // An eight-element report (no progress) with more after it: the ninth keeps its meaning, so a
    // newer device sends null there (no progress) rather than leaving it out; the tenth and eleventh
    // likewise.
    const noProgress = seal('telemetry', [...known.slice(0, 8), null, null, null, 'later']);
    const o2 = openEnvelope(noProgress, ctx);
    expect(o2.ok ? o2.value.parsed : o2.error.message).toEqual({ ...report, progress: undefined });
  });

  it('a report whose height is not known: true as its eleventh element, after the handover\'s tenth (null when absent); the committed input is the one an older version makes of it', () => {
    // The sixth element is the held height (MissionRunner telemetryFacts), whatever the eleventh says.
    const unknown = { ...report, heightUnknown: true as const };
    const bytes = encodeTelemetryBody(unknown);
    expect(bytes).toEqual(encodeCbor([...known, null, true]));
    const sealed = sealEnvelope('telemetry', f.fleet, 'v1', bytes, f.signer('v1'));
    const opened = openEnvelope(sealed, ctx);
    expect(opened.ok ? opened.value.parsed : opened.error.message).toEqual(unknown);
    // What the mission machine gets is what a node of the version before the eleventh element makes of
    // it (it reads ten elements and ignores the rest): the same committed state, and app hash, in a
    // fleet mid-upgrade. Stated as the bytes without it, which that version also reads.
    const tx = missionTxOf(sealed, adapter, f.fleet);
    expect(tx).toEqual(missionTxOf(seal('telemetry', known), adapter, f.fleet));
    expect(tx).toMatchObject({ kind: 'telemetry', altDm: 300 });
    expect(tx).not.toHaveProperty('heightUnknown');
    // With a handover and no progress: null holds the ninth place, the mission the tenth.
    const handed = { ...unknown, progress: undefined, handedOver: 'ops/ab' };
    expect(encodeTelemetryBody(handed)).toEqual(encodeCbor([...known.slice(0, 8), null, 'ops/ab', true]));
    const o2 = openEnvelope(sealEnvelope('telemetry', f.fleet, 'v1', encodeTelemetryBody(handed), f.signer('v1')), ctx);
    expect(o2.ok ? o2.value.parsed : o2.error.message).toEqual({ ...report, progress: undefined, handedOver: 'ops/ab', heightUnknown: true });
    // Neither: the bytes a report always had, with no tenth or eleventh element.
    expect(encodeTelemetryBody(report)).toEqual(encodeCbor(known));
    expect(encodeTelemetryBody({ ...report, progress: undefined })).toEqual(encodeCbor(known.slice(0, 8)));
    // false or null there is no claim; anything else is refused, naming the field.
    for (const absent of [false, null]) {
      const o = openEnvelope(seal('telemetry', [...known, null, absent]), ctx);
      expect(o.ok ? o.value.parsed : o.error.message).toEqual(report);
    }
    const bad = openEnvelope(seal('telemetry', [...known, null, 'yes']), ctx);
    expect(bad.ok ? 'opened' : bad.error.message).toMatch(/telemetry.heightUnknown must be true, false or null/);
  });

  it('a heartbeat with one more element opens as the heartbeat it knows', () => {
    const hb = { node: 'v1', seq: 5, session: 2, height: 40, round: 0, health: 'ok' as const, position: [1, 2, 3] as const, batteryPct: 77 };
    const base = ['v1', 5, 2, 40, 0, 'ok', [1, 2, 3], 77];
    expect(encodeCbor(base)).toEqual(encodeHeartbeatBody(hb));
    const opened = openEnvelope(seal('heartbeat', [...base, 'link-quality']), ctx);
    expect(opened.ok ? opened.value.parsed : opened.error.message).toEqual(hb);
  });

  it('is bounded: past trailingElementsMax extra elements, or past the body size limit, the record is refused with the reason', () => {
    const extra = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
    // Eleven elements are known (the tenth, handedOver, and the eleventh, heightUnknown, null here).
    const all = [...known, null, null];
    const atBound = openEnvelope(seal('telemetry', [...all, ...extra(limits.trailingElementsMax)]), ctx);
    expect(atBound.ok).toBe(true);
    const past = openEnvelope(seal('telemetry', [...all, ...extra(limits.trailingElementsMax + 1)]), ctx);
    expect(past.ok ? 'opened' : past.error.message).toMatch(new RegExp(`telemetry has ${11 + limits.trailingElementsMax + 1} elements \\(limit ${11 + limits.trailingElementsMax}\\)`));
    const big = openEnvelope(seal('telemetry', [...known, 'x'.repeat(limits.telemetryBytesMax)]), ctx);
    expect(big.ok ? 'opened' : big.error.message).toMatch(new RegExp(`telemetry body is \\d+ bytes \\(limit ${limits.telemetryBytesMax}\\)`));
    // What it knows is still checked: a short report, or a bad element, is refused.
    const short = openEnvelope(seal('telemetry', known.slice(0, 7)), ctx);
    expect(short.ok ? 'opened' : short.error.message).toMatch(/telemetry must have at least 8 elements, has 7/);
    const hbShort = openEnvelope(seal('heartbeat', ['v1', 5, 2, 40, 0, 'ok', null]), ctx);
    expect(hbShort.ok ? 'opened' : hbShort.error.message).toMatch(/heartbeat must have at least 8 elements, has 7/);
  });
});
