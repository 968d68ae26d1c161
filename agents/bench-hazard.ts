// `npm run bench:hazard`: what the hazard-commit rule costs a device per committed block while one liar
// floods it with sightings of made-up cells (64 a block, what the mempool lets one device have waiting)
// until the rule tracks its limit of cells (limits.hazardCellsMax), and whether an honest drone's early
// sighting of a real mast survives the flood to be committed by the second one. Prints per-block times
// (median and worst over the blocks at the limit) and, in the same run, the cost of copying the cell map
// once, which the rule used to do every block.
//   npm run bench:hazard [-- --blocks N]   (default 300 blocks)

import { parseArgs } from 'node:util';
import { applyHazardAttestations, emptyHazardState, type CommittedAttestation, type HazardState } from './swarm/hazard-commit.js';
import { limits } from '../runtime/lib/limits.js';

const { values } = parseArgs({ options: { blocks: { type: 'string' } } });
const blocks = Number(values.blocks ?? 300);
if (!Number.isInteger(blocks) || blocks < 80 || blocks > 100_000) {
  process.stderr.write(`bench:hazard: --blocks must be a whole number from 80 to 100000, got "${values.blocks}"\n`);
  process.exit(2);
}

/** A sighting committed at `height`, dated as a device dates it: the block before is its basis. */
const sighting = (sender: string, cell: [number, number], height: number): CommittedAttestation => ({ sender, body: { agent: 'hazard-detect', observedAt: height * 1000, basis: height - 1, obs: { type: 'hazard', cell, present: true, confidencePerMille: 900 } } });
const f = 1;
const mast: [number, number] = [5_000, 5_000];
let state: HazardState = applyHazardAttestations(emptyHazardState, 1, f, [sighting('h0', mast, 1)]).state;
let cell = 0;
const atLimit: number[] = [];
let committedAt: number | null = null;
for (let h = 2; h <= blocks; h++) {
  const txs = Array.from({ length: 64 }, () => sighting('liar', [Math.floor(cell / 100), cell++ % 100], h));
  if (h === 90) txs.push(sighting('h1', mast, h)); // the second honest sighting, inside h0's 120-height window
  const t0 = performance.now();
  const r = applyHazardAttestations(state, h, f, txs);
  const ms = performance.now() - t0;
  state = r.state;
  if (r.events.some((e) => e.type === 'hazard-committed' && e.cell[0] === mast[0])) committedAt = h;
  if (Object.keys(state.cells).length >= limits.hazardCellsMax) atLimit.push(ms);
}
const copies: number[] = [];
for (let i = 0; i < 20; i++) {
  const t0 = performance.now();
  void { ...state.cells };
  copies.push(performance.now() - t0);
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
process.stdout.write(
  `hazard rule, one liar adding 64 cells a block for ${blocks} blocks (${limits.hazardCellsMax} cells tracked from block ${blocks - atLimit.length + 1} on):\n` +
    `  per block at the limit: median ${median(atLimit).toFixed(2)} ms, worst ${Math.max(...atLimit).toFixed(2)} ms (${atLimit.length} blocks)\n` +
    `  copying the cell map once: median ${median(copies).toFixed(2)} ms (the rule did so every block before)\n` +
    `  the mast seen by h0 at height 1 and h1 at height 90: ${committedAt === null ? 'NOT committed' : `committed at height ${committedAt}`}\n`,
);
