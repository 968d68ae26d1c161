// The world of a test that kills and restarts `murmur start` in flight on a simulated flight controller
// of its own process (restart-fc-failsafe-return.test.ts, restart-own-rtl.test.ts): a one-validator
// fleet on a real Mosquitto, the device on a socat pty with hal.driver mavlink, the simulated ArduPilot
// or PX4 (firmware-bridge/sim-fc) on another pty, the two joined here so every frame is read on its way.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { common, minimal, type MavLinkData } from 'node-mavlink';
import type { TestContext } from 'vitest';
import { decodeMessage, FrameSplitter } from '../../firmware-bridge/mavlink/codec.js';
import { decodeMode } from '../../firmware-bridge/mavlink/modes.js';
import { mavCmd } from '../../firmware-bridge/mavlink/vehicle.js';
import { startPtyPair, startSimFc } from '../../firmware-bridge/tools/processes.js';
import { openSerial } from '../../firmware-bridge/transport.js';
import type { FlightMode } from '../../hal/devices.js';
import { Mosquitto } from '../links/processes.js';
import { startDeviceProcess, type DeviceProcess } from '../support/device-process.js';
import { makeFleet, writeFleetFiles } from '../support/fleet-fixture.js';
import { cliEntry, runCli, type CliRun } from '../support/run-cli.js';

/** The commands that move the vehicle or change its mode (COMMAND_LONG or COMMAND_INT), as a name. */
const flightCommands = new Map<number, string>([
  [mavCmd.doReposition, 'goto'],
  [mavCmd.doSetMode, 'set-mode'],
  [mavCmd.navTakeoff, 'takeoff'],
  [mavCmd.navLand, 'land'],
  [mavCmd.navReturnToLaunch, 'rtl'],
  [mavCmd.missionStart, 'mission-start'],
  [mavCmd.componentArmDisarm, 'arm'],
]);

/** What a frame the device sent asks of the vehicle, or null for the rest (heartbeats, parameters, stream requests). */
function flightCommand(m: MavLinkData): string | null {
  if (m instanceof common.SetPositionTargetGlobalInt || m instanceof common.SetPositionTargetLocalNed) return 'setpoint';
  if (m instanceof common.SetMode) return 'set-mode';
  if (m instanceof common.CommandLong || m instanceof common.CommandInt) return flightCommands.get(m.command) ?? null;
  return null;
}

/**
 * One case's world, on its own broker, ptys and processes (so the cases run at once): a one-validator
 * fleet `fleet`, the simulated `family` FC as its own process (its own failsafe on its companion's
 * loss: RTL), the frames between it and the device read on their way (`sent`: the device's flight
 * commands; `fcSaid`: the FC's mode, arming and height), the device's acks and status as an operator's
 * tools read them (MQTT), `start` for a `murmur start` process on it and `committed` for murmurctl.
 */
