// A device restarted while its flight controller flies a failsafe return of its own, end to end: a
// one-validator fleet on a real Mosquitto, `murmur start` as a real process with hal.driver mavlink on
// a socat pty, and the simulated ArduPilot or PX4 (firmware-bridge/sim-fc) as its own process on
// another pty; this test joins the two ptys and reads every frame on the way. The device flies a goto;
// it is killed (SIGKILL, by PID) in the air, and the FC, its companion's heartbeats gone, runs its own
// failsafe (sim-fc --failsafe return: RTL, as ArduCopter's GCS failsafe and PX4's data link loss
// action). A new `murmur start` on the same data directory finds the vehicle returning home with the
// mission active. It must not fly the mission on from there: the FC chose that return, and its words
// for it came before the restart (STATUSTEXT is not sent again). It hands the vehicle over, as when the
// FC's failsafe takes it in flight: the task fails saying so, its status says so, and nothing is sent
// to the FC, neither at the restart nor on the mission's hold and resume (which concern the drones
// flying it); an operator's command for the drone (an rtl) takes it back. Before, the resume was only
// skipped: the hold switched the FC out of its return (LOITER; PX4's Hold) and the resume sent the
// route's goto. The third case is the device's own committed rtl, under way when it is killed: its data
// directory's own-return record says so, and the restarted device lets that rtl go on (nothing sent,
// not handed over); before, it read as the FC's own failsafe.

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { common, minimal, type MavLinkData } from 'node-mavlink';
import { describe, it, type TestContext } from 'vitest';
import { decodeMessage, FrameSplitter } from '../../firmware-bridge/mavlink/codec.js';
import { decodeMode } from '../../firmware-bridge/mavlink/modes.js';
import { mavCmd } from '../../firmware-bridge/mavlink/vehicle.js';
import { startPtyPair, startSimFc } from '../../firmware-bridge/tools/processes.js';
import { openSerial } from '../../firmware-bridge/transport.js';
import type { FlightMode } from '../../hal/devices.js';
import { waitFor } from '../bridge/companion.js';
import { Mosquitto } from '../links/processes.js';
import { startDeviceProcess, type DeviceProcess } from '../support/device-process.js';
import { makeFleet, writeFleetFiles } from '../support/fleet-fixture.js';
import { cliEntry, runCli, type CliRun } from '../support/run-cli.js';
import { decodeOwnReturn, ownReturnFile } from '../../runtime/device/own-return.js';

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
async function restartWorld(t: TestContext, family: 'ardupilot' | 'px4', fleet: string) {
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
  // Two simulated seconds a second: its failsafe return (up to its return altitude, home, down at
  // 1.5 m/s) lasts well past the restart and the hold and resume after it. Its heartbeats every
  // 400 ms: the companion's silence counts as lost after 2 s (five of them), while the device's
  // heartbeats (1 s) keep it up.
  const fc = await startSimFc(['--serial', fcPty.b, '--autopilot', family, '--seed', '7', '--speed', '2', '--heartbeat-ms', '400', '--failsafe', 'return'], cliEntry('sim-fc'));
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

// Each case on its own broker, ptys and processes, so they run at once (describe.concurrent).
describe.concurrent('a device restarted while its flight controller flies its own failsafe return', () => {
  it.for(['ardupilot', 'px4'] as const)('%s: hands the vehicle over: its task fails saying why, its status says so, nothing is sent to the FC at the restart or on the mission\'s hold and resume; an operator\'s rtl takes it back', { timeout: 60_000 }, async (family, t) => {
    const { expect } = t;
    const { sent, fcSaid, acks, status, start, committed } = await restartWorld(t, family, 'fsreturn');
    const before = start();
    await before.ready;
    const { command: mission } = await committed('mission.goto', '--arg', 'waypoints=[[0,400]]', '--arg', 'node=d1', '--arg', 'altM=10', '--arg', 'speedMps=12');
    // A goto flies in GUIDED on ArduCopter, in Hold on PX4 (MAV_CMD_DO_REPOSITION).
    await waitFor('the drone up and on its way (a goto sent, in its mode)', () => fcSaid.armed && fcSaid.mode === (family === 'px4' ? 'hold' : 'guided') && fcSaid.relAltM > 5 && sent.some((s) => s.what === 'goto'), 20_000);

    // Killed in the air; the FC, its companion lost, returns home on its own failsafe.
    expect(before.proc.pid).toBeDefined();
    process.kill(before.proc.pid as number, 'SIGKILL');
    await waitFor("the FC's own failsafe return (RTL)", () => fcSaid.mode === 'return', 10_000);
    fcSaid.modesSince.length = 0;
    fcSaid.modesSince.push('return');
    const killedAt = sent.length;

    const after = start();
    await after.ready;
    const out = (): string => `\n--- restarted d1 ---\n${after.output().slice(-4_000)}`;
    // Its part is not flown on: handed over, in its ack, its status and its log.
    const handedOver = /^the flight controller left the executor's control: the vehicle was returning home \(mode return\) when this device started, not by a command of this device since: the flight controller's own failsafe/;
    await waitFor('the task failed, handed over', () => acks.some((a) => a.command === mission && a.stage === 'failed'), 10_000).catch((e: Error) => expect.fail(`${e.message}${out()}`));
    expect(acks.filter((a) => a.command === mission && a.stage === 'failed').map((a) => a.reason), out()).toEqual([expect.stringMatching(/^not resumed after a restart: the flight controller left the executor's control: the vehicle was returning home \(mode return\)/)]);
    await waitFor('its status says it was handed over', () => status()?.handedOver !== undefined, 5_000).catch((e: Error) => expect.fail(`${e.message}${out()}`));
    expect(status()?.handedOver, out()).toMatch(handedOver);
    expect(after.output(), out()).toMatch(/"event":"resume".*"handedOver":true/);

    // The mission's hold and resume: not carried out on a vehicle the FC's failsafe has.
    const notCarriedOut = /^not carried out: the vehicle is not in this device's hands \(a pilot or the flight controller's failsafe took it\)$/;
    const hold = await committed('hold');
    await waitFor("d1's ack of the hold", () => acks.some((a) => a.command === hold.command && a.stage === 'failed'), 5_000);
    expect(acks.find((a) => a.command === hold.command && a.stage === 'failed')?.reason, out()).toMatch(notCarriedOut);
    const resume = await committed('resume');
    await waitFor("d1's ack of the resume", () => acks.some((a) => a.command === resume.command && a.stage === 'failed'), 5_000);
    expect(acks.find((a) => a.command === resume.command && a.stage === 'failed')?.reason, out()).toMatch(notCarriedOut);
    await new Promise((r) => setTimeout(r, 1_000)); // time for anything the resume would send
    expect(sent.slice(killedAt).map((s) => s.what), out()).toEqual([]); // before: set-mode (LOITER), then goto
    expect(fcSaid.modesSince, out()).toEqual(['return']);
    expect(fcSaid.armed && fcSaid.relAltM > 1, `still returning, ${fcSaid.relAltM} m up${out()}`).toBe(true);

    // An operator's command for this drone takes it back: an rtl, said so in its started ack, sent.
    const rtl = await committed('rtl', '--arg', 'nodes=["d1"]');
    await waitFor("d1's rtl sent", () => sent.slice(killedAt).some((s) => s.what === 'rtl'), 5_000).catch((e: Error) => expect.fail(`${e.message}${out()}`));
    expect(acks.find((a) => a.command === rtl.command && a.stage === 'started')?.reason, out()).toMatch(/^taken back by an operator's command \(the vehicle was out of this device's hands: the flight controller left the executor's control: the vehicle was returning home/);
    expect(fcSaid.modesSince, out()).toEqual(['return']);
  });

  // Its own committed rtl under way when it is killed (the FC's failsafe on its companion's loss finds
  // it returning already): the restarted device finds the FC returning, as above, but its data directory
  // says the return is its own (file own-return). The committed rtl goes on: nothing is sent, and it is
  // not handed over. Before, this read as the FC's own failsafe: handed over, "committed rtl not
  // carried out".
  it("ardupilot: its own committed rtl, killed on the way: the rtl goes on, nothing sent, not handed over", { timeout: 60_000 }, async (t) => {
    const { expect } = t;
    const { p, sent, fcSaid, statuses, status, start, committed } = await restartWorld(t, 'ardupilot', 'ownrtl');
    const before = start();
    await before.ready;
    await committed('mission.goto', '--arg', 'waypoints=[[0,400]]', '--arg', 'node=d1', '--arg', 'altM=10', '--arg', 'speedMps=12');
    await waitFor('the drone up and on its way', () => fcSaid.armed && fcSaid.mode === 'guided' && fcSaid.relAltM > 5 && sent.some((s) => s.what === 'goto'), 20_000);
    const { command: rtl } = await committed('rtl', '--arg', 'nodes=["d1"]');
    const file = p(`data-d1/${ownReturnFile}`);
    await waitFor('its rtl flown and recorded', () => fcSaid.mode === 'return' && existsSync(file) && readFileSync(file).length > 0, 10_000);
    expect(decodeOwnReturn(new Uint8Array(readFileSync(file)))).toMatchObject({ ok: true, value: { action: 'return-to-launch', command: rtl, what: `rtl for command ${rtl}` } });
    process.kill(before.proc.pid as number, 'SIGKILL');
    fcSaid.modesSince.length = 0;
    fcSaid.modesSince.push('return');
    const killedAt = sent.length;

    const after = start();
    await after.ready;
    const out = (): string => `\n--- restarted d1 ---\n${after.output().slice(-4_000)}`;
    const goesOn = `committed rtl goes on: the vehicle flies this device's own rtl for command ${rtl} from before the restart (mode return); not sent again`;
    await waitFor('the committed rtl goes on', () => after.output().includes(goesOn), 10_000).catch((e: Error) => expect.fail(`${e.message}${out()}`));
    const seen = statuses();
    await waitFor('a status since', () => statuses() > seen, 5_000);
    expect(status()?.handedOver, out()).toBeUndefined();
    expect(after.output(), out()).not.toMatch(/nothing more is commanded until an operator's command/);
    expect(sent.slice(killedAt).map((s) => s.what), out()).toEqual([]);
    expect(fcSaid.modesSince, out()).toEqual(['return']);
  });
});
