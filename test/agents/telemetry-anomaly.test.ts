// The telemetry-anomaly agent's decisions over flights, on the rule engine (scores are the rules'):
// a severe anomaly lands at once, once per flight, and a later flight acts again.

import { describe, expect, it } from 'vitest';
import type { AgentInputs } from '../../agents/api/agent.js';
import { telemetryAnomalyAgent, type TelemetryAnomalyState } from '../../agents/builtin/telemetry-anomaly.js';
import type { BatteryState, FlightState, ImuSample } from '../../hal/devices.js';

const flight = (armed: boolean): FlightState => ({ timeMs: 0, armed, mode: armed ? 'mission' : 'manual', landed: armed ? 'in-air' : 'on-ground', home: null, failsafe: false });
const imu = (timeMs: number): ImuSample => ({ timeMs, accelMps2: { x: 0, y: 0, z: -9.81 }, gyroRadps: { x: 0, y: 0, z: 0 } });
/** A 4-cell pack at 3.0 V a cell: below the rules' severe threshold (3.3 V). */
const flat = (timeMs: number): BatteryState => ({ timeMs, voltageV: 12, currentA: 10, remainingFraction: 0.05, consumedMah: 0, status: 'ok' });

describe('telemetry-anomaly agent', () => {
  it('a severe anomaly lands once per flight; the next flight (disarmed, armed again) acts again', async () => {
    const a = telemetryAnomalyAgent({ deviceId: 'v0', prefer: ['rules'] });
    let s = await a.start({ nowMs: 0, restored: undefined });
    const actions: { atMs: number; action: string }[] = [];
    const fly = async (t0: number, t1: number, armed: boolean): Promise<void> => {
      for (let t = t0; t < t1; t += 100) {
        const inp: AgentInputs = { nowMs: t, imu: [imu(t)], battery: flat(t), flight: flight(armed) };
        const r = await a.tick(s, inp);
        s = JSON.parse(JSON.stringify(r.state)) as TelemetryAnomalyState; // as persisted
        for (const o of r.outputs ?? []) if (o.type === 'action') actions.push({ atMs: t, action: o.action.type });
      }
    };
    await fly(0, 3_000, true);
    expect(actions).toEqual([{ atMs: 900, action: 'land' }]);
    await fly(3_000, 10_000, false); // landed and disarmed: nothing to land
    expect(actions.length).toBe(1);
    await fly(10_000, 13_000, true); // the same bad pack on the next flight
    expect(actions.slice(1).map((x) => x.action)).toEqual(['land']);
    await a.stop?.();
  });

  it("judges cell voltage by the pack's own cell count, and makes no decision on an unknown voltage", async () => {
    // The count was the agent's default (4) whatever the pack: a full 3S pack (12.3 V) read as 3.1 V a
    // cell, an empty one, and the drone was landed.
    const a = telemetryAnomalyAgent({ deviceId: 'v0', prefer: ['rules'] });
    let s = await a.start({ nowMs: 0, restored: undefined });
    const actions: string[] = [];
    const fly = async (t0: number, t1: number, b: (t: number) => BatteryState): Promise<void> => {
      for (let t = t0; t < t1; t += 100) {
        const r = await a.tick(s, { nowMs: t, imu: [imu(t)], battery: b(t), flight: flight(true) });
        s = r.state;
        for (const o of r.outputs ?? []) if (o.type === 'action') actions.push(o.action.type);
      }
    };
    await fly(0, 3_000, (t) => ({ ...flat(t), voltageV: 12.3, cells: 3 }));
    expect(actions).toEqual([]);
    await fly(3_000, 6_000, (t) => ({ ...flat(t), voltageV: Number.NaN }));
    expect(actions).toEqual([]);
    expect(a.engineReasons?.().join(' ')).toContain('battery voltage unknown: no decision');
    await a.stop?.();
  });
});
