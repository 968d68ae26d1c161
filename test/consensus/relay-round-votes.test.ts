// A validator that left a round on votes the others never got passes those votes on. `fleet-sim seeds`
// found world 8124989 (four validators) stuck for good: v00 left round 0 on 2f+1 nil precommits, one
// of them v01's, sent during a 90% loss spell just before v01 went silent; v02 and v03 never got it,
// so they waited in round 0 for a third precommit and v00 waited in round 1 for prevotes no one else
// would send. Algorithm 1's liveness assumes every message one correct process receives reaches every
// correct process; the gossip now relays, to a validator reporting an earlier round at our height, the
// others' precommits of that round and their votes of ours (core.ts relayWhatMovedUs). Seeded world
// (seed 3); the world is stopped and one node's core is driven by hand.

import { describe, expect, it } from 'vitest';
import { step } from '../../runtime/consensus/core.js';
import type { Effect, Input } from '../../runtime/consensus/types.js';
import { initCrypto } from '../../runtime/crypto/sodium.js';
import { sealEnvelope } from '../../runtime/wire/envelope.js';
import { encodeVoteBody } from '../../runtime/wire/vote.js';
import { World } from '../../fleet-sim/sim/world.js';
import { runScenario } from '../../fleet-sim/sim/run.js';
import { keptWorld } from './worlds/kept.js';
import { explain, scenario } from '../sim/helpers.js';

const relayed = (fx: Effect[]): Uint8Array[] => fx.flatMap((e) => (e.type === 'relay' ? [...e.envelopes] : []));
const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));

describe('votes that moved a validator on reach the validators left behind (seed 3)', () => {
  it("the gossip relays the others' precommits of the round a peer is still in, and the votes of the round it left for", async () => {
    await initCrypto();
    const w = new World(scenario({ name: 'relay-round-votes', seed: 3, followers: 0 }), 3, {});
    w.start();
    // A moment when node 0 works on a height (not in its commit wait).
    for (let t = 1_000; t < 5_000 && (w.nodes[0]?.shell?.core.waiting ?? true); t += 5) w.queue.runUntil(t, 1e8);
    const [n0, n1, n2, n3] = w.nodes;
    const core = n0?.shell?.core;
    expect(core && n1 && n2 && n3 && core.waiting === false, 'node 0 is working on a height').toBe(true);
    if (!core || !n0?.shell || !n1 || !n2 || !n3) return;
    const shell = n0.shell;
    const { height: h, round: r0 } = core;
    const now = w.queue.now;
    const fleet = core.p.fleet;
    const r = r0 + 1; // a round no one voted in yet: only the votes below exist there
    const precommitNil = (n: typeof n1): Uint8Array => sealEnvelope('precommit', fleet, n.id, encodeVoteBody({ height: h, round: r, blockHash: null }), n.signer);
    const input = (bytes: Uint8Array): Input => {
      const i = shell.edge.toInput(bytes, now);
      if (!i.ok) throw new Error(i.error);
      return i.value;
    };
    // v02 and v03 say they are in round r (they would have told it in their statuses).
    for (const n of [n2, n3]) step(core, { type: 'status', now, from: n.id, height: h, round: r });
    // Nil precommits of round r from v01, v02 and v03: f+1 of the power is in r (line 55), and 2f+1
    // nil there ends it (the nil shortcut): node 0 goes to round r + 1 without precommitting in r.
    const fromV01 = precommitNil(n1);
    for (const bytes of [fromV01, precommitNil(n2), precommitNil(n3)]) step(core, input(bytes));
    expect(core.round, 'node 0 left round r').toBe(r + 1);
    // Its next gossip passes v01's precommit on: v02 and v03, which may never have got it, need it to
    // reach 2f+1 in round r.
    const fx = step(core, { type: 'timeout', now: now + 200, timer: 'gossip', height: h, round: 0 }).effects;
    const out = relayed(fx);
    expect(out.some((e) => same(e, fromV01)), `v01's precommit of round ${r} relayed (${out.length} envelopes relayed)`).toBe(true);
    // Once every validator reports node 0's round, nothing but its own messages goes out again.
    for (const n of [n1, n2, n3]) step(core, { type: 'status', now: now + 200, from: n.id, height: h, round: r + 1 });
    const quiet = relayed(step(core, { type: 'timeout', now: now + 400, timer: 'gossip', height: h, round: 0 }).effects);
    const own = core.ownEnvelopes.map((e) => e.envelope);
    expect(quiet.every((e) => own.some((o) => same(o, e))), 'only its own messages').toBe(true);
  });

  it('world 8124989 (found by fleet-sim seeds) is live again', async () => {
    // The world as `fleet-sim seeds` drew it then (randomScenario(8124989)), kept whole: later draws may change what a seed makes.
    const { world, path } = keptWorld('random-8124989.json');
    const report = await runScenario(world, world.seed);
    expect(report.expect.failed, `the world in ${path}`).toEqual([]);
    expect(report.liveness.ok, `the world in ${path}, seed ${report.seed}: ${explain(report)}`).toBe(true);
  });
});
