// The device's path for an obstacle only this drone sees (the swarm never commits it: f+1 devices must
// attest a hazard): the mission-reflexes agent backs the drone off and reports where its beam hit
// (an `obstacle` output); the executor keeps a keep-out of its own there (sawObstacle) and, released,
// flies its leg round it. The agent, the scheduler and the executor wired as runtime/device/device.ts
// wires them, on a simulated multirotor with the 16-beam range ring, 20x faster than the wall clock.
// Before, released, the drone flew at the mast again, backed off again, and never finished its route.

import { afterEach, describe, expect, it } from 'vitest';
import type { CommittedView } from '../../agents/api/agent.js';
import { HalInputReader } from '../../agents/api/hal-io.js';
import { AgentScheduler } from '../../agents/api/scheduler.js';
import { MemoryStateStore } from '../../agents/api/state-store.js';
import { missionReflexAgent } from '../../agents/builtin/mission-reflexes.js';
import { hazardRangeRing } from '../../agents/features/range.js';
import { executorRig, origin, stopRigs, timeScale, until } from './executor-rig.js';

const timers: NodeJS.Timeout[] = [];
afterEach(() => {
  stopRigs();
  timers.splice(0).forEach((t) => clearInterval(t));
});

describe('executor and the obstacle back-off: an obstacle no other drone sees', () => {
  it('the drone gets round the mast on its route and finishes, without a strike, nothing committed', async () => {
    const mast = { northM: 0, eastM: 100, radiusM: 1.5, heightM: 60 };
    const { vehicle, devices, ex, reports, logs } = await executorRig([mast], { range: hazardRangeRing });
    const actions: string[] = [];
    const sched = new AgentScheduler({
      store: new MemoryStateStore(),
      act: (a, agent, why) => {
        actions.push(`${a.type} by ${agent} (${why})`);
        if (a.type === 'return-to-launch') ex.returnHome(why);
        else ex.reflexAction(a); // as Device does
      },
      release: () => ex.resumeAfterReflex(),
      obstacle: (_agent, at) => ex.sawObstacle(at.northM, at.eastM, at.beamRad),
      attest: () => undefined,
      cpuClock: () => 0,
    });
    sched.add(missionReflexAgent());
    await sched.start(0);
    const reader = new HalInputReader(devices, origin);
    const committed: CommittedView = { height: 1, f: 1, hazards: [], cellM: 5, geofence: null, home: { northM: 0, eastM: 0 }, models: {} };
    let ticking = false;
    timers.push(
      setInterval(() => {
        if (ticking) return;
        ticking = true;
        const now = vehicle.state().timeMs;
        void sched.tick(reader.read(now, { link: { lastQuorumContactMs: now }, committed })).finally(() => (ticking = false));
      }, 100 / timeScale),
    );
    ex.run('g', { type: 'waypoints', mission: 'g', waypoints: [{ n: 0, e: 2_000 }], altDm: 200, speedDmps: 80, then: 'hold' });
    const done = await until(() => reports.some((r) => r.stage === 'done' || r.stage === 'failed'), 30_000);
    const why = `actions ${JSON.stringify(actions.slice(0, 8))} logs ${JSON.stringify(logs.slice(0, 8))} reports ${JSON.stringify(reports.slice(-2))}`;
    expect(done, why).toBe(true);
    expect(reports.map((r) => r.stage), why).toContain('done');
    expect(vehicle.strikes(), why).toEqual([]);
    expect(actions.some((a) => a.startsWith('velocity by mission-reflexes (obstacle at')), why).toBe(true);
    expect(logs.some((l) => l.includes("this drone's routing keeps clear of it")), why).toBe(true);
    const st = vehicle.state();
    expect(Math.hypot(st.northM, st.eastM - 200), why).toBeLessThan(3.5);
  }, 60_000);
});
