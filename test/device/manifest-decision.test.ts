// A manifest a block commits gets an entry of its own in the device's decision log, under the id of the
// fleet.update that named it (runtime/device/manifest-decision.ts, MissionRunner.onCommit). Before, the
// fleet changed with no trace in `murmurctl log` but the fleet.update's own acceptance.

import { describe, expect, it, vi } from 'vitest';
import type { CommittedBlock } from '../../runtime/consensus/types.js';
import type { DecisionJson } from '../../runtime/device/control-topics.js';
import { MissionRunner, type MissionRunnerOptions } from '../../runtime/device/mission-runner.js';
import { manifestDecision } from '../../runtime/device/manifest-decision.js';
import type { MissionBlock } from '../../runtime/mission/types.js';
import type { NodeShell } from '../../runtime/node/shell.js';

// The committed block as the mission machine sees it (no command in it), without signing envelopes.
const members = { epoch: 1, devices: ['d1'], operators: [] };
vi.mock('../../runtime/device/mission-adapter.js', async (actual) => ({ ...(await actual<object>()), missionBlockOf: (c: CommittedBlock) => ({ height: c.block.height, timeMs: 10_000, members, txs: [] }) satisfies MissionBlock }));

const hash = new Uint8Array(32).fill(0xab);

describe('the decision log names the fleet.update behind each manifest committed', () => {
  it('manifestDecision says the epoch, the hash, the command and when the set comes into force', () => {
    expect(manifestDecision({ hash, command: 'boss/00ff', epoch: 2, fromHeight: 44 }, 42, 1, 'cafe')).toEqual({
      height: 42,
      index: 1,
      command: 'boss/00ff',
      operator: 'boss',
      type: 'manifest',
      outcome: 'accepted',
      reason: 'manifest epoch 2 (abababababababab…) named by fleet.update boss/00ff, in force from height 44',
      blockHash: 'cafe',
    });
  });

  it('a device logs it for the block that holds the manifest tx', () => {
    const logged: DecisionJson[] = [];
    const quiet = { info: () => undefined, warn: () => undefined };
    const control = { ack: () => undefined, proof: () => undefined, log: (_all: DecisionJson[], fresh: DecisionJson[] = []) => void logged.push(...fresh) };
    const o = { id: 'd1', fleet: 'f', manifest: { body: { authority: new Uint8Array(32) } }, hal: { devices: {} }, origin: { latDeg: 47, lonDeg: 8 }, fence: null, log: quiet, control, metrics: { commands: { inc: () => undefined } } } as unknown as MissionRunnerOptions;
    const r = new MissionRunner(o);
    const lastAppliedManifests = [{ hash, command: 'boss/00ff', epoch: 2, fromHeight: 9 }];
    const shell = { core: { chain: { manifestAt: () => ({ body: { validators: [{ id: 'd1', power: 1 }] } }), lastAppliedManifests } } } as unknown as NodeShell;
    const block = (height: number, txs: unknown[]) => ({ block: { height }, hash: new Uint8Array(32), certificate: { height, blockHash: new Uint8Array(32) }, txs, proof: new Uint8Array(0) }) as unknown as CommittedBlock;
    r.onCommit(block(1, [{ kind: 'manifest', bytes: new Uint8Array(0), manifest: {}, key: 'k' }]), shell);
    expect(logged.map((d) => [d.height, d.type, d.command, d.reason])).toEqual([[1, 'manifest', 'boss/00ff', 'manifest epoch 2 (abababababababab…) named by fleet.update boss/00ff, in force from height 9']]);
    // A block without one logs none (the chain's list is the last block's only when it held one).
    r.onCommit(block(2, []), shell);
    expect(logged).toHaveLength(1);
  });
});
