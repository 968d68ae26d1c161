// The device's wiring of the agents (runtime/device/agents-setup.ts): what the reflexes are told about
// quorum contact when the node's wall clock steps.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Signer } from '../../runtime/crypto/sodium.js';
import { DeviceAgents } from '../../runtime/device/agents-setup.js';
import { initialMissionState } from '../../runtime/mission/machine.js';

const dir = mkdtempSync(join(tmpdir(), 'murmur-device-agents-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function device(name: string, clocks: { mono: number; lastCommitMs: number }) {
  const actions: string[] = [];
  const agents = new DeviceAgents({
    id: 'd1',
    fleet: 'f',
    dir: join(dir, name),
    modelsDir: join(dir, name, 'models'),
    engine: 'rules',
    fence: null,
    devices: {},
    signer: {} as Signer, // nothing is attested here
    submit: () => undefined,
    validators: 4,
    position: () => null,
    home: () => null,
    committed: () => ({ height: 1, mission: initialMissionState(), lastCommitMs: clocks.lastCommitMs }),
    onAction: (action, agent) => void actions.push(`${agent}: ${action.type}`),
    onRelease: () => undefined,
    onReport: () => undefined,
    monoClock: () => clocks.mono,
  });
  return { agents, actions };
}

describe('DeviceAgents', () => {
  it('quorum silence is measured on a monotonic clock: a wall clock stepped back still holds after 5 s', async () => {
    const clocks = { mono: 0, lastCommitMs: 1_000_000 };
    const { agents, actions } = device('back', clocks);
    await agents.start(1_000_000);
    // The last commit, then the wall clock steps back an hour (NTP correcting an RTC that was ahead).
    for (let k = 0; k <= 60; k++) {
      clocks.mono = k * 100;
      await agents.tick(k === 0 ? 1_000_000 : 1_000_000 - 3_600_000 + k * 100);
    }
    expect(actions).toEqual(['mission-reflexes: hold']);
    await agents.stop(0);
  });

  it('a wall clock stepped forward is not a lost link', async () => {
    const clocks = { mono: 0, lastCommitMs: 1_000_000 };
    const { agents, actions } = device('forward', clocks);
    await agents.start(1_000_000);
    // Commits keep coming every 500 ms; the wall clock jumps an hour ahead between two of them (k = 7).
    const wall = (k: number): number => 1_000_000 + k * 100 + (k >= 7 ? 3_600_000 : 0);
    for (let k = 0; k <= 20; k++) {
      clocks.mono = k * 100;
      if (k % 5 === 0) clocks.lastCommitMs = wall(k);
      await agents.tick(wall(k));
    }
    expect(actions).toEqual([]);
    await agents.stop(0);
  });
});
