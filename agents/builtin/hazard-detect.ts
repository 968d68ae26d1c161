// Built-in agent 2: hazard detection from range scans. The model scores each beam; a beam at or above
// the attest threshold becomes a hazard attestation for the map cell it hits. The swarm commits the
// hazard only when f+1 devices agree (swarm/hazard-commit.ts); this agent never acts alone on it.
// It also attests "absent" for a nearby committed hazard cell when the beams around it are clear, so a
// removed obstacle can leave the map (the rule needs f+1 such denials and fewer than f+1 sightings).

import type { RangeReading } from '../../hal/devices.js';
import type { Agent, AgentInputs, AgentOutput, StartContext, TickResult } from '../api/agent.js';
import { ModelSlot } from '../api/model-slot.js';
import { hazardRangeRing, rangeBeams, rangeFeatureCount, rangeFeatures, rangeRules, rangeScanUsable } from '../features/range.js';
import type { EngineKind } from '../inference/engine.js';
import type { OrtWorker } from '../inference/ort-worker.js';
import type { CommittedModel } from '../models/registry.js';

export interface HazardDetectConfig {
  /** A beam scoring at least this is attested (matches the commit rule's 0.85 by default). */
  readonly attestScoreMin: number;
  /** Clear beams scoring at most this may deny a committed hazard within `clearRangeM`. */
  readonly clearScoreMax: number;
  readonly clearRangeM: number;
  readonly reattestMs: number;
  /** A cell is attested only after this many scans within `confirmWindowMs` saw it. */
  readonly confirmScans: number;
  readonly confirmWindowMs: number;
  readonly cellM: number;
  readonly ort?: OrtWorker;
  /** The pure-TypeScript worker (a device); omitted, pure-ts runs on this thread (the simulators). */
  readonly tsWorker?: OrtWorker;
  readonly prefer?: readonly EngineKind[];
  /** The directory of a committed model version on this device (default: the shipped model). */
  readonly modelDirFor?: (ref: CommittedModel) => string;
}

/**
 * How near a committed cell's centre a drone must be to deny it, metres. Routes keep hazardMarginDm
 * (8 m) from a committed cell's edge, so a drone flying round a lone cell passes 11.6 m from its
 * centre (runtime/mission/hazards.ts keepOuts: half the cell's diagonal, the margin, 1 dm); at the
 * 8 m this was, no drone on a mission ever came close enough, and a cell whose obstacle was gone
 * stayed committed for good. Below 15 m, since a denial needs clear beams reaching 5 m (a cell) past
 * the cell and the range ring reaches 20 m (features/range.ts hazardRangeRing).
 */
export const clearRangeM = 14;
/** A denial needs a clear beam passing this close to the cell's centre, metres (a quarter cell). */
const denyOffsetM = 1.25;

export const defaultHazardDetectConfig: HazardDetectConfig = { attestScoreMin: 0.85, clearScoreMax: 0.05, clearRangeM, reattestMs: 5_000, confirmScans: 3, confirmWindowMs: 1_000, cellM: 5 };

export interface HazardDetectState {
  /** cell key -> when it was last attested (bounded: oldest dropped past 256). */
  readonly attested: Readonly<Record<string, number>>;
}

const newestMs = (scan: readonly RangeReading[]): number => scan.reduce((m, r) => Math.max(m, r.timeMs), -Infinity);

const budgetMs = 20;

/** Scans a model is probed with at load (engine.ts): all clear, and a wall 6 m ahead seen twice. */
const hazardProbeRows = ((): Float32Array[] => {
  const ring = (aheadM: number): RangeReading[] => hazardRangeRing.beamsRad.map((bearingRad, i) => ({ timeMs: 0, distanceM: i === 0 ? aheadM : hazardRangeRing.maxM, minM: hazardRangeRing.minM, maxM: hazardRangeRing.maxM, bearingRad }));
  return [rangeFeatures(ring(hazardRangeRing.maxM), undefined), rangeFeatures(ring(6), ring(6.2))];
})();

export function cellOf(northM: number, eastM: number, cellM: number): [number, number] {
  return [Math.floor(northM / cellM), Math.floor(eastM / cellM)];
}

