// Which fence the executor asks the flight driver to keep on the flight controller: the committed
// geofence (decimetres from the origin, with its ceiling), else this device's own (device.yaml, no
// ceiling), else none at all (a fence a ground station put on the FC is left alone); with it the
// committed hazards' keep-out circles, exactly those routes go round; and what it logs. Through the
// MAVLink driver to the simulated FC, a committed hazard ends up on the FC as a circle exclusion.

import { afterEach, describe, expect, it } from 'vitest';
import { Executor } from '../../runtime/device/executor.js';
import type { DeviceSet, FenceKeeperStatus, FlightControl, GeoFence } from '../../hal/devices.js';
import { localToGeo } from '../../hal/geo.js';
import { keepOuts, routeAround } from '../../runtime/mission/hazards.js';
import { createMavlinkDevices } from '../../hal/mavlink/mavlink-devices.js';
import { inMemoryFc, waitFor } from '../bridge/companion.js';
import { origin } from './executor-rig.js';

/** A flight driver that records what it is asked to keep, and answers through the report callback. */
function recordingFlight(): { flight: FlightControl; kept: (GeoFence | null)[]; report: (s: FenceKeeperStatus) => void } {
  const kept: (GeoFence | null)[] = [];
  let onReport: ((s: FenceKeeperStatus) => void) | undefined;
  const flight = {
    kind: 'flight',
    driver: 'recording',
    start: () => Promise.resolve(),
    stop: () => Promise.resolve(),
    execute: () => Promise.resolve({ ok: true, value: undefined }),
    state: () => ({ ok: false, error: { code: 'no-data', message: 'none' } }),
    setReturnAltitude: () => Promise.resolve({ ok: true, value: undefined }),
    modesAfter: () => null,
    keepFence: (f: GeoFence | null, r?: (s: FenceKeeperStatus) => void) => {
      kept.push(f);
      onReport = r;
    },
  } as FlightControl;
  return { flight, kept, report: (s) => onReport?.(s) };
}

const status = (state: FenceKeeperStatus['state'], reason: string | null, breachAction: string | null = null, warning: string | null = null, keepOuts = 0, keepOutsLeftOut = 0, leftOutReason: string | null = null): FenceKeeperStatus => ({ state, vertices: 3, altMaxM: 40, keepOuts, keepOutsLeftOut, leftOutReason, uploads: 0, failures: 0, reason, breachAction, warning });

describe('executor: the fence kept on the flight controller', () => {
  it('the committed geofence, with its ceiling, converted from decimetres to WGS84 round the origin', () => {
    const { flight, kept, report } = recordingFlight();
    const logs: string[] = [];
    const ex = new Executor({ flight } as DeviceSet, origin, () => undefined, (m, level = 'warn') => logs.push(`${level}: ${m}`), { fence: [{ northM: 0, eastM: 0 }, { northM: 5, eastM: 0 }, { northM: 0, eastM: 5 }] });
    ex.keepFence([{ n: 0, e: 0 }, { n: 1000, e: 0 }, { n: 0, e: 500 }], 400);
    expect(kept).toEqual([{ polygon: [localToGeo(origin, 0, 0), localToGeo(origin, 100, 0), localToGeo(origin, 0, 50)], altMaxM: 40 }]);
    report(status('failed', 'fence upload: MISSION_ACK NO_SPACE'));
    report(status('failed', 'fence upload: MISSION_ACK NO_SPACE')); // the same failure again: not logged again
    report(status('on-fc', null));
    expect(logs).toEqual(['warn: fence (3 vertices, ceiling 40 m) not on the flight controller yet, retrying: fence upload: MISSION_ACK NO_SPACE', 'info: fence on the flight controller: 3 vertices, ceiling 40 m']);
  });

  it('logs the breach action with the fence, and the warning that it does nothing once per change', () => {
    const { flight, report } = recordingFlight();
    const logs: string[] = [];
    const ex = new Executor({ flight } as DeviceSet, origin, () => undefined, (m, level = 'warn') => logs.push(`${level}: ${m}`));
    ex.keepFence([{ n: 0, e: 0 }, { n: 1000, e: 0 }, { n: 0, e: 500 }], 400);
    const inert = 'the flight controller holds the fence but FENCE_ACTION is 0 (report only): a breach does nothing there; set hal.mavlink.fenceAction: return in device.yaml, or FENCE_ACTION on the vehicle';
    report(status('on-fc', null, 'report', inert));
    report(status('on-fc', null, 'report', inert)); // uploaded again (the FC rebooted): the same warning, not again
    report(status('failed', 'fence upload: MISSION_ACK NO_SPACE')); // the action not known: the warning stands
    report(status('on-fc', null, 'report', inert));
    report(status('on-fc', 'fence breach action not read: PARAM_REQUEST_READ FENCE_ACTION: no PARAM_VALUE after 4 attempts of 1000 ms'));
    report(status('on-fc', null, 'return')); // set on the vehicle: the warning is gone, and would be told again
    report(status('on-fc', null, 'report', inert));
    expect(logs).toEqual([
      `warn: ${inert}`,
      'info: fence on the flight controller: 3 vertices, ceiling 40 m, breach action report',
      'warn: fence (3 vertices, ceiling 40 m) not on the flight controller yet, retrying: fence upload: MISSION_ACK NO_SPACE',
      'info: fence on the flight controller: 3 vertices, ceiling 40 m, breach action report',
      'warn: fence on the flight controller: 3 vertices, ceiling 40 m; fence breach action not read: PARAM_REQUEST_READ FENCE_ACTION: no PARAM_VALUE after 4 attempts of 1000 ms',
      'info: fence on the flight controller: 3 vertices, ceiling 40 m, breach action return',
      `warn: ${inert}`,
      'info: fence on the flight controller: 3 vertices, ceiling 40 m, breach action report',
    ]);
  });

  it('with none committed, the device\'s own fence without a ceiling; with neither, nothing', () => {
    const own = recordingFlight();
    new Executor({ flight: own.flight } as DeviceSet, origin, () => undefined, () => undefined, { fence: [{ northM: -10, eastM: -10 }, { northM: 10, eastM: -10 }, { northM: 0, eastM: 10 }] }).keepFence(null, 1200);
    expect(own.kept).toEqual([{ polygon: [localToGeo(origin, -10, -10), localToGeo(origin, 10, -10), localToGeo(origin, 0, 10)], altMaxM: null }]);
    const none = recordingFlight();
    new Executor({ flight: none.flight } as DeviceSet, origin, () => undefined, () => undefined, { fence: null }).keepFence(null, 1200);
    expect(none.kept).toEqual([]);
  });
});

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

