// A latched failsafe return (link loss here) whose straight line home crosses a mast the swarm has not
// committed: the obstacle back-off passes the latch (an avoidance move), and when it is over the
// scheduler sends the return again. The mission-reflexes agent on the HAL's simulated drivers, as on a
// device. Before, the latch suppressed the back-off and the return flew into the mast. And a return
// that fires while the drone backs off waits for the back-off, where before it won that tick.

import { beforeAll, describe, expect, it } from 'vitest';
import type { CommittedView } from '../../agents/api/agent.js';
import { HalInputReader, halActionSink } from '../../agents/api/hal-io.js';
import { AgentScheduler, type AgentReport } from '../../agents/api/scheduler.js';
import { MemoryStateStore } from '../../agents/api/state-store.js';
import { missionReflexAgent } from '../../agents/builtin/mission-reflexes.js';
import { localToGeo } from '../../hal/geo.js';
import { SimMultirotor } from '../../hal/sim/multirotor.js';
import { defaultSimConfig } from '../../hal/sim/sim-config.js';
import { createSimDevices } from '../../hal/sim/sim-devices.js';
import { initCrypto } from '../../runtime/crypto/sodium.js';
import { Prng } from '../../runtime/lib/prng.js';

beforeAll(async () => {
  await initCrypto();
});

const seed = Number(process.env.MURMUR_AGENT_SEED ?? 7);

