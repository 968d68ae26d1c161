// The agent scheduler: budgets, restarts with backoff, persisted state, declared inputs, action priority.

import { describe, expect, it } from 'vitest';
import type { Agent, AgentInputs } from '../../agents/api/agent.js';
import { AgentScheduler, type AgentReport } from '../../agents/api/scheduler.js';
import { startWait } from '../../agents/api/tick-meter.js';
import { FileStateStore, MemoryStateStore, type StateStore } from '../../agents/api/state-store.js';
import type { FlightAction } from '../../hal/devices.js';
import type { AttestationBody } from '../../runtime/wire/attestation.js';
import { limits } from '../../runtime/lib/limits.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function harness(cpu: { now: number } = { now: 0 }, store: StateStore = new MemoryStateStore()) {
  const acts: { action: FlightAction; agent: string }[] = [];
  const attests: AttestationBody[] = [];
  const reports: AgentReport[] = [];
  const s = new AgentScheduler({ store, act: (action, agent) => void acts.push({ action, agent }), attest: (b) => void attests.push(b), cpuClock: () => cpu.now, onReport: (r) => reports.push(r) });
  return { s, acts, attests, reports, cpu, store };
}

const counter = (name: string, extra: Partial<Agent<{ n: number }>> = {}): Agent<{ n: number }> => ({
  name,
  inputs: ['battery'],
  periodMs: 100,
  budgetMs: 10,
  start: (ctx) => ctx.restored ?? { n: 0 },
  tick: (st) => ({ state: { n: st.n + 1 } }),
  ...extra,
});

