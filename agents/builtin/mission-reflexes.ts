// Built-in agent 3: the mission's local reflexes, which never wait for consensus. Geofence, the
// committed one and the device's own (predicted breach: hold; breach: return to launch), battery
// reserve (not enough to get home: return to launch; critical: land), obstacle avoidance (back away from a close return), and the link-loss failsafe
// (no contact with a quorum for T: hold; after T2: return to launch). Rule-based on purpose: these
// must work when no model can run. Levels escalate within a flight; a disarmed vehicle resets them.

import type { Agent, AgentInputs, AgentOutput, LocalPosition, Point, StartContext, TickResult } from '../api/agent.js';
import type { RangeReading } from '../../hal/devices.js';
import { insideFence } from '../../runtime/mission/fence-cut.js';

export interface MissionReflexConfig {
  readonly linkHoldMs: number;
  readonly linkRtlMs: number;
  readonly geofenceLookaheadS: number;
  /** Battery fraction always kept in reserve, plus this much per kilometre from home. */
  readonly reserveBaseFraction: number;
  readonly reservePerKmFraction: number;
  readonly landFraction: number;
  /** A return this close is backed away from, whatever the drone's speed. */
  readonly avoidDistanceM: number;
  readonly avoidSpeedMps: number;
  /** Deceleration the vehicle can count on, m/s^2, and the time from a return to the vehicle braking
   *  (two scans to confirm it, the reflex tick, the flight controller's response), seconds: a drone
   *  closing on a return also backs away from it once it is within its stopping distance plus
   *  avoidDistanceM (obstacleToAvoid). At 3 m alone a drone at 8 m/s reached the mast before it stopped. */
  readonly brakeMps2: number;
  readonly reactionS: number;
  /** A fence of this device's own (device.yaml `geofence`), kept as well as the committed one. */
  readonly fence?: readonly Point[];
}

export const defaultMissionReflexConfig: MissionReflexConfig = {
  linkHoldMs: 5_000,
  linkRtlMs: 30_000,
  geofenceLookaheadS: 2,
  reserveBaseFraction: 0.15,
  reservePerKmFraction: 0.1,
  landFraction: 0.07,
  avoidDistanceM: 3,
  avoidSpeedMps: 1.5,
  brakeMps2: 3,
  reactionS: 0.4,
};

/**
 * The return the drone must back away from now, or null: the nearest that is closer than avoidDistanceM,
 * or that the drone, flying on as it does, would come within avoidDistanceM of sooner than it can stop
 * (reaction time, then braking at brakeMps2). A return beside the track, one the drone passes at
 * avoidDistanceM or more, is not one. Without a heading the beam's direction is unknown, and every
 * return within avoidDistanceM plus the stopping distance counts. Shared by the device's reflex agent
 * and fleet-sim's deterministic flight layer.
 */
export function obstacleToAvoid(range: readonly RangeReading[], pos: Pick<LocalPosition, 'headingRad' | 'velocityNorthMps' | 'velocityEastMps'>, c: Pick<MissionReflexConfig, 'avoidDistanceM' | 'brakeMps2' | 'reactionS'>): RangeReading | null {
  let best: RangeReading | null = null;
  const speed = Math.hypot(pos.velocityNorthMps, pos.velocityEastMps);
  const stopM = speed * c.reactionS + (speed * speed) / (2 * c.brakeMps2);
  const a = c.avoidDistanceM;
  for (const r of range) {
    if (!(r.distanceM < r.maxM)) continue; // nothing in range on that beam
    let close = r.distanceM < a;
    const dir = pos.headingRad + r.bearingRad;
    if (!close && speed > 0.1) {
      if (!Number.isFinite(dir)) close = r.distanceM < a + stopM;
      else {
        // The hit point relative to the drone, against the line the drone flies along.
        const pn = r.distanceM * Math.cos(dir);
        const pe = r.distanceM * Math.sin(dir);
        const un = pos.velocityNorthMps / speed;
        const ue = pos.velocityEastMps / speed;
        const along = pn * un + pe * ue;
        const perp = Math.abs(pn * ue - pe * un);
        close = along > 0 && perp < a && along - Math.sqrt(a * a - perp * perp) < stopM;
      }
    }
    if (close && (best === null || r.distanceM < best.distanceM)) best = r;
  }
  return best;
}

/** Where a range beam hit, local metres, and the beam's direction (clockwise from north): the drone's
 *  position plus the reading's distance along its heading plus bearing. */
export function beamHit(pos: Pick<LocalPosition, 'northM' | 'eastM' | 'headingRad'>, r: Pick<RangeReading, 'bearingRad' | 'distanceM'>): { northM: number; eastM: number; beamRad: number } {
  const beamRad = pos.headingRad + r.bearingRad;
  return { northM: pos.northM + Math.cos(beamRad) * r.distanceM, eastM: pos.eastM + Math.sin(beamRad) * r.distanceM, beamRad };
}

