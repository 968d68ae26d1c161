// The agents' application layer over committed blocks: signed txs in, hazards, degraded devices and
// estimates out (agent.model commands are the mission machine's, test/mission/models.test.ts). Also checks that agents/swarm stays pure like the consensus core.

import { readdirSync, readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeSimFleet } from '../../agents/sim/fleet.js';
import { committedHazards } from '../../agents/swarm/hazard-commit.js';
import { agentTxOf, applyAgentBlock, emptySwarmAgentState, estimateOf, type AgentTx, type SwarmAgentState } from '../../agents/swarm/swarm-state.js';
import { createSigner, initCrypto, keyPairFromSeed } from '../../runtime/crypto/sodium.js';
import { Prng } from '../../runtime/lib/prng.js';
import { encodeAttestationBody, type Observation } from '../../runtime/wire/attestation.js';
import { encodeCommandBody } from '../../runtime/wire/command.js';
import { sealEnvelope } from '../../runtime/wire/envelope.js';

beforeAll(async () => {
  await initCrypto();
});

describe('applyAgentBlock', () => {
  it('decodes signed attestations, ignores commands, and applies them block by block', () => {
    const fleet = makeSimFleet(new Prng(11), 4, 1);
    const devices = fleet.devices;
    const att = (sender: string, obs: Observation): Uint8Array => sealEnvelope('attestation', fleet.fleet, sender, encodeAttestationBody({ agent: 'x', observedAt: 1, basis: 0, obs }), fleet.signers.get(sender)!);
    const op = createSigner(keyPairFromSeed(new Uint8Array(32).fill(3)));
    const cmd = sealEnvelope('command', fleet.fleet, 'alice', encodeCommandBody({ type: 'agent.model', nonce: new Uint8Array(16), issuedAt: 0, expiresAt: 1000, args: { action: 'canary', model: 'hazard-detect', version: '1.1.0', hash: 'cd'.repeat(32) } }), op);
    const txs = [
      att('v0', { type: 'hazard', cell: [4, 4], present: true, confidencePerMille: 900 }),
      att('v1', { type: 'hazard', cell: [4, 4], present: true, confidencePerMille: 990 }),
      att('v2', { type: 'degraded', device: 'v2', severity: 'severe', reason: 'motor' }),
      att('v0', { type: 'degraded', device: 'v3', severity: 'severe', reason: 'looks wobbly' }),
      att('v0', { type: 'estimate', quantity: 'wind.speed-mps', value: 4 }),
      att('v1', { type: 'estimate', quantity: 'wind.speed-mps', value: 5 }),
      att('f0', { type: 'estimate', quantity: 'wind.speed-mps', value: 400 }),
      cmd,
      new Uint8Array([1, 2, 3]),
    ].map(agentTxOf).filter((t): t is AgentTx => t !== null);
    expect(txs.length).toBe(7); // the command and the garbage are not agent txs
    const r = applyAgentBlock(emptySwarmAgentState, { height: 1, f: 1, devices, txs });
    expect(r.events.map((e) => e.type)).toEqual(['hazard-committed', 'device-degraded']);
    expect(r.state.degraded.v2).toEqual({ severity: 'severe', height: 1, selfReported: true });
    expect(r.state.degraded.v3).toBeUndefined(); // one other device's word is not enough
    expect(estimateOf(r.state, 'wind.speed-mps', 1).value).toBe(5);
    expect(committedHazards(r.state.hazards)).toEqual([[4, 4]]);
    // A second device agrees about v3: now f+1 = 2 others say so.
    const more = [att('v1', { type: 'degraded', device: 'v3', severity: 'severe', reason: 'drifting' })].map(agentTxOf).filter((t): t is AgentTx => t !== null);
    const r2 = applyAgentBlock(r.state as SwarmAgentState, { height: 2, f: 1, devices, txs: more });
    expect(r2.state.degraded.v3).toEqual({ severity: 'severe', height: 2, selfReported: false });
  });
});

describe("a device's estimates are ordered by the body, not by the block that commits them", () => {
  // Anyone on the broker can have a device's recorded estimate committed again (its signature still
  // verifies), and a device's older estimate can be committed after its newer one. Neither may become
  // its latest value: estimates are dated as the hazard rule dates words, by basis then observedAt.
  it('a replayed or late estimate changes nothing; a newer one replaces the value', () => {
    const fleet = makeSimFleet(new Prng(12), 4, 0);
    const est = (sender: string, basis: number, observedAt: number, value: number): AgentTx =>
      agentTxOf(sealEnvelope('attestation', fleet.fleet, sender, encodeAttestationBody({ agent: 'wind', observedAt, basis, obs: { type: 'estimate', quantity: 'wind.speed-mps', value } }), fleet.signers.get(sender)!)) as AgentTx;
    const apply = (s: SwarmAgentState, height: number, txs: AgentTx[]): SwarmAgentState => applyAgentBlock(s, { height, f: 0, devices: fleet.devices, txs }).state;
    const wind = (s: SwarmAgentState): number | null => estimateOf(s, 'wind.speed-mps', 0).value;
    const old = est('v0', 3, 5_000, 40);
    // Height 9: v0's estimate of 4 (basis 8) after its older one of 40 (each block applies to a state
    // of its own: the hazard rule's state is handed on, block to block).
    const after9 = (): SwarmAgentState => apply(apply(emptySwarmAgentState, 4, [old]), 9, [est('v0', 8, 9_000, 4)]);
    expect(wind(after9())).toBe(4);
    expect(wind(apply(after9(), 10, [old])), 'the old estimate replayed').toBe(4);
    expect(wind(apply(after9(), 10, [est('v0', 8, 8_500, 7)])), 'same basis, observed earlier').toBe(4);
    expect(wind(apply(after9(), 10, [est('v0', 8, 9_000, 7)])), 'the same word again').toBe(4);
    expect(wind(apply(after9(), 10, [est('v0', 9, 100, 6)])), 'a later basis, its clock set back').toBe(6);
    expect(wind(apply(after9(), 10, [est('v0', 8, 9_500, 5)])), 'same basis, observed later').toBe(5);
    // One entry per device: a chatty device does not push the others out of the bounded list.
    expect(apply(after9(), 10, [est('v0', 9, 10_000, 5)]).estimates['wind.speed-mps']?.length).toBe(1);
  });
});

describe('purity of agents/swarm', () => {
  it('uses no clock, randomness, timers, promises, I/O or console', () => {
    const banned = [/from\s+['"]node:/, /\bDate\.now\b/, /\bMath\.random\b/, /\bsetTimeout\b/, /\bsetInterval\b/, /\bPromise\b/, /\basync\s/, /\bconsole\./, /\bprocess\./, /\bperformance\./];
    for (const f of readdirSync('agents/swarm').filter((n) => n.endsWith('.ts'))) {
      const code = readFileSync(`agents/swarm/${f}`, 'utf8').replace(/\/\/.*$/gm, '');
      for (const b of banned) expect(b.test(code), `agents/swarm/${f} matches ${b}`).toBe(false);
    }
  });
});
