// The rig of the tests of a device restarted with its drone on the ground (mission-runner-resume-
// active-ground and -held-ground): the simulated ArduPilot FC through the MAVLink HAL drivers, joined in
// memory, a real data directory, and a MissionRunner made anew on them as a restarted device makes it.
// The test files mock mission-adapter's missionBlockOf (their committed blocks are the mission
// machine's own, without signed envelopes); the mock applies to this module's imports as well.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'vitest';
import type { DecisionJson } from '../../runtime/device/control-topics.js';
import { FileStorage } from '../../runtime/device/file-storage.js';
import { MissionRunner, type MissionRunnerOptions } from '../../runtime/device/mission-runner.js';
import type { MissionState, MissionTx } from '../../runtime/mission/types.js';
import type { NodeShell } from '../../runtime/node/shell.js';
import { defaultSimConfig } from '../../hal/sim/sim-config.js';
import { mavCmd } from '../../firmware-bridge/mavlink/vehicle.js';
import { createMavlinkDevices } from '../../hal/mavlink/mavlink-devices.js';
import { frameMsgid, inMemoryFc, longCommand, mavlinkDevicesOn } from '../bridge/companion.js';

export const members = { epoch: 1, devices: ['d1', 'd2'], operators: [{ id: 'ops', roles: ['operator' as const] }] };
export const goto: Extract<MissionTx, { kind: 'command' }> = { kind: 'command', id: 'ops/01', operator: 'ops', type: 'mission.goto', args: { waypoints: [[0, 40], [0, 80]], node: 'd1' }, issuedAt: 1, expiresAt: 1_000_000 };
/** d1's committed report: `flown` of its two waypoints passed, `altDm` up, 10 m east. */
export const report = (flown: number, altDm: number): MissionTx => ({ kind: 'telemetry', node: 'd1', pos: { n: 0, e: 100 }, altDm, batteryPermille: 900, completed: null, progress: { mission: 'ops/01', flown } });

/** What the runner is handed as the node shell: only the manifest lookup is read. */
export const shell = { core: { chain: { manifestAt: () => ({ body: { validators: [{ id: 'd1', power: 1 }, { id: 'd2', power: 1 }] } }) } } } as unknown as NodeShell;

/** The flight commands a companion frame carries (what moves the vehicle or changes its mode), or
 *  null for the rest (heartbeats, message requests, parameters). */
function flightCommand(f: Uint8Array): string | null {
  const id = frameMsgid(f);
  if (id === 11) return 'set-mode';
  if (id === 84 || id === 86) return 'goto';
  if (id !== 75 && id !== 76) return null;
  const c = id === 76 ? longCommand(f) : (f[38] ?? 0) | ((f[39] ?? 0) << 8); // COMMAND_INT: the command after 4 floats, x, y, z, as COMMAND_LONG's
  if (c === mavCmd.setMessageInterval || c === mavCmd.requestMessage) return null;
  if (c === mavCmd.componentArmDisarm) return 'arm';
  if (c === mavCmd.navTakeoff) return 'takeoff';
  if (c === mavCmd.doReposition) return 'goto';
  if (c === mavCmd.doSetMode) return 'set-mode';
  return `command ${c}`;
}

/** The simulated ArduPilot FC on the ground (`speedFactor`, 4x the wall clock by default), the MAVLink
 *  drivers on it, and the flight commands the device sends it; all stopped when the test ends. `muted`:
 *  while it says so, nothing the FC sends reaches the device (the drivers start without waiting for it). */
export async function fcRig(t: TestContext, muted?: () => boolean, speedFactor = 4) {
  const cleanup: Array<() => Promise<void> | void> = [];
  t.onTestFinished(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });
  const sent: string[] = [];
  const rig = inMemoryFc({
    fc: { family: 'ardupilot', speedFactor },
    ...(muted ? { fromFc: (f: Uint8Array, pass: (f: Uint8Array) => void) => void (muted() || pass(f)) } : {}),
    fromCompanion: (f, pass) => {
      const c = flightCommand(f);
      if (c !== null) sent.push(c);
      pass(f);
    },
  });
  cleanup.push(rig.stop);
  const devices = muted ? createMavlinkDevices(rig.vehicle) : await mavlinkDevicesOn(rig, cleanup);
  if (muted) {
    for (const d of [devices.position, devices.flight]) {
      await d.start();
      cleanup.push(() => d.stop());
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'murmur-active-ground-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  /** A device (re)started on this FC and data directory, with the committed `state`. */
  const device = (state: MissionState) => {
    const acks: { command: string; stage: string; reason: string; progress: number }[] = [];
    const logs: string[] = [];
    const line = (a: unknown, b?: string): void => void logs.push(typeof a === 'string' ? a : (b ?? ''));
    /** The decision log the device last published (murmurctl log reads it). */
    const audit: DecisionJson[] = [];
    const control = { ack: (a: { command: string; stage: string; reason: string; progress: number }) => void acks.push(a), proof: () => undefined, log: (d: readonly DecisionJson[]) => void audit.splice(0, audit.length, ...d) };
    const metrics = { commands: { inc: () => undefined } };
    const storage = new FileStorage(dir, () => undefined);
    const o = { id: 'd1', fleet: 'f', manifest: { body: { authority: new Uint8Array(32) } }, hal: { devices }, origin: defaultSimConfig.origin, fence: null, log: { info: line, warn: line }, control, metrics, storage } as unknown as MissionRunnerOptions;
    const r = new MissionRunner(o);
    r.state = state;
    cleanup.push(() => r.stop());
    return { r, acks, logs, audit };
  };
  return { rig, devices, sent, device, dir };
}

/** Lets the restarted device act (the FC is heard already: its resume does not wait), then says what
 *  flight commands it sent after `from`. */
export async function sentAfter(sent: string[], from: number): Promise<string[]> {
  await new Promise((r) => setTimeout(r, 1_500));
  return sent.slice(from);
}
