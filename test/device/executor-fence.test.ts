// Which fence the executor asks the flight driver to keep on the flight controller: the committed
// geofence (decimetres from the origin, with its ceiling), else this device's own (device.yaml, no
// ceiling), else none at all (a fence a ground station put on the FC is left alone); and what it logs.

import { describe, expect, it } from 'vitest';
import { Executor } from '../../runtime/device/executor.js';
import type { DeviceSet, FenceKeeperStatus, FlightControl, GeoFence } from '../../hal/devices.js';
import { localToGeo } from '../../hal/geo.js';
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
    keepFence: (f: GeoFence | null, r?: (s: FenceKeeperStatus) => void) => {
      kept.push(f);
      onReport = r;
    },
  } as FlightControl;
  return { flight, kept, report: (s) => onReport?.(s) };
}

const status = (state: FenceKeeperStatus['state'], reason: string | null, breachAction: string | null = null, warning: string | null = null): FenceKeeperStatus => ({ state, vertices: 3, altMaxM: 40, uploads: 0, failures: 0, reason, breachAction, warning });

describe('executor: the fence kept on the flight controller', () => {
  it('the committed geofence, with its ceiling, converted from decimetres to WGS84 round the origin', () => {
    const { flight, kept, report } = recordingFlight();
    const logs: string[] = [];
    const ex = new Executor({ flight } as DeviceSet, origin, () => undefined, (m, level = 'warn') => logs.push(`${level}: ${m}`), [{ northM: 0, eastM: 0 }, { northM: 5, eastM: 0 }, { northM: 0, eastM: 5 }]);
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
    new Executor({ flight: own.flight } as DeviceSet, origin, () => undefined, () => undefined, [{ northM: -10, eastM: -10 }, { northM: 10, eastM: -10 }, { northM: 0, eastM: 10 }]).keepFence(null, 1200);
    expect(own.kept).toEqual([{ polygon: [localToGeo(origin, -10, -10), localToGeo(origin, 10, -10), localToGeo(origin, 0, 10)], altMaxM: null }]);
    const none = recordingFlight();
    new Executor({ flight: none.flight } as DeviceSet, origin, () => undefined, () => undefined, null).keepFence(null, 1200);
    expect(none.kept).toEqual([]);
  });
});
