// `murmurctl status` shows each device's agents in one cell: engine and model version, and what needs
// attention (a refused model, an agent backing off after crashes).

import { describe, expect, it } from 'vitest';
import { agentsCell } from '../../runtime/cli/ctl-view.js';
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
