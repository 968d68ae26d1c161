// Which telemetry periods a device signs a report in (runtime/device/telemetry-gate.ts).

import { describe, expect, it } from 'vitest';
import { lostAfterRadioProblem, radioOnlyMissionGapMs, TelemetryGate } from '../../runtime/device/telemetry-gate.js';
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

  it('a height that becomes not known, or known again, is news; still not known is not, the held number unchanged', () => {
    const g = new TelemetryGate('d1');
    const up = { ...at(0), altDm: 120 };
    expect(g.due(up, false)).toBe(true);
    // The FC's estimator disowned it: the same held number, and heightUnknown (the eleventh element).
    expect(g.due({ ...up, heightUnknown: true }, false)).toBe(true);
    expect(g.due({ ...up, heightUnknown: true }, false)).toBe(false);
    expect(g.due({ ...up, altDm: 123 }, false)).toBe(true); // known again, even within a metre of the held one
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

  it('a handover is news at once, and a handed-over device still reports at the mission cadence (not taken for silent and told to return)', () => {
    const g = new TelemetryGate('d1');
    const flying = { ...at(0), progress: { mission: 'ops/4', flown: 2 } };
    const handed = { ...at(0), handedOver: 'ops/4' };
    expect(g.due(flying, false)).toBe(true);
    expect(g.due(handed, false)).toBe(true); // the period it was handed over in
    const sent: number[] = [];
    for (let i = 1; i <= 2 * limits.telemetryMissionKeepaliveEvery; i++) if (g.due(handed, false)) sent.push(i);
    expect(sent).toEqual([limits.telemetryMissionKeepaliveEvery, 2 * limits.telemetryMissionKeepaliveEvery]);
    // Given back (a new task), it says so at once.
    expect(g.due(at(0), false)).toBe(true);
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

describe('lostAfterS against the radio-only cadence (lostAfterRadioProblem)', () => {
  it('the gate, on the radio alone, leaves a still drone holding a part of a mission silent for radioOnlyMissionGapMs', () => {
    // Measured on the gate itself: one period is periodMs.
    for (const node of ['d1', 'v07', 'f12']) {
      const g = new TelemetryGate(node);
      const holding = { ...at(0), progress: { mission: 'ops/3', flown: 2 } };
      const sent: number[] = [];
      for (let i = 0; i < 1_000; i++) if (g.due(holding, true)) sent.push(i);
      const gaps = sent.slice(1).map((t, k) => t - (sent[k] as number));
      expect(Math.max(...gaps) * 1_000, node).toBe(radioOnlyMissionGapMs(1_000));
    }
    expect(radioOnlyMissionGapMs(1_000)).toBe(100_000);
  });

  it('says why a lostAfterS below two gaps and a radio cycle would take a holding drone for lost, and is quiet at or above it', () => {
    expect(lostAfterRadioProblem(120, 1_000)).toBe(
      'lostAfterS 120 s is too short for a fleet that may fly on the radio alone: with the broker down a device holding still on a part of a mission reports only every 100 s (telemetry.periodMs 1000 x radioOnlyTelemetryEvery 10 x telemetryMissionKeepaliveEvery 10), so one lost report, or a report committed late, makes it lost and its lanes go to another drone; set lostAfterS to at least 210 (param.set)',
    );
    expect(lostAfterRadioProblem(209, 1_000)).toMatch(/at least 210/);
    expect(lostAfterRadioProblem(210, 1_000)).toBeNull();
    expect(lostAfterRadioProblem(30, 100)).toBeNull(); // 10 Hz telemetry: 10 s gaps, 21 s needed
    expect(lostAfterRadioProblem(120, 2_000)).toMatch(/every 200 s .* at least 420/);
  });
});