describe(`a latched failsafe return and an uncommitted obstacle (seed ${seed})`, () => {
  it('the back-off passes the latched return, the return is sent again after it, and the drone never enters the mast', async () => {
    const beams = Array.from({ length: 16 }, (_, i) => (i * Math.PI) / 8);
    const mast = { northM: 40, eastM: 0, radiusM: 4, heightM: 60 };
    const vehicle = new SimMultirotor({ ...defaultSimConfig, range: { ...defaultSimConfig.range, beamsRad: beams, maxM: 20 }, obstacles: [mast] }, new Prng(seed), 0);
    expect(vehicle.returnAltitude()).toBeLessThan(mast.heightM);
    const devices = createSimDevices(vehicle);
    for (const d of Object.values(devices)) await d.start();
    const reports: AgentReport[] = [];
    const actions: string[] = [];
    const sink = halActionSink(devices);
    const sched = new AgentScheduler({ store: new MemoryStateStore(), act: (a, agent, why) => (actions.push(`${a.type} by ${agent} (${why})`), sink(a)), attest: () => undefined, cpuClock: () => 0, onReport: (r) => reports.push(r) });
    sched.add(missionReflexAgent());
    await sched.start(0);
    const reader = new HalInputReader(devices, vehicle.origin);
    const committed: CommittedView = { height: 1, f: 1, hazards: [], cellM: 5, geofence: null, home: { northM: 0, eastM: 0 }, models: {} };
    // Out east of the mast and north past it, so the way home runs straight through it.
    const legs: Record<number, [number, number]> = { 10_000: [0, 30], 20_000: [80, 30], 35_000: [80, 0] };
    const linkLostAt = 45_000;
    let lastContact = 0;
    let returnedAt = -1;
    for (let t = 0; t <= 130_000; t += 100) {
      vehicle.step(t);
      if (t === 100) expect((await devices.flight.execute({ type: 'arm' })).ok).toBe(true);
      if (t === 200) expect((await devices.flight.execute({ type: 'takeoff', relAltM: 20 })).ok).toBe(true);
      const leg = legs[t];
      if (leg) expect((await devices.flight.execute({ type: 'goto', target: { ...localToGeo(vehicle.origin, leg[0], leg[1]), relAltM: 20 }, speedMps: 8 })).ok).toBe(true);
      if (t < linkLostAt) lastContact = t;
      await sched.tick(reader.read(t, { link: { lastQuorumContactMs: lastContact }, committed }));
      if (returnedAt < 0 && vehicle.state().mode === 'return') returnedAt = t;
    }
    const msg = `seed ${seed}: actions ${JSON.stringify(actions.slice(0, 12))} reports ${JSON.stringify(reports.filter((r) => r.kind !== 'started').slice(0, 6))}`;
    expect(returnedAt, msg).toBeGreaterThan(linkLostAt + 29_000); // the link-loss return, latched
    expect(sched.latchedAction()?.type, msg).toBe('return-to-launch');
    expect(vehicle.strikes(), msg).toEqual([]);
    expect(actions.some((a) => a.startsWith('velocity by mission-reflexes (obstacle at')), msg).toBe(true);
    // Each back-off over, the latched return goes on from where the drone is (at the mast again, as
    // long as nothing routes it round: the device's executor does once the swarm commits the mast).
    expect(actions.filter((a) => a.startsWith('return-to-launch by scheduler')).length, msg).toBeGreaterThan(0);
    const s = vehicle.state();
    expect(Math.hypot(s.northM - mast.northM, s.eastM - mast.eastM), msg).toBeGreaterThan(mast.radiusM);
    expect(s.northM, msg).toBeGreaterThan(mast.northM); // still on the far side: nothing routed it round
  });

  it.each(['link loss', 'battery'] as const)('a %s return that fires while the drone backs off a mast waits for the back-off: no return is sent until it is over', async (cause) => {
    // Before, on the tick the return fired the scheduler ranked it above the back-off of that same tick
    // and sent it ("velocity (obstacle at 0.7 m) yielded to return-to-launch"); only a return latched
    // on an earlier tick let the back-off through.
    const beams = Array.from({ length: 16 }, (_, i) => (i * Math.PI) / 8);
    const mast = { northM: 40, eastM: 0, radiusM: 4, heightM: 60 };
    const vehicle = new SimMultirotor({ ...defaultSimConfig, range: { ...defaultSimConfig.range, beamsRad: beams, maxM: 20 }, obstacles: [mast] }, new Prng(seed), 0);
    const devices = createSimDevices(vehicle);
    for (const d of Object.values(devices)) await d.start();
    const reports: AgentReport[] = [];
    const actions: { t: number; what: string }[] = [];
    const sink = halActionSink(devices);
    let t = 0;
    const sched = new AgentScheduler({ store: new MemoryStateStore(), act: (a, agent, why) => (actions.push({ t, what: `${a.type} by ${agent} (${why})` }), sink(a)), attest: () => undefined, cpuClock: () => 0, onReport: (r) => reports.push(r) });
    sched.add(missionReflexAgent());
    await sched.start(0);
    const reader = new HalInputReader(devices, vehicle.origin);
    const committed: CommittedView = { height: 1, f: 1, hazards: [], cellM: 5, geofence: null, home: { northM: 0, eastM: 0 }, models: {} };
    let firedAt = -1;
    let firstReturnAt = -1;
    let modeOnFiring = '';
    for (t = 0; t <= 40_000; t += 100) {
      vehicle.step(t);
      if (t === 100) expect((await devices.flight.execute({ type: 'arm' })).ok).toBe(true);
      if (t === 200) expect((await devices.flight.execute({ type: 'takeoff', relAltM: 20 })).ok).toBe(true);
      // Straight at the mast, past it.
      if (t === 10_000) expect((await devices.flight.execute({ type: 'goto', target: { ...localToGeo(vehicle.origin, 80, 0), relAltM: 20 }, speedMps: 8 })).ok).toBe(true);
      const backingOff = actions.some((a) => a.what.startsWith('velocity by mission-reflexes'));
      // The failsafe fires on the tick after the back-off began (while it goes on, the mast metres away).
      if (firedAt < 0 && backingOff) firedAt = t;
      const fire = firedAt >= 0;
      const inputs = reader.read(t, { link: { lastQuorumContactMs: fire && cause === 'link loss' ? t - 30_000 : t }, committed });
      await sched.tick(fire && cause === 'battery' && inputs.battery ? { ...inputs, battery: { ...inputs.battery, remainingFraction: 0.1, status: 'low' } } : inputs);
      if (t === firedAt) modeOnFiring = vehicle.state().mode;
      if (firstReturnAt < 0 && actions.some((a) => a.what.startsWith('return-to-launch'))) firstReturnAt = t;
    }
    const msg = `seed ${seed}, ${cause}: actions ${JSON.stringify(actions.slice(0, 12))} reports ${JSON.stringify(reports.filter((r) => r.kind !== 'started').slice(0, 6))}`;
    expect(firedAt, msg).toBeGreaterThan(10_000);
    expect(modeOnFiring, `${msg}: on the tick the return fired the back-off is flown, not the return`).toBe('guided');
    expect(reports.filter((r) => r.kind === 'action-suppressed' && r.message.startsWith('velocity')), msg).toEqual([]);
    expect(reports.some((r) => r.kind === 'action-deferred' && r.message.startsWith('return-to-launch')), msg).toBe(true);
    // The return is sent once the back-off is over, by the reflex that asked for it, with its reason.
    const firstReturn = actions.find((a) => a.what.startsWith('return-to-launch'));
    expect(firstReturn?.what, msg).toMatch(/^return-to-launch by mission-reflexes \((no quorum contact|battery).*; sent after obstacle avoidance over\)$/);
    const lastBackOff = actions.filter((a) => a.t < firstReturnAt && a.what.startsWith('velocity')).at(-1);
    expect(lastBackOff, msg).toBeDefined();
    expect(sched.latchedAction()?.type, msg).toBe('return-to-launch');
    expect(vehicle.strikes(), msg).toEqual([]);
  });
});
