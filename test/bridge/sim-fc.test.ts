// The companion drives the simulated flight controller, a separate process, over a socat pty:
// heartbeats both ways, arm/takeoff (IN_PROGRESS then ACCEPTED), goto, offboard velocity stream,
// mission upload and execution, RTL, and the failsafe when the companion's heartbeats stop.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { common } from 'node-mavlink';
import { localToGeo } from '../../hal/geo.js';
import { defaultSimConfig } from '../../hal/sim/sim-config.js';
import { mavCmd, type MavlinkVehicle } from '../../firmware-bridge/mavlink/vehicle.js';
import type { MavlinkEndpoint } from '../../firmware-bridge/mavlink/endpoint.js';
import { repoRoot, type SimFcProcess } from '../../firmware-bridge/tools/processes.js';
import { simFcRig, waitFor, type SimFcRig } from './companion.js';
import { PtyPair as ReplugPtyPair } from '../links/processes.js';
import { spawn } from 'node:child_process';
import { cliEntry } from '../support/run-cli.js';

// The describe blocks run at once (describe.concurrent; vitest's maxConcurrency, 5, at a time): each
// has an FC of its own (a process on its own ptys, or in memory) and mostly waits on it. The tests
// inside a block build on each other (connect, arm, take off, fly) and stay in order (it.sequential).
const hbMs = 200; // heartbeats 5x faster than the 1 Hz default so link loss shows in 1 s, not 5
// The FC simulates 4 s per second (like PX4 SITL's speed factor) to keep the flight short.
const origin = defaultSimConfig.origin;
const relAlt = (v: MavlinkVehicle): number => (v.telemetry.position?.relativeAlt ?? 0) / 1000;