export function hazardDetectAgent(cfg: Partial<HazardDetectConfig> = {}): Agent<HazardDetectState> {
  const c: HazardDetectConfig = { ...defaultHazardDetectConfig, ...cfg };
  const slot = new ModelSlot({ name: 'hazard-detect', inputSize: rangeFeatureCount, outputSize: rangeBeams, rules: rangeRules, budgetMs, probeRows: hazardProbeRows, ...(c.ort ? { ort: c.ort } : {}), ...(c.tsWorker ? { tsWorker: c.tsWorker } : {}), ...(c.prefer ? { prefer: c.prefer } : {}), ...(c.modelDirFor ? { modelDirFor: c.modelDirFor } : {}) });
  let previous: readonly RangeReading[] | undefined;
  const pending = new Map<string, { hits: number; lastMs: number; score: number }>();
  let scanNote: string | null = null;
  return {
    name: 'hazard-detect',
    inputs: ['range', 'position', 'committed'],
    periodMs: 200,
    budgetMs,
    async start(ctx: StartContext<HazardDetectState>) {
      previous = undefined;
      pending.clear();
      await slot.release(); // a restart reloads the model: the old session may be what failed
      await slot.ensure(ctx.committed?.models['hazard-detect'], ctx.nowMs);
      return ctx.restored ?? { attested: {} };
    },
    async tick(s: HazardDetectState, inp: AgentInputs): Promise<TickResult<HazardDetectState>> {
      await slot.ensure(inp.committed?.models['hazard-detect'], inp.nowMs);
      const scan = inp.range;
      const pos = inp.position;
      if (!scan || scan.length < rangeBeams || !pos) return { state: s };
      // A beam without a distance (NaN) is no reading: the scan makes no decision, sightings or denials.
      scanNote = rangeScanUsable(scan) ? null : 'range scan with a NaN distance or a non-finite range: no decision';
      if (scanNote !== null) return { state: s };
      // Only a new scan is a new look. A sensor slower than this agent, or one that froze, hands over
      // the same scan again; scored against itself as "the scan before", one spurious return looked
      // persistent, and three ticks of it were three sightings: an attested hazard from one return.
      if (previous && newestMs(scan) === newestMs(previous)) return { state: s }; // not <=: a clock stepped back must not blind it
      if (!Number.isFinite(pos.headingRad)) {
        // Without a heading no beam can be placed on the map (a guessed one names the wrong cells).
        previous = scan;
        return { state: s };
      }
      const scores = await slot.run(rangeFeatures(scan, previous));
      previous = scan;
      if (scores === null) return { state: s }; // non-finite scores: no decision (the slot counts them)
      const outputs: AgentOutput[] = [];
      const attested: Record<string, number> = { ...s.attested };
      const model = slot.model();
      const cellM = inp.committed?.cellM ?? c.cellM;
      for (let b = 0; b < rangeBeams; b++) {
        const r = scan[b] as RangeReading;
        const score = scores[b] ?? 0;
        const a = pos.headingRad + r.bearingRad;
        if (score >= c.attestScoreMin && r.distanceM < r.maxM) {
          // The cell just behind the return surface holds the obstacle.
          const d = r.distanceM + 0.25;
          const cell = cellOf(pos.northM + d * Math.cos(a), pos.eastM + d * Math.sin(a), cellM);
          const k = `${cell[0]},${cell[1]}`;
          // One scan is not enough: a real obstacle shows up scan after scan, a spurious return does not.
          const p = pending.get(k);
          const seen = p && inp.nowMs - p.lastMs <= c.confirmWindowMs ? { hits: p.hits + (p.lastMs === inp.nowMs ? 0 : 1), lastMs: inp.nowMs, score: Math.max(p.score, score) } : { hits: 1, lastMs: inp.nowMs, score };
          pending.set(k, seen);
          if (seen.hits < c.confirmScans) continue;
          const last = attested[k];
          if (last !== undefined && inp.nowMs - last < c.reattestMs) continue;
          attested[k] = inp.nowMs;
          outputs.push({ type: 'attest', obs: { type: 'hazard', cell, present: true, confidencePerMille: Math.min(1000, Math.floor(seen.score * 1000)) }, ...(model ? { model } : {}) });
        }
      }
      // Denials: a committed cell close by, whose bearing is bracketed by clear beams that reach past it.
      // Beams are 22.5 degrees apart, so only near cells are covered densely enough to call them empty.
      for (const h of inp.committed?.hazards ?? []) {
        const cn = (h[0] + 0.5) * cellM - pos.northM;
        const ce = (h[1] + 0.5) * cellM - pos.eastM;
        const dc = Math.hypot(cn, ce);
        if (dc > c.clearRangeM) continue;
        const rel = (((Math.atan2(ce, cn) - pos.headingRad) % (2 * Math.PI)) + 2 * Math.PI) % (2 * Math.PI);
        const step = (2 * Math.PI) / rangeBeams;
        const lo = Math.floor(rel / step) % rangeBeams;
        const beams = [lo, (lo + 1) % rangeBeams, (lo + rangeBeams - 1) % rangeBeams, (lo + 2) % rangeBeams];
        // And one beam passes within denyOffsetM of the cell's centre: between beams 22.5 degrees
        // apart, a 3 m mast 12 m away goes unseen, and drones passing it denied it while it stood.
        const off = Math.abs(rel - Math.round(rel / step) * step);
        const clear = dc * Math.sin(off) <= denyOffsetM && beams.every((b) => (scores[b] ?? 1) <= c.clearScoreMax && (scan[b] as RangeReading).distanceM > dc + cellM);
        const k = `-${h[0]},${h[1]}`;
        const last = attested[k];
        if (!clear || (last !== undefined && inp.nowMs - last < c.reattestMs)) continue;
        attested[k] = inp.nowMs;
        const worst = Math.max(...beams.map((b) => scores[b] ?? 1));
        outputs.push({ type: 'attest', obs: { type: 'hazard', cell: [h[0], h[1]], present: false, confidencePerMille: Math.min(1000, Math.floor((1 - worst) * 1000)) }, ...(model ? { model } : {}) });
      }
      for (const [k, p] of [...pending]) if (inp.nowMs - p.lastMs > c.confirmWindowMs) pending.delete(k); // bounded by the window
      const keys = Object.keys(attested).sort((x, y) => (attested[x] as number) - (attested[y] as number) || (x < y ? -1 : 1));
      for (const k of keys.slice(0, Math.max(0, keys.length - 256))) delete attested[k]; // bounded: oldest dropped
      return { state: { attested }, outputs };
    },
    async stop() {
      await slot.release();
    },
    engine: () => slot.engine(),
    model: () => slot.model(),
    modelRefusal: () => slot.refused(),
    engineReasons: () => (scanNote === null ? slot.reasons() : [...slot.reasons(), scanNote]),
  };
}
