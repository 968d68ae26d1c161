// The mission reflexes one by one: geofence, battery reserve, obstacle back-off, link loss. They act on
// local data alone, at once, and only escalate within a flight (a returned link ends a hold; nothing
// but the vehicle disarming ends an RTL).

import { describe, expect, it } from 'vitest';
import type { AgentInputs, AgentOutput, CommittedView, LocalPosition } from '../../agents/api/agent.js';
import { insidePolygon, missionReflexAgent, type MissionReflexState } from '../../agents/builtin/mission-reflexes.js';
import type { BatteryState, FlightState, RangeReading } from '../../hal/devices.js';

const fence = [{ northM: 0, eastM: 0 }, { northM: 100, eastM: 0 }, { northM: 100, eastM: 100 }, { northM: 0, eastM: 100 }];
const committed: CommittedView = { height: 1, f: 1, hazards: [], cellM: 5, geofence: fence, home: { northM: 0, eastM: 0 }, models: {} };
const pos = (northM: number, eastM: number, vn = 0, ve = 0): LocalPosition => ({ timeMs: 0, northM, eastM, altM: 30, headingRad: 0, velocityNorthMps: vn, velocityEastMps: ve });
const flight = (armed: boolean): FlightState => ({ timeMs: 0, armed, mode: armed ? 'mission' : 'manual', landed: armed ? 'in-air' : 'on-ground', home: null, failsafe: false });
const battery = (remainingFraction: number, status: BatteryState['status'] = 'ok'): BatteryState => ({ timeMs: 0, voltageV: 15, currentA: 10, remainingFraction, consumedMah: 0, status });

async function run(steps: Partial<AgentInputs>[], cfg: Parameters<typeof missionReflexAgent>[0] = {}): Promise<{ actions: string[][]; state: MissionReflexState; outputs: AgentOutput[][] }> {
  const a = missionReflexAgent(cfg);
  let state = await a.start({ nowMs: 0, restored: undefined });
  const actions: string[][] = [];
  const outputs: AgentOutput[][] = [];
  for (const [i, st] of steps.entries()) {
    const r = await a.tick(state, { nowMs: i * 100, committed, link: { lastQuorumContactMs: i * 100 }, ...st });
    state = r.state;
    outputs.push([...(r.outputs ?? [])]);
    actions.push((r.outputs ?? []).map((o) => (o.type === 'action' ? o.action.type : o.type)));
  }
  return { actions, state, outputs };
}

