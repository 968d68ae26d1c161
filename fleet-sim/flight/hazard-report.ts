// The report's `hazards` section: for each hazard standing in the scenario's world, when a range
// sensor first returned it and when the swarm committed it (the first of its cells that f+1 devices
// attested), plus committed cells with nothing real near them (what lying devices would achieve).

import type { World } from '../sim/world.js';
import { hazardCellM } from './world-agents.js';
import { cellCentre } from '../../agents/swarm/hazard-commit.js';

export interface HazardSite {
  readonly id: string;
  readonly at: readonly [number, number];
  readonly radiusM: number;
  /** The drone whose range sensor returned it first, or null. */
  readonly sightedBy: number | null;
  /** When and at which height its first cell was committed; null if never. */
  readonly committedAtMs: number | null;
  readonly committedHeight: number | null;
  /** Cells of it committed at the end, and the devices whose attestations committed them. */
  readonly cells: number;
  readonly attesters: readonly number[];
}

export interface HazardReport {
  /** Real hazards with a committed cell, plus committed cells near no real hazard. */
  readonly committed: number;
  readonly sites: readonly HazardSite[];
  /** Cells committed at the end with no real hazard near them. */
  readonly spuriousCells: number;
  readonly attestationsCommitted: number;
  readonly liesCommitted: number;
  /** Attestations signed: by detectors, and lies. */
  readonly attested: number;
  readonly lies: number;
}

/** The scenario hazard a committed cell belongs to (index), or -1: its centre lies within the
 *  hazard's radius plus a cell and a half (beams hit the surface; the agent attests the cell behind it). */
export function hazardSiteOf(hazards: readonly { northM: number; eastM: number; radiusM: number }[], c: readonly [number, number]): number {
  const [n, e] = cellCentre(c);
  return hazards.findIndex((h) => Math.hypot(n - h.northM, e - h.eastM) <= h.radiusM + 1.5 * hazardCellM);
}

export function hazardReport(w: World): HazardReport | null {
  const f = w.flight;
  const agents = w.agents;
  if (!f || !agents) return null;
  const hazards = w.scenario.world?.hazards ?? [];
  const siteOf = (c: readonly [number, number]): number => hazardSiteOf(hazards, c);
  const committedNow = Object.values(f.swarm.hazards.cells).filter((r) => r.committedAt !== null);
  const index = (id: string): number => w.nodes.findIndex((x) => x.id === id);
  const sites: HazardSite[] = hazards.map((h, i) => {
    const first = f.hazardEvents.find((e) => e.type === 'hazard-committed' && siteOf(e.cell) === i);
    const mine = committedNow.filter((r) => siteOf(r.cell) === i);
    const attesters = new Set<number>();
    for (const e of f.hazardEvents) if (e.type === 'hazard-committed' && siteOf(e.cell) === i) for (const a of e.attesters) attesters.add(index(a));
    return {
      id: `h${i}`,
      at: [h.northM, h.eastM] as const,
      radiusM: h.radiusM,
      sightedBy: f.layer.sightings.get(i)?.[0] ?? null,
      committedAtMs: first ? Math.round(first.atMs) : null,
      committedHeight: first ? first.height : null,
      cells: mine.length,
      attesters: [...attesters].sort((a, b) => a - b),
    };
  });
  const spuriousCells = committedNow.filter((r) => siteOf(r.cell) < 0).length;
  return {
    committed: sites.filter((s) => s.committedAtMs !== null).length + spuriousCells,
    sites,
    spuriousCells,
    attestationsCommitted: f.attestationsCommitted,
    liesCommitted: f.liesCommitted,
    attested: agents.attested,
    lies: agents.lies,
  };
}

/** How a hazard.cleared row of the decision log (runtime/device/mission-runner.ts hazardText) says its
 *  cell was cleared: the words after "cleared" ("by op (hazard.clear ops/0a1b)", "on the denials of
 *  d1, d2"), or '' when it says neither. */
export function clearedHow(reason: string): string {
  const at = reason.indexOf(' cleared ');
  return at < 0 ? '' : reason.slice(at + ' cleared '.length);
}
