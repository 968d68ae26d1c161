// The height not known, device end to end: the real device runtime (a one-validator fleet on a real
// Mosquitto) with hal.driver mavlink on a socat pty, the simulated ArduPilot on the pty's other end in
// this process. The vehicle is flown to 10 m (as a pilot would: the device has no task), then its
// estimator loses its vertical position (POS_VERT_ABS clear, GLOBAL_POSITION_INT's altitude held) and
// the vehicle climbs on to 20 m. What the device says of itself follows its own knowledge: its status
// (in process, on MQTT and in `murmurctl status`) and its local telemetry say the height is not known.
// What it signs says so too (the eleventh element), with the last height it knew held in the sixth,
// and the committed state holds that number, as a device of a version before the eleventh element
// commits it: not null, not 0, not the 20 m nobody vouched for. Once the estimator has it back, both
// are the vehicle's height again.

import mqtt from 'mqtt';
import { describe, expect, it } from 'vitest';
import { SimFlightController } from '../../firmware-bridge/sim-fc/sim-fc.js';
import { openSerial } from '../../firmware-bridge/transport.js';
import { Device } from '../../runtime/device/device.js';
import { decodeCbor } from '../../runtime/wire/cbor.js';
import { decodeEnvelope } from '../../runtime/wire/envelope.js';
import { parseTelemetryBody, type TelemetryBody } from '../../runtime/wire/telemetry.js';
import { waitFor } from '../bridge/companion.js';
import { runCli } from '../support/run-cli.js';
import { mavlinkDeviceRig } from './mavlink-device-rig.js';

interface LocalTelemetry {
  readonly altM: number | null;
  readonly altDm: number | null;
  readonly heightUnknown?: boolean;
}

describe('a device whose flight controller says its height is not known', () => {
  it('says so in its status and local telemetry; signs it with the last known height held, which is what is committed', { timeout: 120_000 }, async (t) => {
    const { p, broker, pair, parts, cleanup } = await mavlinkDeviceRig(t, 'height');
    const transport = await openSerial({ path: pair.b, baudRate: 115_200 });
    cleanup.push(() => transport.close());
    // Four simulated seconds a wall-clock second: the climbs to 10 and 20 m take a second or two, not
    // eight; every wait after one is for what the device makes of it.
    const fc = new SimFlightController({ transport, family: 'ardupilot', seed: 3, heartbeatIntervalMs: 500, speedFactor: 4 });
    fc.start();
    cleanup.push(() => fc.stop());

    // What the device publishes of itself (MQTT, as an operator's tools read it).
    const local: LocalTelemetry[] = [];
    let status: { position: { upM: number | null } | null } | null = null;
    const client = await mqtt.connectAsync(broker.url, { clientId: 'test-height-unknown', clean: true });
    cleanup.push(() => client.endAsync());
    client.on('message', (topic, payload) => {
      const j = JSON.parse(payload.toString()) as LocalTelemetry & { position?: { upM: number | null } | null };
      if (topic.endsWith('/json/d1/telemetry')) local.push(j);
      else if (topic.endsWith('/json/d1/status') && j.position !== undefined) status = { position: j.position };
    });
    await client.subscribeAsync(['murmur/v1/height/json/d1/telemetry', 'murmur/v1/height/json/d1/status']);

    // Every telemetry report the device signs, as it signs it.
    const signed: TelemetryBody[] = [];
    const device = new Device(parts, Date.now(), {
      txSubmit: (submit) => (envelope) => {
        const e = decodeEnvelope(envelope);
        if (e.ok && e.value.kind === 'telemetry') {
          const body = decodeCbor(e.value.body, 256);
          if (body.ok) signed.push(parseTelemetryBody(body.value));
        }
        submit(envelope);
      },
    });
    cleanup.push(() => device.stop());
    await device.start();
    const committed = () => device.missions.state.drones.find((d) => d.id === 'd1');

    // Up to 10 m, flown by someone else: the device's height, signed and committed, is the FC's.
    expect(fc.vehicle.arm().ok).toBe(true);
    expect(fc.vehicle.takeoff(10).ok).toBe(true);
    // The simulated take-off ends within its tolerance, 9.7 m or so.
    await waitFor('the vehicle at 10 m', () => fc.vehicle.state().upM > 9.5 && fc.vehicle.state().mode === 'guided', 30_000);
    await waitFor('10 m committed', () => Math.abs((committed()?.altDm ?? 0) - fc.vehicle.state().upM * 10) <= 3, 15_000);
    const knownDm = committed()?.altDm ?? Number.NaN;
    expect(device.status().position?.upM).toBeCloseTo(knownDm / 10, 0);

    // The estimator disowns the height; the vehicle climbs on to 20 m.
    fc.setNavigation({ height: 'lost' });
    expect(fc.vehicle.goto(0, 0, 20).ok).toBe(true);
    await waitFor('the height not known to the device', () => device.status().position?.upM === null, 5_000);
    const heightAtLoss = committed()?.telemetryHeight ?? 0;
    const signedBefore = signed.length;
    await waitFor('the vehicle at 20 m', () => fc.vehicle.state().upM > 19.5, 30_000);

    // Its own outputs: none of a height (not the held one, not 20 m).
    await waitFor('a local telemetry report with the height not known', () => local.at(-1)?.heightUnknown === true, 5_000);
    expect(local.at(-1)).toMatchObject({ altM: null, altDm: null, heightUnknown: true });
    await waitFor('the status on MQTT with no height', () => status?.position !== null && status?.position?.upM === null, 5_000);
    const ctl = await runCli('murmurctl', ['status', '--timeout', '2s'], { cwd: p('.'), env: { MURMUR_MANIFEST: p('fleet.manifest'), MURMUR_BROKER: broker.url } });
    expect(ctl.code, `${ctl.stdout}${ctl.stderr}`).toBe(0);
    expect(ctl.stdout).toMatch(/^d1 .* -?\d+(\.\d+)?,-?\d+(\.\d+)?,\? /m);

    // What it signed since: the height not known, the last known height held in the sixth element.
    const unknownReports = signed.slice(signedBefore).filter((b) => b.heightUnknown === true);
    expect(unknownReports.length).toBeGreaterThan(0);
    for (const b of unknownReports) expect(Math.abs(b.altDm - knownDm)).toBeLessThanOrEqual(3);
    // Committed after the loss (a later report's height): the held number, as an older version commits it.
    await waitFor('a report committed after the loss', () => (committed()?.telemetryHeight ?? 0) > heightAtLoss, 10_000);
    expect(Math.abs((committed()?.altDm ?? Number.NaN) - knownDm)).toBeLessThanOrEqual(3);
    expect(fc.vehicle.state().upM).toBeGreaterThan(19.5);

    // The estimator vouches for it again: 20 m, known, signed and committed.
    fc.setNavigation({ height: 'ok' });
    await waitFor('20 m committed', () => Math.abs((committed()?.altDm ?? 0) - fc.vehicle.state().upM * 10) <= 3, 15_000);
    expect(device.status().position?.upM).toBeGreaterThan(19.5);
    await waitFor('a local telemetry report with the height', () => (local.at(-1)?.altM ?? 0) > 19.5, 5_000);
    expect(local.at(-1)?.heightUnknown).toBeUndefined();
    expect(signed.at(-1)?.heightUnknown).toBeUndefined();
  });
});
