// `npm run bench:consensus`: consensus in the deterministic simulator at n = 4, 7, 10, 16, 31.
// Reports heights/s and commands/s (simulated time), CPU time per height, bytes per height, and the
// throughput as a ratio to the signature-verify bound measured in the same run; then the latency of
// lone commands from publication to commit: 4d (to the proposer, then three message delays), and
// after the proposer of a command's height crashed within timeoutPropose + 4d (the next round's
// proposer proposes when its propose timer runs out: core.ts, skipToNextProposal).

import { createSigner, createVerifier, initCrypto, keyPairFromSeed } from '../../runtime/crypto/sodium.js';
import { signingBytes } from '../../runtime/wire/signing.js';
import { encodeVoteBody } from '../../runtime/wire/vote.js';
import type { Scenario } from '../scenario/scenario.js';
import { World } from '../sim/world.js';
import { proposerOf } from '../../runtime/consensus/proposer.js';

const sizes = (process.env.BENCH_SIZES ?? '4,7,10,16,31').split(',').map(Number);
const simMs = Number(process.env.BENCH_SIM_MS ?? 6_000);
const warmupRuns = 3;

function scenario(n: number, over: Partial<Scenario> = {}): Scenario {
  return {
    name: `bench-n${n}`,
    seed: 1,
    durationMs: simMs,
    validators: n,
    followers: 0,
    mqtt: { latencyMs: 5, jitterMs: 0, loss: 0, duplicate: 0 },
    faults: [],
    workload: [{ kind: 'rate', from: 0, to: simMs, perSec: 500, command: 'noop' }],
    expect: { safety: true },
    consensus: { proposeMs: 300, commitWaitMs: 100, gossipMs: 1_000 },
    livenessBudgetMs: 10_000,
    ...over,
  };
}

function measureVerifyPerSec(): number {
  const v = createVerifier();
  const s = createSigner(keyPairFromSeed(new Uint8Array(32).fill(9)));
  const msg = signingBytes('prevote', 'sim', encodeVoteBody({ height: 10, round: 0, blockHash: new Uint8Array(32) }));
  const sig = s.sign(msg);
  // CPU time, not wall time: the machine is shared, and the node side is measured in CPU time too.
  const t0 = process.cpuUsage();
  const cpuMs = (): number => {
    const d = process.cpuUsage(t0);
    return (d.user + d.system) / 1000;
  };
  let k = 0;
  while (cpuMs() < 1_000) {
    for (let i = 0; i < 200; i++) v.verify(sig, msg, s.publicKey);
    k += 200;
  }
  return k / (cpuMs() / 1000);
}

function run(n: number, over: Partial<Scenario> = {}) {
  const w = new World(scenario(n, over), 1, { memo: false, measureNodeCpu: true });
  const cpu0 = process.cpuUsage();
  w.start();
  w.queue.runUntil(simMs, 1e9);
  const cpu = process.cpuUsage(cpu0);
  const processCpuMs = (cpu.user + cpu.system) / 1000;
  // Time inside the nodes only: the simulator, workload signing and checkers are not the devices' work.
  const cpuMs = w.nodeBusyMs;
  const heights = w.checkers.decided.size;
  let commands = 0;
  for (const d of w.checkers.decided.values()) commands += d.commands.length;
  // Every Ed25519 verification the nodes made (edge checks and certificates; the checkers use their own).
  const verifs = w.nodeVerifications;
  return { w, heights, commands, cpuMs, processCpuMs, verifs, violations: w.checkers.violations.length };
}

/** Publication-to-commit time of each command committed (at its first honest commit), by height. */
function commandLatencies(w: World): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (const [height, d] of w.checkers.decided) {
    for (const c of d.commands) {
      const at = w.submitted.get(c);
      if (at !== undefined) out.set(height, [...(out.get(height) ?? []), d.atMs - at]);
    }
  }
  return out;
}

/** Runs to 3 s, crashes the validator that will propose height h+2 (round 0), and returns how long the
 *  commands of that height took from publication to commit. */
