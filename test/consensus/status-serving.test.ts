// What a validator sends a peer whose status says it is behind (core.ts, 'status'): blocks at once when
// the peer lacks two or more, but for the one block it committed just now only after a gossip interval
// (the peer's status most likely left before that block's votes reached it; on a slow radio the block
// would cost the next height's airtime). Seeded world; the seed is in the name.

import { describe, expect, it } from 'vitest';
import { step } from '../../runtime/consensus/core.js';
import type { Effect } from '../../runtime/consensus/types.js';
import { initCrypto } from '../../runtime/crypto/sodium.js';
import { World } from '../../fleet-sim/sim/world.js';
import { scenario } from '../sim/helpers.js';

const blocksSent = (fx: Effect[]): number => fx.filter((e) => e.type === 'send' && e.kind === 'sync-response').length;

describe('answering a status with blocks (seed 1)', () => {
  it('one height behind the block committed just now: nothing until a gossip interval has passed; two behind: at once', async () => {
    await initCrypto();
    const w = new World(scenario({ name: 'status-serving', seed: 1 }), 1, {});
    w.start();
    w.queue.runUntil(2_000, 1e8);
    const core = w.nodes[0]?.shell?.core;
    expect(core, 'node 0 is up').toBeDefined();
    if (!core) return;
    const h = core.chain.height;
    expect(h, 'the chain grew').toBeGreaterThan(5);
    const gossipMs = core.p.config.gossipMs;
    const at = core.committedAtMs;
    // Peers working on h lack only block h, committed at `at`.
    expect(blocksSent(step(core, { type: 'status', now: at + 1, from: 'p1', height: h, round: 0 }).effects)).toBe(0);
    expect(blocksSent(step(core, { type: 'status', now: at + gossipMs - 1, from: 'p1', height: h, round: 0 }).effects)).toBe(0);
    expect(blocksSent(step(core, { type: 'status', now: at + gossipMs, from: 'p1', height: h, round: 0 }).effects)).toBe(1);
    // A peer working on h - 1 lacks two blocks: both go at once.
    expect(blocksSent(step(core, { type: 'status', now: at + 1, from: 'p2', height: h - 1, round: 0 }).effects)).toBe(2);
    // An explicit request is answered at once whatever the height.
    expect(blocksSent(step(core, { type: 'sync-request', now: at + 1, from: 'p3', height: h }).effects)).toBe(1);
  });
});
