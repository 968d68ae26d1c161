// The shape checks murmurctl status and log make of the devices' unsigned JSON documents: a device's
// document (of this release, an older one or a newer one) fits; one with a field of another kind is
// named by the field's path.

import { describe, expect, it } from 'vitest';
import { readLog, readStatus } from '../../runtime/cli/ctl-documents.js';
import type { DecisionJson, StatusJson } from '../../runtime/device/control-topics.js';

/** Every field a device of this release may publish (typed: a field added to StatusJson shows here). */
const full: StatusJson = {
  node: 'd1',
  role: 'validator',
  state: 'ready',
  height: 886,
  round: 0,
  proposer: 'd4',
  epoch: 1,
  peers: { d2: 'alive', d3: 'dead' },
  batteryPct: null,
  position: { northM: 169.6, eastM: 140.7, upM: null },
  mission: { id: 'ops/39628104fca1d6913e12d389ede12ce3', status: 'active', progressPct: 25 },
  handedOver: 'a pilot flies it',
  evidence: [{ culprit: 'd3', height: 5, round: 0, vote: 'prevote', committedAt: 7 }],
  hazards: [{ cell: [1, 2], northM: 7.5, eastM: 12.5, committedAt: 9, attesters: ['d1', 'd2'] }],
  failsafes: 0,
  relayedFirst: 3,
  dropped: { envelopes: { 'bad-signature': 3 }, frames: {}, duplicates: 41 },
  notMember: 'removed',
  stateSync: { installs: 0, refused: 0 },
  blockSources: ['d2', 'd3'],
  fcFence: { state: 'on-fc', vertices: 4, altMaxM: 60, keepOuts: 0, keepOutsLeftOut: 0, leftOutReason: null, uploads: 1, failures: 0, reason: null, breachAction: 'return', warning: null },
  agents: [{ name: 'hazard-detect', engine: 'onnxruntime', state: 'running', model: 'hazard-detect@1.0.0', modelRefused: null, engineReasons: [], restarts: 0, ticks: 4410, overruns: 0, lastError: null }],
  stall: { forS: 20, height: 9, round: 3, down: ['d3'], voting: ['d1'], behind: [{ id: 'd2', height: 8 }], ahead: [], silent: [], votingPower: 1, quorumPower: 3, totalPower: 4, ownLinks: ['mqtt down'] },
  timeMs: 1795676568000,
};

describe('readStatus', () => {
  it("takes a device's document, one of an older release (fields missing), a newer one (fields unknown here) and a Will", () => {
    expect(readStatus(JSON.stringify(full), 'd1')).toEqual({ ok: true, status: full });
    expect(readStatus('{"node":"d1","height":3}', 'd1').ok).toBe(true);
    expect(readStatus(JSON.stringify({ ...full, radar: { on: true }, mission: { ...full.mission, eta: 5 } }), 'd1').ok).toBe(true);
    expect(readStatus('{"node":"d1","state":"offline"}', 'd1').ok).toBe(true);
  });

  it('names the first field of another kind by its path, and a document of another node or not an object', () => {
    const problem = (doc: unknown, node = 'd1'): string | null => {
      const r = readStatus(typeof doc === 'string' ? doc : JSON.stringify(doc), node);
      return r.ok ? null : r.problem;
    };
    expect(problem({ node: 'd1', mission: 5 })).toBe('mission is not an object or null');
    expect(problem({ node: 'd1', mission: { id: 'x', status: 'active' } })).toBe('mission.progressPct is missing');
    expect(problem({ node: 'd1', agents: [full.agents[0], null] })).toBe('agents[1] is not an object');
    expect(problem({ node: 'd1', agents: [{ ...full.agents[0], model: 7 }] })).toBe('agents[0].model is not a string or null');
    expect(problem({ node: 'd1', peers: { d2: 1 } })).toBe('peers.d2 is not a string');
    expect(problem({ node: 'd1', height: '5' })).toBe('height is not a number');
    expect(problem({ node: 'd1', stall: [] })).toBe('stall is not an object');
    expect(problem({ node: 'd1', stall: { ...full.stall, behind: [{ id: 'd2' }] } })).toBe('stall.behind[0].height is missing');
    expect(problem({ node: 'd1', blockSources: 'd2' })).toBe('blockSources is not a list or null');
    expect(problem({ node: 'd2' })).toBe('it names node "d2", not d1 (its topic\'s)');
    expect(problem({ mission: null })).toBe('node is missing or not a string');
    expect(problem('[]')).toBe('not a JSON object');
    expect(problem('{"node":')).toBe('not JSON');
  });
});

describe('readLog', () => {
  const d: DecisionJson = { height: 12, index: 0, command: 'ops/ab', operator: 'ops', type: 'noop', outcome: 'accepted', reason: '', blockHash: 'cd'.repeat(32) };

  it('keeps the decisions that fit and names each one that does not', () => {
    expect(readLog(JSON.stringify({ node: 'd1', decisions: [d, null, { ...d, outcome: 7 }, { ...d, extra: 1 }] }), 'd1')).toEqual({
      decisions: [d, { ...d, extra: 1 }],
      problems: ['decisions[1] is not an object', 'decisions[2].outcome is not a string'],
    });
    expect(readLog('{"node":"d1"}', 'd1')).toEqual({ decisions: [], problems: [] });
    expect(readLog('{"node":"d1","decisions":{}}', 'd1')).toEqual({ decisions: [], problems: ['decisions is not a list'] });
    expect(readLog(JSON.stringify({ node: 'd2', decisions: [d] }), 'd1')).toEqual({ decisions: [], problems: ['it names node "d2", not d1 (its topic\'s)'] });
  });
});
