// Table-driven round trips for every wire kind: any generated body, sealed by a sender the manifest
// allows, opens to the same body, and re-encodes to the exact bytes that were signed. The table must
// name exactly the kinds in runtime/wire/kinds.ts, so a new kind without generators fails here.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { keyLookup } from '../../runtime/manifest/manifest.js';
import { openEnvelope, type OpenContext } from '../../runtime/wire/envelope.js';
import { kinds, type BodyOf, type KindName } from '../../runtime/wire/kinds.js';
import { createVerifier, makeFleet } from '../support/fleet-fixture.js';
import { kindCases, manifestSender, sealCase, type KindCase } from '../support/wire-kind-cases.js';

const fx = await makeFleet({ validators: 4, followers: 2, operators: [{ id: 'op', roles: ['operator'] }, { id: 'admin', roles: ['admin', 'operator'] }] });
const cases = kindCases(fx);
const members = keyLookup(fx.manifest);
const ctx: OpenContext = {
  fleet: fx.fleet,
  keyOf: (sender, kind) => (kind === 'manifest' && sender === manifestSender ? fx.authority.publicKey : members(sender, kind)),
  verifier: createVerifier(),
};

/** Byte strings as hex so a Buffer and a Uint8Array with the same bytes compare equal. */
function comparable(v: unknown): unknown {
  if (v instanceof Uint8Array) return `bytes:${Buffer.from(v).toString('hex')}`;
  if (Array.isArray(v)) return v.map(comparable);
  if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, comparable(x)]));
  return v;
}

// Kinds whose generators sign nested envelopes (block txs, evidence votes) get fewer runs.
const runs: Partial<Record<KindName, number>> = { proposal: 40, 'sync-response': 40, evidence: 60 };

describe('every wire kind', () => {
  it('the table covers exactly the kinds in runtime/wire/kinds.ts', () => {
    expect(Object.keys(cases).sort()).toEqual(Object.keys(kinds).sort());
  });

  it.each(Object.keys(kinds) as KindName[])('%s: any body round-trips through seal and open, byte for byte', (kind) => {
    const c = cases[kind] as unknown as KindCase<KindName> | undefined;
    expect(c, `no generator for kind "${kind}" in test/support/wire-kind-cases.ts`).toBeDefined();
    if (!c) return;
    fc.assert(
      fc.property(c.arb, (value) => {
        const bytes = sealCase(fx, cases, kind, value);
        const r = openEnvelope(bytes, ctx);
        expect(r.ok ? r.value.kind : r.error.message).toBe(kind);
        if (!r.ok) return;
        expect(r.value.sender).toBe(value.sender);
        expect(r.value.body.length).toBeLessThanOrEqual(kinds[kind].bodyBytesMax);
        expect(comparable(r.value.parsed)).toEqual(comparable(value.body));
        // The parsed body re-encodes to the signed bytes: nothing was lost or reordered on the way.
        expect(Buffer.from(c.encode(r.value.parsed as BodyOf<KindName>)).equals(Buffer.from(r.value.body))).toBe(true);
      }),
      { numRuns: runs[kind] ?? 150 },
    );
  });
});
