// Signed heartbeats end to end over the router and in-memory links: the view sees peers alive, a
// stopped peer suspect then dead, forged and replayed heartbeats refused.

import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { createVerifier } from '../../runtime/crypto/sodium.js';
import { MemoryHub } from '../../runtime/links/memory-link.js';
import { Router } from '../../runtime/links/router.js';
import { keyLookup } from '../../runtime/manifest/manifest.js';
import { HeartbeatService } from '../../runtime/membership/heartbeat-service.js';
import { defaultMembershipConfig, MembershipView, type StatusChange } from '../../runtime/membership/membership-view.js';
import { akkaClusterDefaults } from '../../runtime/membership/phi-accrual.js';
import { sealEnvelope } from '../../runtime/wire/envelope.js';
import { encodeHeartbeatBody } from '../../runtime/wire/heartbeat.js';
import { waitUntil } from '../links/conformance.js';
import { makeFleet } from '../support/fleet-fixture.js';

describe('heartbeat service', () => {
  it('marks peers alive, a silent peer suspect then dead, and refuses forged heartbeats', async () => {
    const f = await makeFleet({ validators: 3 });
    const hub1 = new MemoryHub();
    const hub2 = new MemoryHub();
    // A generous pause: a shared CI machine can stall the event loop for a few hundred ms.
    const phi = { ...akkaClusterDefaults, expectedIntervalMs: 50, minStdDevMs: 10, acceptablePauseMs: 300 };
    const ids = ['v0', 'v1', 'v2'];
    const changes: StatusChange[] = [];
    const nodes = await Promise.all(
      ids.map(async (id) => {
        const router = new Router({ links: [hub1.link(id, f.fleet, { name: 'mqtt' }), hub2.link(id, f.fleet, { name: 'radio' })] });
        await router.start();
        const view = new MembershipView(id, { ...defaultMembershipConfig, phi });
        const svc = new HeartbeatService({
          fleet: f.fleet,
          node: id,
          session: 1,
          signer: f.signer(id),
          verifier: createVerifier(),
          keyOf: keyLookup(f.manifest),
          links: [{ link: router, intervalMs: 50 }],
          view,
          localState: () => ({ height: 1, round: 0, health: 'ok', position: null, batteryPct: 80 }),
          now: () => performance.now(),
          ...(id === 'v0' ? { onChange: (c: StatusChange) => changes.push(c) } : {}),
        });
        svc.start();
        return { id, router, view, svc };
      }),
    );
    const [n0, n1, n2] = nodes as [(typeof nodes)[number], (typeof nodes)[number], (typeof nodes)[number]];
    try {
      await waitUntil(() => n0.view.status('v1') === 'alive' && n0.view.status('v2') === 'alive' && n0.svc.counters.received > 20, 3_000, 'peers alive');
      // A forged heartbeat (v2's body signed by v1) is refused, not counted as life.
      const forged = sealEnvelope('heartbeat', f.fleet, 'v2', encodeHeartbeatBody({ node: 'v2', seq: 1e9, session: 1, height: 1, round: 0, health: 'ok', position: null, batteryPct: null }), f.signer('v1'));
      n1.router.broadcast(forged, 'heartbeat');
      await waitUntil(() => /signature/.test(n0.svc.lastRejection), 10_000, 'forged heartbeat refused');
      // v2 stops: suspect within a few intervals, then dead.
      n2.svc.stop();
      await n2.router.stop();
      await waitUntil(() => n0.view.status('v2') === 'dead', 5_000, 'v2 dead');
      const v2 = changes.filter((c) => c.id === 'v2').map((c) => c.to);
      expect(v2.slice(-2)).toEqual(['suspect', 'dead']);
      expect(n0.view.status('v1')).toBe('alive');
      const snap = n0.view.snapshot(performance.now()).find((p) => p.id === 'v1');
      expect(snap?.batteryPct).toBe(80);
      // Both links carry each heartbeat; the router keeps the first copy (here always the first link).
      expect(Object.keys(snap?.links ?? {})).toEqual(['mqtt']);
      expect(n0.router.counters().droppedDuplicate).toBeGreaterThan(20);
    } finally {
      for (const n of nodes) {
        n.svc.stop();
        await n.router.stop();
      }
    }
  });
});

