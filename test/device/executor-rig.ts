// A device's executor on the simulated multirotor, running 20x faster than the wall clock (slower when
// the machine is loaded: vehicleClock) and stepped as a device's tick does: the rig the executor tests
// share. Call stopRigs() after each test.

import type { TestContext } from 'vitest';
import { Executor, type ExecReport } from '../../runtime/device/executor.js';
import { SimMultirotor } from '../../hal/sim/multirotor.js';
import type { Obstacle } from '../../hal/sim/obstacles.js';
import type { SimVehicleConfig } from '../../hal/sim/sim-config.js';
import { createSimDevices } from '../../hal/sim/sim-devices.js';
import { Prng } from '../../runtime/lib/prng.js';
import type { CommittedView } from '../../agents/api/agent.js';
import type { FlightControl } from '../../hal/devices.js';
import type { SimDeviceSet } from '../../hal/sim/sim-devices.js';
import { HalInputReader } from '../../agents/api/hal-io.js';
import { AgentScheduler } from '../../agents/api/scheduler.js';
import { MemoryStateStore } from '../../agents/api/state-store.js';
import { missionReflexAgent, type MissionReflexConfig } from '../../agents/builtin/mission-reflexes.js';

export const origin = { latDeg: 47.397742, lonDeg: 8.545594 };
export const timeScale = 20;

const timers: NodeJS.Timeout[] = [];

export async function executorRig(obstacles: readonly Obstacle[] = [], config: Partial<SimVehicleConfig> = {}) {
  const vehicle = new SimMultirotor({ origin: { ...origin, altMslM: 488 }, obstacles, ...config }, new Prng(5), 0, { northM: 0, eastM: 0 });
  const devices = createSimDevices(vehicle);
  for (const d of [devices.position, devices.attitude, devices.battery, devices.range, devices.flight]) await d.start();
  const clock = vehicleClock(vehicle);
  timers.push(clock);
  const reports: ExecReport[] = [];
  const logs: string[] = [];
  const ex = new Executor(devices, origin, (r) => reports.push(r), (m) => logs.push(m));
  /** Stops this rig's vehicle clock only (stopRigs stops every rig's). */
  const stop = (): void => {
    clearInterval(clock);
    const i = timers.indexOf(clock);
    if (i >= 0) timers.splice(i, 1);
  };
  return { vehicle, devices, ex, reports, logs, stop };
}

export type Rig = Awaited<ReturnType<typeof executorRig>>;

/** An executorRig whose vehicle clock stops when the test that made it ends (pass the test context's
 *  onTestFinished): for tests that run at once (describe.concurrent), each on its own vehicle,
 *  executor and clock, where stopRigs after each test would stop the others' clocks too. */
export async function testRig(onTestFinished: TestContext['onTestFinished'], obstacles: readonly Obstacle[] = [], config: Partial<SimVehicleConfig> = {}): Promise<Rig> {
  const r = await executorRig(obstacles, config);
  onTestFinished(() => r.stop());
  return r;
}

/** The longest wall-clock gap one step of the vehicle's clock counts (30 ms: 0.6 s of flight). */
const stepWallMsMax = 30;

/**
 * Steps `vehicle` every 10 ms at `timeScale` times the wall clock, then calls `after`. A timer that a
 * loaded machine runs late slows the vehicle's clock rather than jumping it: a 200 ms stall used to
 * fly the drone 32 m in one step, through what the executor (or a test standing in for a reflex)
 * would have stopped it before.
 */
export function vehicleClock(vehicle: SimMultirotor, after?: () => void): NodeJS.Timeout {
  let simMs = 0;
  let last = Date.now();
  return setInterval(() => {
    const now = Date.now();
    simMs += Math.min(now - last, stepWallMsMax) * timeScale;
    last = now;
    vehicle.step(simMs);
    after?.();
  }, 10);
}

/** Stops every rig's vehicle clock. */
export function stopRigs(): void {
  timers.splice(0).forEach((t) => clearInterval(t));
}

/** Polls `cond` every 20 ms for up to `ms`; its last answer. */
export async function until(cond: () => boolean, ms: number): Promise<boolean> {
  for (const t0 = Date.now(); Date.now() - t0 < ms; await new Promise((r) => setTimeout(r, 20))) if (cond()) return true;
  return cond();
}

/** The type of each action sent to `flight` from now on (its execute wrapped), in order. */
export function recordActions(flight: FlightControl): string[] {
  const actions: string[] = [];
  const execute = flight.execute.bind(flight);
  flight.execute = (a) => {
    actions.push(a.type);
    return execute(a);
  };
  return actions;
}

/**
 * The mission-reflexes agent (with `cfg`) on a scheduler wired to `ex` as runtime/device/device.ts wires
 * them (a return through returnHome, a hold or velocity through reflexAction, release and obstacle),
 * ticked every 100 ms of the vehicle's clock with quorum contact and nothing committed; `onTick` runs
 * on every tick. Stopped with the rigs (stopRigs). Returns what the agent did, as "type by agent (why)".
 */
export async function reflexesOn(vehicle: SimMultirotor, devices: SimDeviceSet, ex: Executor, cfg: Partial<MissionReflexConfig> = {}, onTick?: () => void): Promise<string[]> {
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
  sched.add(missionReflexAgent(cfg));
  await sched.start(0);
  const reader = new HalInputReader(devices, origin);
  const committed: CommittedView = { height: 1, f: 1, hazards: [], cellM: 5, geofence: null, home: { northM: 0, eastM: 0 }, models: {} };
  let ticking = false;
  timers.push(
    setInterval(() => {
      onTick?.();
      if (ticking) return;
      ticking = true;
      const now = vehicle.state().timeMs;
      void sched.tick(reader.read(now, { link: { lastQuorumContactMs: now }, committed })).finally(() => (ticking = false));
    }, 100 / timeScale),
  );
  return actions;
}
