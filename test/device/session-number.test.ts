// The session number a device starts with (runtime/device/session-number.ts): it grows on every start,
// and stays above what peers remember when the data directory was wiped, so a re-flashed device's
// heartbeats are taken for a restart instead of refused as stale.

import { describe, expect, it } from 'vitest';
import { nextSessionNumber, parseStoredSession, sessionNumberMax } from '../../runtime/device/session-number.js';
import { MembershipView } from '../../runtime/membership/membership-view.js';
import type { HeartbeatBody } from '../../runtime/wire/heartbeat.js';

const beat = (seq: number, session: number): HeartbeatBody => ({ node: 'd3', seq, session, height: 0, round: 0, health: 'ok', position: null, batteryPct: 90 });
const t0 = Date.UTC(2026, 11, 4, 12, 0, 0);

describe('session number', () => {
  it('a device whose data directory was wiped is heard again at once: its new session is above the one peers remember', () => {
    // d3 ran for an hour (3,600 heartbeats) on the session its data directory gave it, then its card
    // was re-flashed and it started again ten minutes later with no session file.
    const before = nextSessionNumber(null, t0);
    const view = new MembershipView('d0');
    for (let seq = 0; seq < 3_600; seq++) expect(view.onHeartbeat('d3', beat(seq, before), t0 + seq * 1_000).accepted).toBe(true);
    const wiped = nextSessionNumber(null, t0 + 4_200_000);
    expect(wiped).toBeGreaterThan(before);
    expect(view.onHeartbeat('d3', beat(0, wiped), t0 + 4_200_000)).toEqual({ accepted: true });
    // The counter alone (1 after a wipe, as before) was refused for an hour of heartbeats:
    const view2 = new MembershipView('d0');
    for (let seq = 0; seq < 3_600; seq++) view2.onHeartbeat('d3', beat(seq, 1), t0 + seq * 1_000);
    expect(view2.onHeartbeat('d3', beat(0, 1), t0 + 4_200_000)).toEqual({ accepted: false, reason: 'stale heartbeat from "d3" (session 1 seq 0)' });
  });

  it('grows on every start, also twice within a second or with the clock set back', () => {
    const s1 = nextSessionNumber(null, t0);
    expect(s1).toBe(Math.floor(t0 / 1000));
    const s2 = nextSessionNumber(s1, t0 + 300);
    expect(s2).toBe(s1 + 1);
    expect(nextSessionNumber(s2, t0 - 86_400_000)).toBe(s2 + 1); // clock a day behind
    expect(nextSessionNumber(7, t0)).toBe(Math.floor(t0 / 1000)); // a counter from before takes the clock's floor
    expect(nextSessionNumber(7, 0)).toBe(8); // no clock at all: the counter
    expect(nextSessionNumber(sessionNumberMax, t0)).toBe(sessionNumberMax); // never past the wire's uint32
  });

  it('reads the stored file strictly: anything but a whole number is no session', () => {
    expect(parseStoredSession(undefined)).toBeNull();
    expect(parseStoredSession(Buffer.from('12\n'))).toBe(12);
    expect(parseStoredSession(Buffer.from('1764849600'))).toBe(1_764_849_600);
    for (const bad of ['', 'abc', '-3', '1.5', '12345678901', '0x10']) expect(parseStoredSession(Buffer.from(bad)), bad).toBeNull();
  });
});
