// The companion side of a bridge test: a MAVLink endpoint and vehicle on a serial port or UDP socket,
// the simulated flight controller rig on a pty pair, and the same FC in this process joined to the
// companion in memory, for tests that drop, hold back or count single frames on the way.

import { expect } from 'vitest';
import { common } from 'node-mavlink';
import { MavlinkEndpoint, type SigningPolicy } from '../../firmware-bridge/mavlink/endpoint.js';
import { MavlinkVehicle, type VehicleOptions } from '../../firmware-bridge/mavlink/vehicle.js';
import { openSerial, type ByteTransport } from '../../firmware-bridge/transport.js';
import { startPtyPair, startSimFc, type SimFcProcess } from '../../firmware-bridge/tools/processes.js';
import { SimFlightController, type SimFcOptions } from '../../firmware-bridge/sim-fc/sim-fc.js';
import { memoryPair } from './memory-pair.js';
import { createMavlinkDevices } from '../../hal/mavlink/mavlink-devices.js';
import { Executor, type ExecReport, type ExecutorOptions } from '../../runtime/device/executor.js';
import { defaultSimConfig } from '../../hal/sim/sim-config.js';
import { cliEntry } from '../support/run-cli.js';

export const companionSysid = 245;
export const companionCompid = 191; // MAV_COMP_ID_ONBOARD_COMPUTER

export function companion(transport: ByteTransport, heartbeatIntervalMs: number, signing?: SigningPolicy, vehicleOptions: VehicleOptions = {}, heartbeatsMissedMax?: number): { endpoint: MavlinkEndpoint; vehicle: MavlinkVehicle } {
  const endpoint = new MavlinkEndpoint({
    transport,
    sysid: companionSysid,
    compid: companionCompid,
    heartbeatIntervalMs,
    ...(heartbeatsMissedMax !== undefined ? { heartbeatsMissedMax } : {}),
    heartbeat: () => ({ type: 18, autopilot: 8, baseMode: 0, customMode: 0, systemStatus: 4 }), // ONBOARD_CONTROLLER, INVALID
    ...(signing ? { signing } : {}),
  });
  endpoint.start();
  return { endpoint, vehicle: new MavlinkVehicle(endpoint, vehicleOptions) };
}

