// device.yaml's heartbeat and membership settings: defaults, one-line errors naming field and fix, the
// radio intervals sized to airtime for the fleet, and the device's own health from its facts.

import { describe, expect, it } from 'vitest';
import { parseDeviceConfig, type DeviceConfig } from '../../runtime/config/device-config.js';
import { assessHealth, HalWatch, NoDataClock, type HealthFacts } from '../../runtime/device/device-health.js';
import { membershipConfigOf, planDeviceHeartbeats } from '../../runtime/device/heartbeats-setup.js';
import { makeFleet } from '../support/fleet-fixture.js';

const good = 'id: v0\nkey: keys/v0.key\nmanifest: fleet.manifest\ndataDir: data\nmqtt: { url: "mqtt://127.0.0.1:1883" }\n';
const parse = (text: string): DeviceConfig => {
  const r = parseDeviceConfig(text, 'device.yaml');
  if (!r.ok) throw new Error(r.error);
  return r.value;
};

describe('device.yaml heartbeats and membership', () => {
  it('defaults to the benchmarked setup: MQTT every 1 s, threshold 8, pause of one interval', () => {
    const c = parse(good);
    expect(c.mqtt.heartbeatMs).toBe(1_000);
    expect(c.membership).toEqual({ threshold: 8, deadThreshold: 8, minStdDevMs: 100, recoveredBeats: 3 });
    const m = membershipConfigOf(c, { intervalsMs: { mqtt: 1_000 }, radios: [] });
    expect(m.phi).toMatchObject({ threshold: 8, deadThreshold: 8, minStdDevMs: 100, acceptablePauseMs: 1_000, expectedIntervalMs: 1_000 });
    expect(m.linkIntervalsMs).toEqual({ mqtt: 1_000 });
    // Peers back on the broker up to one longest reconnect delay after this device are not held silent.
    expect(m.resumeGraceMs).toEqual({ mqtt: 3_000 });
    const slow = membershipConfigOf(parse(good.replace('1883" }', '1883", heartbeatMs: 2000 }') + 'membership: { acceptablePauseMs: 500, threshold: 10 }\n'), { intervalsMs: { mqtt: 2_000 }, radios: [] });
    expect(slow.phi).toMatchObject({ threshold: 10, acceptablePauseMs: 500, expectedIntervalMs: 2_000 });
  });

  it('a heartbeat under 200 ms takes half of it as the spread floor, where the default 100 was refused naming a field the user never set', () => {
    for (const hb of [100, 150, 199]) expect(parse(good.replace('1883" }', `1883", heartbeatMs: ${hb} }`)).membership.minStdDevMs).toBe(Math.floor(hb / 2));
    expect(parse(good.replace('1883" }', '1883", heartbeatMs: 200 }')).membership.minStdDevMs).toBe(100);
    // Set explicitly, it is still checked against the interval.
    const r = parseDeviceConfig(good.replace('1883" }', '1883", heartbeatMs: 150 }') + 'membership: { minStdDevMs: 100 }\n', 'device.yaml');
    expect(r.ok ? 'accepted' : r.error).toContain('membership.minStdDevMs: 100 is more than half of mqtt.heartbeatMs (150)');
  });

  const cases: [string, string][] = [
    [good.replace('1883" }', '1883", heartbeatMs: 50 }'), 'device.yaml: mqtt.heartbeatMs: 50: too small: expected number to be >=100; use milliseconds from 100 to 60000'],
    [good + 'membership: { threshold: 0 }\n', 'membership.threshold: 0: too small: expected number to be >=1; use a phi from 1 to 100'],
    [good + 'membership: { acceptablePauseMs: -5 }\n', 'membership.acceptablePauseMs: -5: too small'],
    [good + 'membership: { minStdDevMs: 800 }\n', 'device.yaml: membership.minStdDevMs: 800 is more than half of mqtt.heartbeatMs (1000); use milliseconds from 1 to at most half of mqtt.heartbeatMs'],
    [good + 'membership: { phi: 8 }\n', 'membership.phi: unknown field'],
    [good + 'radios: [{ paths: [/dev/ttyUSB0], preset: sik, heartbeatShare: 0.9 }]\n', 'radios.0.heartbeatShare: 0.9: too big: expected number to be <=0.5; use a fraction above 0 and at most 0.5'],
    [good + 'radios: [{ paths: [/dev/ttyUSB0], preset: sik, heartbeatMs: 10 }]\n', 'radios.0.heartbeatMs: 10: too small: expected number to be >=100; use milliseconds from 100 up, or leave it out'],
  ];
  for (const [text, message] of cases) {
    it(`refuses: ${message.slice(0, 70)}`, () => {
      const r = parseDeviceConfig(text, 'device.yaml');
      expect(r.ok ? 'accepted' : r.error).toContain(message);
      expect(r.ok || r.error.split('\n').length).toBe(1);
    });
  }
});

