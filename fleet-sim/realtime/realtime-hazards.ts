// Hazards in real-time mode, as the devices themselves report them: every honest device's status lists
// the hazard cells the swarm committed (the hazard rule on committed attestations, runtime/device/
// mission-runner.ts). This turns those lists into the dashboard's hazard events and the report's
// `hazards` section, matched to the scenario's real hazards the way deterministic mode matches them.

import type { StatusJson } from '../../runtime/device/control-topics.js';
import { cellCentre, hazardCellM } from '../../agents/swarm/hazard-commit.js';
import { clearedHow, hazardSiteOf, type HazardSite } from '../flight/hazard-report.js';
import type { RunEvent } from '../report/events.js';
import type { Hazard } from '../scenario/scenario.js';

export interface RealtimeHazardReport {
  /** Real hazards with a committed cell, plus committed cells near no real hazard. */
  readonly committed: number;
  readonly sites: readonly HazardSite[];
  /** Cells committed with no real hazard near them. */
  readonly spuriousCells: number;
}

type Cell = NonNullable<StatusJson['hazards']>[number];

export class RealtimeHazards {
  /** Committed cells by "n,e", as a device first reported each (kept once cleared: the report's). */
  private readonly cells = new Map<string, Cell>();
  private readonly firstAt: ({ atMs: number; height: number } | null)[];
  /** The committed cells of each site on the map now (a scenario hazard's id, or a lone cell's). */
  private readonly onMap = new Map<string, Set<string>>();
  /** The height of each cell's latest clear: a status from a device not yet past it lists it still. */
  private readonly clearedAt = new Map<string, number>();

  constructor(
    private readonly hazards: readonly Hazard[],
    private readonly indexOf: (id: string) => number | undefined,
  ) {
    this.firstAt = hazards.map(() => null);
  }

  /** Folds in one honest device's status; returns the dashboard events for cells new to this run. */
  observe(st: StatusJson | undefined, atMs: number): RunEvent[] {
    const events: RunEvent[] = [];
    for (const c of st?.hazards ?? []) {
      const key = `${c.cell[0]},${c.cell[1]}`;
      if (c.committedAt <= (this.clearedAt.get(key) ?? -1)) continue; // committed before its clear
      if (!this.cells.has(key)) this.cells.set(key, c);
      const i = hazardSiteOf(this.hazards, c.cell);
      const h = this.hazards[i];
      const id = h ? `h${i}` : `cell ${key}`;
      const site = this.onMap.get(id) ?? new Set<string>();
      if (site.has(key)) continue;
      site.add(key);
      this.onMap.set(id, site);
      if (site.size > 1) continue; // the site is on the map already
      const by = c.attesters?.map((a) => this.indexOf(a)).find((x) => x !== undefined) ?? null;
      if (h) {
        if (this.firstAt[i] === null) this.firstAt[i] = { atMs, height: c.committedAt };
        events.push({ t: 'hazard', at: atMs, id, n: h.northM, e: h.eastM, radiusM: h.radiusM, status: 'committed', by });
        events.push({ t: 'log', at: atMs, level: 'info', text: `hazard ${id} committed at height ${c.committedAt} (cell ${key}${c.attesters ? `, attested by ${c.attesters.join(', ')}` : ''})` });
      } else {
        events.push({ t: 'hazard', at: atMs, id, n: c.northM, e: c.eastM, radiusM: hazardCellM / 2, status: 'committed', by });
        events.push({ t: 'log', at: atMs, level: 'warn', text: `cell ${key} committed at height ${c.committedAt} with no hazard of the scenario near it` });
      }
    }
    return events;
  }

  /** Folds in a `hazard.cleared` row of a device's decision log (its command "hazard/n,e"); returns the
   *  dashboard events when that was the last committed cell of its site, which leaves the map. */
  cleared(row: { readonly command: string; readonly height: number; readonly reason: string }, atMs: number): RunEvent[] {
    const m = /^hazard\/(-?\d+),(-?\d+)$/.exec(row.command);
    if (!m) return [];
    const key = `${m[1]},${m[2]}`;
    if (row.height <= (this.clearedAt.get(key) ?? -1)) return []; // another device's copy of the row
    this.clearedAt.set(key, row.height);
    const cell = [Number(m[1]), Number(m[2])] as const;
    const i = hazardSiteOf(this.hazards, cell);
    const h = this.hazards[i];
    const id = h ? `h${i}` : `cell ${key}`;
    const site = this.onMap.get(id);
    if (!site?.delete(key) || site.size > 0) return [];
    this.onMap.delete(id);
    const [n, e] = cellCentre(cell);
    const how = clearedHow(row.reason);
    return [
      { t: 'hazard', at: atMs, id, n: h?.northM ?? n, e: h?.eastM ?? e, radiusM: h?.radiusM ?? hazardCellM / 2, status: 'cleared', by: null, how },
      { t: 'log', at: atMs, level: 'info', text: `hazard ${id} cleared ${how} at height ${row.height}` },
    ];
  }

  report(): RealtimeHazardReport {
    const all = [...this.cells.values()];
    const sites: HazardSite[] = this.hazards.map((h, i) => {
      const mine = all.filter((c) => hazardSiteOf(this.hazards, c.cell) === i);
      const attesters = new Set<number>();
      for (const c of mine) for (const a of c.attesters ?? []) {
        const k = this.indexOf(a);
        if (k !== undefined) attesters.add(k);
      }
      const first = this.firstAt[i] ?? null;
      return {
        id: `h${i}`,
        at: [h.northM, h.eastM] as const,
        radiusM: h.radiusM,
        // Which range sensor returned it first is known only inside the simulator's world.
        sightedBy: null,
        committedAtMs: first ? Math.round(first.atMs) : null,
        committedHeight: first ? first.height : null,
        cells: mine.length,
        attesters: [...attesters].sort((a, b) => a - b),
      };
    });
    const spuriousCells = all.filter((c) => hazardSiteOf(this.hazards, c.cell) < 0).length;
    return { committed: sites.filter((s) => s.committedAtMs !== null).length + spuriousCells, sites, spuriousCells };
  }
}
