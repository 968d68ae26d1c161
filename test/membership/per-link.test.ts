// The membership view with MQTT beating every second and a radio carrying every 5th beat (what a
// device's heartbeat plan makes): a crash is suspected at MQTT speed, a peer whose MQTT path fails is
// kept alive by its radio, a broker outage here is not held against anyone, and the schedule keeps
// radio beats copies of MQTT beats.

import { describe, expect, it } from 'vitest';
import { HeartbeatSchedule } from '../../runtime/membership/heartbeat-schedule.js';
import { defaultMembershipConfig, MembershipView, type PeerStatus } from '../../runtime/membership/membership-view.js';
import { akkaClusterDefaults } from '../../runtime/membership/phi-accrual.js';
import type { HeartbeatBody } from '../../runtime/wire/heartbeat.js';

const beat = (seq: number): HeartbeatBody => ({ node: 'n1', seq, session: 1, height: 5, round: 0, health: 'ok', position: null, batteryPct: null });
const config = { ...defaultMembershipConfig, phi: { ...akkaClusterDefaults, acceptablePauseMs: 1_000 }, linkIntervalsMs: { mqtt: 1_000, radio: 5_000 } };

/** n1 beats every second on MQTT (while `mqttUntil`), every 5th beat also on the radio (20 ms later). */
function run(opts: { mqttUntil: number; radioUntil: number; untilMs: number; linksUp?: (t: number) => ReadonlySet<string> }): { seen: { to: PeerStatus; atMs: number }[]; v: MembershipView } {
  const v = new MembershipView('n0', config);
  const seen: { to: PeerStatus; atMs: number }[] = [];
  for (let t = 0; t <= opts.untilMs; t += 50) {
    if (t % 1_000 === 0) {
      const seq = t / 1_000;
      if (t < opts.mqttUntil) v.onHeartbeat('n1', beat(seq), t, 'mqtt');
      if (seq % 5 === 0 && t < opts.radioUntil) v.onHeartbeat('n1', beat(seq), t + 20, 'radio');
    }
    for (const c of v.tick(t, opts.linksUp?.(t))) seen.push({ to: c.to, atMs: c.atMs });
  }
  return { seen: seen.slice(1), v };
}

