// Survey coverage: a grid of square cells over the survey polygon's bounding box; a cell counts as
// surveyed once a flying drone's camera footprint has covered its centre. The dashboard decodes cell
// indices with the same geometry (static/state.js coverageGrid), so both sides must agree on it.

import { assert } from '../../runtime/lib/assert.js';
import type { PointNe } from './events.js';

/** Even-odd ray casting; points are [north, east]. */
export function insidePolygon(n: number, e: number, poly: readonly PointNe[]): boolean {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [ni, ei] = poly[i] as PointNe;
    const [nj, ej] = poly[j] as PointNe;
    if (ni > n !== nj > n && e < ((ej - ei) * (n - ni)) / (nj - ni) + ei) inside = !inside;
  }
  return inside;
}

/** The most cells a grid has (two bytes each): 2 MB. */
const cellsMax = 1_000_000;

export class CoverageGrid {
  readonly minN: number;
  readonly minE: number;
  readonly cols: number;
  readonly rows: number;
  private readonly inArea: Uint8Array;
  private readonly covered: Uint8Array;
  private readonly cellsInArea: number;
  private coveredCount = 0;

  /** The side of a cell, metres: the size asked for, or larger for an area that would need more than
   *  cellsMax cells of it (a survey of many square kilometres; before, the run ended in an internal
   *  error). The dashboard is told it (the run event's world.coverageCellM). */
  readonly cellM: number;

  constructor(
    readonly area: readonly PointNe[],
    cellM: number,
  ) {
    assert(area.length >= 3, 'a survey area needs at least 3 corners');
    assert(cellM > 0, 'coverage cell size must be positive');
    const ns = area.map((p) => p[0]);
    const es = area.map((p) => p[1]);
    this.minN = Math.min(...ns);
    this.minE = Math.min(...es);
    const width = Math.max(...es) - this.minE;
    const height = Math.max(...ns) - this.minN;
    const cells = (c: number): number => Math.max(1, Math.ceil(width / c)) * Math.max(1, Math.ceil(height / c));
    let cell = Math.max(cellM, Math.ceil(Math.sqrt((width * height) / cellsMax)));
    while (cells(cell) > cellsMax) cell = Math.ceil(cell * 1.1);
    this.cellM = cell;
    this.cols = Math.max(1, Math.ceil(width / cell));
    this.rows = Math.max(1, Math.ceil(height / cell));
    this.inArea = new Uint8Array(this.cols * this.rows);
    this.covered = new Uint8Array(this.cols * this.rows);
    let count = 0;
    for (let r = 0; r < this.rows; r++) {
      for (let c = 0; c < this.cols; c++) {
        if (insidePolygon(this.minN + (r + 0.5) * cell, this.minE + (c + 0.5) * cell, area)) {
          this.inArea[r * this.cols + c] = 1;
          count++;
        }
      }
    }
    this.cellsInArea = Math.max(1, count);
  }

  /** Marks the cells whose centres lie within footprintM of (n, e); returns the newly covered ones. */
  mark(n: number, e: number, footprintM: number): number[] {
    const fresh: number[] = [];
    const c0 = Math.max(0, Math.floor((e - footprintM - this.minE) / this.cellM));
    const c1 = Math.min(this.cols - 1, Math.floor((e + footprintM - this.minE) / this.cellM));
    const r0 = Math.max(0, Math.floor((n - footprintM - this.minN) / this.cellM));
    const r1 = Math.min(this.rows - 1, Math.floor((n + footprintM - this.minN) / this.cellM));
    for (let r = r0; r <= r1; r++) {
      for (let c = c0; c <= c1; c++) {
        const i = r * this.cols + c;
        if (this.covered[i] === 1 || this.inArea[i] !== 1) continue;
        const cn = this.minN + (r + 0.5) * this.cellM;
        const ce = this.minE + (c + 0.5) * this.cellM;
        if (Math.hypot(cn - n, ce - e) > footprintM) continue;
        this.covered[i] = 1;
        this.coveredCount++;
        fresh.push(i);
      }
    }
    return fresh;
  }

  fraction(): number {
    return this.coveredCount / this.cellsInArea;
  }
}
