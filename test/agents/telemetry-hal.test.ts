// The telemetry anomaly model on the signals a device really has: the IMU and battery of hal/sim's
// SimMultirotor read through the HAL (no ESC telemetry). Normal flights of varied plans (take-off,
// cruise at different speeds, turns, braking, hold, return, landing) raise no anomaly; a pack running
// empty is caught by the model (not the rules) and attested. Replay: MURMUR_AGENT_SEED=<n>.

import { beforeAll, describe, expect, it } from 'vitest';
import { HalInputReader } from '../../agents/api/hal-io.js';
import { AgentScheduler } from '../../agents/api/scheduler.js';
import { MemoryStateStore } from '../../agents/api/state-store.js';
import { telemetryAnomalyAgent } from '../../agents/builtin/telemetry-anomaly.js';
import type { FlightAction } from '../../hal/devices.js';
import { localToGeo } from '../../hal/geo.js';
import { SimMultirotor } from '../../hal/sim/multirotor.js';
import { defaultSimConfig, type SimVehicleConfig } from '../../hal/sim/sim-config.js';
import { createSimDevices } from '../../hal/sim/sim-devices.js';
import { defaultBattery } from '../../hal/sim/battery-model.js';
import { initCrypto } from '../../runtime/crypto/sodium.js';
import { Prng } from '../../runtime/lib/prng.js';
import type { AttestationBody } from '../../runtime/wire/attestation.js';

beforeAll(async () => {
  await initCrypto();
});

const seed = Number(process.env.MURMUR_AGENT_SEED ?? 7);

interface Flight {
  attests: AttestationBody[];
  actions: string[];
  engine: string;
  model: string | null;
  ticks: number;
  reasons: readonly string[];
}

/** Flies `plan` (actions at sim times) on a SimMultirotor with the telemetry agent reading its HAL at 10 Hz. */
async function fly(config: Partial<SimVehicleConfig>, vehicleSeed: number, plan: readonly { atMs: number; action: FlightAction }[], untilMs: number, timeScale = 1): Promise<Flight> {
  const vehicle = new SimMultirotor({ ...defaultSimConfig, ...config }, new Prng(vehicleSeed), 0);
  const devices = createSimDevices(vehicle);
  for (const d of Object.values(devices)) await d.start();
  const attests: AttestationBody[] = [];
  const actions: string[] = [];
  const sched = new AgentScheduler({ store: new MemoryStateStore(), act: (a, _agent, why) => void actions.push(`${a.type} (${why})`), attest: (b) => attests.push(b), cpuClock: () => 0 });
  sched.add(telemetryAnomalyAgent({ deviceId: 'v0', prefer: ['pure-ts', 'rules'] }));
  await sched.start(0);
  const reader = new HalInputReader(devices, vehicle.origin);
  for (let t = 0; t <= untilMs; t += 100) {
    vehicle.step(t * timeScale);
    for (const p of plan) if (p.atMs === t) await devices.flight.execute(p.action);
    await sched.tick(reader.read(t));
  }
  const st = sched.status()[0]!;
  return { attests, actions, engine: st.engine, model: st.model, ticks: st.ticks, reasons: st.engineReasons };
}

/** A random plan: take-off, three legs at random speeds (turns and braking between them), hold, return. */
function plan(prng: Prng): { atMs: number; action: FlightAction }[] {
  const origin = defaultSimConfig.origin;
  const alt = prng.range(10, 40);
  const out: { atMs: number; action: FlightAction }[] = [
    { atMs: 100, action: { type: 'arm' } },
    { atMs: 200, action: { type: 'takeoff', relAltM: alt } },
  ];
  for (let leg = 0; leg < 3; leg++) {
    const target = { ...localToGeo(origin, prng.range(-150, 150), prng.range(-150, 150)), relAltM: alt + prng.range(-5, 5) };
    out.push({ atMs: 15_000 + leg * 25_000, action: { type: 'goto', target, speedMps: prng.range(3, 12) } });
  }
  out.push({ atMs: 95_000, action: { type: 'hold' } }, { atMs: 105_000, action: { type: 'return-to-launch' } });
  return out;
}

describe(`telemetry anomaly model on hal/sim IMU and battery (seed ${seed})`, () => {
  it('normal flights of varied plans raise no anomaly, inferring with the model', async () => {
    const prng = new Prng(seed);
    for (let i = 0; i < 4; i++) {
      const p = plan(prng);
      const f = await fly({}, seed * 10 + i, p, 160_000);
      const msg = `seed ${seed}, flight ${i}: ${JSON.stringify(p.map((x) => x.action.type))} attests ${JSON.stringify(f.attests.map((a) => [a.observedAt, a.obs]))}`;
      expect(f.engine, msg).toBe('pure-ts');
      expect(f.model, msg).toMatch(/^telemetry-anomaly@/);
      expect(f.ticks, msg).toBeGreaterThan(1_500);
      expect(f.attests, msg).toEqual([]);
      expect(f.actions, msg).toEqual([]);
    }
  }, 60_000);

  it('a pack running empty in flight is caught by the model and attested as degraded', async () => {
    // A 3 Wh pack lasts about a minute at hover; near empty its cells sag to ~3.4 V under load.
    const f = await fly({ battery: { ...defaultBattery, capacityWh: 3 } }, seed, [{ atMs: 100, action: { type: 'arm' } }, { atMs: 200, action: { type: 'takeoff', relAltM: 20 } }], 90_000);
    const msg = `seed ${seed}: attests ${JSON.stringify(f.attests.map((a) => [a.observedAt, a.obs]))} actions ${JSON.stringify(f.actions)}`;
    expect(f.engine, msg).toBe('pure-ts');
    const degraded = f.attests.find((a) => a.obs.type === 'degraded');
    expect(degraded?.obs, msg).toMatchObject({ type: 'degraded', device: 'v0' });
    expect(degraded?.model?.name, msg).toBe('telemetry-anomaly'); // the model decided, not the rules
    expect(degraded!.observedAt, msg).toBeGreaterThan(40_000); // not at take-off: when the pack is nearly empty
  }, 30_000);

  it('makes no decision on IMU samples far sparser than it was trained on (a sim run 20x faster), and says so', async () => {
    const f = await fly({ battery: { ...defaultBattery, capacityWh: 3 } }, seed, [{ atMs: 100, action: { type: 'arm' } }, { atMs: 200, action: { type: 'takeoff', relAltM: 20 } }], 10_000, 20);
    expect(f.attests).toEqual([]); // the pack runs empty in this time, but 2 s between samples is not what the model knows
    expect(f.reasons.join(' ')).toMatch(/IMU samples 2000 ms apart \(the model needs about 100 ms\): no decision/);
  }, 30_000);
});