describe('one detector per link', () => {
  it('a crash is suspect at MQTT speed and dead once the radio is silent too', () => {
    const { seen } = run({ mqttUntil: 60_001, radioUntil: 60_001, untilMs: 120_000 });
    const suspect = seen.find((c) => c.to === 'suspect');
    const dead = seen.find((c) => c.to === 'dead');
    // Last beat at 60 s: suspect after interval + pause + 5.3 x 100 ms, dead after the radio's own silence.
    expect(suspect?.atMs).toBeGreaterThanOrEqual(62_500);
    expect(suspect?.atMs).toBeLessThanOrEqual(62_800);
    // The radio heard 13 beats: its silence convicts after about pause + 8 of its 5 s intervals.
    expect(dead?.atMs).toBeGreaterThan(90_000);
    expect(dead?.atMs).toBeLessThan(110_000);
  });

  it("a peer whose MQTT path fails stays up on its radio: suspected while MQTT's silence is fresh, then alive, never dead", () => {
    const { seen, v } = run({ mqttUntil: 30_001, radioUntil: 200_000, untilMs: 180_000 });
    expect(seen.filter((c) => c.to === 'dead')).toEqual([]);
    // Suspect at 32.5 s, alive on the radio beat at 35 s, suspect again until MQTT counts as failed
    // (its own silence convicts it near 39 s), alive for good from the radio beat at 40 s.
    expect(seen.filter((c) => c.to === 'suspect').every((c) => c.atMs < 40_000)).toBe(true);
    expect(seen.at(-1)).toMatchObject({ to: 'alive' });
    expect(seen.at(-1)?.atMs).toBeLessThanOrEqual(40_020);
    expect(v.status('n1')).toBe('alive');
    const p = v.snapshot(180_000)[0];
    expect(p?.meanMs).toBe(5_000);
    expect(p?.lossRate).toBeLessThan(0.1);
  });

  it('with the broker down here, MQTT silence counts against nobody', () => {
    const up = (t: number): ReadonlySet<string> => new Set(t >= 30_000 && t < 150_000 ? ['radio'] : ['mqtt', 'radio']);
    const { seen, v } = run({ mqttUntil: 30_001, radioUntil: 200_000, untilMs: 150_000, linksUp: up });
    expect(seen).toEqual([]);
    expect(v.status('n1')).toBe('alive');
  });

  it('MQTT only: when the broker is back the silence of the outage is not held against anyone (it made every peer suspect and dead at once)', () => {
    // The broker is gone from 30 s to 45 s; this node's link is back at 45 s, the peer's first beat after
    // it comes 800 ms later (it reconnects and resubscribes too). A peer that never comes back is still
    // suspected and declared dead, judged from the moment the link is back.
    const mqttOnly = { ...config, linkIntervalsMs: { mqtt: 1_000 } };
    for (const peerBack of [true, false]) {
      const v = new MembershipView('n0', mqttOnly);
      const seen: { to: PeerStatus; atMs: number }[] = [];
      for (let t = 0; t <= 70_000; t += 50) {
        const down = t >= 30_000 && t < 45_000;
        if (t % 1_000 === 800 && !down && (t < 30_000 || peerBack)) v.onHeartbeat('n1', beat(Math.floor(t / 1_000)), t, 'mqtt');
        for (const c of v.tick(t, new Set(down ? [] : ['mqtt']))) seen.push({ to: c.to, atMs: c.atMs });
      }
      if (peerBack) {
        expect(seen.slice(1)).toEqual([]);
        expect(v.status('n1')).toBe('alive');
        // The outage's beats are neither losses nor a 15 s interval: the peer's record is as before it.
        const n1 = v.snapshot(70_000)[0];
        expect(n1?.meanMs).toBe(1_000);
        expect(n1?.lossRate).toBeLessThan(0.05);
      } else {
        const suspect = seen.find((c) => c.to === 'suspect');
        const dead = seen.find((c) => c.to === 'dead');
        // From 45 s, as a crash right then would be: interval + pause + 5.3 x 100 ms.
        expect(suspect?.atMs).toBeGreaterThanOrEqual(47_500);
        expect(suspect?.atMs).toBeLessThanOrEqual(47_800);
        expect(dead?.atMs).toBeGreaterThan(suspect?.atMs ?? Infinity);
        expect(dead?.atMs).toBeLessThan(60_000);
      }
    }
  });

  it('MQTT only, beats every 200 ms: a peer whose reconnect backoff brings it back 2.8 s after this node is not declared dead; with no grace it was', () => {
    // The broker is gone from 10 s to 14 s. This node is back at 14 s; the peer's backoff (up to 3 s,
    // limits.mqttReconnectMsMax) brings it back at 16.8 s, past the ~2 s of silence that declare a
    // peer dead at this interval. A peer that never comes back is still suspected, the grace later.
    const fast = { ...defaultMembershipConfig, phi: { ...akkaClusterDefaults, expectedIntervalMs: 200, acceptablePauseMs: 200 }, linkIntervalsMs: { mqtt: 200 } };
    const outcome = (resumeGraceMs: Record<string, number> | undefined, peerBackMs: number) => {
      const v = new MembershipView('n0', { ...fast, ...(resumeGraceMs ? { resumeGraceMs } : {}) });
      const seen: { to: PeerStatus; atMs: number }[] = [];
      for (let t = 0; t <= 30_000; t += 50) {
        const down = t >= 10_000 && t < 14_000;
        if (t % 200 === 0 && (t < 10_000 || t >= peerBackMs)) v.onHeartbeat('n1', beat(t / 200), t, 'mqtt');
        for (const c of v.tick(t, new Set(down ? [] : ['mqtt']))) seen.push({ to: c.to, atMs: c.atMs });
      }
      return { changes: seen.slice(1), status: v.status('n1') };
    };
    const graced = outcome({ mqtt: 3_000 }, 16_800);
    expect(graced.changes).toEqual([]);
    expect(graced.status).toBe('alive');
    // The same without the grace: the failure this option fixes (seen on a real broker's restart).
    const bare = outcome(undefined, 16_800);
    expect(bare.changes.map((c) => c.to)).toEqual(['suspect', 'dead', 'recovered', 'alive']);
    // The grace is on the link it names only.
    expect(outcome({ radio: 3_000 }, 16_800).changes.map((c) => c.to)).toContain('dead');
    // Never back: suspected once the grace (to 17 s) and the interval and pause are over, then dead.
    const gone = outcome({ mqtt: 3_000 }, Infinity);
    const suspect = gone.changes.find((c) => c.to === 'suspect');
    expect(suspect?.atMs).toBeGreaterThanOrEqual(17_400);
    expect(suspect?.atMs).toBeLessThanOrEqual(18_500);
    expect(gone.status).toBe('dead');
  });

  it('a radio copy that arrives after a newer MQTT beat is link liveness, not a stale replay', () => {
    const v = new MembershipView('n0', config);
    v.onHeartbeat('n1', beat(10), 10_000, 'mqtt');
    v.onHeartbeat('n1', beat(11), 11_000, 'mqtt');
    expect(v.onHeartbeat('n1', beat(10), 11_100, 'radio')).toEqual({ accepted: false, reason: 'duplicate', duplicate: true });
    expect(v.onHeartbeat('n1', beat(10), 11_200, 'radio')).toEqual({ accepted: false, reason: 'duplicate', duplicate: true });
    expect(v.onHeartbeat('n1', beat(9), 11_300, 'radio').accepted).toBe(false);
    expect(v.snapshot(11_300)[0]?.links).toEqual({ mqtt: 11_000, radio: 11_100 });
    expect(v.counters).toMatchObject({ heartbeats: 2, duplicates: 2, stale: 1 });
  });
});

