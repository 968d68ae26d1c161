// Which telemetry periods a device signs a report in (runtime/device/telemetry-gate.ts).

import { describe, expect, it } from 'vitest';
import { TelemetryGate } from '../../runtime/device/telemetry-gate.js';
import { limits } from '../../runtime/lib/limits.js';

const at = (northDm: number, batteryPermille = 900, completed = '') => ({ northDm, eastDm: 0, altDm: 0, batteryPermille, completed });

describe('telemetry gate', () => {
  it('reports the first reading, then only a move of a metre, a battery step of a percent or a finished mission', () => {
    const g = new TelemetryGate('d1');
    expect(g.due(at(0), false)).toBe(true);
    expect(g.due(at(5), false)).toBe(false); // half a metre
    expect(g.due(at(10), false)).toBe(true); // a metre from the last report
    expect(g.due(at(10, 895), false)).toBe(false);
    expect(g.due(at(10, 890), false)).toBe(true);
    expect(g.due(at(10, 890, 'ops/1'), false)).toBe(true);
    expect(g.due(at(10, 890, 'ops/1'), false)).toBe(false);
    // Passing a waypoint of its part is news too (what a restart resumes from).
    const flying = (flown: number) => ({ ...at(10, 890), progress: { mission: 'ops/2', flown } });
    expect(g.due(flying(1), false)).toBe(true);
    expect(g.due(flying(1), false)).toBe(false);
    expect(g.due(flying(2), false)).toBe(true);
  });

  it('a device that does not move reports again after telemetryKeepaliveEvery periods', () => {
    const g = new TelemetryGate('d1');
    const sent: number[] = [];
    for (let i = 0; i < 2 * limits.telemetryKeepaliveEvery + 1; i++) if (g.due(at(0), false)) sent.push(i);
    expect(sent).toEqual([0, limits.telemetryKeepaliveEvery, 2 * limits.telemetryKeepaliveEvery]);
  });

  it('a device holding a part of a mission reports again after telemetryMissionKeepaliveEvery periods, so it is not taken for lost', () => {
    const g = new TelemetryGate('d1');
    const holding = { ...at(0), progress: { mission: 'ops/3', flown: 2 } };
    const sent: number[] = [];
    for (let i = 0; i < 2 * limits.telemetryMissionKeepaliveEvery + 1; i++) if (g.due(holding, false)) sent.push(i);
    expect(sent).toEqual([0, limits.telemetryMissionKeepaliveEvery, 2 * limits.telemetryMissionKeepaliveEvery]);
    expect(limits.telemetryMissionKeepaliveEvery).toBeLessThan(limits.telemetryKeepaliveEvery);
  });

  it('on the radio alone a moving device reports in one period of every radioOnlyTelemetryEvery, and devices use different ones', () => {
    const every = limits.radioOnlyTelemetryEvery;
    const slots = new Set<number>();
    for (const id of ['v00', 'v01', 'v02', 'v03', 'f00', 'f01', 'f02', 'f03']) {
      const g = new TelemetryGate(id);
      const sent: number[] = [];
      for (let i = 0; i < 3 * every; i++) if (g.due(at(i * 100), true)) sent.push(i);
      expect(sent.length, id).toBe(3);
      expect(sent[1]! - sent[0]!).toBe(every);
      slots.add(sent[0]!);
    }
    expect(slots.size).toBeGreaterThan(3);
    // Back on the broker it reports at once.
    const g = new TelemetryGate('v00');
    for (let i = 0; i < every; i++) g.due(at(i * 100), true);
    expect(g.due(at(99_999), false)).toBe(true);
  });
});
