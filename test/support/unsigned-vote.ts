// A vote as the core takes it once the edge has checked it, with no real signature: for tests of the
// vote set itself (runtime/consensus/vote-set.ts), which never looks at signatures or envelopes.

import type { VerifiedVote, VoteKind } from '../../runtime/consensus/types.js';

/** `from`'s `kind` at height 7, `round`, for `value` ('nil' or a block hash in hex); its envelope names
 *  the four, so two votes differ in bytes exactly when they differ in one of them. */
export const unsignedVote = (from: string, value: string, kind: VoteKind = 'prevote', round = 1): VerifiedVote => ({
  kind,
  from,
  height: 7,
  round,
  blockHash: null,
  value,
  signature: new Uint8Array(64),
  envelope: new TextEncoder().encode(`${from}/${kind}/${round}/${value}`),
});
