// The device's wiring of the agents (runtime/device/agents-setup.ts): what the reflexes are told about
// quorum contact when the node's wall clock steps.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { agentTxOf } from '../../agents/swarm/swarm-state.js';
import { hazardRangeRing } from '../../agents/features/range.js';
import { deviceError, type DeviceSet, type RangeReading } from '../../hal/devices.js';
import type { Signer } from '../../runtime/crypto/sodium.js';
import { DeviceAgents } from '../../runtime/device/agents-setup.js';
import { err, ok } from '../../runtime/lib/result.js';
import { initialMissionState } from '../../runtime/mission/machine.js';
import type { AttestationBody } from '../../runtime/wire/attestation.js';

const dir = mkdtempSync(join(tmpdir(), 'murmur-device-agents-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function device(name: string, clocks: { mono: number; lastCommitMs: number }, devices: DeviceSet = {}, position: { northM: number; eastM: number; upM: number } | null = null) {
  const actions: string[] = [];
  const attested: AttestationBody[] = [];
  const agents = new DeviceAgents({
    id: 'd1',
    fleet: 'f',
    dir: join(dir, name),
    modelsDir: join(dir, name, 'models'),
    engine: 'rules',
    fence: null,
    devices,
    signer: { publicKey: new Uint8Array(32), sign: () => new Uint8Array(64) } satisfies Signer,
    submit: (env) => {
      const tx = agentTxOf(env);
      if (tx) attested.push(tx.body);
    },
    validators: 4,
    position: () => position,
    home: () => null,
    committed: () => ({ height: 1, mission: initialMissionState(), lastCommitMs: clocks.lastCommitMs }),
    onAction: (action, agent) => void actions.push(`${agent}: ${action.type}`),
    onRelease: () => undefined,
    onReport: () => undefined,
    monoClock: () => clocks.mono,
  });
  return { agents, actions, attested };
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
      await agents.idle();
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
      await agents.idle();
    }
    expect(actions).toEqual([]);
    await agents.stop(0);
  });
});

describe('DeviceAgents without an attitude reading', () => {
  it('the heading is unknown, not north: no back-off flown on a guessed bearing, no hazard placed on one', async () => {
    // Heading 0 was assumed when the attitude read failed (stale, unsupported): a close return dead
    // ahead of a drone facing east sent it backing away south-west of where it should, perhaps into the
    // obstacle, and its hazard attestations named cells on the wrong side.
    const now = { ms: 1_000_000 };
    const stale = () => err(deviceError('stale', 'newest ATTITUDE is 3000 ms old'));
    const life = { start: () => Promise.resolve(), stop: () => Promise.resolve() };
    const scan = (): RangeReading[] => hazardRangeRing.beamsRad.map((bearingRad, i) => ({ timeMs: now.ms, distanceM: i === 0 ? 2 : 20, minM: 0.1, maxM: 20, bearingRad }));
    const devices: DeviceSet = {
      position: { kind: 'position', driver: 'test', ...life, fix: () => ok({ timeMs: now.ms, fix: '3d', latDeg: 47, lonDeg: 8, altMslM: 500, satellites: 12, hdop: 0.8, groundSpeedMps: 0, courseDeg: 0 }) },
      attitude: { kind: 'attitude', driver: 'test', ...life, attitude: stale, imu: stale },
      range: { kind: 'range', driver: 'test', ...life, readings: () => ok(scan()) },
    };
    const clocks = { mono: 0, lastCommitMs: now.ms };
    const { agents, actions, attested } = device('heading', clocks, devices, { northM: 10, eastM: 10, upM: 20 });
    await agents.start(now.ms);
    for (let k = 0; k < 20; k++) {
      now.ms = 1_000_000 + k * 100;
      clocks.mono = k * 100;
      clocks.lastCommitMs = now.ms;
      await agents.tick(now.ms);
      await agents.idle();
    }
    expect(actions.filter((a) => a.includes('velocity'))).toEqual([]);
    expect(actions).toContain('mission-reflexes: hold'); // something is 2 m away and we cannot tell where: stop
    expect(attested).toEqual([]);
    await agents.stop(now.ms);
  });
});

describe('DeviceAgents IMU stream', () => {
  it('after the wall clock steps back, new IMU samples still reach the agents', async () => {
    // A MAVLink IMU sample is stamped with its receipt time (the wall clock). Only samples newer than
    // the last one handed over were passed on, so after a step back the telemetry model kept judging
    // the window from before the step until the clock caught up.
    const now = { ms: 1_000_000 };
    const life = { start: () => Promise.resolve(), stop: () => Promise.resolve() };
    const devices: DeviceSet = {
      attitude: {
        kind: 'attitude',
        driver: 'test',
        ...life,
        attitude: () => err(deviceError('no-data', 'none')),
        imu: () => ok({ timeMs: now.ms, accelMps2: { x: 0, y: 0, z: -9.81 }, gyroRadps: { x: 0, y: 0, z: 0 } }),
      },
    };
    const clocks = { mono: 0, lastCommitMs: now.ms };
    const { agents } = device('imu', clocks, devices);
    const seen: number[] = [];
    agents.scheduler.add({ name: 'spy', inputs: ['imu'], periodMs: 100, budgetMs: 1_000, start: () => null, tick: (st, inp) => (seen.push(...(inp.imu ?? []).map((x) => x.timeMs)), { state: st }) });
    await agents.start(now.ms);
    for (let k = 0; k < 10; k++) {
      now.ms = (k < 5 ? 1_000_000 : 1_000_000 - 3_600_000) + k * 100;
      clocks.mono = k * 100;
      clocks.lastCommitMs = now.ms;
      await agents.tick(now.ms);
      await agents.idle();
      await agents.tick(now.ms); // read twice: the same sample is not handed over twice
      await agents.idle();
    }
    expect(seen.length).toBe(10);
    await agents.stop(now.ms);
  });
});

describe('DeviceAgents while inference hangs', () => {
  it('the reflexes keep running and acting while a pass of the model agents is stuck', async () => {
    // A pass was skipped whole while the previous one ran, and model agents' ticks await inference:
    // with the inference worker stuck, no reflex ran until the tick timeout (1 s per agent) ended it.
    const clocks = { mono: 0, lastCommitMs: 1_000_000 };
    const { agents, actions } = device('hang', clocks);
    agents.scheduler.add({ name: 'a-hang', inputs: [], periodMs: 100, budgetMs: 1_000, start: () => null, tick: () => new Promise<never>(() => undefined) });
    await agents.start(1_000_000);
    for (let k = 0; k <= 60; k++) {
      clocks.mono = k * 100;
      await agents.tick(1_000_000 + k * 100); // no commit: quorum contact lost at 1_000_000
    }
    expect(actions).toEqual(['mission-reflexes: hold']);
    await agents.idle(); // the stuck pass ends at the tick timeout
    await agents.stop(1_006_000);
  });
});