describe('heartbeat service clock', () => {
  it('keeps beating and judging peers through wall-clock steps (its default clock is monotonic)', async () => {
    // A drone without a real-time clock steps its wall clock when NTP or GPS time arrives, by hours
    // either way. Heartbeats and failure detection must not notice: fake timers move Date.now() here
    // while performance.now() runs on.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'Date', 'performance'], now: Date.UTC(2026, 0, 1) });
    onTestFinished(() => void vi.useRealTimers());
    const f = await makeFleet({ validators: 2 });
    const hub = new MemoryHub({ schedule: (fn) => queueMicrotask(fn) });
    const phi = { ...akkaClusterDefaults, expectedIntervalMs: 50, minStdDevMs: 10, acceptablePauseMs: 100 };
    const changes: StatusChange[] = [];
    const nodes = ['v0', 'v1'].map((id) => {
      const link = hub.link(id, f.fleet, { name: 'mqtt' });
      const view = new MembershipView(id, { ...defaultMembershipConfig, phi });
      const svc = new HeartbeatService({
        fleet: f.fleet,
        node: id,
        session: 1,
        signer: f.signer(id),
        verifier: createVerifier(),
        keyOf: keyLookup(f.manifest),
        links: [{ link, intervalMs: 50 }],
        view,
        localState: () => ({ height: 1, round: 0, health: 'ok', position: null, batteryPct: null }),
        ...(id === 'v0' ? { onChange: (c: StatusChange) => changes.push(c) } : {}),
      });
      return { link, view, svc };
    });
    const [n0, n1] = nodes as [(typeof nodes)[number], (typeof nodes)[number]];
    for (const n of nodes) await n.link.start();
    for (const n of nodes) n.svc.start();
    try {
      await vi.advanceTimersByTimeAsync(2_000);
      expect(n0.view.status('v1')).toBe('alive');
      // The wall clock steps back an hour: v1 still beats every 50 ms and v0 still hears it.
      const sent = n1.svc.counters.sent;
      vi.setSystemTime(Date.now() - 3_600_000);
      await vi.advanceTimersByTimeAsync(2_000);
      expect(n1.svc.counters.sent - sent).toBeGreaterThanOrEqual(35);
      // Then forward two hours: nobody is suspected for it.
      vi.setSystemTime(Date.now() + 7_200_000);
      await vi.advanceTimersByTimeAsync(2_000);
      expect(changes.map((c) => `${c.id} ${c.to}`)).toEqual(['v1 alive']);
      // A crash after the steps is still detected.
      n1.svc.stop();
      await vi.advanceTimersByTimeAsync(3_000);
      expect(n0.view.status('v1')).toBe('dead');
    } finally {
      for (const n of nodes) {
        n.svc.stop();
        await n.link.stop();
      }
    }
  });
});

describe('heartbeat service and the manifest', () => {
  it('a member the manifest removes stops counting: gone from the view, never reported dead', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'Date', 'performance'] });
    onTestFinished(() => void vi.useRealTimers());
    const f = await makeFleet({ validators: 3 });
    const hub = new MemoryHub({ schedule: (fn) => queueMicrotask(fn) });
    const phi = { ...akkaClusterDefaults, expectedIntervalMs: 50, minStdDevMs: 10, acceptablePauseMs: 100 };
    const changes: StatusChange[] = [];
    // The manifest in force at v0, as its device reads it: v2 is removed by a new epoch.
    let members: ReadonlySet<string> = new Set(['v0', 'v1', 'v2']);
    const nodes = ['v0', 'v1', 'v2'].map((id) => {
      const link = hub.link(id, f.fleet, { name: 'mqtt' });
      const view = new MembershipView(id, { ...defaultMembershipConfig, phi });
      const svc = new HeartbeatService({
        fleet: f.fleet,
        node: id,
        session: 1,
        signer: f.signer(id),
        verifier: createVerifier(),
        keyOf: (sender, kind) => (members.has(sender) ? keyLookup(f.manifest)(sender, kind) : `sender "${sender}" is not in the fleet manifest`),
        links: [{ link, intervalMs: 50 }],
        view,
        localState: () => ({ height: 1, round: 0, health: 'ok', position: null, batteryPct: null }),
        ...(id === 'v0' ? { onChange: (c: StatusChange) => changes.push(c), members: () => members } : {}),
      });
      return { link, view, svc };
    });
    const [n0] = nodes as [(typeof nodes)[number]];
    for (const n of nodes) await n.link.start();
    for (const n of nodes) n.svc.start();
    try {
      await vi.advanceTimersByTimeAsync(1_000);
      expect(n0.view.hints().alive).toEqual(['v1', 'v2']);
      // v2 leaves the fleet (and stops, or keeps beating: its heartbeats are refused either way).
      members = new Set(['v0', 'v1']);
      await vi.advanceTimersByTimeAsync(5_000);
      expect(n0.view.snapshot(performance.now()).map((p) => p.id)).toEqual(['v1']);
      expect(n0.view.countsByStatus()).toEqual({ alive: 1, suspect: 0, dead: 0, recovered: 0 });
      expect(changes.filter((c) => c.id === 'v2').map((c) => c.to)).toEqual(['alive']);
    } finally {
      for (const n of nodes) {
        n.svc.stop();
        await n.link.stop();
      }
    }
  });
});