describe('AgentScheduler', () => {
  it('ticks each agent on its period with only its declared inputs, and persists its state', async () => {
    const seen: AgentInputs[] = [];
    const h = harness();
    h.s.add(counter('a', { tick: (st, inp) => (seen.push(inp), { state: { n: st.n + 1 } }) }));
    h.s.add(counter('b', { periodMs: 300 }));
    await h.s.start(0);
    for (let t = 0; t <= 900; t += 100) await h.s.tick({ nowMs: t, battery: { timeMs: t, voltageV: 16, currentA: 1, remainingFraction: 0.8, consumedMah: 0, status: 'ok' }, range: [] });
    // Written at most once per second: the first tick's state so far, the newest at stop.
    expect(h.store.load('a')).toEqual({ n: 1 });
    await h.s.tick({ nowMs: 1_000 });
    expect(h.store.load('a')).toEqual({ n: 11 });
    await h.s.stop(1_050);
    expect(h.store.load('b')).toEqual({ n: 4 });
    expect(Object.keys(seen[0]!).sort()).toEqual(['battery', 'nowMs']); // no range: it was not declared
  });

  it('restarts a throwing agent with exponential backoff from its last good state, and resets poisoned state', async () => {
    const h = harness();
    let calls = 0;
    h.s.add(counter('boom', { tick: (st) => { calls++; if (st.n >= 2) throw new Error(`bad state ${st.n}`); return { state: { n: st.n + 1 } }; } }));
    h.s.add(counter('steady'));
    await h.s.start(0);
    for (let t = 0; t <= 20_000; t += 100) await h.s.tick({ nowMs: t });
    const crashes = h.reports.filter((r) => r.agent === 'boom' && r.kind === 'crashed').map((r) => r.atMs);
    // n reaches 2 after two ticks; restarts resume from {n: 2} and crash at once: 500, 1000, then reset.
    expect(crashes.slice(0, 3)).toEqual([200, 700, 1700]);
    expect(h.reports.some((r) => r.agent === 'boom' && r.kind === 'state-reset')).toBe(true);
    expect(h.store.load('steady')).toEqual({ n: 201 }); // never disturbed
    expect(calls).toBeGreaterThan(3);
  });

  it('counts overruns against the CPU budget and restarts after three in a row', async () => {
    const cpu = { now: 0 };
    const h = harness(cpu);
    h.s.add(counter('slow', { tick: (st) => { cpu.now += 25; return { state: { n: st.n + 1 } }; } }));
    await h.s.start(0);
    for (let t = 0; t <= 300; t += 100) await h.s.tick({ nowMs: t });
    const st = h.s.status()[0]!;
    expect(st.overruns).toBe(3);
    expect(st.status).toBe('backoff');
    expect(h.reports.filter((r) => r.kind === 'overrun').length).toBe(4); // three per-tick reports + the restart
  });

  it('does not charge a tick for waiting on a shared resource (the inference queue), only for its work', async () => {
    const cpu = { now: 0 };
    // A shared worker: each request waits 40 ms for its turn, then works 4 ms.
    const worker = async (metered: boolean): Promise<void> => {
      const done = metered ? startWait(() => cpu.now) : () => undefined;
      cpu.now += 44;
      await Promise.resolve();
      done(4);
    };
    for (const metered of [true, false]) {
      const h = harness(cpu);
      h.s.add(counter('infer', { tick: async (st) => (await worker(metered), (cpu.now += 3), { state: { n: st.n + 1 } }) }));
      await h.s.start(0);
      for (let t = 0; t <= 300; t += 100) await h.s.tick({ nowMs: t });
      const st = h.s.status()[0]!;
      if (metered) {
        expect(st).toMatchObject({ overruns: 0, status: 'running', lastTickMs: 7 });
      } else {
        // The same ticks, with the wait not handed to the meter: three overruns, a restart.
        expect(st).toMatchObject({ overruns: 3, status: 'backoff', lastTickMs: 47 });
      }
    }
  });

  it('a restarting agent starts with the latest committed view, and its status keeps engine, model and refusal', async () => {
    const h = harness();
    const starts: (string | undefined)[] = [];
    let refusal: string | null = null;
    let loaded = false;
    let fail = false;
    h.s.add(
      counter('model', {
        start: (ctx) => ((starts.push(ctx.committed?.models['model']?.version), (loaded = true)), { n: 0 }),
        tick: (st) => {
          if (fail) throw new Error('worker crashed');
          refusal = 'hash mismatch for model@2';
          return { state: { n: st.n + 1 } };
        },
        stop: () => void (loaded = false),
        engine: () => (loaded ? 'onnxruntime' : 'rules'),
        model: () => (loaded ? { name: 'model', version: '1', hash: new Uint8Array(32) } : undefined),
        modelRefusal: () => (loaded ? refusal : null),
      }),
    );
    await h.s.start(0);
    const committed = { height: 9, hazards: [], geofence: null, models: { model: { version: '2', hashHex: '00' } } } as unknown as NonNullable<AgentInputs['committed']>;
    await h.s.tick({ nowMs: 0, committed });
    expect(h.s.status()[0]).toMatchObject({ status: 'running', engine: 'onnxruntime', model: 'model@1', modelRefused: 'hash mismatch for model@2' });
    fail = true;
    await h.s.tick({ nowMs: 100 });
    // Out of service (its model released), it still shows what it ran and why the rollout was refused.
    expect(h.s.status()[0]).toMatchObject({ status: 'backoff', engine: 'onnxruntime', model: 'model@1', modelRefused: 'hash mismatch for model@2' });
    fail = false;
    await h.s.tick({ nowMs: 700 });
    expect(starts).toEqual([undefined, '2']);
  });

  it('an agent whose start() throws is retried, and a stop() that throws is contained', async () => {
    const h = harness();
    let tries = 0;
    h.s.add(counter('late', { start: () => { if (++tries < 3) throw new Error('model not ready'); return { n: 0 }; }, stop: () => { throw new Error('stop failed'); } }));
    await h.s.start(0);
    for (let t = 0; t <= 3_000; t += 100) await h.s.tick({ nowMs: t });
    expect(h.reports.filter((r) => r.kind === 'start-failed').length).toBe(2);
    expect(h.s.status()[0]!.status).toBe('running');
    await h.s.stop(3_000);
    expect(h.reports.some((r) => r.kind === 'stopped' && r.message.includes('stop failed'))).toBe(true);
  });

  it('sends the highest-priority action of a tick and latches land and return-to-launch', async () => {
    const h = harness();
    const script: Record<number, FlightAction['type'][]> = { 0: ['hold'], 100: ['return-to-launch', 'velocity'], 200: ['hold'], 300: ['land'] };
    for (const name of ['x', 'y']) {
      h.s.add(counter(name, { tick: (st, inp) => {
        const mine = (script[inp.nowMs] ?? []).filter((_, i) => (name === 'x' ? i === 0 : i === 1));
        return { state: st, outputs: mine.map((type) => ({ type: 'action' as const, action: (type === 'velocity' ? { type, northMps: 1, eastMps: 0, downMps: 0 } : { type }) as FlightAction, reason: 'test' })) };
      } }));
    }
    await h.s.start(0);
    for (let t = 0; t <= 300; t += 100) await h.s.tick({ nowMs: t });
    expect(h.acts.map((a) => a.action.type)).toEqual(['hold', 'return-to-launch', 'land']);
    expect(h.reports.filter((r) => r.kind === 'action-suppressed').map((r) => r.message)).toEqual([
      'velocity (test) yielded to return-to-launch from x',
      'hold (test) suppressed: return-to-launch is latched',
    ]);
    expect(h.s.latchedAction()?.type).toBe('land');
  });

  it('a latched failsafe ends when the vehicle is disarmed (it ran its course); the next flight has none', async () => {
    // Nothing cleared the latch: after one failsafe landing, every later flight's hold, back-off and
    // release were suppressed, a later return-to-launch was taken as "already doing it", and the
    // device's health read "failsafe latched" until the process restarted.
    const h = harness();
    const script: Record<number, FlightAction['type']> = { 0: 'land', 100: 'return-to-launch', 300: 'hold', 400: 'return-to-launch' };
    h.s.add(counter('x', { inputs: ['flight'], tick: (st, inp) => {
      const type = script[inp.nowMs];
      return { state: st, outputs: type ? [{ type: 'action' as const, action: { type } as FlightAction, reason: 'test' }] : [] };
    } }));
    const flight = (armed: boolean) => ({ timeMs: 0, armed, mode: 'mission' as const, landed: armed ? ('in-air' as const) : ('on-ground' as const), home: null, failsafe: false });
    await h.s.start(0);
    await h.s.tick({ nowMs: 0, flight: flight(true) });
    await h.s.tick({ nowMs: 100, flight: flight(true) }); // suppressed: land is latched
    expect(h.s.latchedAction()?.type).toBe('land');
    await h.s.tick({ nowMs: 200, flight: flight(false) }); // landed, disarmed
    expect(h.s.latchedAction()).toBeNull();
    await h.s.tick({ nowMs: 300, flight: flight(true) }); // the next flight
    await h.s.tick({ nowMs: 400, flight: flight(true) });
    expect(h.acts.map((a) => a.action.type)).toEqual(['land', 'hold', 'return-to-launch']);
  });

  it('passes a release (a hold is over) to the device, but never past a latched failsafe', async () => {
    const released: string[] = [];
    const reports: AgentReport[] = [];
    const s = new AgentScheduler({ store: new MemoryStateStore(), act: () => undefined, release: (agent, reason) => void released.push(`${agent}: ${reason}`), attest: () => undefined, cpuClock: () => 0, onReport: (r) => reports.push(r) });
    const script: Record<number, 'hold' | 'release' | 'return-to-launch'> = { 0: 'hold', 100: 'release', 200: 'return-to-launch', 300: 'release' };
    s.add(counter('r', { tick: (st, inp) => {
      const what = script[inp.nowMs];
      return { state: st, outputs: what === undefined ? [] : what === 'release' ? [{ type: 'release' as const, reason: 'contact back' }] : [{ type: 'action' as const, action: { type: what }, reason: 'test' }] };
    } }));
    await s.start(0);
    for (let t = 0; t <= 300; t += 100) await s.tick({ nowMs: t });
    expect(released).toEqual(['r: contact back']);
    expect(reports.filter((r) => r.kind === 'action-suppressed').map((r) => r.message)).toEqual(['release (contact back) suppressed: return-to-launch is latched']);
  });

  it('an avoidance move passes a latched failsafe, and its release sends the failsafe again; other moves stay suppressed', async () => {
    // Before, the latch suppressed the obstacle back-off too: a battery return flew straight at a mast
    // the swarm had not committed yet.
    const acts: { action: FlightAction; agent: string }[] = [];
    const reports: AgentReport[] = [];
    const released: string[] = [];
    const s = new AgentScheduler({ store: new MemoryStateStore(), act: (action, agent) => void acts.push({ action, agent }), release: (agent, reason) => void released.push(`${agent}: ${reason}`), attest: () => undefined, cpuClock: () => 0, onReport: (r) => reports.push(r) });
    const h = { s, acts, reports };
    const v = { type: 'velocity' as const, northMps: -1, eastMps: 0, downMps: 0 };
    const script: Record<number, 'rtl' | 'avoid' | 'plain' | 'release'> = { 0: 'rtl', 100: 'plain', 200: 'avoid', 300: 'avoid', 400: 'release', 500: 'release', 600: 'plain' };
    h.s.add(counter('r', { tick: (st, inp) => {
      const what = script[inp.nowMs];
      const out = what === 'rtl' ? { type: 'action' as const, action: { type: 'return-to-launch' as const }, reason: 'battery' }
        : what === 'avoid' ? { type: 'action' as const, action: v, reason: 'obstacle at 4.0 m', avoidance: true as const }
        : what === 'plain' ? { type: 'action' as const, action: v, reason: 'nudge' }
        : what === 'release' ? { type: 'release' as const, reason: 'obstacle avoidance over' } : null;
      return { state: st, outputs: out ? [out] : [] };
    } }));
    await h.s.start(0);
    for (let t = 0; t <= 600; t += 100) await h.s.tick({ nowMs: t });
    expect(h.acts.map((a) => `${a.agent}:${a.action.type}`)).toEqual(['r:return-to-launch', 'r:velocity', 'r:velocity', 'scheduler:return-to-launch']);
    expect(h.s.latchedAction()?.type).toBe('return-to-launch');
    expect(released, 'the mission is not resumed: the failsafe goes on').toEqual([]);
    expect(h.reports.filter((r) => r.kind === 'action-suppressed').map((r) => r.message)).toEqual([
      'velocity (nudge) suppressed: return-to-launch is latched',
      'release (obstacle avoidance over) suppressed: return-to-launch is latched', // the second: nothing passed since
      'velocity (nudge) suppressed: return-to-launch is latched',
    ]);
  });

  describe('an avoidance move and a failsafe that fires in the same pass', () => {
    // Before, the pass's actions were ranked by priority alone: on the tick a battery, link-loss,
    // geofence or anomaly return fired, the obstacle back-off of that same tick was dropped ("velocity
    // (obstacle at 0.7 m) yielded to return-to-launch") and the return sent, 0.7 m from a mast. Only a
    // failsafe latched on an earlier tick let the back-off through.
    type Step = 'rtl' | 'land' | 'avoid' | 'release';
    const v = { type: 'velocity' as const, northMps: -1.5, eastMps: 0, downMps: 0 };
    const output = (what: Step) =>
      what === 'rtl' ? { type: 'action' as const, action: { type: 'return-to-launch' as const }, reason: 'no quorum contact for 30000 ms' }
      : what === 'land' ? { type: 'action' as const, action: { type: 'land' as const }, reason: 'severe anomaly' }
      : what === 'avoid' ? { type: 'action' as const, action: v, reason: 'obstacle at 0.7 m', avoidance: true as const }
      : { type: 'release' as const, reason: 'obstacle avoidance over' };
    /** An agent that emits, at each time, the outputs its script names (in that order). */
    const scripted = (name: string, script: Record<number, Step[]>, extra: Partial<Agent<{ n: number }>> = {}) =>
      counter(name, { tick: (st, inp) => ({ state: st, outputs: (script[inp.nowMs] ?? []).map(output) }), ...extra });
    function run(agents: Agent<{ n: number }>[]) {
      const acts: string[] = [];
      const reports: AgentReport[] = [];
      const released: string[] = [];
      const s = new AgentScheduler({ store: new MemoryStateStore(), act: (action, agent, reason) => void acts.push(`${agent}:${action.type} (${reason})`), release: (agent, reason) => void released.push(`${agent}: ${reason}`), attest: () => undefined, cpuClock: () => 0, onReport: (r) => reports.push(r) });
      for (const a of agents) s.add(a);
      return { s, acts, reports, released, suppressed: () => reports.filter((r) => r.kind === 'action-suppressed').map((r) => r.message) };
    }

    it('one agent emitting both (as mission-reflexes does): the back-off is sent, the return latched, and sent once the back-off is released', async () => {
      const h = run([scripted('mission-reflexes', { 100: ['rtl', 'avoid'], 200: ['avoid'], 300: ['release'] })]);
      await h.s.start(0);
      await h.s.tick({ nowMs: 100 });
      expect(h.acts).toEqual(['mission-reflexes:velocity (obstacle at 0.7 m)']);
      expect(h.s.latchedAction()?.type, 'latched at once: nothing lesser passes it but the avoidance').toBe('return-to-launch');
      for (let t = 200; t <= 400; t += 100) await h.s.tick({ nowMs: t });
      expect(h.acts).toEqual([
        'mission-reflexes:velocity (obstacle at 0.7 m)',
        'mission-reflexes:velocity (obstacle at 0.7 m)',
        // Sent by the agent that asked for it, with its reason: it was never sent before.
        'mission-reflexes:return-to-launch (no quorum contact for 30000 ms; sent after obstacle avoidance over)',
      ]);
      expect(h.suppressed()).toEqual([]);
      expect(h.reports.filter((r) => r.kind === 'action-deferred').map((r) => r.message)).toEqual(['return-to-launch (no quorum contact for 30000 ms) latched; sent when the avoidance move (obstacle at 0.7 m) from mission-reflexes is over']);
      expect(h.released, 'the mission is not resumed: the failsafe goes on').toEqual([]);
    });

    it('two agents (a landing from one, the back-off from another, whatever their name order): the back-off goes first', async () => {
      const h = run([scripted('a-anomaly', { 100: ['land'] }), scripted('z-reflexes', { 100: ['avoid'], 200: ['release'] })]);
      await h.s.start(0);
      for (let t = 100; t <= 200; t += 100) await h.s.tick({ nowMs: t });
      expect(h.acts).toEqual(['z-reflexes:velocity (obstacle at 0.7 m)', 'a-anomaly:land (severe anomaly; sent after obstacle avoidance over)']);
      expect(h.s.latchedAction()?.type).toBe('land');
    });

    it("a landing from a model agent (the pass's second half) after the reflex half sent a back-off waits for it too", async () => {
      const h = run([scripted('anomaly', { 100: ['land'] }), scripted('reflexes', { 100: ['avoid'], 200: ['avoid'], 300: ['release'] }, { reflex: true })]);
      await h.s.start(0);
      await h.s.tick({ nowMs: 100 });
      expect(h.acts).toEqual(['reflexes:velocity (obstacle at 0.7 m)']);
      expect(h.s.latchedAction()?.type).toBe('land');
      for (let t = 200; t <= 300; t += 100) await h.s.tick({ nowMs: t });
      expect(h.acts.slice(1)).toEqual(['reflexes:velocity (obstacle at 0.7 m)', 'anomaly:land (severe anomaly; sent after obstacle avoidance over)']);
    });

    it('a back-off on one tick and the failsafe on the next with no back-off in its pass: the failsafe is sent then, and the release after it is suppressed', async () => {
      const h = run([scripted('r', { 100: ['avoid'], 200: ['rtl'], 300: ['release'] })]);
      await h.s.start(0);
      for (let t = 100; t <= 300; t += 100) await h.s.tick({ nowMs: t });
      expect(h.acts).toEqual(['r:velocity (obstacle at 0.7 m)', 'r:return-to-launch (no quorum contact for 30000 ms)']);
      expect(h.suppressed()).toEqual(['release (obstacle avoidance over) suppressed: return-to-launch is latched']);
      expect(h.released).toEqual([]);
    });

    it('a failsafe held back by a back-off that stops coming without a release (its agent crashed, its sensor died) is sent after avoidanceLapseMs', async () => {
      const h = run([scripted('r', { 100: ['rtl', 'avoid'], 200: ['avoid'] })]);
      await h.s.start(0);
      for (let t = 100; t <= 200 + limits.avoidanceLapseMs + 100; t += 100) await h.s.tick({ nowMs: t });
      expect(h.acts).toEqual(['r:velocity (obstacle at 0.7 m)', 'r:velocity (obstacle at 0.7 m)', `r:return-to-launch (no quorum contact for 30000 ms; sent after no avoidance move from r for ${limits.avoidanceLapseMs} ms)`]);
      expect(h.acts.length, 'once').toBe(3);
    });
  });

  it('a tick that never settles is treated as a crash after tickTimeoutMs, and the others keep running', async () => {
    const reports: AgentReport[] = [];
    const store = new MemoryStateStore();
    const s = new AgentScheduler({ store, act: () => undefined, attest: () => undefined, cpuClock: () => 0, onReport: (r) => reports.push(r), tickTimeoutMs: 50 });
    s.add(counter('hang', { tick: () => new Promise(() => undefined) }));
    s.add(counter('ok'));
    await s.start(0);
    await s.tick({ nowMs: 0 });
    expect(reports.find((r) => r.kind === 'crashed')?.message).toBe('hang: tick did not finish within 50 ms');
    expect(store.load('ok')).toEqual({ n: 1 });
  });

  it('a tick that fails because the device is stopping is not a crash: no restart is scheduled, and ticks after stop do nothing', async () => {
    const h = harness();
    // Two agents share an inference worker; stopping the first stops the worker, which fails the second's
    // request in flight (what a device's shutdown does to telemetry-anomaly while hazard-detect stops).
    let failInFlight: ((e: Error) => void) | null = null;
    let ticksOfB = 0;
    h.s.add(counter('a', { stop: () => failInFlight?.(new Error('inference session 6 was lost when the worker stopped')) }));
    h.s.add(counter('b', { tick: () => (ticksOfB++, new Promise((_, reject) => (failInFlight = reject))) }));
    await h.s.start(0);
    const ticking = h.s.tick({ nowMs: 0 });
    for (let i = 0; i < 100 && failInFlight === null; i++) await new Promise((r) => setImmediate(r));
    expect(failInFlight).not.toBeNull(); // b's request is in flight
    await h.s.stop(10);
    await ticking;
    await h.s.tick({ nowMs: 10_000 });
    const kinds = h.reports.filter((r) => r.atMs >= 0 && r.kind !== 'started').map((r) => `${r.agent}:${r.kind}`);
    expect(kinds).toEqual(['a:stopped', 'b:stopped']);
    expect(h.s.status().map((x) => x.status)).toEqual(['stopped', 'stopped']);
    expect(ticksOfB).toBe(1);
  });

  it('a restart whose start() never settles fails after tickTimeoutMs; the scheduler and the other agents go on', async () => {
    // The onnxruntime worker hung: the tick times out, and the restart's start() awaits the same worker
    // to release the old session. Unbounded, that await held the scheduler (and every reflex) for good.
    const reports: AgentReport[] = [];
    const store = new MemoryStateStore();
    const s = new AgentScheduler({ store, act: () => undefined, attest: () => undefined, cpuClock: () => 0, onReport: (r) => reports.push(r), tickTimeoutMs: 50 });
    let starts = 0;
    s.add(counter('hang', { start: () => (++starts === 1 ? { n: 0 } : new Promise<never>(() => undefined)), tick: () => new Promise<never>(() => undefined) }));
    s.add(counter('ok'));
    await s.start(0);
    await s.tick({ nowMs: 0 }); // hang's tick times out: restart at 500
    const settled = (p: Promise<void>): Promise<boolean> => Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 1_000))]);
    expect(await settled(s.tick({ nowMs: 600 }))).toBe(true);
    expect(reports.find((r) => r.kind === 'start-failed')?.message).toBe('hang: start did not finish within 50 ms');
    expect(await settled(s.tick({ nowMs: 700 }))).toBe(true);
    expect(s.status().find((x) => x.name === 'ok')!.ticks).toBe(3);
  });

  it('a state store that fails (disk full) is reported; the pass still ends and the reflex still acts', async () => {
    // On a device DeviceAgents.tick does not await the pass: a rejection there is unhandled and ends the process.
    const full: StateStore = { load: () => undefined, save: () => { throw new Error('ENOSPC: no space left on device'); }, remove: () => { throw new Error('ENOSPC: no space left on device'); } };
    const h = harness({ now: 0 }, full);
    h.s.add(counter('reflex', { tick: (st) => ({ state: { n: st.n + 1 }, outputs: [{ type: 'action', action: { type: 'hold' }, reason: 'test' }] }) }));
    h.s.add(counter('boom', { tick: () => { throw new Error('bad'); } }));
    await h.s.start(0);
    for (let t = 0; t <= 3_000; t += 100) await h.s.tick({ nowMs: t });
    await h.s.stop(3_000);
    expect(h.acts.map((a) => a.action.type)).toContain('hold');
    expect(h.s.status().find((x) => x.name === 'reflex')!.ticks).toBe(31);
    expect(h.reports.some((r) => r.kind === 'state-not-saved' && r.message.includes('ENOSPC'))).toBe(true);
  });

  it('a node clock that steps back (NTP, an RTC set ahead) does not stop the agents until it catches up', async () => {
    const h = harness();
    h.s.add(counter('a'));
    let thrown = false;
    h.s.add(counter('boom', { tick: (st) => { if (st.n === 1 && !thrown) { thrown = true; throw new Error('once'); } return { state: { n: st.n + 1 } }; } }));
    await h.s.start(100_000);
    await h.s.tick({ nowMs: 100_000 });
    await h.s.tick({ nowMs: 100_100 }); // boom crashes: restart due at 100_600
    for (let t = 40_000; t <= 41_000; t += 100) await h.s.tick({ nowMs: t }); // the clock stepped back 60 s
    const st = h.s.status();
    expect(st.find((x) => x.name === 'a')!.ticks).toBe(13);
    expect(st.find((x) => x.name === 'boom')!.status).toBe('running');
  });

  it("a reflex agent's action is sent before the other agents' inference is awaited", async () => {
    // Actions were sent once every agent of the pass had ticked, and model agents await their inference:
    // a reflex's return-to-launch waited for them (on a device up to tickTimeoutMs each when inference hangs).
    const h = harness();
    let release = (): void => undefined;
    const gate = new Promise<void>((r) => (release = r));
    h.s.add(counter('a-infer', { tick: async (st) => (await gate, { state: st }) }));
    h.s.add(counter('reflexes', { reflex: true, tick: (st) => ({ state: st, outputs: [{ type: 'action', action: { type: 'return-to-launch' }, reason: 'battery' }] }) }));
    await h.s.start(0);
    const pass = h.s.tick({ nowMs: 0 });
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(h.acts.map((a) => a.action.type)).toEqual(['return-to-launch']);
    release();
    await pass;
    expect(h.s.status().map((x) => x.ticks)).toEqual([1, 1]);
  });

  it('stamps attestations with the agent, time and committed basis', async () => {
    const h = harness();
    h.s.add(counter('w', { inputs: ['committed'], tick: (st) => ({ state: st, outputs: [{ type: 'attest', obs: { type: 'estimate', quantity: 'wind.speed-mps', value: 3.5 } }] }) }));
    await h.s.start(0);
    await h.s.tick({ nowMs: 1234, committed: { height: 9, f: 1, hazards: [], cellM: 5, geofence: null, home: null, models: {} } });
    expect(h.attests).toEqual([{ agent: 'w', observedAt: 1234, basis: 9, obs: { type: 'estimate', quantity: 'wind.speed-mps', value: 3.5 } }]);
  });

  it('FileStateStore keeps state across a scheduler restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'murmur-agent-state-'));
    try {
      const a = harness({ now: 0 }, new FileStateStore(dir));
      a.s.add(counter('c'));
      await a.s.start(0);
      for (let t = 0; t < 500; t += 100) await a.s.tick({ nowMs: t });
      await a.s.stop(500);
      const b = harness({ now: 0 }, new FileStateStore(dir));
      b.s.add(counter('c'));
      await b.s.start(0);
      await b.s.tick({ nowMs: 0 });
      expect(new FileStateStore(dir).load('c')).toEqual({ n: 6 });
      expect(b.reports[0]!.message).toContain('state restored');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