describe.concurrent('simulated flight controller over a pty (PX4 modes)', () => {
  let rig: SimFcRig;
  let fc: SimFcProcess;
  let endpoint: MavlinkEndpoint;
  let vehicle: MavlinkVehicle;
  const texts: string[] = [];

  beforeAll(async () => {
    rig = await simFcRig(['--autopilot', 'px4', '--heartbeat-ms', String(hbMs), '--seed', '5', '--speed', '4'], hbMs);
    ({ fc, endpoint, vehicle } = rig);
    endpoint.onMessage(({ msg }) => {
      if (msg instanceof common.StatusText) texts.push(msg.text);
    });
  });

  afterAll(() => rig?.stop());

  it.sequential('exchanges heartbeats and streams every telemetry message', async () => {
    await waitFor('FC heartbeat', () => vehicle.connected(), 5000);
    await waitFor('telemetry', () => ['GLOBAL_POSITION_INT', 'GPS_RAW_INT', 'SYS_STATUS', 'BATTERY_STATUS', 'ATTITUDE', 'EXTENDED_SYS_STATE', 'HOME_POSITION'].every((n) => vehicle.telemetry.receivedAtMs[n] !== undefined), 3000);
    expect(vehicle.family()).toBe('px4');
    expect(vehicle.armed()).toBe(false);
    expect(vehicle.landed()).toBe('on-ground');
    expect(vehicle.telemetry.battery?.batteryRemaining).toBe(100);
  });

  it.sequential('refuses offboard without a setpoint stream, then arms and takes off with IN_PROGRESS before ACCEPTED', async () => {
    const early = await vehicle.setMode('guided');
    expect(early.ok).toBe(false);
    expect((await vehicle.arm()).ok).toBe(true);
    await waitFor('armed heartbeat', () => vehicle.armed(), 10_000);
    const t = await vehicle.takeoff(8);
    expect(t.ok && t.value.sawInProgress).toBe(true);
    await waitFor('takeoff altitude', () => relAlt(vehicle) > 7.5, 10_000);
    await waitFor('hold after takeoff', () => vehicle.mode() === 'hold', 3000);
    await waitFor('EXTENDED_SYS_STATE in-air (sent at 1 Hz)', () => vehicle.landed() === 'in-air', 10_000);
  });

  it.sequential('flies a DO_REPOSITION goto and a streamed offboard velocity setpoint', async () => {
    const target = localToGeo(origin, 20, 0);
    expect((await vehicle.goto({ ...target, relAltM: 8 }, 10)).ok).toBe(true);
    await waitFor('reach 20 m north', () => Math.abs((vehicle.telemetry.position?.lat ?? 0) / 1e7 - target.latDeg) < 2e-6, 10_000);
    expect((await vehicle.streamVelocity(0, 4, 0)).ok).toBe(true);
    expect(vehicle.mode()).not.toBe('unknown');
    await waitFor('guided mode', () => vehicle.mode() === 'guided', 10_000);
    await waitFor('moving east', () => (vehicle.telemetry.position?.vy ?? 0) > 300, 3000);
    expect((await vehicle.hold()).ok).toBe(true);
    await waitFor('hold', () => vehicle.mode() === 'hold', 10_000);
  });

  it.sequential('uploads a mission and flies it, reporting each reached item', async () => {
    const reached: number[] = [];
    const off = endpoint.onMessage(({ msg }) => {
      if (msg instanceof common.MissionItemReached) reached.push(msg.seq);
    });
    const wp = (n: number, e: number) => ({ command: mavCmd.navWaypoint, ...localToGeo(origin, n, e), relAltM: 10 });
    const up = await vehicle.upload([wp(25, 0), wp(25, 10), wp(15, 10)]);
    expect(up.ok).toBe(true);
    expect((await vehicle.startMission()).ok).toBe(true);
    await waitFor('mission mode', () => vehicle.mode() === 'mission', 10_000);
    await waitFor('all three waypoints reached', () => reached.length >= 3, 20_000);
    expect(reached.slice(0, 3)).toEqual([0, 1, 2]);
    off();
  });

  it.sequential('sets the return altitude with PARAM_SET (PX4: RTL_RETURN_ALT, metres) and answers with PARAM_VALUE', async () => {
    const values: { id: string; value: number }[] = [];
    const off = endpoint.onMessage(({ msg }) => {
      if (msg instanceof common.ParamValue) values.push({ id: msg.paramId, value: msg.paramValue });
    });
    expect((await vehicle.setReturnAltitude(14)).ok).toBe(true);
    expect(values.at(-1)).toEqual({ id: 'RTL_RETURN_ALT', value: 14 });
    const bad = await vehicle.setReturnAltitude(500);
    expect(!bad.ok && bad.error.message).toBe('PARAM_SET RTL_RETURN_ALT=500: the vehicle holds 14');
    expect(texts.some((t) => t.includes('return altitude must be in'))).toBe(true);
    // Not a number is refused before any PARAM_SET goes out (sent, PX4 would store RTL_RETURN_ALT = NaN).
    const answers = values.length;
    expect(await vehicle.setReturnAltitude(Number.NaN)).toEqual({ ok: false, error: { code: 'rejected', message: 'setReturnAltitude: relAltM must be a finite number, got NaN' } });
    await new Promise((r) => setTimeout(r, 300));
    expect(values.length).toBe(answers);
    off();
  });

  it.sequential('fails safe (returns to launch) when the companion stops sending heartbeats, at the return altitude it was given', async () => {
    let highest = 0;
    const off = endpoint.onMessage(({ msg }) => {
      if (msg instanceof common.GlobalPositionInt && vehicle.mode() === 'return') highest = Math.max(highest, msg.relativeAlt / 1000);
    });
    endpoint.heartbeatsEnabled = false;
    await waitFor('return mode', () => vehicle.mode() === 'return', 5 * hbMs + 2000);
    expect(texts.some((t) => t.includes('failsafe: companion link lost'))).toBe(true);
    expect(vehicle.telemetry.heartbeat?.systemStatus).toBe(5); // MAV_STATE_CRITICAL
    endpoint.heartbeatsEnabled = true;
    await waitFor('landed and disarmed at home', () => !vehicle.armed(), 30_000);
    expect(relAlt(vehicle)).toBeLessThan(0.5);
    off();
    expect(highest).toBeGreaterThan(13); // it climbed from 10 m to its 14 m return altitude first
  });

  it.sequential('the companion declares the FC lost after 5 missed heartbeats when the FC process stops', async () => {
    const events: string[] = [];
    endpoint.onLink((e) => events.push(`${e.type}:${e.sysid}`));
    const stoppedAt = Date.now();
    await fc.stop();
    await waitFor('link lost', () => events.includes('lost:1'), 5 * hbMs + 2000);
    const elapsed = Date.now() - stoppedAt;
    expect(elapsed).toBeGreaterThanOrEqual(4 * hbMs); // not before ~5 intervals of silence
    expect(vehicle.connected()).toBe(false);
  });
});