describe('radio heartbeat intervals sized to airtime', () => {
  it('sizes SiK and E32 intervals for the fleet as whole MQTT intervals, and refuses an explicit one that is too fast', async () => {
    const fx = await makeFleet({ validators: 4, followers: 1 });
    const c = parse(good + 'radios: [{ paths: [/dev/ttyUSB0], preset: sik, name: sik }, { paths: [/dev/ttyUSB1], preset: e32, name: lora }]\n');
    const plan = planDeviceHeartbeats(c, fx.manifest);
    if (!plan.ok) throw new Error(plan.error);
    const [sik, lora] = plan.value.radios;
    // 5 devices, each heartbeat relayed by the other 4, on one channel: at most 10 % of the airtime.
    expect(sik?.intervalMs).toBeGreaterThan(5_000);
    expect(sik?.intervalMs).toBeLessThan(20_000);
    expect((sik?.intervalMs ?? 0) % 1_000).toBe(0);
    expect(sik?.airtimeShare).toBeLessThanOrEqual(0.1);
    expect(lora?.intervalMs).toBeGreaterThan(100 * (sik?.intervalMs ?? 0) / 4);
    expect(plan.value.intervalsMs).toEqual({ mqtt: 1_000, sik: sik?.intervalMs, lora: lora?.intervalMs });
    // More devices, longer intervals: the channel is shared.
    const big = await makeFleet({ validators: 10, followers: 6 });
    const bigPlan = planDeviceHeartbeats(c, big.manifest);
    expect(bigPlan.ok && (bigPlan.value.radios[0]?.intervalMs ?? 0) > 5 * (sik?.intervalMs ?? 0)).toBe(true);
    // A duty cycle (EU868 1 %) stretches it further.
    const eu = planDeviceHeartbeats(parse(good + 'radios: [{ paths: [/dev/ttyUSB1], preset: e32, dutyCycle: 0.01 }]\n'), fx.manifest);
    expect(eu.ok && (eu.value.radios[0]?.intervalMs ?? 0) > 10 * (lora?.intervalMs ?? 0)).toBe(true);

    const fast = planDeviceHeartbeats(parse(good + 'radios: [{ paths: [/dev/ttyUSB0], preset: sik, heartbeatMs: 1000 }]\n'), fx.manifest);
    expect(fast.ok ? 'accepted' : fast.error).toMatch(
      new RegExp(`^radios\\[0\\]\\.heartbeatMs: 1000 ms would spend [0-9.]+ % of this radio's airtime on heartbeats for 5 devices \\(limit 10 %, radios\\[0\\]\\.heartbeatShare\\); use at least ${sik?.minMs} ms, or leave it out`),
    );
    const wider = planDeviceHeartbeats(parse(good + 'radios: [{ paths: [/dev/ttyUSB0], preset: sik, heartbeatMs: 3000, heartbeatShare: 0.5 }]\n'), fx.manifest);
    expect(wider.ok && wider.value.intervalsMs.radio).toBe(3_000);
  });
});

