// The simulated flight controller as its own process, for tests and fleet-sim's hardware-in-the-loop
// mode: `npm run sim-fc -- --serial /dev/pts/7` or `--udp-local 14580 --udp-remote 14540`.
// Prints one JSON line {"ready":true,...} on stdout once it listens, then one {"fence":{...}} line
// whenever its geofence changes (uploaded, enabled, breached); SIGTERM stops it.

import { CliError, exitCodes, need, parse, runMain } from '../../runtime/cli/kit.js';
import { fromHex } from '../../runtime/lib/bytes.js';
import { limits } from '../../runtime/lib/limits.js';
import { openSerial, openUdp, udpPortCompanion, type ByteTransport, type SerialTransport } from '../transport.js';
import { SimFlightController, type FailsafeAction } from './sim-fc.js';
import type { FenceAction } from './sim-fence.js';

const usage = `usage: sim-fc (--serial PATH [--baud N] | --udp-local PORT [--udp-remote PORT])
              [--autopilot px4|ardupilot] [--seed N] [--sysid N] [--heartbeat-ms MS]
              [--telemetry-hz HZ] [--failsafe return|land|hold] [--sign-key HEX32]
              [--speed N]   (simulated seconds per real second, 1..20)
              [--fence-action return|land|hold|report|none] [--fence-max N]   (fence items it stores: vertices and circles)
              [--receiver fix|no-fix|absent] [--estimate gnss|vision|frozen|drifting|flow]   (its navigation: SimNavigation)
              [--gnss-lost-after S]   (the receiver loses its fix S simulated seconds after the vehicle is first in the air)
              [--ekf-failsafe land|off]   (ArduPilot's EKF failsafe: FS_EKF_ACTION 1, the default, or FS_EKF_THRESH 0;
                                           PX4's position-loss failsafe, Land or Descend, on by default; off is no PX4 setting)`;

function int(value: string | undefined, flag: string, lo: number, hi: number, dflt: number): number {
  if (value === undefined) return dflt;
  const n = Number(value);
  if (!Number.isInteger(n) || n < lo || n > hi) throw new CliError(`--${flag} must be an integer in ${lo}..${hi}, got "${value}"`, exitCodes.usage);
  return n;
}