describe.concurrent('the simulated FC process when its serial port goes away', () => {
  it.sequential('exits with code 5 and says which port went away, instead of running on deaf', async () => {
    const pty = await ReplugPtyPair.start();
    const fc = spawn(process.execPath, [cliEntry('sim-fc'), '--serial', pty.b, '--autopilot', 'px4'], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let errText = '';
    fc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    fc.stderr.on('data', (d: Buffer) => (errText += d.toString()));
    const exited = new Promise<number | null>((r) => fc.once('exit', (code) => r(code)));
    try {
      await waitFor('sim-fc ready', () => out.includes('"ready":true'), 20_000);
      await pty.kill(); // the pty pair ends: the FC's port is gone
      const code = await Promise.race([exited, new Promise<'running'>((r) => setTimeout(() => r('running'), 5000))]);
      expect(code).toBe(5);
      expect(errText).toContain(`sim-fc: serial port ${pty.b} went away`);
    } finally {
      if (fc.exitCode === null && fc.pid !== undefined) process.kill(fc.pid, 'SIGTERM');
      await exited;
      await pty.stop();
    }
  }, 40_000);
});

// The simulated PX4 answers a take-off IN_PROGRESS, then its final ACK 300 ms later (ArduPilot answers
// at once: takeoff-resend.test.ts).
describe.concurrent('a take-off that is over before the FC sends its final ACK', () => {
  // At 20x a climb to 1 m takes well under the 300 ms the FC waits before its final ACK; the same
  // happens at 4x when a loaded machine runs that timer late. It is a take-off done, not one failed.
  it.sequential('is ACCEPTED, not FAILED', async () => {
    const rig = await simFcRig(['--autopilot', 'px4', '--heartbeat-ms', String(hbMs), '--seed', '6', '--speed', '20'], hbMs);
    const { vehicle } = rig;
    try {
      await waitFor('FC heartbeat and home', () => vehicle.connected() && vehicle.telemetry.home !== null, 5000);
      expect((await vehicle.arm()).ok).toBe(true);
      const t = await vehicle.takeoff(1);
      expect(t.ok, t.ok ? '' : t.error.message).toBe(true);
      await waitFor('hold after takeoff', () => vehicle.mode() === 'hold' && relAlt(vehicle) > 0.6, 3000);
    } finally {
      await rig.stop();
    }
  }, 20_000);
});

describe.concurrent('a take-off command resent while the take-off is in progress', () => {
  // A companion whose ACK wait runs out first (a lossy or slow link: the lossy-link test met it on a
  // loaded CI machine) resends NAV_TAKEOFF while the FC's final ACK is pending. With a 100 ms timeout
  // the companion resends within the FC's 300 ms: the same command again, not another that ends it.
  it.sequential('is ACCEPTED: the resend is answered IN_PROGRESS and does not count as a new command', async () => {
    const rig = await simFcRig(['--autopilot', 'px4', '--heartbeat-ms', String(hbMs), '--seed', '9', '--speed', '4'], hbMs);
    const { vehicle } = rig;
    try {
      await waitFor('FC heartbeat and home', () => vehicle.connected() && vehicle.telemetry.home !== null, 5000);
      expect((await vehicle.arm()).ok).toBe(true);
      const homeAmslM = (vehicle.telemetry.home?.altitude ?? 0) / 1000;
      const t = await vehicle.commands.long(mavCmd.navTakeoff, [0, 0, 0, Number.NaN, Number.NaN, Number.NaN, homeAmslM + 10], { timeoutMs: 100 });
      expect(t.ok, t.ok ? '' : t.error.message).toBe(true);
      if (t.ok) expect(t.value.attempts).toBeGreaterThan(1); // it was resent before the final ACK
      await waitFor('climbing', () => relAlt(vehicle) > 2, 5000);
    } finally {
      await rig.stop();
    }
  }, 20_000);
});

describe.concurrent('a flight controller that goes silent while a command is in progress', () => {
  it.sequential('fails the command when the link is declared lost, naming the loss, instead of waiting out the progress timeout', async () => {
    const rig = await simFcRig(['--autopilot', 'px4', '--heartbeat-ms', String(hbMs), '--seed', '8'], hbMs);
    const { fc, vehicle } = rig;
    try {
      await waitFor('FC heartbeat and home', () => vehicle.connected() && vehicle.telemetry.home !== null, 5000);
      expect((await vehicle.arm()).ok).toBe(true);
      const homeAmslM = (vehicle.telemetry.home?.altitude ?? 0) / 1000;
      let stoppedAt = 0;
      // A slow climb to 40 m: IN_PROGRESS for many seconds; the FC process dies at the first one.
      const takeoff = vehicle.commands.long(mavCmd.navTakeoff, [0, 0, 0, Number.NaN, Number.NaN, Number.NaN, homeAmslM + 40], {
        onProgress: () => {
          if (stoppedAt === 0) {
            stoppedAt = Date.now();
            void fc.stop();
          }
        },
      });
      const r = await takeoff;
      const elapsed = Date.now() - stoppedAt;
      expect(stoppedAt).toBeGreaterThan(0);
      expect(!r.ok && r.error.message).toMatch(/NAV_TAKEOFF: the flight controller was lost \(no HEARTBEAT for \d+ ms\)/);
      expect(elapsed).toBeLessThan(10_000); // about the link-loss time (1 s here), not the 15 s progress timeout
    } finally {
      await rig.stop();
    }
  }, 30_000);

  it.sequential('fails a mission upload and a parameter write when the link is declared lost, naming the loss', async () => {
    const rig = await simFcRig(['--autopilot', 'px4', '--heartbeat-ms', String(hbMs), '--seed', '9'], hbMs);
    const { fc, vehicle } = rig;
    try {
      await waitFor('FC heartbeat', () => vehicle.connected(), 5000);
      await fc.stop();
      const stoppedAt = Date.now();
      // Both would otherwise resend into the silence: 5 x 1.5 s for the upload, 4 x 1 s for the write.
      const [up, param] = await Promise.all([vehicle.upload([{ command: mavCmd.navWaypoint, latDeg: 47.3978, lonDeg: 8.5456, relAltM: 10 }]), vehicle.params.set('RTL_RETURN_ALT', 20, 9)]);
      const elapsed = Date.now() - stoppedAt;
      expect(!up.ok && up.error.message).toMatch(/^mission upload: the flight controller was lost/);
      expect(!param.ok && param.error.message).toMatch(/^PARAM_SET RTL_RETURN_ALT: the flight controller was lost/);
      expect(elapsed).toBeLessThan(6_000); // about the link-loss time, not the upload's 5 x 1.5 s of resends
      // Asked once the loss is known (on a loaded machine the loss may come before the first ask too):
      // refused at once, since no later loss event would end the wait.
      const askedAt = Date.now();
      const [up2, param2, cmd2] = await Promise.all([vehicle.upload([{ command: mavCmd.navWaypoint, latDeg: 47.3978, lonDeg: 8.5456, relAltM: 10 }]), vehicle.params.set('RTL_RETURN_ALT', 20, 9), vehicle.arm()]);
      expect(!up2.ok && up2.error.message).toMatch(/^mission upload: the flight controller was lost/);
      expect(!param2.ok && param2.error.message).toMatch(/^PARAM_SET RTL_RETURN_ALT: the flight controller was lost/);
      expect(!cmd2.ok && cmd2.error.message).toMatch(/the flight controller was lost/);
      expect(Date.now() - askedAt).toBeLessThan(1_000); // not one of their resend timeouts
    } finally {
      await rig.stop();
    }
  }, 30_000);
});