describe('mission reflexes', () => {
  it('geofence: a predicted breach holds, a breach returns to launch', async () => {
    const r = await run([{ position: pos(50, 50, 5, 0) }, { position: pos(95, 50, 5, 0) }, { position: pos(101, 50, 5, 0) }, { position: pos(102, 50) }]);
    expect(r.actions).toEqual([[], ['hold'], ['return-to-launch'], []]);
    expect(insidePolygon({ northM: 99, eastM: 50 }, fence)).toBe(true);
    expect(insidePolygon({ northM: 50, eastM: -1 }, fence)).toBe(false);
  });

  it('geofence: a predicted-breach hold is not released by the reflex (that made it flap at the fence)', async () => {
    // Held, the drone stops, so the breach is no longer predicted: the reflex released the hold, the
    // mission flew on toward its waypoint near the fence, the breach was predicted again: hold, release,
    // hold, release, for as long as the waypoint stayed within the lookahead of the fence.
    const r = await run([{ position: pos(92, 50, 5, 0) }, { position: pos(94, 50) }, { position: pos(94, 50) }]);
    expect(r.outputs.map((o) => o.map((x) => x.type))).toEqual([['action'], [], []]);
    expect(r.state.geofence).toBe('ok'); // ready to hold again if something moves it towards the fence
    const again = await run([{ position: pos(92, 50, 5, 0) }, { position: pos(94, 50) }, { position: pos(94, 50, 5, 0) }]);
    expect(again.actions).toEqual([['hold'], [], ['hold']]);
  });

  it("geofence: the device's own fence is kept as well as the committed one, and named", async () => {
    // Its own fence ends at 60 m north, inside the committed one (100 m).
    const own = [{ northM: -10, eastM: -10 }, { northM: 60, eastM: -10 }, { northM: 60, eastM: 110 }, { northM: -10, eastM: 110 }];
    const r = await run([{ position: pos(40, 50, 5, 0) }, { position: pos(55, 50, 5, 0) }, { position: pos(61, 50, 5, 0) }], { fence: own });
    expect(r.actions).toEqual([[], ['hold'], ['return-to-launch']]);
    expect(r.state.log.map((l) => l.reason)).toEqual(["this device's geofence", "this device's geofence"]);
    // With no committed fence at all, its own still holds.
    const alone = await run([{ position: pos(61, 50), committed: { ...committed, geofence: null } }], { fence: own });
    expect(alone.actions).toEqual([['return-to-launch']]);
  });

  it('battery: reserve grows with distance from home; critical lands', async () => {
    // 0.2 left is enough near home (reserve 0.15 + 0.1/km x 0.07 km) but not 1 km out (0.25).
    const near = await run([{ position: pos(50, 50), battery: battery(0.2) }]);
    expect(near.actions).toEqual([[]]);
    const far = await run([{ position: pos(1000, 50), battery: battery(0.2), committed: { ...committed, geofence: null } }]);
    expect(far.actions).toEqual([['return-to-launch']]);
    const critical = await run([{ position: pos(10, 10), battery: battery(0.5, 'critical') }]);
    expect(critical.actions).toEqual([['land']]);
  });

  it('obstacle: backs away from a return closer than 3 m seen on two ticks, ignoring a one-off', async () => {
    const beam = (timeMs: number, d: number, bearingRad: number): RangeReading => ({ timeMs, distanceM: d, minM: 0.1, maxM: 20, bearingRad });
    const clear = (t: number): RangeReading[] => [beam(t, 20, 0), beam(t, 20, Math.PI / 2)];
    const close = (t: number): RangeReading[] => [beam(t, 2, 0), beam(t, 20, Math.PI / 2)];
    const r = await run([{ position: pos(50, 50), range: close(0) }, { position: pos(50, 50), range: clear(100) }, { position: pos(50, 50), range: close(200) }, { position: pos(50, 50), range: close(300) }]);
    expect(r.actions).toEqual([[], [], [], ['obstacle', 'velocity']]);
    const [o, v] = r.outputs[3] as [AgentOutput, AgentOutput];
    if (v.type !== 'action' || v.action.type !== 'velocity') throw new Error('expected a velocity action');
    expect(v.action.northMps).toBeCloseTo(-1.5, 5); // straight back from an obstacle dead ahead
    expect(v.avoidance).toBe(true); // it passes a latched failsafe (scheduler.ts)
    // Where the beam hit, for the device's own routing: 2 m north of the drone, the beam pointing north.
    if (o.type !== 'obstacle') throw new Error('expected an obstacle output');
    expect([o.northM, o.eastM, o.beamRad]).toEqual([52, 50, 0]);
  });

  it('obstacle: a drone closing fast backs away within its stopping distance; hovering, or passing beside, it does not', async () => {
    // At 3 m alone a drone flying at 8 m/s reached the mast before it stopped (fleet-sim's default scenario).
    const beam = (timeMs: number, d: number, bearingRad: number): RangeReading => ({ timeMs, distanceM: d, minM: 0.1, maxM: 20, bearingRad });
    const ahead = (t: number, d: number): RangeReading[] => [beam(t, d, 0), beam(t, 20, Math.PI / 2)];
    const fast = await run([{ position: pos(50, 50, 8, 0), range: ahead(0, 14) }, { position: pos(50, 50, 8, 0), range: ahead(100, 13) }]);
    expect(fast.actions).toEqual([[], ['obstacle', 'velocity']]);
    const still = await run([{ position: pos(50, 50), range: ahead(0, 14) }, { position: pos(50, 50), range: ahead(100, 13) }]);
    expect(still.actions).toEqual([[], []]);
    // 13 m off to the right while flying north at 8 m/s: not closing on it.
    const side = (t: number): RangeReading[] => [beam(t, 20, 0), beam(t, 13, Math.PI / 2)];
    const beside = await run([{ position: pos(50, 50, 8, 0), range: side(0) }, { position: pos(50, 50, 8, 0), range: side(100) }]);
    expect(beside.actions).toEqual([[], []]);
    // A thin mast 6.4 m away at 45 degrees off the track, flying at 5 m/s: the track passes it 4.5 m
    // off, so the drone flies on (a rule on the closing speed along the beam alone stopped it there).
    const diagonal = (t: number): RangeReading[] => [beam(t, 20, 0), beam(t, 6.4, Math.PI / 4)];
    const passing = await run([{ position: pos(50, 50, 5, 0), range: diagonal(0) }, { position: pos(50, 50, 5, 0), range: diagonal(100) }]);
    expect(passing.actions).toEqual([[], []]);
    // The same return dead ahead is avoided.
    const headOn = await run([{ position: pos(50, 50, 5, 0), range: ahead(0, 6.4) }, { position: pos(50, 50, 5, 0), range: ahead(100, 6.4) }]);
    expect(headOn.actions).toEqual([[], ['obstacle', 'velocity']]);
  });

  it('obstacle: two clear scans after backing away release the drone to fly on', async () => {
    const beam = (timeMs: number, d: number): RangeReading => ({ timeMs, distanceM: d, minM: 0.1, maxM: 20, bearingRad: 0 });
    const r = await run([
      { position: pos(50, 50), range: [beam(0, 2)] },
      { position: pos(50, 50), range: [beam(100, 2)] },
      { position: pos(50, 50), range: [beam(200, 5)] },
      { position: pos(50, 50), range: [beam(200, 5)] }, // the same scan read again: not a second look
      { position: pos(50, 50), range: [beam(300, 6)] },
      { position: pos(50, 50), range: [beam(400, 6)] },
    ]);
    expect(r.outputs.map((o) => o.map((x) => x.type))).toEqual([[], ['obstacle', 'action'], [], [], ['release'], []]);
  });

  it('obstacle: a back-off that ends while the link-loss hold is in force holds the drone again, and does not release it to fly on', async () => {
    // Before, the back-off's release went to the device as any release does (the executor flies on with
    // its task): a drone in link-loss hold that backed off an obstacle then flew its mission with no
    // quorum contact, at cruise speed, until the return 30 s after the contact was lost.
    const beam = (timeMs: number, d: number): RangeReading => ({ timeMs, distanceM: d, minM: 0.1, maxM: 20, bearingRad: 0 });
    const silent = { link: { lastQuorumContactMs: -10_000 } }; // the link-loss hold fires on the first tick
    const r = await run([
      { position: pos(50, 50), range: [beam(0, 20)], ...silent },
      { position: pos(50, 50), range: [beam(100, 2)], ...silent },
      { position: pos(50, 50), range: [beam(200, 2)], ...silent },
      { position: pos(50, 50), range: [beam(300, 6)], ...silent },
      { position: pos(50, 50), range: [beam(400, 6)], ...silent },
      { position: pos(50, 50), range: [beam(500, 6)], ...silent },
    ]);
    expect(r.actions).toEqual([['hold'], [], ['obstacle', 'velocity'], [], ['hold'], []]);
    expect(r.outputs[4]).toEqual([{ type: 'action', action: { type: 'hold' }, reason: 'obstacle avoidance over; no quorum contact for 10400 ms: hold' }]);
    expect(r.state.link).toBe('hold');
    // With the link back first, the back-off's end releases the drone to fly on, as before.
    const back = await run([
      { position: pos(50, 50), range: [beam(0, 20)], ...silent },
      { position: pos(50, 50), range: [beam(100, 2)] },
      { position: pos(50, 50), range: [beam(200, 2)] },
      { position: pos(50, 50), range: [beam(300, 6)] },
      { position: pos(50, 50), range: [beam(400, 6)] },
    ]);
    expect(back.actions).toEqual([['hold'], ['release'], ['obstacle', 'velocity'], [], ['release']]);
  });

  it('a new flight (the vehicle disarmed, then armed again) starts with every reflex armed again', async () => {
    // Levels only escalate within a flight, and they are persisted: kept across flights, a battery or
    // link-loss return on one flight left those reflexes silent on every flight after, even after a reboot.
    const a = missionReflexAgent();
    let s = await a.start({ nowMs: 0, restored: undefined });
    const at = async (nowMs: number, inp: Partial<AgentInputs>): Promise<string[]> => {
      const r = await a.tick(s, { nowMs, committed, link: { lastQuorumContactMs: nowMs }, position: pos(10, 10), ...inp });
      s = r.state;
      return (r.outputs ?? []).map((o) => (o.type === 'action' ? o.action.type : o.type));
    };
    expect(await at(0, { flight: flight(true), battery: battery(0.1) })).toEqual(['return-to-launch']);
    expect(await at(40_000, { flight: flight(true), battery: battery(0.1), link: { lastQuorumContactMs: 0 } })).toEqual(['return-to-launch']);
    expect(s).toMatchObject({ battery: 'return-to-launch', link: 'return-to-launch' });
    // Landed and disarmed: nothing to do for a vehicle that cannot fly, and the next flight starts clean.
    expect(await at(60_000, { flight: flight(false), battery: battery(0.1), link: { lastQuorumContactMs: 0 } })).toEqual([]);
    s = JSON.parse(JSON.stringify(s)) as MissionReflexState; // persisted and restored (a reboot between flights)
    expect(await at(70_000, { flight: flight(true), battery: battery(0.9) })).toEqual([]);
    expect(await at(80_000, { flight: flight(true), battery: battery(0.1) })).toEqual(['return-to-launch']);
    expect(await at(86_000, { flight: flight(true), battery: battery(0.1), link: { lastQuorumContactMs: 80_000 } })).toEqual(['hold']);
  });

  it('obstacle: one close return is a one-off however many ticks its scan is read again', async () => {
    // A range sensor at or below the reflexes' 10 Hz hands the same scan to two ticks or more: counted
    // per tick, a one-off spurious return was "seen on two ticks" and sent a back-off.
    const beam = (timeMs: number, d: number, bearingRad: number): RangeReading => ({ timeMs, distanceM: d, minM: 0.1, maxM: 20, bearingRad });
    const spurious = [beam(100, 2, 0), beam(100, 20, Math.PI / 2)];
    const clear = [beam(300, 20, 0), beam(300, 20, Math.PI / 2)];
    const r = await run([{ position: pos(50, 50), range: spurious }, { position: pos(50, 50), range: spurious }, { position: pos(50, 50), range: spurious }, { position: pos(50, 50), range: clear }]);
    expect(r.actions).toEqual([[], [], [], []]);
    // Confirmed by a second scan, the back-off is streamed every tick while it lasts, repeated scans included.
    const held = [beam(400, 2, 0), beam(400, 20, Math.PI / 2)];
    const again = [beam(500, 2, 0), beam(500, 20, Math.PI / 2)];
    const c = await run([{ position: pos(50, 50), range: held }, { position: pos(50, 50), range: again }, { position: pos(50, 50), range: again }]);
    // The obstacle is reported once, when the back-off starts.
    expect(c.actions).toEqual([[], ['obstacle', 'velocity'], ['velocity']]);
  });

  it('restarted in flight with a return or landing in force, it sends it again on its first tick in flight; landed, it starts clean', async () => {
    // Levels only escalate, so a restored agent never fired again: a device restarted during its battery
    // return flew the mission it still held, on the battery that had sent it home.
    const restored: MissionReflexState = { link: 'ok', geofence: 'ok', battery: 'return-to-launch', log: [{ atMs: 5_000, action: 'return-to-launch', reason: 'battery 18% below reserve' }] };
    const outputsOf = async (first: Partial<AgentInputs>, second: Partial<AgentInputs>): Promise<AgentOutput[][]> => {
      const a = missionReflexAgent();
      let st = await a.start({ nowMs: 0, restored });
      const out: AgentOutput[][] = [];
      for (const [i, inp] of [first, second].entries()) {
        const r = await a.tick(st, { nowMs: 60_000 + i * 100, committed, link: { lastQuorumContactMs: 60_000 }, position: pos(10, 10), battery: battery(0.5), ...inp });
        st = r.state;
        out.push([...(r.outputs ?? [])]);
      }
      return out;
    };
    const inFlight = await outputsOf({ flight: flight(true) }, { flight: flight(true) });
    expect(inFlight).toEqual([[{ type: 'action', action: { type: 'return-to-launch' }, reason: 'return-to-launch in force before the restart (battery 18% below reserve)' }], []]);
    // No flight state yet on the first tick: it waits for one.
    const later = await outputsOf({}, { flight: flight(true) });
    expect(later.map((o) => o.map((x) => (x.type === 'action' ? x.action.type : x.type)))).toEqual([[], ['return-to-launch']]);
    // Restarted after landing (disarmed): the flight is over, nothing is sent then or on the next flight.
    const landed = await outputsOf({ flight: flight(false) }, { flight: flight(true) });
    expect(landed).toEqual([[], []]);
  });

  it('link loss: hold after T, return to launch after T2; a link that returns in between ends the hold', async () => {
    const a = missionReflexAgent({ linkHoldMs: 5_000, linkRtlMs: 30_000 });
    let s = await a.start({ nowMs: 0, restored: undefined });
    const at = async (nowMs: number, last: number): Promise<string[]> => {
      const r = await a.tick(s, { nowMs, link: { lastQuorumContactMs: last } });
      s = r.state;
      return (r.outputs ?? []).map((o) => (o.type === 'action' ? o.action.type : o.type === 'release' ? `release: ${o.reason}` : 'attest'));
    };
    expect(await at(4_900, 0)).toEqual([]);
    expect(await at(5_000, 0)).toEqual(['hold']);
    expect(s.link).toBe('hold');
    // Contact again: the hold ends and says so, so the device resumes its mission.
    expect(await at(6_000, 5_900)).toEqual(['release: no quorum contact over']);
    expect(await at(6_100, 6_000)).toEqual([]);
    expect(s.link).toBe('ok');
    expect(await at(12_000, 6_000)).toEqual(['hold']);
    expect(await at(36_000, 6_000)).toEqual(['return-to-launch']);
    expect(await at(37_000, 36_900)).toEqual([]); // RTL is not undone by a returning link
    expect(s.link).toBe('return-to-launch');
  });
});