function crashNextProposer(n: number, over: Partial<Scenario>) {
  const w = new World(scenario(n, over), 1, { memo: false, measureNodeCpu: true });
  w.start();
  w.queue.runUntil(3_000, 1e9);
  const any = w.nodes[0]?.shell?.core;
  if (!any) throw new Error('node 0 is down');
  const target = any.chain.height + 2;
  const pid = proposerOf(any.chain.manifestAt(target).validators, target, 0);
  const node = w.nodes.find((x) => x.id === pid);
  if (!node) throw new Error(`no node ${pid}`);
  w.crash(node, 'intact');
  w.queue.runUntil(6_000, 1e9);
  return { height: target, latencies: commandLatencies(w).get(target) ?? [] };
}

await initCrypto();
// Warm up the JIT on discarded runs, so the rows are not charged for compilation: node --trace-opt
// shows TurboFan still spending ~250 ms optimizing (on background threads, which process.cpuUsage
// counts inside node events) in the run after a single warm-up, ~130 ms after two and ~30 ms after three.
for (let i = 0; i < warmupRuns; i++) run(4);
const verifyPerSec = measureVerifyPerSec();
console.log(`Ed25519 verify (${createVerifier().backend}): ${Math.round(verifyPerSec)} per CPU-second on this machine`);
console.log('');
console.log('| n | heights/s | commands/s | node CPU ms/height (inside node code, all nodes) | process CPU ms/height | bytes/height | verifies/command/node | verify bound cmd/s/node | achieved cmd per node CPU-second | ratio | violations |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|');
for (const n of sizes) {
  const r = run(n);
  const perNodeVerifsPerCmd = r.verifs / n / Math.max(1, r.commands);
  const bound = verifyPerSec / perNodeVerifsPerCmd;
  const achieved = r.commands / (r.cpuMs / 1000 / n);
  console.log(
    `| ${n} | ${(r.heights / (simMs / 1000)).toFixed(1)} | ${(r.commands / (simMs / 1000)).toFixed(0)} | ${(r.cpuMs / Math.max(1, r.heights)).toFixed(1)} | ${(r.processCpuMs / Math.max(1, r.heights)).toFixed(1)} | ${Math.round(r.w.net.bytes / Math.max(1, r.heights))} | ${perNodeVerifsPerCmd.toFixed(2)} | ${bound.toFixed(0)} | ${achieved.toFixed(0)} | ${(achieved / bound).toFixed(2)} | ${r.violations} |`,
  );
}

// Latency bounds with a fixed one-way delay d, no jitter, one command every 250 ms: each a lone command,
// which starts its height as it arrives (commands faster than one per commit wait are gathered into one
// block per commit wait instead: ARCHITECTURE.md, "Timeouts").
const d = 20;
const propose = 300;
const ms = (xs: number[], q: number): string => (xs.length === 0 ? 'none' : `${([...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] as number).toFixed(1)} ms`);
console.log('');
for (const n of [4, 7]) {
  const base = { mqtt: { latencyMs: d, jitterMs: 0, loss: 0, duplicate: 0 }, workload: [{ kind: 'rate' as const, from: 0, to: simMs, perSec: 4, command: 'noop' }] };
  const r = run(n, base);
  const all = [...commandLatencies(r.w).values()].flat();
  console.log(`n=${n} d=${d} ms, one command every 250 ms: published to committed p50 ${ms(all, 0.5)}, max ${ms(all, 1)} over ${all.length} commands (4d = ${4 * d} ms plus processing for one that arrives in the commit wait: to the proposer, the proposal, the prevotes, the precommits; one that arrives while an empty height is decided waits up to 3d more)`);
  const c = crashNextProposer(n, base);
  if (c.latencies.length === 0) throw new Error(`n=${n}: height ${c.height}, whose proposer crashed, committed no command: nothing to time`);
  console.log(`n=${n} the proposer of height ${c.height} crashed before proposing: that height's ${c.latencies.length} command(s) committed ${ms(c.latencies, 1)} after publication at most (bound 4d + timeoutPropose ${propose} = ${4 * d + propose} ms plus processing)`);
}
