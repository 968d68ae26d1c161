// What a validator says when its fleet commits no block (runtime/consensus/stall.ts): the threshold from
// the timeouts, its view in a deterministic world with two of four validators crashed (who votes, who is
// down, the power against the quorum), and the line people read.

import { beforeAll, describe, expect, it } from 'vitest';
import { initCrypto } from '../../runtime/crypto/sodium.js';
import { defaultConsensusConfig } from '../../runtime/consensus/types.js';
import { describeStall, stallAfterMs, stallView, type StallView } from '../../runtime/consensus/stall.js';
import { World } from '../../fleet-sim/sim/world.js';
import { step } from '../../runtime/consensus/core.js';
import { stallLine } from '../../runtime/cli/ctl-common.js';
import { scenario } from '../sim/helpers.js';

beforeAll(async () => {
  await initCrypto();
});

describe('a stalled fleet, as a validator sees it', () => {
  it('waits rounds 0 to 3 at their timeouts and the commit wait before it calls a stall: 14.1 s with the defaults', () => {
    expect(stallAfterMs(defaultConsensusConfig)).toBe(14_100);
    expect(stallAfterMs({ ...defaultConsensusConfig, proposeMs: 200, prevoteMs: 100, precommitMs: 100, proposeDeltaMs: 50, prevoteDeltaMs: 50, precommitDeltaMs: 50, commitWaitMs: 20 })).toBe(20 + 4 * 400 + 6 * 150);
  });

  for (const seed of [3, 4]) {
    it(`seed ${seed}: two of four validators crashed, a survivor names them and the power it lacks; with them back it commits and there is nothing to say`, () => {
      const w = new World(scenario({ name: 'stall', durationMs: 30_000, followers: 0 }), seed);
      w.start();
      w.queue.runUntil(1_500, 1e7);
      const [a, b, c, d] = w.nodes;
      if (!a?.shell || !b || !c || !d) throw new Error(`seed ${seed}: four validators`);
      w.crash(c, 'intact');
      w.crash(d, 'intact');
      w.queue.runUntil(w.queue.now + 5_000, 1e7);
      const core = a.shell.core;
      const height = core.height;
      // The failure detector's view, as the device passes it: without it they are the ones not heard.
      const down = stallView(core, 20_000, new Set([c.id, d.id])) as StallView;
      expect(down, `seed ${seed}`).toMatchObject({ forS: 20, height, down: [c.id, d.id].sort(), behind: [], silent: [], votingPower: 2, quorumPower: 3, totalPower: 4 });
      expect(down.voting, `seed ${seed}`).toEqual([a.id, b.id].sort());
      const quiet = stallView(core, 20_000, new Set()) as StallView;
      // Without it: a vote they cast at this height before they crashed makes them voting, a status
      // from the height before puts them behind, else there is no vote from them.
      expect([...quiet.voting, ...quiet.behind.map((x) => x.id), ...quiet.silent].sort(), `seed ${seed}`).toEqual([a.id, b.id, c.id, d.id].sort());
      expect(quiet.down, `seed ${seed}`).toEqual([]);
      expect(describeStall(down), `seed ${seed}`).toBe(
        `no block for 20 s at height ${height} (round ${core.round}): votes at this height from ${[a.id, b.id].sort().join(', ')} (2 of 4 voting power; 3 needed); down (no heartbeat): ${[c.id, d.id].sort().join(', ')}; too few validators vote: ${[c.id, d.id].sort().join(', ')} must come back (start them, or mend their links)`,
      );
      // A status from a later height (d's, say, heard before its heartbeats were): this device is the
      // one behind, so nobody is told to come back. Before, d was "down" and "must come back".
      step(core, { type: 'status', now: w.queue.now, from: d.id, height: height + 40, round: 0 });
      const lagging = stallView(core, 20_000, new Set([c.id, d.id])) as StallView;
      expect(lagging.ahead, `seed ${seed}`).toEqual([{ id: d.id, height: height + 40 }]);
      expect(lagging.down, `seed ${seed}`).toEqual([c.id]);
      expect(describeStall(lagging), `seed ${seed}`).toBe(
        `no block for 20 s at height ${height} (round ${core.round}): this device is behind: ${d.id} at height ${height + 40}; it catches up by block sync (41 heights to go): if that does not move, its links do not carry the others' blocks to it`,
      );
      core.peers.delete(d.id);
      w.restart(c);
      w.queue.runUntil(w.queue.now + 5_000, 1e7);
      expect(a.shell.core.height, `seed ${seed}: commits again with three of four`).toBeGreaterThan(height + 5);
    });
  }

  it('says when enough voting power is heard and still nothing commits, and names who is behind', () => {
    const v: StallView = { forS: 31, height: 108, round: 0, down: [], voting: ['d1', 'd3', 'd4'], behind: [{ id: 'd2', height: 90 }], silent: [], votingPower: 3, quorumPower: 3, totalPower: 4 };
    expect(describeStall(v)).toBe('no block for 31 s at height 108 (round 0): votes at this height from d1, d3, d4 (3 of 4 voting power; 3 needed); behind: d2 at height 90; enough validators vote here, yet nothing commits: they disagree or lose messages (their logs say more)');
    expect(describeStall({ ...v, voting: [], votingPower: 0, behind: [], silent: ['d1', 'd2', 'd3', 'd4'] })).toBe(
      'no block for 31 s at height 108 (round 0): no votes at this height (3 of 4 voting power needed); no vote here from: d1, d2, d3, d4; too few validators vote: d1, d2, d3, d4 must come back (start them, or mend their links)',
    );
    // A device whose own broker connection keeps dropping (its client id taken over, say) blamed the
    // validators it could not hear, and with the broker gone told the operator to start healthy devices
    // ("d2, d3, d4 must come back"); now it says its own links first, and the rest only as what it heard.
    expect(describeStall({ ...v, voting: ['d2'], votingPower: 1, behind: [], silent: ['d1', 'd3', 'd4'], ownLinks: ['mqtt dropped 4 times in 60 s'] })).toBe(
      "no block for 31 s at height 108 (round 0): this device's own links are not steady (mqtt dropped 4 times in 60 s): it may be the one cut off from the others, so look at its broker connection and radios first; what it heard of the others: votes at this height from d2 (1 of 4 voting power; 3 needed); no vote here from: d1, d3, d4",
    );
  });

  it("murmurctl's line tells a validator behind the others from a fleet that stalls", () => {
    const now = 1_000_000;
    const view = (over: Partial<StallView>): StallView => ({ forS: 60, height: 12, round: 0, down: [], voting: ['d1'], behind: [], ahead: [], silent: [], votingPower: 1, quorumPower: 3, totalPower: 4, ...over });
    const status = (node: string, stall: StallView) => ({ node, timeMs: now - 1_000, state: 'ready' as const, stall });
    // The reviewer's case: d1 on a broker the others are not on, its radio carrying their statuses.
    const behind = status('d1', view({ ahead: [{ id: 'd2', height: 195 }, { id: 'd3', height: 195 }, { id: 'd4', height: 194 }] }));
    expect(stallLine([behind, null, null, null], 4, now)).toBe(
      "d1 behind the fleet (the others commit on); d1: no block for 60 s at height 12 (round 0): this device is behind: d2 at height 195, d3 at height 195, d4 at height 194; it catches up by block sync (184 heights to go): if that does not move, its links do not carry the others' blocks to it",
    );
    // Two validators stalled at one height and a third behind them: the stall first, the laggard named.
    const stalled = view({ height: 200, voting: ['d2', 'd3'], votingPower: 2, down: ['d4'] });
    expect(stallLine([behind, status('d2', stalled), status('d3', stalled), null], 4, now)).toMatch(/^fleet stalled \(2 of 4 validators say so\); d2: .*must come back.*; behind the others: d1$/);
    // A device from before `ahead` existed: read as before.
    const { ahead: _omit, ...old } = stalled;
    expect(stallLine([status('d2', old as StallView)], 4, now)).toMatch(/^fleet stalled \(1 of 4 validators say so\)/);
  });
});
