// The hazard-commit rule the consensus application layer applies to committed attestations, block by
// block. Pure and deterministic (no clock, no floats in the decision). A hazard at a map cell is
// committed once at least f+1 distinct devices attest it present, with confidence >= the threshold,
// at that cell or one of its eight neighbours, and at least one of them at that cell itself. So f lying
// devices can never commit a fake hazard (an honest device saw a hazard within one cell of it), and
// two drones that see one obstacle from opposite faces, and so name the cells just behind the faces
// they hit, still add up. Denials (present: false) never subtract from other devices' sightings, so
// they cannot hide a real one. A committed hazard clears only when f+1 distinct devices attest it
// absent after the commit and fewer than f+1 still support it.

import { limits } from '../../runtime/lib/limits.js';
import type { AttestationBody } from '../../runtime/wire/attestation.js';

export interface HazardRuleConfig {
  /** Minimum confidence that counts, per mille (850 = 0.85). */
  readonly confidencePerMilleMin: number;
  /** Attestations older than this many heights stop counting. */
  readonly windowHeights: number;
  /** Distinct devices needed; default f + 1. */
  readonly quorum?: number;
}

/** The map grid hazards are attested and committed on, metres per cell side (every device alike). */
export const hazardCellM = 5;
/** The centre of a grid cell, [north, east] metres from the origin. */
export const cellCentre = (c: readonly [number, number]): [number, number] => [(c[0] + 0.5) * hazardCellM, (c[1] + 0.5) * hazardCellM];

export const defaultHazardRule: HazardRuleConfig = { confidencePerMilleMin: 850, windowHeights: 120 };

export type CellKey = string;
export const cellKey = (c: readonly [number, number]): CellKey => `${c[0]},${c[1]}`;

export interface CellRecord {
  readonly cell: readonly [number, number];
  /** device id -> height of its latest counting "present" attestation. */
  readonly present: Readonly<Record<string, number>>;
  readonly absent: Readonly<Record<string, number>>;
  readonly committedAt: number | null;
  readonly lastHeight: number;
}

export interface HazardState {
  readonly cells: Readonly<Record<CellKey, CellRecord>>;
}

export const emptyHazardState: HazardState = { cells: {} };

/** One committed attestation, with the sender the envelope signature proved. */
export interface CommittedAttestation {
  readonly sender: string;
  readonly body: AttestationBody;
}

export type HazardEvent =
  | { readonly type: 'hazard-committed'; readonly cell: readonly [number, number]; readonly height: number; readonly attesters: readonly string[] }
  | { readonly type: 'hazard-cleared'; readonly cell: readonly [number, number]; readonly height: number; readonly attesters: readonly string[] };

const sortedKeys = (o: Readonly<Record<string, number>>): string[] => Object.keys(o).sort();

function prune(r: Readonly<Record<string, number>>, minHeight: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of sortedKeys(r)) if ((r[k] as number) >= minHeight) out[k] = r[k] as number;
  return out;
}

/**
 * Applies the attestations of one committed block at `height`, in block order. `f` comes from the
 * manifest in force. Returns the new state and the cells committed or cleared by this block, sorted.
 */
export function applyHazardAttestations(state: HazardState, height: number, f: number, attestations: readonly CommittedAttestation[], cfg: HazardRuleConfig = defaultHazardRule): { state: HazardState; events: HazardEvent[] } {
  const quorum = cfg.quorum ?? f + 1;
  const cells: Record<CellKey, CellRecord> = { ...state.cells };
  for (const a of attestations) {
    const o = a.body.obs;
    if (o.type !== 'hazard' || o.confidencePerMille < cfg.confidencePerMilleMin) continue;
    const k = cellKey(o.cell);
    const prev = cells[k] ?? { cell: [o.cell[0], o.cell[1]] as const, present: {}, absent: {}, committedAt: null, lastHeight: height };
    if (!(a.sender in prev.present) && !(a.sender in prev.absent) && Object.keys(prev.present).length + Object.keys(prev.absent).length >= limits.hazardAttestersPerCellMax) continue; // overflow: new attesters ignored
    const present = { ...prev.present };
    const absent = { ...prev.absent };
    // A device's latest word about a cell replaces its earlier one.
    if (o.present) {
      present[a.sender] = height;
      delete absent[a.sender];
    } else {
      absent[a.sender] = height;
      delete present[a.sender];
    }
    cells[k] = { ...prev, present, absent, lastHeight: height };
  }
  const minHeight = height - cfg.windowHeights;
  // Window first, for every cell, so a cell's support below counts only its neighbours' live sightings.
  for (const k of Object.keys(cells)) {
    const r = cells[k] as CellRecord;
    cells[k] = { ...r, present: prune(r.present, minHeight), absent: prune(r.absent, minHeight) };
  }
  const events: HazardEvent[] = [];
  for (const k of Object.keys(cells).sort()) {
    const r = cells[k] as CellRecord;
    const { present, absent } = r;
    const supporters = support(cells, r);
    let committedAt = r.committedAt;
    if (committedAt === null && Object.keys(present).length > 0 && supporters.length >= quorum) {
      committedAt = height;
      events.push({ type: 'hazard-committed', cell: r.cell, height, attesters: supporters });
    } else if (committedAt !== null) {
      const deniersAfter = sortedKeys(absent).filter((d) => (absent[d] as number) > (committedAt as number));
      if (deniersAfter.length >= quorum && supporters.length < quorum) {
        committedAt = null;
        events.push({ type: 'hazard-cleared', cell: r.cell, height, attesters: deniersAfter });
      }
    }
    if (committedAt !== r.committedAt) cells[k] = { ...r, committedAt };
  }
  // Only now, so a cell emptied this block still counted for its neighbours above.
  for (const k of Object.keys(cells)) {
    const r = cells[k] as CellRecord;
    if (r.committedAt === null && Object.keys(r.present).length === 0 && Object.keys(r.absent).length === 0) delete cells[k];
  }
  evictOverflow(cells);
  return { state: { cells }, events };
}

/**
 * The devices that support a hazard at `r`'s cell, sorted: those with a live "present" at it or at one
 * of its eight neighbours, less those whose latest word about the cell itself is "absent".
 */
function support(cells: Readonly<Record<CellKey, CellRecord>>, r: CellRecord): string[] {
  const out = new Set<string>();
  for (let dn = -1; dn <= 1; dn++) {
    for (let de = -1; de <= 1; de++) {
      const n = cells[cellKey([r.cell[0] + dn, r.cell[1] + de])];
      if (n) for (const d of Object.keys(n.present)) if (!(d in r.absent)) out.add(d);
    }
  }
  return [...out].sort();
}

/** Overflow policy: drop uncommitted cells, least recently attested first (ties by key). */
function evictOverflow(cells: Record<CellKey, CellRecord>): void {
  const keys = Object.keys(cells);
  if (keys.length <= limits.hazardCellsMax) return;
  const victims = keys
    .filter((k) => (cells[k] as CellRecord).committedAt === null)
    .sort((a, b) => (cells[a] as CellRecord).lastHeight - (cells[b] as CellRecord).lastHeight || (a < b ? -1 : 1));
  for (const k of victims.slice(0, keys.length - limits.hazardCellsMax)) delete cells[k];
}

export function committedHazards(state: HazardState): (readonly [number, number])[] {
  return Object.keys(state.cells)
    .sort()
    .map((k) => state.cells[k] as CellRecord)
    .filter((r) => r.committedAt !== null)
    .map((r) => r.cell);
}