runMain('sim-fc', async (argv) => {
  const { values } = parse(
    argv,
    {
      serial: { type: 'string' },
      baud: { type: 'string' },
      'udp-local': { type: 'string' },
      'udp-remote': { type: 'string' },
      autopilot: { type: 'string' },
      seed: { type: 'string' },
      sysid: { type: 'string' },
      'heartbeat-ms': { type: 'string' },
      'telemetry-hz': { type: 'string' },
      failsafe: { type: 'string' },
      'sign-key': { type: 'string' },
      speed: { type: 'string' },
      'fence-action': { type: 'string' },
      'fence-max': { type: 'string' },
      receiver: { type: 'string' },
      estimate: { type: 'string' },
      'gnss-lost-after': { type: 'string' },
      'ekf-failsafe': { type: 'string' },
    },
    usage,
  );
  if (values.help) {
    process.stdout.write(usage + '\n');
    return 0;
  }
  const family = values.autopilot ?? 'px4';
  if (family !== 'px4' && family !== 'ardupilot') throw new CliError(`--autopilot must be px4 or ardupilot, got "${family}"`, exitCodes.usage);
  const failsafe = values.failsafe ?? 'return';
  if (failsafe !== 'return' && failsafe !== 'land' && failsafe !== 'hold') throw new CliError(`--failsafe must be return, land or hold, got "${failsafe}"`, exitCodes.usage);
  const fenceAction = values['fence-action'] ?? 'return';
  // report and none: a breach does nothing to the flight (ArduPilot FENCE_ACTION 0, PX4 GF_ACTION 1 and 0).
  if (fenceAction !== 'return' && fenceAction !== 'land' && fenceAction !== 'hold' && fenceAction !== 'report' && fenceAction !== 'none') throw new CliError(`--fence-action must be return, land, hold, report or none, got "${fenceAction}"`, exitCodes.usage);
  const receiver = values.receiver ?? 'fix';
  if (receiver !== 'fix' && receiver !== 'no-fix' && receiver !== 'absent') throw new CliError(`--receiver must be fix, no-fix or absent, got "${receiver}"`, exitCodes.usage);
  const estimate = values.estimate ?? 'gnss';
  if (estimate !== 'gnss' && estimate !== 'vision' && estimate !== 'frozen' && estimate !== 'drifting' && estimate !== 'flow') throw new CliError(`--estimate must be gnss, vision, frozen, drifting or flow, got "${estimate}"`, exitCodes.usage);
  const ekfFailsafe = values['ekf-failsafe'] ?? 'land';
  if (ekfFailsafe !== 'land' && ekfFailsafe !== 'off') throw new CliError(`--ekf-failsafe must be land or off, got "${ekfFailsafe}"`, exitCodes.usage);
  const gnssLostAfterS = values['gnss-lost-after'] === undefined ? undefined : int(values['gnss-lost-after'], 'gnss-lost-after', 0, 86_400, 0);
  const fenceMax = int(values['fence-max'], 'fence-max', 3, 1000, limits.fenceItemsMax);
  let signing: { key: Uint8Array; linkId: number } | undefined;
  if (values['sign-key'] !== undefined) {
    const key = /^[0-9a-fA-F]{64}$/.test(values['sign-key']) ? fromHex(values['sign-key']) : undefined;
    if (key === undefined) throw new CliError('--sign-key must be 64 hex digits (a 32-byte MAVLink signing key)', exitCodes.usage);
    signing = { key, linkId: 0 };
  }
  let transport: ByteTransport;
  let serial: SerialTransport | null = null;
  try {
    if (values.serial !== undefined) {
      serial = await openSerial({ path: values.serial, baudRate: int(values.baud, 'baud', 1200, 4_000_000, 921_600) });
      transport = serial;
    } else {
      const local = int(need(values['udp-local'], 'udp-local (or --serial)'), 'udp-local', 0, 65_535, 0);
      const remote = values['udp-remote'] === undefined ? udpPortCompanion : int(values['udp-remote'], 'udp-remote', 1, 65_535, udpPortCompanion);
      transport = await openUdp({ localPort: local, remotePort: remote });
    }
  } catch (e) {
    throw new CliError((e as Error).message, exitCodes.unavailable);
  }
  const fc = new SimFlightController({
    transport,
    family,
    seed: int(values.seed, 'seed', 0, 2 ** 31, 1),
    sysid: int(values.sysid, 'sysid', 1, 254, 1),
    heartbeatIntervalMs: int(values['heartbeat-ms'], 'heartbeat-ms', 10, 10_000, 1000),
    telemetryHz: int(values['telemetry-hz'], 'telemetry-hz', 1, 100, 10),
    failsafeAction: failsafe as FailsafeAction,
    speedFactor: int(values.speed, 'speed', 1, 20, 1),
    fenceAction: fenceAction as FenceAction,
    fenceItemsMax: fenceMax,
    navigation: { receiver, estimate },
    ekfFailsafe,
    ...(gnssLostAfterS !== undefined ? { gnssLostAfterAirborneMs: gnssLostAfterS * 1000 } : {}),
    onFence: (f) => process.stdout.write(JSON.stringify({ fence: f }) + '\n'),
    ...(signing ? { signing } : {}),
  });
  fc.start();
  process.stdout.write(JSON.stringify({ ready: true, transport: transport.name, autopilot: family, pid: process.pid }) + '\n');
  // A port that goes away (a pty pair ended, a USB adapter unplugged) ends the process, as the
  // firmware's does: running on with a dead port would leave a flight controller nobody can reach.
  let gone: string | null = null;
  await new Promise<void>((resolve) => {
    const stop = (): void => resolve();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    serial?.onClose((reason) => {
      gone = reason;
      resolve();
    });
  });
  fc.stop();
  await transport.close();
  if (gone !== null) throw new CliError(`serial port ${values.serial} went away (${gone})`, exitCodes.unavailable);
  return 0;
});