type Level = 'ok' | 'hold' | 'return-to-launch' | 'land';

export interface MissionReflexState {
  readonly link: Level;
  readonly geofence: Level;
  readonly battery: Level;
  /** The reflex actions taken so far, newest last (bounded to 32), for status and tests. */
  readonly log: readonly { readonly atMs: number; readonly action: string; readonly reason: string }[];
}

const initial: MissionReflexState = { link: 'ok', geofence: 'ok', battery: 'ok', log: [] };

/** Whether a point (local metres) is inside a fence: the one test the executor's fence cut uses too. */
export const insidePolygon: (p: Point, poly: readonly Point[]) => boolean = insideFence;

export function linkLevel(nowMs: number, lastQuorumContactMs: number, c: MissionReflexConfig): Level {
  const silent = nowMs - lastQuorumContactMs;
  return silent >= c.linkRtlMs ? 'return-to-launch' : silent >= c.linkHoldMs ? 'hold' : 'ok';
}

function geofenceLevel(pos: LocalPosition, fence: readonly Point[], c: MissionReflexConfig): Level {
  if (!insidePolygon(pos, fence)) return 'return-to-launch';
  const ahead = { northM: pos.northM + pos.velocityNorthMps * c.geofenceLookaheadS, eastM: pos.eastM + pos.velocityEastMps * c.geofenceLookaheadS };
  return insidePolygon(ahead, fence) ? 'ok' : 'hold';
}

function batteryLevel(inp: AgentInputs, c: MissionReflexConfig): Level {
  const b = inp.battery;
  if (!b) return 'ok';
  if (b.status === 'critical') return 'land';
  const f = b.remainingFraction;
  if (!Number.isFinite(f)) return b.status === 'low' ? 'return-to-launch' : 'ok';
  if (f <= c.landFraction) return 'land';
  const home = inp.committed?.home;
  const km = home && inp.position ? Math.hypot(inp.position.northM - home.northM, inp.position.eastM - home.eastM) / 1000 : 0;
  return f <= c.reserveBaseFraction + c.reservePerKmFraction * km ? 'return-to-launch' : 'ok';
}

const rank: Record<Level, number> = { ok: 0, hold: 1, 'return-to-launch': 2, land: 3 };

