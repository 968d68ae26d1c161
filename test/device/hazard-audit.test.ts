// Who committed a hazard, as the status topic and `murmurctl log` show it (MissionRunner): the
// devices whose attestations committed the cell, kept in the replicated record, not whoever happens
// to have a live "present" word about it now (before: a device that later denied it dropped out, one
// that only attested it later appeared, and after 120 heights the list was empty).

import { afterEach, describe, expect, it, vi } from 'vitest';
import { makeSimFleet } from '../../agents/sim/fleet.js';
import type { CommittedBlock } from '../../runtime/consensus/types.js';
import { initCrypto } from '../../runtime/crypto/sodium.js';
import type { DecisionJson } from '../../runtime/device/control-topics.js';
import { MissionRunner, type MissionRunnerOptions } from '../../runtime/device/mission-runner.js';
import { Prng } from '../../runtime/lib/prng.js';
import type { MissionBlock, MissionTx } from '../../runtime/mission/types.js';
import type { NodeShell } from '../../runtime/node/shell.js';
import { encodeAttestationBody } from '../../runtime/wire/attestation.js';
import { sealEnvelope } from '../../runtime/wire/envelope.js';

// The committed block as the mission machine sees it, without signing envelopes for its commands.
const next = vi.hoisted(() => ({ block: null as unknown }));
vi.mock('../../runtime/device/mission-adapter.js', async (actual) => ({ ...(await actual<object>()), missionBlockOf: () => next.block }));

await initCrypto();
afterEach(() => vi.restoreAllMocks());

const fleet = makeSimFleet(new Prng(11), 4, 0);
const members = { epoch: 1, devices: fleet.devices, operators: [{ id: 'boss', roles: ['admin' as const] }] };
/** Four validators of power 1: f = 1, a hazard needs two devices. */
const shell = { core: { chain: { manifestAt: () => ({ body: { validators: fleet.devices.map((id) => ({ id, power: 1 })), followers: [] } }) } } } as unknown as NodeShell;

/** A signed hazard attestation of `sender` about `cell`, made with `basis` the height its device had
 *  applied (a word is dated by it: agents/swarm/hazard-commit.ts). */
const attest = (sender: string, cell: [number, number], present: boolean, basis = 0): Uint8Array =>
  sealEnvelope('attestation', fleet.fleet, sender, encodeAttestationBody({ agent: 'hazard-detect', observedAt: 1_000 + basis, basis, obs: { type: 'hazard', cell, present, confidencePerMille: 950 } }), fleet.signers.get(sender)!);

function device(): { r: MissionRunner; logs: DecisionJson[][] } {
  const logs: DecisionJson[][] = [];
  const quiet = { info: () => undefined, warn: () => undefined };
  const control = { ack: () => undefined, proof: () => undefined, log: (all: DecisionJson[]) => void logs.push([...all]) };
  const metrics = { commands: { inc: () => undefined } };
  const o = { id: 'v0', fleet: fleet.fleet, manifest: { body: { authority: new Uint8Array(32) } }, hal: { devices: {} }, origin: { latDeg: 47, lonDeg: 8 }, fence: null, log: quiet, control, metrics } as unknown as MissionRunnerOptions;
  return { r: new MissionRunner(o), logs };
}

function commit(r: MissionRunner, attestations: Uint8Array[], txs: MissionTx[] = []): void {
  const height = r.state.height + 1;
  next.block = { height, timeMs: 10_000 + height * 1_000, members, txs } satisfies MissionBlock;
  r.onCommit({ block: { height }, hash: new Uint8Array(32).fill(height), certificate: { height, blockHash: new Uint8Array(32) }, txs: attestations.map((bytes) => ({ bytes })), proof: new Uint8Array(0) } as unknown as CommittedBlock, shell);
}

describe('who committed a hazard', () => {
  it('the status names the devices that committed the cell, whatever their words since', () => {
    const [a, b, c] = fleet.devices as [string, string, string];
    const { r } = device();
    commit(r, [attest(a, [4, 4], true), attest(b, [4, 4], true)]);
    expect(r.committedHazards(10).map((h) => h.attesters)).toEqual([[a, b].sort()]);
    // b denies it, c sees it: still committed (c and a support it), and still committed by a and b.
    commit(r, [attest(b, [4, 4], false, 1), attest(c, [4, 4], true, 1)]);
    expect(r.committedHazards(10)).toEqual([{ cell: [4, 4], northM: 22.5, eastM: 22.5, committedAt: 1, attesters: [a, b].sort() }]);
    // 120 heights on, every word has expired; the cell stays committed, by a and b.
    for (let k = 0; k < 125; k++) commit(r, []);
    commit(r, [attest(c, [40, 40], true, r.state.height)]); // a block with an attestation applies the hazard rule's window
    expect(r.committedHazards(10).map((h) => h.attesters)).toEqual([[a, b].sort()]);
  });

  it('murmurctl log shows a committed and a cleared hazard as rows of the swarm', () => {
    const [a, b, c, d] = fleet.devices as [string, string, string, string];
    const { r, logs } = device();
    commit(r, [attest(a, [4, 4], true), attest(b, [4, 4], true)]);
    commit(r, [attest(a, [4, 4], false, 1), attest(b, [4, 4], false, 1), attest(c, [4, 4], false, 1), attest(d, [4, 4], false, 1)]);
    const rows = (logs.at(-1) ?? []).map(({ height, operator, type, outcome, reason, command }) => ({ height, command, operator, type, outcome, reason }));
    expect(rows).toEqual([
      { height: 1, command: 'hazard/4,4', operator: 'swarm', type: 'hazard.committed', outcome: 'accepted', reason: `cell 4,4 at [22.5, 22.5] m committed on the attestations of ${[a, b].sort().join(', ')}` },
      { height: 2, command: 'hazard/4,4', operator: 'swarm', type: 'hazard.cleared', outcome: 'accepted', reason: `cell 4,4 at [22.5, 22.5] m cleared on the denials of ${[a, b, c, d].sort().join(', ')}` },
    ]);
  });
});

describe('hazard.clear on a device', () => {
  const clear = (id: string, args: Record<string, unknown>): MissionTx => ({ kind: 'command', id, operator: 'boss', type: 'hazard.clear', args, issuedAt: 0, expiresAt: 1e15 });

  it("an admin's clear takes the cell off the status and the mission's map, and the log says who", () => {
    const [a, b] = fleet.devices as [string, string];
    const { r, logs } = device();
    commit(r, [attest(a, [4, 4], true), attest(b, [4, 4], true)]);
    commit(r, [], [clear('boss/01', { cell: [4, 4] })]);
    expect(r.committedHazards(10)).toEqual([]);
    expect(r.state.hazards?.cells).toEqual([]);
    const rows = (logs.at(-1) ?? []).filter((x) => x.height === 2).map(({ command, operator, type, outcome, reason }) => ({ command, operator, type, outcome, reason }));
    expect(rows).toEqual([
      { command: 'boss/01', operator: 'boss', type: 'hazard.clear', outcome: 'accepted', reason: 'cleared committed hazard cell 4,4' },
      { command: 'hazard/4,4', operator: 'swarm', type: 'hazard.cleared', outcome: 'accepted', reason: 'cell 4,4 at [22.5, 22.5] m cleared by boss (hazard.clear boss/01)' },
    ]);
  });
});