export async function restartWorld(t: TestContext, family: 'ardupilot' | 'px4', fleet: string) {
  const { expect } = t;
  const cleanup: Array<() => Promise<unknown> | unknown> = [];
  t.onTestFinished(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });
  const dir = mkdtempSync(join(tmpdir(), 'murmur-restart-fs-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const p = (f: string): string => join(dir, f);
  await writeFleetFiles(await makeFleet({ fleet, validatorIds: ['d1'], operators: [{ id: 'ops', roles: ['operator'] }] }), dir);
  const broker = await Mosquitto.start();
  cleanup.push(() => broker.stop());

  // The device's pty and the FC's, joined here: every frame either way is read on its way through.
  const devicePty = await startPtyPair();
  cleanup.push(() => devicePty.stop());
  const fcPty = await startPtyPair();
  cleanup.push(() => fcPty.stop());
  // Simulated at the wall clock's pace: its failsafe return (up to its 33 m return altitude, home, down
  // at 1.5 m/s: about 30 s) lasts past the restart and the hold and resume after it, which took 17 s
  // at a load of 11-18 on two cores (at two simulated seconds a second the FC had landed by then). Its heartbeats every
  // 400 ms: the companion's silence counts as lost after 2 s (five of them), while the device's
  // heartbeats (1 s) keep it up.
  const fc = await startSimFc(['--serial', fcPty.b, '--autopilot', family, '--seed', '7', '--speed', '1', '--heartbeat-ms', '400', '--failsafe', 'return'], cliEntry('sim-fc'));
  cleanup.push(() => fc.stop());
  const toDevice = await openSerial({ path: devicePty.b, baudRate: 115_200 });
  cleanup.push(() => toDevice.close());
  const toFc = await openSerial({ path: fcPty.a, baudRate: 115_200 });
  cleanup.push(() => toFc.close());
  const sent: { atMs: number; what: string }[] = [];
  const fcSaid = { mode: 'unknown' as FlightMode, armed: false, relAltM: 0, modesSince: [] as FlightMode[] };
  const fromDevice = new FrameSplitter();
  const fromFc = new FrameSplitter();
  toDevice.onData((chunk) => {
    toFc.write(chunk);
    for (const f of fromDevice.push(chunk)) {
      const m = decodeMessage(f);
      const what = m ? flightCommand(m) : null;
      if (what !== null) sent.push({ atMs: Date.now(), what });
    }
  });
  toFc.onData((chunk) => {
    toDevice.write(chunk);
    for (const f of fromFc.push(chunk)) {
      const m = decodeMessage(f);
      if (m instanceof minimal.Heartbeat && f.sysid === 1) {
        fcSaid.mode = decodeMode(family, m.customMode);
        fcSaid.armed = (m.baseMode & 128) !== 0;
        if (fcSaid.modesSince.at(-1) !== fcSaid.mode) fcSaid.modesSince.push(fcSaid.mode);
      } else if (m instanceof common.GlobalPositionInt) fcSaid.relAltM = m.relativeAlt / 1000;
    }
  });

  // The device's status and acks as an operator's tools read them (MQTT).
  let status: { handedOver?: string } | null = null;
  let statuses = 0;
  const acks: { command: string; stage: string; reason: string }[] = [];
  const client = await mqtt.connectAsync(broker.url, { clientId: `test-restart-${fleet}-${family}`, clean: true });
  cleanup.push(() => client.endAsync());
  client.on('message', (topic, payload) => {
    const j = JSON.parse(payload.toString()) as { handedOver?: string; command?: string; stage?: string; reason?: string };
    if (topic.endsWith('/status')) {
      status = j;
      statuses++;
    }
    else if (j.command !== undefined) acks.push({ command: j.command, stage: j.stage ?? '', reason: j.reason ?? '' });
  });
  await client.subscribeAsync([`murmur/v1/${fleet}/json/d1/status`, `murmur/v1/${fleet}/json/d1/ack`]);

  writeFileSync(
    p('d1.yaml'),
    `id: d1\nkey: ${p('d1.key')}\nmanifest: ${p('fleet.manifest')}\ndataDir: ${p('data-d1')}\nmqtt: { url: "${broker.url}" }\nhttp: { port: 0 }\nlog: { level: info }\nagents: { enabled: false }\n` +
      `hal: { driver: mavlink, mavlink: { serial: "${devicePty.a}", baud: 115200, autopilot: ${family} } }\n`,
  );
  const start = (): DeviceProcess => {
    const d = startDeviceProcess(process.execPath, [cliEntry('murmur'), 'start', '--config', p('d1.yaml')], { readyMs: 30_000 });
    cleanup.push(() => d.stop());
    return d;
  };
  const ctl = (...args: string[]): Promise<CliRun> => runCli('murmurctl', [...args, '--json', '--timeout', '15s'], { cwd: dir, env: { MURMUR_MANIFEST: p('fleet.manifest'), MURMUR_BROKER: broker.url, MURMUR_KEY: p('ops.key') } });
  /** Sends the command and waits for its commit: accepted, with what d1 said of it by then (murmurctl
   *  exits 1 when a device's execution failed, 0 otherwise). */
  const committed = async (...args: string[]): Promise<{ command: string; d1?: { stage: string; reason: string } }> => {
    const r = await ctl('send', ...args, '--wait', 'committed');
    const j = JSON.parse(r.stdout) as { command: string; outcome: string; execution: Record<string, { stage: string; reason: string }> };
    expect(j.outcome, `${r.stdout}${r.stderr}`).toBe('accepted');
    expect(r.code, `${r.stdout}${r.stderr}`).toBe(j.execution['d1']?.stage === 'failed' ? 1 : 0);
    return { command: j.command, ...(j.execution['d1'] ? { d1: j.execution['d1'] } : {}) };
  };
  return { p, sent, fcSaid, acks, status: () => status as { handedOver?: string } | null, statuses: () => statuses, start, committed };
}
