// The scenario's faults applied to a World at their times: crashes and restarts (intact or torn WAL),
// Byzantine behaviours, partitions, broker outages and loss. Twins and amnesia are set up here because
// they are about identity and disk; the other behaviours wrap a node's outgoing traffic (byzantine.ts).

import { aheadFile, walFile } from '../../runtime/node/shell.js';
import { snapshotFile } from '../../runtime/node/snapshot-file.js';
import { encodeWalRecord, readWal } from '../../runtime/node/wal.js';
import type { Behavior } from '../scenario/scenario.js';
import { SimStorage } from './sim-storage.js';
import type { SimNode, World } from './world.js';

/** How long `crash: proposer` waits for an honest proposer when the one in office is Byzantine. */
export const proposerCrashWaitMs = 2_000;

export function scheduleFaults(w: World): void {
  // The node the latest crash fault took down (a scenario may restart `crashed`).
  let lastCrashed = 0;
  /** A `crash: proposer` is waiting for an honest proposer (proposerCrashWaitMs at most). */
  let crashPending = false;
  for (const f of w.scenario.faults) {
    // In a run split over threads (shards.ts) node faults are the main thread's (they hit validators
    // only); every thread applies the network's, at the same virtual times.
    const nodeFault = f.kind === 'crash' || f.kind === 'restart' || f.kind === 'byzantine' || f.kind === 'forged-commands' || f.kind === 'clock';
    if (nodeFault && !w.owns(0)) continue;
    w.queue.at(f.at, () => {
      switch (f.kind) {
        case 'crash': {
          if (f.node !== 'proposer') {
            lastCrashed = f.node;
            return w.crash(w.nodes[f.node] as SimNode, 'intact');
          }
          // The proposer at that moment, unless it is Byzantine (crashing the liar tests nothing): then
          // the first honest one after it, looked for every 10 ms for up to proposerCrashWaitMs.
          const until = f.at + proposerCrashWaitMs;
          crashPending = true;
          const crashProposer = (): void => {
            const p = w.currentProposer();
            if ((w.nodes[p] as SimNode).byzantine !== null && w.queue.now + 10 <= until) return void w.queue.at(w.queue.now + 10, crashProposer);
            lastCrashed = p;
            crashPending = false;
            w.crash(w.nodes[p] as SimNode, 'intact');
          };
          return crashProposer();
        }
        case 'restart': {
          // `crashed` is the node that crash took down: while it is still looking for an honest
          // proposer, the restart waits for it.
          const restart = (): void => {
            if (f.node === 'crashed' && crashPending) return void w.queue.at(w.queue.now + 10, restart);
            const n = w.nodes[f.node === 'crashed' ? lastCrashed : f.node] as SimNode;
            if (n.shell && f.wal !== 'intact') w.crash(n, f.wal);
            else if (n.shell === null && f.wal === 'torn') n.storage.tearTail(walFile, w.diskPrng);
            w.restart(n);
          };
          return restart();
        }
        case 'byzantine':
          return w.makeByzantine(w.nodes[f.node] as SimNode, f.behavior);
        case 'partition':
          w.net.setPartition(f.groups);
          return w.queue.at(f.until, () => w.net.setPartition([]));
        case 'one-way':
          w.net.addOneWay(f.from, f.to);
          return w.queue.at(f.until, () => w.net.clearOneWay());
        case 'broker-down':
          w.setBrokerDown(true);
          return w.queue.at(f.until, () => w.setBrokerDown(false));
        case 'loss':
          w.net.lossOverride = f.loss;
          return w.queue.at(f.until, () => (w.net.lossOverride = null));
        case 'forged-commands':
          return w.forgery?.schedule(f);
        case 'clock':
          return w.setClock(w.nodes[f.node] as SimNode, f.offsetMs);
      }
    });
  }
}

export function makeByzantine(w: World, n: SimNode, behavior: Behavior): void {
  n.byzantine = behavior;
  w.log(`${n.id} turns byzantine: ${behavior}`);
  n.byz = {
    behavior,
    id: n.id,
    fleet: w.fleet,
    signer: n.signer,
    prng: w.prng.split(`byz-${n.index}`),
    peers: w.nodes.filter((x) => x !== n).map((x) => x.index),
    otherIds: w.nodes.filter((x) => x !== n && x.index < w.scenario.validators).map((x) => x.id),
    sendRaw: (to, bytes) => w.transmit(n.index, to, bytes, 'consensus'),
    received: [],
    resigned: new Set(),
    onReplay: (bytes) => {
      if (w.checkers.isCommittedCommand(bytes)) w.refusals.replayedCommands++;
    },
  };
  if (behavior === 'amnesia') {
    // Restart having forgotten its lock, its own votes and its signer state; committed blocks stay.
    const wal = n.storage.rawDurable(walFile);
    const kept = wal ? readWal(wal, walFile) : null;
    n.storage.forget((name) => name === snapshotFile);
    if (kept?.ok) {
      for (const r of kept.value.records) if (r.t === 'commit') n.storage.append(walFile, encodeWalRecord(r));
      n.storage.sync(walFile);
    }
    n.shell = null;
    n.incarnation++;
    w.boot(n);
  } else if (behavior === 'twins') {
    const twin: SimNode = { ...n, storage: new SimStorage(), shell: null, incarnation: 0, twin: null, byz: { ...n.byz, prng: w.prng.split(`twin-${n.index}`) } };
    for (const name of [walFile, aheadFile, snapshotFile]) {
      const b = n.storage.rawDurable(name);
      if (b) twin.storage.setDurable(name, Uint8Array.from(b));
    }
    n.twin = twin;
    w.boot(twin);
  }
}