describe('replayed copies', () => {
  it('old beats replayed on another link after a crash do not keep the peer from dying', () => {
    // n1 beats on MQTT only (its radio is out of range), then crashes at 60 s. Someone on the radio
    // captured its MQTT beats and replays one every 5 s: each is newer than anything the radio heard
    // from n1, but the view has heard all of them long ago.
    const v = new MembershipView('n0', config);
    const seen: string[] = [];
    for (let t = 0; t <= 300_000; t += 250) {
      if (t % 1_000 === 0 && t <= 60_000) v.onHeartbeat('n1', beat(t / 1_000), t, 'mqtt');
      if (t > 60_000 && t % 5_000 === 0) expect(v.onHeartbeat('n1', beat((t - 60_000) / 5_000), t, 'radio').accepted).toBe(false);
      for (const c of v.tick(t)) seen.push(`${c.to}@${c.atMs}`);
    }
    expect(v.status('n1')).toBe('dead');
    expect(v.snapshot(300_000)[0]?.links).toEqual({ mqtt: 60_000 });
    expect(v.counters.stale).toBe(48);
  });

  it('a radio copy a little late is still link liveness, one from long ago is not', () => {
    const v = new MembershipView('n0', config);
    for (let s = 0; s <= 20; s++) v.onHeartbeat('n1', beat(s), s * 1_000, 'mqtt');
    // Beat 18 was sent about 2 s before beat 20; arriving 1.5 s after beat 20 it is 3.5 s old: a slow radio.
    expect(v.onHeartbeat('n1', beat(18), 21_500, 'radio')).toEqual({ accepted: false, reason: 'duplicate', duplicate: true });
    // Beat 19 on another radio, 30 s after beat 20: sent more than the radio's interval and pause ago.
    expect(v.onHeartbeat('n1', beat(19), 50_000, 'radio2').accepted).toBe(false);
    expect(Object.keys(v.snapshot(50_000)[0]?.links ?? {})).toEqual(['mqtt', 'radio']);
  });
});

describe('heartbeat schedule alignment', () => {
  it('a radio due within half an MQTT interval goes along with the MQTT beat', () => {
    const s = new HeartbeatSchedule('n0', 1, { mqtt: 1_000, radio: 4_500 }, 0);
    expect(s.due(0)).toEqual(['mqtt', 'radio']);
    for (const t of [1_000, 2_000, 3_000]) expect(s.due(t)).toEqual(['mqtt']);
    expect(s.due(4_000)).toEqual(['mqtt', 'radio']);
    expect(s.due(4_500)).toEqual([]);
    // After a stall the two drift apart, and the next MQTT beat brings the radio back in step.
    const d = new HeartbeatSchedule('n0', 1, { mqtt: 1_000, radio: 5_000 }, 0);
    d.due(0);
    expect(d.due(5_300)).toEqual(['mqtt', 'radio']);
    expect(d.nextDueMs()).toBe(5_800);
    const beats: string[] = [];
    for (let i = 0; i < 5; i++) {
      const t = d.nextDueMs();
      beats.push(`${t}:${d.due(t).join('+')}`);
    }
    expect(beats).toEqual(['5800:mqtt', '6800:mqtt', '7800:mqtt', '8800:mqtt', '9800:mqtt+radio']);
  });
});
