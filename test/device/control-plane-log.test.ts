// The device's retained decision log (json/<node>/log) against a real Mosquitto: republished whole at
// most every limits.controlLogEveryMs, the newest going out when the wait ends, and at stop; each
// block's own decisions at once on json/<node>/decided. Before, every block that decided a command
// republished all of it (~44 KB a device per block).
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSigner, initCrypto, keyPairFromSeed } from '../../runtime/crypto/sodium.js';
import { ControlPlane } from '../../runtime/device/control-plane.js';
import type { DecisionJson } from '../../runtime/device/control-topics.js';
import { limits } from '../../runtime/lib/limits.js';
import { Mosquitto } from '../links/processes.js';

let broker: Mosquitto;

beforeAll(async () => {
  await initCrypto();
  broker = await Mosquitto.start();
}, 30_000);

afterAll(async () => {
  await broker?.stop();
});

const decision = (height: number): DecisionJson => ({ height, index: 0, command: `ops/${height.toString(16).padStart(16, '0')}`, operator: 'ops', type: 'noop', outcome: 'accepted', reason: null, blockHash: null } as unknown as DecisionJson);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the retained decision log', () => {
  it('goes out at once, then at most once a wait with the newest, and at stop', async () => {
    const cp = new ControlPlane({ url: broker.url, fleet: 'cpl', node: 'd1', signer: createSigner(keyPairFromSeed(new Uint8Array(32).fill(3))), log: () => {} });
    const sub = await mqtt.connectAsync(broker.url, { clientId: `cpl-sub-${process.pid}` });
    const got: { at: number; heights: number[] }[] = [];
    const decided: number[][] = [];
    sub.on('message', (t, p) => {
      const heights = (JSON.parse(p.toString()) as { decisions: DecisionJson[] }).decisions.map((d) => d.height);
      if (t === cp.topics.decided('d1')) decided.push(heights);
      else got.push({ at: performance.now(), heights });
    });
    await sub.subscribeAsync([cp.topics.log('d1'), cp.topics.decided('d1')], { qos: 1 });
    // A block deciding a command every 50 ms for 1.5 waits, as under a flood of commands.
    const blocks = Math.ceil((1.5 * limits.controlLogEveryMs) / 50);
    cp.start();
    try {
      const deadline = Date.now() + 10_000;
      while (!(cp as unknown as { client?: { connected: boolean } }).client?.connected && Date.now() < deadline) await sleep(20);
      const decisions: DecisionJson[] = [];
      const t0 = performance.now();
      for (let h = 1; h <= blocks; h++) {
        decisions.push(decision(h));
        cp.log(decisions, decisions.slice(-1));
        await sleep(50);
      }
      const until = Date.now() + limits.controlLogEveryMs + 5_000;
      while (got.at(-1)?.heights.at(-1) !== blocks && Date.now() < until) await sleep(50);
      // The first at once; the rest one per wait; the last holds every decision.
      expect(got.length, JSON.stringify(got.map((g) => g.heights.length))).toBeLessThanOrEqual(3);
      expect(got[0]!.heights).toEqual([1]);
      expect(got[0]!.at - t0).toBeLessThan(limits.controlLogEveryMs / 2);
      expect(got.at(-1)!.heights).toEqual(Array.from({ length: blocks }, (_, i) => i + 1));
      for (let i = 1; i < got.length; i++) expect(got[i]!.at - got[i - 1]!.at).toBeGreaterThan(limits.controlLogEveryMs * 0.9);
      // Each block's own decisions went out at once, not retained, one message a block.
      expect(decided).toEqual(Array.from({ length: blocks }, (_, i) => [i + 1]));
      // One more decision, then stop at once: it goes out with the goodbye, not lost with the timer.
      decisions.push(decision(blocks + 1));
      cp.log(decisions);
    } finally {
      await cp.stop();
    }
    const until = Date.now() + 5_000;
    while (got.at(-1)?.heights.at(-1) !== blocks + 1 && Date.now() < until) await sleep(50);
    expect(got.at(-1)!.heights.at(-1)).toBe(blocks + 1);
    await sub.endAsync();
  }, 30_000);
});
