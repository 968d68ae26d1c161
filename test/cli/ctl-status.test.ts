// `murmurctl status` shows each device's agents in one cell: engine and model version, and what needs
// attention (a refused model, an agent backing off after crashes).

import { describe, expect, it } from 'vitest';
import { agentsCell } from '../../runtime/cli/ctl-view.js';
import { otherEpochLine } from '../../runtime/cli/ctl-common.js';
import type { AgentStatusJson } from '../../runtime/device/control-topics.js';

const agent = (name: string, engine: string, model: string | null, extra: Partial<AgentStatusJson> = {}): AgentStatusJson => ({ name, engine, state: 'running', model, modelRefused: null, engineReasons: [], restarts: 0, ticks: 10, overruns: 0, lastError: null, ...extra });

describe('murmurctl status: the agents cell', () => {
  it('names each agent with its engine and model version, and flags refusals, states and restarts', () => {
    expect(
      agentsCell([
        agent('hazard-detect', 'onnxruntime', 'hazard-detect@1.1.0'),
        agent('mission-reflexes', 'none', null),
        agent('telemetry-anomaly', 'pure-ts', 'telemetry-anomaly@2.0.0', { modelRefused: 'model telemetry-anomaly 2.1.0 refused: file hash …', state: 'backoff', restarts: 2 }),
      ]),
    ).toBe('hazard-detect:onnxruntime@1.1.0 mission-reflexes:none telemetry-anomaly:pure-ts@2.0.0 (model refused, backoff, 2 restarts)');
    expect(agentsCell([])).toBe('-');
    expect(agentsCell(undefined)).toBe('-'); // a device from before agents were in the status
  });
});

describe('murmurctl: the epoch devices report against the manifest copy', () => {
  const at = (node: string, epoch?: number) => ({ node, ...(epoch !== undefined ? { epoch } : {}) });
  it('names a newer epoch and who reports it, says an older one is not in force yet, and is silent otherwise', () => {
    expect(otherEpochLine([at('d1', 3), at('d2', 2), at('d3', 3)], 2, 'm2')).toMatch(/^devices report fleet manifest epoch 3 in force \(d1, d3\), newer than --manifest m2 \(epoch 2\): .*get the manifest of epoch 3 /);
    expect(otherEpochLine([at('d1', 1), null, at('d2', 1)], 2, 'm2')).toMatch(/^devices report fleet manifest epoch 1 in force \(d1, d2\), older than --manifest m2 \(epoch 2\): its change is not in force yet .*until then give the manifest of epoch 1$/);
    // One device lagging behind the copy's epoch, devices that do not say theirs, none heard: nothing to say.
    expect(otherEpochLine([at('d1', 2), at('d2', 1)], 2, 'm2')).toBeNull();
    expect(otherEpochLine([at('d1'), at('d2')], 2, 'm2')).toBeNull();
    expect(otherEpochLine([], 2, 'm2')).toBeNull();
  });
});
