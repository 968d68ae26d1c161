// The hazard-commit rule the consensus application layer applies to committed attestations, block by
// block. Pure and deterministic (no clock, no floats in the decision): a hazard at a map cell is
// committed once at least f+1 distinct devices attest it present with confidence >= the threshold,
// so f lying devices can never commit a fake hazard, and denials (present: false) never subtract, so
// they cannot hide a real one. A committed hazard clears only when f+1 distinct devices attest it
// absent after the commit and fewer than f+1 still attest it present.

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
  const touched = new Set<CellKey>();
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
    touched.add(k);
  }
  const events: HazardEvent[] = [];
  const minHeight = height - cfg.windowHeights;
  for (const k of Object.keys(cells).sort()) {
    const r = cells[k] as CellRecord;
    const present = prune(r.present, minHeight);
    const absent = prune(r.absent, minHeight);
    let committedAt = r.committedAt;
    if (committedAt === null && Object.keys(present).length >= quorum) {
      committedAt = height;
      events.push({ type: 'hazard-committed', cell: r.cell, height, attesters: sortedKeys(present) });
    } else if (committedAt !== null) {
      const deniersAfter = sortedKeys(absent).filter((d) => (absent[d] as number) > (committedAt as number));
      if (deniersAfter.length >= quorum && Object.keys(present).length < quorum) {
        committedAt = null;
        events.push({ type: 'hazard-cleared', cell: r.cell, height, attesters: deniersAfter });
      }
    }
    if (committedAt === null && Object.keys(present).length === 0 && Object.keys(absent).length === 0) delete cells[k];
    else cells[k] = { cell: r.cell, present, absent, committedAt, lastHeight: r.lastHeight };
  }
  evictOverflow(cells);
  return { state: { cells }, events };
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