export function missionReflexAgent(cfg: Partial<MissionReflexConfig> = {}): Agent<MissionReflexState> {
  const c: MissionReflexConfig = { ...defaultMissionReflexConfig, ...cfg };
  let closeTicks = 0; // consecutive scans with a close return: one-off spurious returns do not swerve
  let lastScanMs: number | null = null; // a scan read again on a later tick is not a second look
  let backingOff = false; // it sent the drone away from a return; released once two scans are clear
  let clearTicks = 0;
  // Restored from its persisted state (the agent or the whole device restarted): a return or landing
  // it had in force is sent again on the first tick in flight. Levels only escalate, so it would not
  // fire again on its own, and a restarted device's executor flies the mission it still holds.
  let reassert = false;
  return {
    name: 'mission-reflexes',
    inputs: ['position', 'battery', 'range', 'link', 'committed', 'flight'],
    periodMs: 100,
    budgetMs: 5,
    reflex: true,
    start: (ctx: StartContext<MissionReflexState>) => {
      reassert = ctx.restored !== undefined;
      return ctx.restored ?? initial;
    },
    tick(s: MissionReflexState, inp: AgentInputs): TickResult<MissionReflexState> {
      // Levels escalate within one flight and are persisted. A disarmed vehicle has ended its flight
      // (a failsafe landing disarms it) and cannot fly a reflex: none fires, and the next flight, after
      // the vehicle arms, starts with every reflex ready again. Kept instead, one battery or link-loss
      // return left those reflexes silent on every later flight, across reboots too.
      if (inp.flight && !inp.flight.armed) {
        closeTicks = 0;
        lastScanMs = null;
        backingOff = false;
        clearTicks = 0;
        reassert = false;
        return { state: s.link === 'ok' && s.geofence === 'ok' && s.battery === 'ok' ? s : { ...s, link: 'ok', geofence: 'ok', battery: 'ok' } };
      }
      const outputs: AgentOutput[] = [];
      const log = [...s.log];
      if (reassert && inp.flight) {
        reassert = false;
        const inForce = [s.battery, s.geofence, s.link].filter((l) => l === 'land' || l === 'return-to-launch').sort((a, b) => rank[b] - rank[a])[0];
        if (inForce) outputs.push({ type: 'action', action: { type: inForce }, reason: `${inForce} in force before the restart (${s.log.at(-1)?.reason ?? 'no reason kept'})` });
      }
      const escalate = (was: Level, now: Level, why: string, releases = true): Level => {
        // Reflexes only escalate on their own; a link that returns ends the hold (the mission resumes).
        if (rank[now] > rank[was] && now !== 'ok') {
          outputs.push({ type: 'action', action: { type: now }, reason: why });
          log.push({ atMs: inp.nowMs, action: now, reason: why });
        }
        // The hold told the vehicle to stop where it is; without a word that it is over the drone would
        // hover there until the next committed command.
        if (was === 'hold' && now === 'ok' && releases) outputs.push({ type: 'release', reason: `${why.replace(/ for \d+ ms$/, '')} over` });
        return rank[now] >= rank[was] || (was === 'hold' && now === 'ok') ? now : was;
      };
      const link = inp.link ? escalate(s.link, linkLevel(inp.nowMs, inp.link.lastQuorumContactMs, c), `no quorum contact for ${inp.nowMs - inp.link.lastQuorumContactMs} ms`) : s.link;
      // The committed fence and this device's own: the worse of the two levels, named by its fence.
      const committedFence = inp.committed?.geofence;
      const fenced = [
        ...(committedFence && committedFence.length >= 3 && inp.position ? [{ level: geofenceLevel(inp.position, committedFence, c), why: 'geofence' }] : []),
        ...(c.fence && c.fence.length >= 3 && inp.position ? [{ level: geofenceLevel(inp.position, c.fence, c), why: "this device's geofence" }] : []),
      ].sort((a, b) => rank[b.level] - rank[a.level])[0];
      // A predicted-breach hold is not released here: holding is what removed the prediction (the drone
      // stopped), so a release flew it on towards the fence and held it again, over and over. It stays
      // held until a command moves it on; the level is back to ok, so the next approach holds again.
      const geofence = fenced ? escalate(s.geofence, fenced.level, fenced.why, false) : s.geofence;
      const battery = escalate(s.battery, batteryLevel(inp, c), `battery ${inp.battery ? Math.round(inp.battery.remainingFraction * 100) : '?'}% below reserve`);
      // Obstacle avoidance: back away from the nearest return within reach (obstacleToAvoid), every tick
      // while it is, and say where the beam hit (obstacle: the device's routing keeps clear of it); two
      // clear scans after, the mission flies on (release), round it.
      const close = inp.position ? obstacleToAvoid(inp.range ?? [], inp.position, c) : (inp.range ?? []).filter((r) => r.distanceM < c.avoidDistanceM).sort((a, b) => a.distanceM - b.distanceM)[0];
      const scanMs = inp.range && inp.range.length > 0 ? Math.max(...inp.range.map((r) => r.timeMs)) : null;
      const fresh = scanMs === null || scanMs !== lastScanMs;
      if (fresh) closeTicks = close ? closeTicks + 1 : 0;
      if (fresh && scanMs !== null) clearTicks = close ? 0 : clearTicks + 1;
      lastScanMs = scanMs;
      if (backingOff && clearTicks >= 2) {
        backingOff = false;
        // A release flies the drone on with its task (the device's executor). Not while this agent's
        // link-loss hold is in force: the drone holds where the back-off left it, as it held before the
        // back-off; before, it flew its mission on with no quorum contact until the link-loss return.
        // With a return or landing of its own in force it is released all the same: the scheduler sends
        // the latched failsafe then.
        const failsafe = [link, geofence, battery].some((l) => l === 'return-to-launch' || l === 'land');
        const silent = inp.link ? ` for ${inp.nowMs - inp.link.lastQuorumContactMs} ms` : '';
        if (link === 'hold' && !failsafe) outputs.push({ type: 'action', action: { type: 'hold' }, reason: `obstacle avoidance over; no quorum contact${silent}: hold` });
        else outputs.push({ type: 'release', reason: 'obstacle avoidance over' });
      }
      if (close && closeTicks >= 2 && inp.position && !Number.isFinite(inp.position.headingRad)) {
        // Without a heading the beam's bearing says nothing about where the obstacle is: backing away
        // on a guess may fly into it. Stop instead (held until a command moves the drone on).
        outputs.push({ type: 'action', action: { type: 'hold' }, reason: `obstacle at ${close.distanceM.toFixed(1)} m, heading unknown` });
      } else if (close && closeTicks >= 2 && inp.position) {
        const hit = beamHit(inp.position, close);
        const away = hit.beamRad + Math.PI;
        // Where the beam hit, for the device's own routing (a local keep-out: it flies round it after
        // the back-off, whether or not the swarm ever commits it).
        if (!backingOff) outputs.push({ type: 'obstacle', ...hit });
        backingOff = true;
        clearTicks = 0;
        outputs.push({ type: 'action', action: { type: 'velocity', northMps: c.avoidSpeedMps * Math.cos(away), eastMps: c.avoidSpeedMps * Math.sin(away), downMps: 0 }, reason: `obstacle at ${close.distanceM.toFixed(1)} m`, avoidance: true });
      }
      return { state: { link, geofence, battery, log: log.slice(-32) }, outputs };
    },
    engine: () => 'none',
  };
}
