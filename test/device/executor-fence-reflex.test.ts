// A survey lane past this device's own fence is flown up to the fence (fenceCut) with the mission-reflexes
// agent watching the same fence, as on a device: the agent holds a drone whose position 2 s ahead lies
// outside and keeps it held, so the lane must end far enough inside (fenceCutMarginM) that a drone
// braking to it is not predicted across. With the cut 2 m short of the fence the agent held the drone
// 7 m before it and the task never finished. The agent, the scheduler and the executor wired as
// runtime/device/device.ts wires them, on a simulated multirotor 20x faster than the wall clock.

import { afterEach, describe, expect, it } from 'vitest';
import type { CommittedView } from '../../agents/api/agent.js';
import { HalInputReader } from '../../agents/api/hal-io.js';
import { AgentScheduler } from '../../agents/api/scheduler.js';
import { MemoryStateStore } from '../../agents/api/state-store.js';
import { missionReflexAgent } from '../../agents/builtin/mission-reflexes.js';
import { Executor, type ExecReport } from '../../runtime/device/executor.js';
import { executorRig, origin, stopRigs, timeScale, until } from './executor-rig.js';

const timers: NodeJS.Timeout[] = [];
afterEach(() => {
  stopRigs();
  timers.splice(0).forEach((t) => clearInterval(t));
});

describe("executor and the reflexes at this device's own fence", () => {
  it('flies each lane up to the fence and back in from it, with no reflex hold, and finishes', async () => {
    const { vehicle, devices } = await executorRig();
    const fence = [{ northM: -20, eastM: -20 }, { northM: 120, eastM: -20 }, { northM: 120, eastM: 30 }, { northM: -20, eastM: 30 }];
    const reports: ExecReport[] = [];
    const logs: string[] = [];
    const ex = new Executor(devices, origin, (r) => reports.push(r), (m) => logs.push(m), fence);
    const actions: string[] = [];
    const sched = new AgentScheduler({
      store: new MemoryStateStore(),
      act: (a, agent, why) => {
        actions.push(`${a.type} by ${agent} (${why})`);
        if (a.type === 'return-to-launch') ex.returnHome(why);
        else ex.reflexAction(a); // as Device does
      },
      release: () => ex.resumeAfterReflex(),
      obstacle: () => undefined,
      attest: () => undefined,
      cpuClock: () => 0,
    });
    sched.add(missionReflexAgent({ fence }));
    await sched.start(0);
    const reader = new HalInputReader(devices, origin);
    const committed: CommittedView = { height: 1, f: 1, hazards: [], cellM: 5, geofence: null, home: { northM: 0, eastM: 0 }, models: {} };
    let ticking = false;
    let eastMost = -Infinity;
    timers.push(
      setInterval(() => {
        eastMost = Math.max(eastMost, vehicle.state().eastM);
        if (ticking) return;
        ticking = true;
        const now = vehicle.state().timeMs;
        void sched.tick(reader.read(now, { link: { lastQuorumContactMs: now }, committed })).finally(() => (ticking = false));
      }, 100 / timeScale),
    );
    // Two lanes whose far ends (60 m east) lie past the fence at 30 m east, at 8 m/s.
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 400, e: 0 }, { n: 400, e: 600 }, { n: 800, e: 600 }, { n: 800, e: 0 }], altDm: 200, speedDmps: 80, then: 'hold' });
    const finished = await until(() => reports.some((r) => r.stage === 'done' || r.stage === 'failed'), 30_000);
    const why = `actions ${JSON.stringify(actions.slice(0, 8))} logs ${JSON.stringify(logs.slice(0, 8))} reports ${JSON.stringify(reports.slice(-2))} east-most ${eastMost.toFixed(1)} m`;
    expect(finished, why).toBe(true);
    expect(reports.map((r) => r.stage), why).toContain('done');
    expect(actions, why).toEqual([]); // before (the cut 2 m short): "hold by mission-reflexes (...geofence...)", and no done
    expect(eastMost, why).toBeGreaterThan(17);
    expect(eastMost, why).toBeLessThan(25);
  }, 60_000);
});
