// A simulated FC process losing its position in flight, for the executor's failsafe tests: the FC
// (4 simulated seconds a second) on a socat pty, its GNSS receiver losing its fix `lostAfterS` simulated
// seconds after the vehicle is first in the air (sim-fc --gnss-lost-after), the device's executor on the
// MAVLink drivers over it, every flight command the companion sent with when, when the companion first
// saw the FC in LAND (its HEARTBEAT) and the modes it showed armed since. All stopped at the test's end,
// by PID. Used by executor-ekf-failsafe (ArduPilot) and executor-px4-position-failsafe (PX4).

import type { TestContext } from 'vitest';
import { common, type MavLinkData } from 'node-mavlink';
import { mavlinkExecutor, simFcRig } from '../bridge/companion.js';
import { mavCmd } from '../../firmware-bridge/mavlink/vehicle.js';

/** The flight commands a companion sends (COMMAND_LONG or COMMAND_INT), and the setpoint streams. */
const flightCommands: readonly number[] = [mavCmd.doReposition, mavCmd.doSetMode, mavCmd.navTakeoff, mavCmd.navLand, mavCmd.navReturnToLaunch, mavCmd.missionStart, mavCmd.componentArmDisarm];
const isFlightCommand = (m: MavLinkData): boolean =>
  m instanceof common.SetPositionTargetGlobalInt || m instanceof common.SetPositionTargetLocalNed || ((m instanceof common.CommandLong || m instanceof common.CommandInt) && flightCommands.includes(m.command));

export async function fcLosingPosition(t: TestContext, o: { autopilot: 'ardupilot' | 'px4'; seed: number; lostAfterS: number }) {
  const cleanup: Array<() => Promise<void> | void> = [];
  t.onTestFinished(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });
  const rig = await simFcRig(['--autopilot', o.autopilot, '--seed', String(o.seed), '--speed', '4', '--heartbeat-ms', '200', '--gnss-lost-after', String(o.lostAfterS)], 200);
  cleanup.push(() => rig.stop());
  const sent: { atMs: number; msg: MavLinkData }[] = [];
  const send = rig.endpoint.send.bind(rig.endpoint);
  rig.endpoint.send = (msg: MavLinkData): void => {
    if (isFlightCommand(msg)) sent.push({ atMs: Date.now(), msg });
    send(msg);
  };
  let landSeenAtMs: number | null = null;
  const modesArmedSince = new Set<string>();
  const watch = setInterval(() => {
    if (landSeenAtMs === null && rig.vehicle.mode() === 'land') landSeenAtMs = Date.now();
    if (landSeenAtMs !== null && rig.vehicle.armed()) modesArmedSince.add(rig.vehicle.mode());
  }, 10);
  cleanup.push(() => clearInterval(watch));
  const ex = await mavlinkExecutor(rig, cleanup);
  /** The flight commands sent since the companion first saw LAND. */
  const sentSinceLand = (): { atMs: number; msg: MavLinkData }[] => sent.filter((s) => landSeenAtMs !== null && s.atMs >= landSeenAtMs);
  return { rig, sent, landSeenAt: () => landSeenAtMs, modesArmedSince, sentSinceLand, ...ex };
}