describe('executor: the committed hazards\' keep-outs kept on the flight controller', () => {
  // Two committed hazard cells 5 m apart (one cluster) 40 m north of the origin, 5 m cells.
  const hazards = { cellDm: 50, cells: [[80, 0], [81, 0]] as const };

  it('each keep-out the routes go round (centre, radius with its margin), converted from decimetres, after the polygon; logged with the fence', () => {
    const { flight, kept, report } = recordingFlight();
    const logs: string[] = [];
    const ex = new Executor({ flight } as DeviceSet, origin, () => undefined, (m, level = 'warn') => logs.push(`${level}: ${m}`));
    const zones = keepOuts(hazards);
    expect(zones).toHaveLength(1);
    const z = zones[0]!;
    const polygon = [{ n: -1000, e: -1000 }, { n: 1000, e: -1000 }, { n: 0, e: 1000 }];
    ex.keepFence(polygon, 400, zones);
    ex.keepFence(polygon, 400, zones); // the next block, the same committed state: not converted again
    expect(kept).toEqual([{ polygon: [localToGeo(origin, -100, -100), localToGeo(origin, 100, -100), localToGeo(origin, 0, 100)], altMaxM: 40, keepOuts: [{ ...localToGeo(origin, z.n / 10, z.e / 10), radiusM: z.r / 10 }] }]);
    ex.keepFence(polygon, 400, []); // the hazard cleared: the fence without it
    expect(kept.at(-1)).toEqual({ polygon: kept[0]?.polygon, altMaxM: 40 });
    // The route across it goes round exactly that circle: no route point inside it.
    const { route } = routeAround([{ n: 0, e: 0 }, { n: 800, e: 0 }], zones, null);
    expect(route.every((p) => (p.n - z.n) ** 2 + (p.e - z.e) ** 2 >= z.r ** 2)).toBe(true);
    report(status('on-fc', null, 'return', null, 1, 1, '1 keep-out left out: the drone is inside it (uploaded once it is out)'));
    report(status('on-fc', null, 'return', null, 2, 0, null));
    expect(logs).toEqual([
      'info: fence on the flight controller: 3 vertices, 1 keep-out, ceiling 40 m, breach action return; 1 keep-out left out: the drone is inside it (uploaded once it is out)',
      'info: fence on the flight controller: 3 vertices, 2 keep-outs, ceiling 40 m, breach action return',
    ]);
  });

  it('a committed hazard reaches the simulated FC through the MAVLink driver as a circle exclusion', async () => {
    const c = inMemoryFc();
    const fc = c.fc;
    const devices = createMavlinkDevices(c.vehicle, undefined, undefined, { retryFirstMs: 200, retryMaxMs: 400, breachAction: 'leave' });
    await devices.flight.start();
    cleanup.push(async () => {
      await devices.flight.stop();
      c.stop();
    });
    await waitFor('the FC\'s position', () => c.vehicle.telemetry.position !== null, 5_000);
    const ex = new Executor(devices as unknown as DeviceSet, fc.vehicle.origin, () => undefined, () => undefined);
    const zones = keepOuts(hazards);
    ex.keepFence([{ n: -1000, e: -1000 }, { n: 1000, e: -1000 }, { n: 0, e: 1000 }], 400, zones);
    await waitFor('the fence on the FC', () => devices.flight.fenceStatus()?.state === 'on-fc', 10_000);
    const z = zones[0]!;
    const centre = localToGeo(fc.vehicle.origin, z.n / 10, z.e / 10);
    // The radius as the FC stores it: param1 is a float32 on the wire (14.1 m arrives as 14.1000004).
    expect(fc.fence.status()).toMatchObject({ vertices: 3, circles: [[Math.round(centre.latDeg * 1e7), Math.round(centre.lonDeg * 1e7), Math.fround(z.r / 10)]], enabled: true });
    expect(devices.flight.fenceStatus()).toMatchObject({ keepOuts: 1, keepOutsLeftOut: 0 });
  }, 20_000);
});