describe("the device's own health", () => {
  const fine: HealthFacts = {
    links: [{ name: 'mqtt', up: true }, { name: 'radio', up: true }],
    agents: [{ name: 'hazard-detect', status: 'running', lastError: null }],
    failsafe: null,
    selfDegraded: null,
    hal: [{ kind: 'position', error: null }, { kind: 'flight', error: null }, { kind: 'range', error: { code: 'no-data', message: 'no scan yet' } }],
    battery: 'ok',
  };

  it('is ok when everything answers, and says why otherwise', () => {
    expect(assessHealth(fine)).toEqual({ health: 'ok', reasons: [] });
    expect(assessHealth({ ...fine, links: [{ name: 'mqtt', up: false }, { name: 'radio', up: true }] })).toEqual({ health: 'degraded', reasons: ['link mqtt down'] });
    expect(assessHealth({ ...fine, links: [{ name: 'mqtt', up: false }] }).health).toBe('failing');
    expect(assessHealth({ ...fine, agents: [{ name: 'hazard-detect', status: 'backoff', lastError: 'model refused' }] }).reasons).toEqual(['agent hazard-detect restarting after: model refused']);
    expect(assessHealth({ ...fine, agents: [{ name: 'telemetry-anomaly', status: 'running', lastError: null, modelRefused: 'model telemetry-anomaly 2.1.0 refused: it is not installed on this device' }] })).toEqual({ health: 'degraded', reasons: ['agent telemetry-anomaly: model telemetry-anomaly 2.1.0 refused: it is not installed on this device'] });
    expect(assessHealth({ ...fine, failsafe: 'land' })).toEqual({ health: 'failing', reasons: ['failsafe land latched'] });
    expect(assessHealth({ ...fine, selfDegraded: { severity: 'minor', reason: 'telemetry anomaly score 0.70' } }).health).toBe('degraded');
    expect(assessHealth({ ...fine, selfDegraded: { severity: 'severe', reason: 'motor 2' } }).health).toBe('failing');
    expect(assessHealth({ ...fine, battery: 'low' }).health).toBe('degraded');
    expect(assessHealth({ ...fine, battery: 'critical' }).health).toBe('failing');
    expect(assessHealth({ ...fine, hal: [{ kind: 'position', error: { code: 'stale', message: 'fix 3 s old' } }] })).toEqual({ health: 'degraded', reasons: ['position: stale (fix 3 s old)'] });
    expect(assessHealth({ ...fine, hal: [{ kind: 'flight', error: { code: 'timeout', message: 'no HEARTBEAT' } }] }).health).toBe('failing');
    const both = assessHealth({ ...fine, battery: 'low', failsafe: 'return-to-launch' });
    expect(both).toEqual({ health: 'failing', reasons: ['failsafe return-to-launch latched', 'battery low'] });
  });

  it('a flight controller unheard, or a position without a fix, past the 15 s grace: failing and degraded, with the HAL\'s words', () => {
    const silent = { kind: 'flight' as const, error: { code: 'no-data' as const, message: 'nothing received on serial:/dev/ttyAMA0: check the wiring (TX to RX)' } };
    const noFix = { kind: 'position' as const, error: { code: 'no-data' as const, message: 'no GGA with a fix yet' } };
    // Starting up: no reason yet (an FC takes seconds to boot).
    expect(assessHealth({ ...fine, hal: [silent, noFix], noDataMs: { flight: 14_999, position: 14_999 } })).toEqual({ health: 'ok', reasons: [] });
    expect(assessHealth({ ...fine, hal: [silent, noFix], noDataMs: { flight: 15_000, position: 31_000 } })).toEqual({
      health: 'failing',
      reasons: ['flight: no data for 15 s (nothing received on serial:/dev/ttyAMA0: check the wiring (TX to RX))', 'position: no data for 31 s (no GGA with a fix yet)'],
    });
    // Other devices' no-data stays harmless (a battery monitor the FC does not have).
    expect(assessHealth({ ...fine, hal: [{ kind: 'battery', error: { code: 'no-data', message: 'no BATTERY_STATUS' } }], noDataMs: { battery: 60_000 } }).health).toBe('ok');
  });

  it('counts how long each HAL device has answered no-data, from its first such answer, broken by any other', () => {
    const clock = new NoDataClock();
    const noData = [{ kind: 'flight' as const, error: { code: 'no-data' as const, message: 'x' } }];
    expect(clock.observe(noData, 1_000)).toEqual({ flight: 0 });
    expect(clock.observe(noData, 17_500)).toEqual({ flight: 16_500 });
    expect(clock.observe([{ kind: 'flight', error: null }], 18_000)).toEqual({});
    expect(clock.observe(noData, 19_000)).toEqual({ flight: 0 });
  });

  it('logs a HAL device\'s answer changing kind: its error once, its return once, the same error again only after 30 s', () => {
    const w = new HalWatch();
    const flight = (code: 'no-data' | 'io' | null, message = 'x') => [{ kind: 'flight' as const, error: code === null ? null : { code, message } }];
    expect(w.changes(flight('no-data'), 0)).toEqual([]); // starting: not a change
    expect(w.changes(flight(null), 1_000)).toEqual([]); // nothing said, nothing to take back
    expect(w.changes(flight('io', 'serial port /dev/ttyAMA0 went away'), 2_000)).toEqual([{ kind: 'flight', from: null, to: 'io', message: 'serial port /dev/ttyAMA0 went away' }]);
    expect(w.changes(flight('io', 'serial port /dev/ttyAMA0 went away (still)'), 3_000)).toEqual([]);
    expect(w.changes(flight('no-data'), 4_000)).toEqual([{ kind: 'flight', from: 'io', to: 'no-data', message: 'x' }]);
    expect(w.changes(flight(null), 5_000)).toEqual([{ kind: 'flight', from: 'no-data', to: null, message: null }]);
    // Flapping: the same error within 30 s of saying it is not said again, nor its return.
    expect(w.changes(flight('no-data'), 6_000)).toEqual([]);
    expect(w.changes(flight(null), 7_000)).toEqual([]);
    expect(w.changes(flight('no-data'), 40_000)).toHaveLength(1);
  });

  it('logs a flight controller silent since the start once it is past the 15 s grace, and its return', () => {
    const w = new HalWatch();
    const clock = new NoDataClock();
    const flight = (code: 'no-data' | null) => [{ kind: 'flight' as const, error: code === null ? null : { code, message: 'nothing received' } }];
    const at = (code: 'no-data' | null, ms: number) => w.changes(flight(code), ms, clock.observe(flight(code), ms));
    expect(at('no-data', 0)).toEqual([]);
    expect(at('no-data', 14_000)).toEqual([]);
    expect(at('no-data', 15_000)).toEqual([{ kind: 'flight', from: 'no-data', to: 'no-data', message: 'nothing received', silentMs: 15_000 }]);
    expect(at('no-data', 16_000)).toEqual([]);
    expect(at(null, 17_000)).toEqual([{ kind: 'flight', from: 'no-data', to: null, message: null }]);
  });

  it('names a validator clock off the fleet\'s block times by more than a block may be ahead (30 s)', () => {
    // In step: blocks are decided a moment after they were proposed, so they run slightly behind.
    expect(assessHealth({ ...fine, clockAheadMs: -350 })).toEqual({ health: 'ok', reasons: [] });
    expect(assessHealth({ ...fine, clockAheadMs: 29_000 }).health).toBe('ok');
    const slow = assessHealth({ ...fine, clockAheadMs: 120_400 });
    expect(slow.health).toBe('degraded');
    expect(slow.reasons).toEqual(["clock 120 s behind the fleet's block times (a block may be at most 30 s ahead): this validator prevotes nil on every block, so its vote is lost to the fleet; set its clock (NTP, GNSS time)"]);
    const fast = assessHealth({ ...fine, clockAheadMs: -95_000 });
    expect(fast.reasons).toEqual(["clock 95 s ahead of the fleet's block times: the other validators refuse every block this one proposes; set its clock (NTP, GNSS time), and restart it if the clock was set back since it started (its consensus clock never goes back while it runs)"]);
    expect(assessHealth({ ...fine, clockAheadMs: null }).health).toBe('ok');
    // Block times dragged ahead by another validator's fast clock (carried on from its blocks): that
    // one is named, not only this clock (test/sim/clock-offset.test.ts measures the case).
    const dragged = assessHealth({ ...fine, clockAheadMs: 34_900, clockSetBy: 'v01' });
    expect(dragged.health).toBe('degraded');
    expect(dragged.reasons).toEqual(["clock 35 s behind the fleet's block times, which follow v01's clock (a block must be later than the one before, so a clock ahead of the others carries its time on; a block may be at most 30 s ahead): this validator prevotes nil on every block, so its vote is lost to the fleet; check v01's clock, likely fast, then this one's (NTP, GNSS time)"]);
  });
});
