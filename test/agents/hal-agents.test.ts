// Agents on the HAL's simulated drivers (hal/sim): inputs read through HalInputReader, actions executed
// on the simulated flight controller. A device that loses its links holds after T and returns to launch
// after T2 on the vehicle itself; the hazard agent attests the mast it flies past.

import { beforeAll, describe, expect, it } from 'vitest';
import type { CommittedView } from '../../agents/api/agent.js';
import { HalInputReader, halActionSink } from '../../agents/api/hal-io.js';
import { AgentScheduler, type AgentReport } from '../../agents/api/scheduler.js';
import { MemoryStateStore } from '../../agents/api/state-store.js';
import { hazardDetectAgent } from '../../agents/builtin/hazard-detect.js';
import { missionReflexAgent } from '../../agents/builtin/mission-reflexes.js';
import { telemetryAnomalyAgent } from '../../agents/builtin/telemetry-anomaly.js';
import { localToGeo } from '../../hal/geo.js';
import { SimMultirotor } from '../../hal/sim/multirotor.js';
import { defaultSimConfig } from '../../hal/sim/sim-config.js';
import { createSimDevices } from '../../hal/sim/sim-devices.js';
import { initCrypto } from '../../runtime/crypto/sodium.js';
import { Prng } from '../../runtime/lib/prng.js';
import type { AttestationBody } from '../../runtime/wire/attestation.js';

beforeAll(async () => {
  await initCrypto();
});

const seed = Number(process.env.MURMUR_AGENT_SEED ?? 7);

describe(`agents on hal/sim drivers (seed ${seed})`, () => {
  it('link loss: the simulated vehicle holds after 5 s and returns to launch after 30 s; the mast is attested', async () => {
    const beams = Array.from({ length: 16 }, (_, i) => (i * Math.PI) / 8);
    const vehicle = new SimMultirotor({ ...defaultSimConfig, range: { ...defaultSimConfig.range, beamsRad: beams, maxM: 20 }, obstacles: [{ northM: 80, eastM: 6, radiusM: 1.5, heightM: 60 }] }, new Prng(seed), 0);
    const devices = createSimDevices(vehicle);
    for (const d of Object.values(devices)) await d.start();
    const reports: AgentReport[] = [];
    const attests: AttestationBody[] = [];
    const actions: string[] = [];
    const sink = halActionSink(devices);
    const sched = new AgentScheduler({ store: new MemoryStateStore(), act: (a, agent, why) => (actions.push(`${a.type} by ${agent} (${why})`), sink(a)), attest: (b) => attests.push(b), cpuClock: () => 0, onReport: (r) => reports.push(r) });
    sched.add(missionReflexAgent());
    sched.add(hazardDetectAgent({ prefer: ['pure-ts', 'rules'] }));
    sched.add(telemetryAnomalyAgent({ deviceId: 'v0', prefer: ['pure-ts', 'rules'] }));
    await sched.start(0);
    const reader = new HalInputReader(devices, vehicle.origin);
    const committed: CommittedView = { height: 1, f: 1, hazards: [], cellM: 5, geofence: null, home: { northM: 0, eastM: 0 }, models: {} };
    const modes: { atMs: number; mode: string }[] = [];
    let lastContact = 0;
    let distanceAtRtl = 0;
    const linkLostAt = 30_000;
    for (let t = 0; t <= 70_000; t += 100) {
      vehicle.step(t);
      if (t === 100) expect((await devices.flight.execute({ type: 'arm' })).ok).toBe(true);
      if (t === 200) expect((await devices.flight.execute({ type: 'takeoff', relAltM: 20 })).ok).toBe(true);
      if (t === 10_000) {
        const r = await devices.flight.execute({ type: 'goto', target: { ...localToGeo(vehicle.origin, 160, 0), relAltM: 20 }, speedMps: 5 });
        expect(r.ok, `seed ${seed}: goto refused: ${JSON.stringify(r)} ${JSON.stringify(actions)} ${JSON.stringify(modes)} ${JSON.stringify(reports)}`).toBe(true);
      }
      if (t < linkLostAt) lastContact = t;
      await sched.tick(reader.read(t, { link: { lastQuorumContactMs: lastContact }, committed }));
      const mode = vehicle.state().mode;
      if (modes[modes.length - 1]?.mode !== mode) {
        modes.push({ atMs: t, mode });
        if (mode === 'return') distanceAtRtl = Math.hypot(vehicle.state().northM, vehicle.state().eastM);
      }
    }
    const msg = `seed ${seed}: actions ${JSON.stringify(actions)} modes ${JSON.stringify(modes)} reports ${JSON.stringify(reports.filter((r) => r.kind !== 'started'))}`;
    const hold = modes.find((m) => m.mode === 'hold' && m.atMs > linkLostAt);
    const ret = modes.find((m) => m.mode === 'return');
    // The last contact was the tick before the links died, at 29.9 s.
    expect(hold?.atMs, msg).toBe(linkLostAt - 100 + 5_000);
    expect(ret?.atMs, msg).toBe(linkLostAt - 100 + 30_000);
    expect(distanceAtRtl, msg).toBeGreaterThan(50);
    const s = vehicle.state();
    expect(Math.hypot(s.northM, s.eastM), msg).toBeLessThan(distanceAtRtl - 20); // on its way home
    const mast = attests.filter((a) => a.obs.type === 'hazard' && a.obs.present && a.obs.cell[0] === 16 && a.obs.cell[1] === 1);
    expect(mast.length, `seed ${seed}: ${JSON.stringify(attests.map((a) => a.obs))}`).toBeGreaterThan(0);
    expect(reports.filter((r) => r.kind === 'crashed')).toEqual([]);
    const st = Object.fromEntries(sched.status().map((x) => [x.name, x.engine]));
    // The telemetry model runs on the IMU and battery this vehicle reports, and a normal flight (take-off,
    // cruise, hold, return) raises no anomaly.
    expect(st).toEqual({ 'hazard-detect': 'pure-ts', 'mission-reflexes': 'none', 'telemetry-anomaly': 'pure-ts' });
    expect(attests.filter((a) => a.obs.type === 'degraded').map((a) => [a.observedAt, a.obs]), msg).toEqual([]);
    expect(actions.filter((a) => a.includes('telemetry-anomaly')), msg).toEqual([]);
  });
});