export async function waitFor(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The simulated flight controller (its own process) on one end of a socat pty pair, and the companion
 *  on the other: the rig most bridge and HAL tests fly against. `stop` ends all of it, by PID. */
export interface SimFcRig {
  readonly fc: SimFcProcess;
  readonly port: ByteTransport;
  readonly endpoint: MavlinkEndpoint;
  readonly vehicle: MavlinkVehicle;
  stop(): Promise<void>;
}

export async function simFcRig(fcArgs: readonly string[], heartbeatIntervalMs = 1000, vehicleOptions: VehicleOptions = {}): Promise<SimFcRig> {
  const pty = await startPtyPair();
  const fc = await startSimFc(['--serial', pty.b, ...fcArgs], cliEntry('sim-fc'));
  const port = await openSerial({ path: pty.a, baudRate: 921_600 });
  const { endpoint, vehicle } = companion(port, heartbeatIntervalMs, undefined, vehicleOptions);
  return {
    fc,
    port,
    endpoint,
    vehicle,
    stop: async () => {
      vehicle.close();
      endpoint.stop();
      await port.close();
      await fc.stop();
      await pty.stop();
    },
  };
}

/** The message id of a MAVLink 2 frame, or -1 for anything else. */
export function frameMsgid(frame: Uint8Array): number {
  return frame[0] === 0xfd ? (frame[7] ?? 0) | ((frame[8] ?? 0) << 8) | ((frame[9] ?? 0) << 16) : -1;
}

/** The command a COMMAND_ACK (77) frame answers, else null. */
export function ackedCommand(frame: Uint8Array): number | null {
  return frameMsgid(frame) === 77 ? (frame[10] ?? 0) | ((frame[11] ?? 0) << 8) : null;
}

/** The command of a COMMAND_LONG (76) frame (after its seven float params), else null. */
export function longCommand(frame: Uint8Array): number | null {
  return frameMsgid(frame) === 76 ? (frame[38] ?? 0) | ((frame[39] ?? 0) << 8) : null;
}

/**
 * PX4 prints a refused mode switch's text ("Switching to ... is currently not available") at most once a
 * simulated second (Commander::printRejectMode). Whether a refusal gets one depends on the FC's clock
 * between its last such text and that command, which a loaded machine stretches (a quarter of a real
 * second at speed 4), so a test asks the FC's rule, read on the FC's side: `fromFc` (inMemoryFc's tap)
 * notes the FC's time of each such text as it is sent, and `watch(fc)` each COMMAND_LONG's as the FC
 * handles it (its handler runs just after the FC's own, in the same tick). `due(command)` says what the
 * rule called for the last one of that command: 'bare' within 900 ms of the text before it, 'text'
 * after 1,100 ms, 'either' between. `then` taps on after `fromFc` (a delay, say).
 */
export function px4RefusalTexts(then: FrameTap = (f, pass) => pass(f)): { fromFc: FrameTap; watch: (fc: SimFlightController) => void; due: (command: number) => 'bare' | 'text' | 'either' | undefined } {
  let nowMs = (): number => 0;
  const textsAtMs: number[] = [];
  let textSinceLast = false;
  const verdicts = new Map<number, 'bare' | 'text' | 'either'>();
  const switching = new TextEncoder().encode('Switching to');
  return {
    fromFc: (f, pass) => {
      // STATUSTEXT (253): severity at payload byte 0, the text from byte 1 (MAVLink 2 header: 10 bytes).
      if (frameMsgid(f) === 253 && switching.every((b, i) => f[11 + i] === b)) {
        textsAtMs.push(nowMs());
        textSinceLast = true;
      }
      then(f, pass);
    },
    watch: (fc) => {
      nowMs = () => fc.nowMs();
      fc.endpoint.onMessage(({ msg }) => {
        if (!(msg instanceof common.CommandLong)) return;
        // The text before this command's: the last one, or the one before it if this one got a text.
        const before = textsAtMs.at(textSinceLast ? -2 : -1);
        textSinceLast = false;
        const gap = before === undefined ? Infinity : fc.nowMs() - before;
        verdicts.set(msg.command, gap < 900 ? 'bare' : gap > 1_100 ? 'text' : 'either');
      });
    },
    due: (command) => verdicts.get(command),
  };
}

/** `said` (a refusal as the companion reports it) is what PX4's one text a second calls for (`due`):
 *  `bare`, or the same with `text` as the flight controller's words. */
export function expectRefusal(said: string, bare: string, text: string, due: 'bare' | 'text' | 'either' | undefined): void {
  const texted = `${bare} (the flight controller said "${text}")`;
  expect(due, 'the command reached the FC').toBeDefined();
  if (due === 'bare') expect(said).toBe(bare);
  else if (due === 'text') expect(said).toBe(texted);
  else expect([bare, texted]).toContain(said);
}

/** What one side sends, frame by frame: call `pass` for a frame that goes through (now or later). */
export type FrameTap = (frame: Uint8Array, pass: (frame: Uint8Array) => void) => void;

export interface InMemoryFcRig {
  readonly fc: SimFlightController;
  readonly endpoint: MavlinkEndpoint;
  readonly vehicle: MavlinkVehicle;
  stop(): void;
}

/**
 * The simulated flight controller (ArduPilot unless `fc.family` says otherwise, seed 1, heartbeats every
 * 200 ms) in this process, joined in memory to a companion with 200 ms heartbeats. `fromFc` sees every
 * frame the FC sends, `fromCompanion` every frame the companion sends; without a tap, all go through.
 */
export function inMemoryFc(o: { fromFc?: FrameTap; fromCompanion?: FrameTap; fc?: Partial<Omit<SimFcOptions, 'transport'>>; vehicle?: VehicleOptions } = {}): InMemoryFcRig {
  const [a, b] = memoryPair();
  const tapped = (t: ByteTransport, tap: FrameTap | undefined): ByteTransport => (tap ? { ...t, write: (bytes) => tap(bytes, (f) => t.write(f)) } : t);
  const fc = new SimFlightController({ family: 'ardupilot', seed: 1, heartbeatIntervalMs: 200, ...o.fc, transport: tapped(b, o.fromFc) });
  fc.start();
  const { endpoint, vehicle } = companion(tapped(a, o.fromCompanion), 200, undefined, o.vehicle ?? {});
  return {
    fc,
    endpoint,
    vehicle,
    stop: () => {
      vehicle.close();
      endpoint.stop();
      fc.stop();
    },
  };
}

/** The MAVLink position and flight drivers on `rig`'s companion (in memory, or the FC process's on a
 *  pty: SimFcRig), started (their stops pushed to `cleanup`), once the FC has been heard with a
 *  position and a landed state. */
export async function mavlinkDevicesOn(rig: { readonly vehicle: MavlinkVehicle }, cleanup: Array<() => Promise<void> | void>): Promise<ReturnType<typeof createMavlinkDevices>> {
  const devices = createMavlinkDevices(rig.vehicle);
  for (const d of [devices.position, devices.flight]) {
    await d.start();
    cleanup.push(() => d.stop());
  }
  await waitFor('the FC heard, with a position and a landed state', () => {
    const st = devices.flight.state();
    return devices.position.fix().ok && st.ok && st.value.landed === 'on-ground';
  }, 10_000);
  return devices;
}

/** A device's executor on the MAVLink drivers over `rig` (mavlinkDevicesOn), at the simulated FC's
 *  origin, with the reports and log lines it gave; stopped through `cleanup`. */
export async function mavlinkExecutor(rig: { readonly vehicle: MavlinkVehicle }, cleanup: Array<() => Promise<void> | void>, options: ExecutorOptions = {}) {
  const devices = await mavlinkDevicesOn(rig, cleanup);
  const reports: ExecReport[] = [];
  const logs: string[] = [];
  const ex = new Executor(devices, defaultSimConfig.origin, (r) => reports.push(r), (m) => logs.push(m), options);
  cleanup.push(() => ex.stop());
  return { devices, ex, reports, logs };
}

/** Heard with a position, armed, and taken off to `relAltM` (within 1 m): a vehicle in the air. */
export async function airborne(vehicle: MavlinkVehicle, relAltM: number): Promise<void> {
  await waitFor('the FC heard, with a position', () => vehicle.connected() && vehicle.telemetry.position !== null, 10_000);
  const arm = await vehicle.execute({ type: 'arm' });
  if (!arm.ok) throw new Error(`arm: ${arm.error.message}`);
  const up = await vehicle.execute({ type: 'takeoff', relAltM });
  if (!up.ok) throw new Error(`takeoff: ${up.error.message}`);
  await waitFor(`${relAltM} m up`, () => (vehicle.telemetry.position?.relativeAlt ?? 0) > (relAltM - 1) * 1000, 20_000);
}
