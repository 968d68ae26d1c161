// withSigningBytes builds the signed bytes in a reused buffer: the bytes must equal signingBytes' for
// any body (small, growing, past the scratch limit) and a call nested inside another must not clobber it.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { limits } from '../../runtime/lib/limits.js';
import { signingBytes, withSigningBytes } from '../../runtime/wire/signing.js';

describe('withSigningBytes', () => {
  it('hands over exactly the bytes signingBytes builds, for bodies of any size', () => {
    fc.assert(
      fc.property(fc.constantFrom('prevote', 'command', 'proposal'), fc.constantFrom('sim', 'fleet-a'), fc.uint8Array({ maxLength: 5_000 }), (kind, fleet, body) => {
        const seen = withSigningBytes(kind, fleet, body, (m) => Uint8Array.from(m));
        expect(seen).toEqual(signingBytes(kind, fleet, body));
      }),
      { numRuns: 300 },
    );
  });

  it('gives a body larger than the scratch limit its own copy', () => {
    const body = new Uint8Array(limits.signingScratchBytesMax + 1).fill(7);
    const expected = signingBytes('proposal', 'sim', body);
    expect(withSigningBytes('proposal', 'sim', body, (m) => Uint8Array.from(m))).toEqual(expected);
  });

  it('keeps the outer bytes intact when called again from inside', () => {
    const outer = Uint8Array.of(1, 2, 3);
    const inner = Uint8Array.of(9, 9, 9, 9, 9, 9);
    const result = withSigningBytes('prevote', 'sim', outer, (m) => {
      const innerBytes = withSigningBytes('precommit', 'sim', inner, (n) => Uint8Array.from(n));
      return { outer: Uint8Array.from(m), inner: innerBytes };
    });
    expect(result.outer).toEqual(signingBytes('prevote', 'sim', outer));
    expect(result.inner).toEqual(signingBytes('precommit', 'sim', inner));
  });
});
