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
// route's goto. The device's own return, killed on the way, is restart-own-rtl.test.ts.

import { describe, it } from 'vitest';
import { waitFor } from '../bridge/companion.js';
import { restartWorld } from './restart-world.js';

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
});
