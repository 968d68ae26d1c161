// A worker thread of a split run (shards.ts): builds the same world from the same scenario and seed,
// runs only the followers it owns, one window at a time as the main thread orders.

import { parentPort, workerData } from 'node:worker_threads';
import { initCrypto } from '../../runtime/crypto/sodium.js';
import type { Scenario } from '../scenario/scenario.js';
import { transferables, type Batch, type Order } from './shards.js';
import { World, type WorldOptions } from './world.js';

interface Data {
  readonly scenario: Scenario;
  readonly seed: number;
  readonly opts: WorldOptions;
  readonly index: number;
  readonly threads: number;
}

const port = parentPort;
if (port === null) throw new Error('shard-worker.ts runs as a worker thread of a split simulation (fleet-sim/sim/shards.ts)');
const d = workerData as Data;
await initCrypto();
const w = new World(d.scenario, d.seed, { ...d.opts, shard: { index: d.index, threads: d.threads } });
w.start();
port.on('message', (o: Order) => {
  if (o.type === 'window') {
    const r = w.runWindow(o);
    port.postMessage(r, transferables(r.out.filter((b): b is Batch => b !== null)));
    return;
  }
  port.postMessage(w.ownTotals());
});
port.postMessage({ type: 'ready' });
