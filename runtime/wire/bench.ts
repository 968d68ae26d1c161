// npm run bench:wire: encode, decode, sign and verify rates for a vote and a 100-command proposal, and
// the order of a checkpoint's nonces (consensus/nonce-table.ts) against sorting every key as before.
// Prints a table and, with --json, one JSON object.

import { loadWasmBackend } from '../crypto/backends.js';
import { createSigner, createVerifier, generateKeyPair, hash, initCrypto } from '../crypto/sodium.js';
import { signManifest, keyLookup } from '../manifest/manifest.js';
import { unwrap } from '../lib/result.js';
import { formatRate, measure, type Rate } from '../bench/measure.js';
import { encodeBlock, encodeProposalBody, zeroHash } from './block.js';
import { encodeCommandBody } from './command.js';
import { decodeEnvelope, openEnvelope, sealEnvelope } from './envelope.js';
import { signingBytes } from './signing.js';
import { encodeVoteBody } from './vote.js';
import { NonceTable } from '../consensus/nonce-table.js';

await initCrypto();
const fleet = 'bench';
const v0 = generateKeyPair();
const op = generateKeyPair();
const authority = generateKeyPair();
const manifest = unwrap(
  signManifest(
    { fleet, epoch: 1, authority: authority.publicKey, validators: [{ id: 'v0', publicKey: v0.publicKey, power: 1 }], followers: [], operators: [{ id: 'op', publicKey: op.publicKey, roles: ['operator'] }], createdAt: 0 },
    createSigner(authority),
  ),
);
const ctx = { fleet, keyOf: keyLookup(manifest), verifier: createVerifier() };
const v0Signer = createSigner(v0);
const opSigner = createSigner(op);

const voteBody = { height: 123_456, round: 2, blockHash: hash(new Uint8Array([1])) };
const vote = sealEnvelope('prevote', fleet, 'v0', encodeVoteBody(voteBody), v0Signer);
const commands = Array.from({ length: 100 }, (_, i) =>
  sealEnvelope('command', fleet, 'op', encodeCommandBody({ type: 'mission.goto', nonce: new Uint8Array(16).fill(i), issuedAt: 1_764_000_000_000, expiresAt: 1_764_000_060_000, args: { waypoints: [[47.39, 8.54, 30 + i]] } }), opSigner),
);
const block = { height: 123_456, parent: zeroHash, timeMs: 1_764_000_000_000, proposer: 'v0', txs: commands, lastCommit: null, manifestHash: manifest.hash, appHash: zeroHash };
const blockBytes = encodeBlock(block);
const proposal = sealEnvelope('proposal', fleet, 'v0', encodeProposalBody({ height: block.height, round: 0, validRound: -1, blockBytes }), v0Signer);
const voteMsg = signingBytes('prevote', fleet, encodeVoteBody(voteBody));
const sig = v0Signer.sign(voteMsg);
const wasmBackend = await loadWasmBackend();
const wasm = createVerifier(wasmBackend);
const wasmSigner = createSigner(v0, wasmBackend);

// A checkpoint's nonces: 160 commands committed and 160 expired since the last one (50 commands/s,
// 32 heights of 100 ms), a table of `live` nonces throughout; keys as command references are.
const nonceKey = (i: number): string => `op/${((i * 2_654_435_761) >>> 0).toString(16).padStart(8, '0')}${i.toString(16).padStart(24, '0')}`;
function nonceCheckpoint(live: number): { merged: () => unknown; sortedAll: () => unknown } {
  const t = new NonceTable();
  const all = new Map<string, number>();
  let seq = 0;
  for (; seq < live; seq++) {
    t.add(nonceKey(seq), seq);
    all.set(nonceKey(seq), seq);
  }
  t.export();
  return {
    merged: () => {
      for (let k = 0; k < 160; k++, seq++) t.add(nonceKey(seq), seq);
      t.forgetBefore(seq - live);
      return t.export();
    },
    sortedAll: () => [...all.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)),
  };
}
const n3k = nonceCheckpoint(3_000);
const n30k = nonceCheckpoint(30_000);

const rates: Rate[] = [
  measure('checkpoint nonces, 3,000 live, 160 new: order kept and merged', n3k.merged),
  measure('checkpoint nonces, 3,000 live: every key sorted (before)', n3k.sortedAll),
  measure('checkpoint nonces, 30,000 live, 160 new: order kept and merged', n30k.merged),
  measure('checkpoint nonces, 30,000 live: every key sorted (before)', n30k.sortedAll),
  measure('vote: encode body + seal (sign)', () => sealEnvelope('prevote', fleet, 'v0', encodeVoteBody(voteBody), v0Signer)),
  measure('vote: encode body only', () => encodeVoteBody(voteBody)),
  measure('vote: decode envelope (no verify)', () => decodeEnvelope(vote)),
  measure('vote: open (decode + verify + parse)', () => openEnvelope(vote, ctx)),
  measure('proposal(100 cmds): encode block + seal', () => sealEnvelope('proposal', fleet, 'v0', encodeProposalBody({ height: block.height, round: 0, validRound: -1, blockBytes: encodeBlock(block) }), v0Signer)),
  measure('proposal(100 cmds): decode envelope', () => decodeEnvelope(proposal)),
  measure('proposal(100 cmds): open (verify 1 sig + parse)', () => openEnvelope(proposal, ctx)),
  measure('proposal(100 cmds): open + verify all 100 cmds', () => {
    const p = openEnvelope(proposal, ctx);
    if (p.ok && p.value.kind === 'proposal') for (const tx of p.value.parsed.block.block.txs) openEnvelope(tx, ctx);
  }, { timeMs: 1500 }),
  measure(`ed25519 sign (${ctx.verifier.backend})`, () => v0Signer.sign(voteMsg)),
  measure('ed25519 sign (libsodium-wrappers)', () => wasmSigner.sign(voteMsg)),
  measure(`ed25519 verify (${ctx.verifier.backend})`, () => ctx.verifier.verify(sig, voteMsg, v0.publicKey)),
  measure('ed25519 verify (libsodium-wrappers)', () => wasm.verify(sig, voteMsg, v0.publicKey)),
  measure(`blake2b-256 of the 100-command block (${ctx.verifier.backend})`, () => hash(blockBytes)),
  measure('blake2b-256 of the 100-command block (libsodium-wrappers)', () => wasmBackend.blake2b256(blockBytes)),
];

if (process.argv.includes('--json')) {
  console.log(JSON.stringify({ voteBytes: vote.length, proposalBytes: proposal.length, rates: Object.fromEntries(rates.map((r) => [r.name, Math.round(r.opsPerSec)])) }, null, 2));
} else {
  console.log(`Murmur wire benchmark (node ${process.version}, one core)`);
  console.log(`vote envelope ${vote.length} bytes; 100-command proposal envelope ${proposal.length} bytes\n`);
  for (const r of rates) console.log(formatRate(r));
}
