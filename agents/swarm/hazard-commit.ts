// The hazard-commit rule the consensus application layer applies to committed attestations, block by
// block. Pure and deterministic (no clock, no floats in the decision). A hazard at a map cell is
// committed once at least f+1 distinct devices attest it present, with confidence >= the threshold,
// at that cell or one of its eight neighbours, and at least one of them at that cell itself. So f lying
// devices can never commit a fake hazard (an honest device saw a hazard within one cell of it), and
// two drones that see one obstacle from opposite faces, and so name the cells just behind the faces
// they hit, still add up. Denials (present: false) never subtract from other devices' sightings, so
// they cannot hide a real one. A committed hazard clears only when f+1 distinct devices attest it
// absent after the commit and fewer than f+1 still support it, or by an admin's committed
// `hazard.clear` (clearHazards).
//
// A word is dated by the body, not by the block that commits it: its basis (the height the device had
// applied when it observed) and then its observedAt. Anyone who can publish to the broker can have a
// device's recorded attestation committed again (its signature still verifies), so a word that is not
// newer than the device's word the cell holds changes nothing, and one whose basis is outside the
// window (or not yet committed) does not count at all.

import { assert } from '../../runtime/lib/assert.js';
import { limits } from '../../runtime/lib/limits.js';
import type { AttestationBody } from '../../runtime/wire/attestation.js';

export interface HazardRuleConfig {
  /** Minimum confidence that counts, per mille (850 = 0.85). */
  readonly confidencePerMilleMin: number;
  /** Attestations whose basis is more than this many heights behind the block stop counting. */
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
  /** device id -> basis of its latest word about the cell, when that says "present". */
  readonly present: Readonly<Record<string, number>>;
  readonly absent: Readonly<Record<string, number>>;
  /** device id -> observedAt of that word (present or absent): orders two words of one basis. */
  readonly observedAt: Readonly<Record<string, number>>;
  readonly committedAt: number | null;
  /** While committed: the devices whose attestations committed it (the event's attesters), sorted. Absent
   *  otherwise, so a record that never was committed keeps the bytes it had before this field. */
  readonly committedBy?: readonly string[];
  /** The height of an admin's hazard.clear of this cell, while within the window: a word made before
   *  it (basis below) does not count, so replaying a recorded sighting cannot commit the cell again.
   *  Absent otherwise (and in records from before it). */
  readonly clearedAt?: number;
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
  /** `attesters`: the devices whose denials cleared it; none when an operator's `hazard.clear` did
   *  (`by`, the operator, and `command`, its id). */
  | { readonly type: 'hazard-cleared'; readonly cell: readonly [number, number]; readonly height: number; readonly attesters: readonly string[]; readonly by?: string; readonly command?: string };

const sortedKeys = (o: Readonly<Record<string, number>>): string[] => Object.keys(o).sort();

function prune(r: Readonly<Record<string, number>>, minHeight: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of sortedKeys(r)) if ((r[k] as number) >= minHeight) out[k] = r[k] as number;
  return out;
}

/** `observedAt` of the devices that still have a word in `present` or `absent`. */
function keepTimes(observedAt: Readonly<Record<string, number>>, present: Readonly<Record<string, number>>, absent: Readonly<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of sortedKeys(observedAt)) if (k in present || k in absent) out[k] = observedAt[k] as number;
  return out;
}

/**
 * Whether `body` is a word the rule takes at block `height` about a cell holding `r`: its basis within
 * the window and before this block (no device has applied a block not yet committed), and later than
 * the sender's word the cell holds, by basis and then observedAt. Basis first, so a device whose clock
 * jumped ahead is out of order only until its next applied block; a word equal to the held one (the
 * same attestation committed again) is not later.
 */
function isNewWord(r: CellRecord | undefined, sender: string, body: AttestationBody, height: number, windowHeights: number): boolean {
  if (body.basis >= height || body.basis < height - windowHeights) return false;
  if (r?.clearedAt !== undefined && body.basis < r.clearedAt) return false; // made before an operator cleared the cell
  const basis = r?.present[sender] ?? r?.absent[sender];
  if (r === undefined || basis === undefined) return true;
  return body.basis > basis || (body.basis === basis && body.observedAt > (r.observedAt[sender] ?? -1));
}

/**
 * Why a hazard word can no longer count at block `nextHeight` or any later one, asked of the state
 * committed so far (the rule's own test, isNewWord), or null when it may: its basis is already outside
 * the window, it was made before an operator cleared its cell, or it is not later than the sender's word
 * the cell holds (the same attestation again, or an older one). Each stays so as heights go on, so a
 * device drops such a word when it arrives, before its signature is checked, instead of putting it in a
 * block that would change nothing (mission-runner.ts superseded). Words below the confidence the rule
 * counts, and other observations, are left to the rule.
 */
export function hazardWordSuperseded(state: HazardState, sender: string, body: AttestationBody, nextHeight: number, cfg: HazardRuleConfig = defaultHazardRule): string | null {
  const o = body.obs;
  if (o.type !== 'hazard') return null;
  if (body.basis < nextHeight - cfg.windowHeights) return `its basis ${body.basis} is more than ${cfg.windowHeights} heights behind ${nextHeight}`;
  const r = state.cells[cellKey(o.cell)];
  if (r === undefined) return null;
  if (r.clearedAt !== undefined && body.basis < r.clearedAt) return `it was made before an operator cleared the cell at height ${r.clearedAt}`;
  // isNewWord at a height past the basis, so only the order is left to decide.
  return isNewWord(r, sender, body, Math.max(nextHeight, body.basis + 1), cfg.windowHeights) ? null : `${sender}'s word about the cell held is as late or later`;
}

/**
 * What the last call knew about the state it returned: the quorum every cell was judged under, and
 * the cells eviction changed after that judgement. A state from anywhere else (a snapshot, a test) has
 * none, and its next block judges every cell. Kept beside the state, never in it, so a snapshot's
 * bytes do not depend on it.
 */
const judged = new WeakMap<HazardState, { readonly quorum: number; readonly dirty: ReadonlySet<CellKey>; readonly count: number }>();
/** States whose cell map a later block took over (applyHazardAttestations). */
const consumed = new WeakSet<HazardState>();

/** Whether any of the device's words in `r` is older than `minHeight` (no allocation). */
function hasExpired(r: Readonly<Record<string, number>>, minHeight: number): boolean {
  for (const k in r) if ((r[k] as number) < minHeight) return true;
  return false;
}

/**
 * Applies the attestations of one committed block at `height`, in block order. `f` comes from the
 * manifest in force. Returns the new state and the cells committed or cleared by this block, sorted.
 *
 * Work per block follows what changed, not how many cells are tracked: a cell's fate depends only on
 * its own and its eight neighbours' words, so only cells with a changed neighbourhood are judged again
 * (all of them when the quorum changed, or for a state this function did not return). 4,096 tracked
 * cells took 23 ms a block here when every cell was copied, pruned and judged each time (copying the
 * cell map alone took 4 ms). So a state this function returned is handed over when passed back in:
 * its cell map is updated in place and it must not be used again (passing it again throws; read the
 * returned state). Any other state (the empty one, a snapshot's) is copied first.
 */
export function applyHazardAttestations(state: HazardState, height: number, f: number, attestations: readonly CommittedAttestation[], cfg: HazardRuleConfig = defaultHazardRule): { state: HazardState; events: HazardEvent[] } {
  const quorum = cfg.quorum ?? f + 1;
  assert(!consumed.has(state), 'hazard state applied twice: it was handed over to the block after it; use the state that call returned');
  const before = judged.get(state);
  const cells: Record<CellKey, CellRecord> = before === undefined ? { ...state.cells } : (state.cells as Record<CellKey, CellRecord>);
  if (before !== undefined) consumed.add(state);
  let count = before?.count ?? Object.keys(cells).length;
  const changed = new Set<CellKey>();
  for (const a of attestations) {
    const o = a.body.obs;
    if (o.type !== 'hazard' || o.confidencePerMille < cfg.confidencePerMilleMin) continue;
    const k = cellKey(o.cell);
    if (!isNewWord(cells[k], a.sender, a.body, height, cfg.windowHeights)) continue; // stale, or replayed: changes nothing
    const prev = cells[k] ?? { cell: [o.cell[0], o.cell[1]] as const, present: {}, absent: {}, observedAt: {}, committedAt: null, lastHeight: height };
    if (!(a.sender in prev.present) && !(a.sender in prev.absent) && Object.keys(prev.present).length + Object.keys(prev.absent).length >= limits.hazardAttestersPerCellMax) continue; // overflow: new attesters ignored
    if (!(k in cells)) count++;
    const present = { ...prev.present };
    const absent = { ...prev.absent };
    // A device's later word about a cell replaces its earlier one.
    if (o.present) {
      present[a.sender] = a.body.basis;
      delete absent[a.sender];
    } else {
      absent[a.sender] = a.body.basis;
      delete present[a.sender];
    }
    cells[k] = { ...prev, present, absent, observedAt: { ...prev.observedAt, [a.sender]: a.body.observedAt }, lastHeight: height };
    changed.add(k);
  }
  const minHeight = height - cfg.windowHeights;
  // Window first, for every cell, so a cell's support below counts only its neighbours' live sightings.
  // A record comes out with its devices in sorted order, as it always did.
  for (const k in cells) {
    const r = cells[k] as CellRecord;
    const clearOver = r.clearedAt !== undefined && r.clearedAt < minHeight; // no word from before it can count now
    if (!changed.has(k) && !hasExpired(r.present, minHeight) && !hasExpired(r.absent, minHeight) && !clearOver) continue;
    const present = prune(r.present, minHeight);
    const absent = prune(r.absent, minHeight);
    const { clearedAt: _, ...rest } = r;
    cells[k] = { ...(clearOver ? rest : r), present, absent, observedAt: keepTimes(r.observedAt, present, absent) };
    changed.add(k);
  }
  const toJudge = before === undefined || before.quorum !== quorum ? Object.keys(cells) : neighbourhoods(cells, changed, before.dirty);
  const events: HazardEvent[] = [];
  for (const k of toJudge.sort()) {
    const r = cells[k] as CellRecord;
    const { present, absent } = r;
    if (r.committedAt === null && Object.keys(present).length > 0) {
      const supporters = support(cells, r);
      if (supporters.length >= quorum) {
        cells[k] = { ...r, committedAt: height, committedBy: supporters };
        events.push({ type: 'hazard-committed', cell: r.cell, height, attesters: supporters });
      }
    } else if (r.committedAt !== null) {
      const committedAt = r.committedAt;
      // Denials observed with the commit applied (basis at or past it): made after the device knew.
      const deniersAfter = sortedKeys(absent).filter((d) => (absent[d] as number) >= committedAt);
      if (deniersAfter.length >= quorum && support(cells, r).length < quorum) {
        cells[k] = uncommitted(r);
        events.push({ type: 'hazard-cleared', cell: r.cell, height, attesters: deniersAfter });
      }
    }
  }
  // Only now, so a cell emptied this block still counted for its neighbours above. Only a cell whose
  // words changed can have become empty.
  for (const k of changed) {
    const r = cells[k] as CellRecord;
    if (r.committedAt === null && r.clearedAt === undefined && Object.keys(r.present).length === 0 && Object.keys(r.absent).length === 0) {
      delete cells[k];
      count--;
    }
  }
  const next: HazardState = { cells };
  const dirty = new Set<CellKey>();
  count = evictOverflow(cells, count, dirty);
  judged.set(next, { quorum, dirty, count });
  return { state: next, events };
}

/** The record no longer committed (nor committedBy). */
function uncommitted(r: CellRecord): CellRecord {
  const { committedBy: _, ...rest } = r;
  return { ...rest, committedAt: null };
}

/** The cells whose own or neighbours' words changed: `changed` and `dirty`, and their neighbours. */
function neighbourhoods(cells: Readonly<Record<CellKey, CellRecord>>, changed: ReadonlySet<CellKey>, dirty: ReadonlySet<CellKey>): CellKey[] {
  const out = new Set<CellKey>();
  for (const set of [changed, dirty]) {
    for (const k of set) {
      const comma = k.indexOf(',');
      const n = Number(k.slice(0, comma));
      const e = Number(k.slice(comma + 1));
      for (let dn = -1; dn <= 1; dn++) {
        for (let de = -1; de <= 1; de++) {
          const key = cellKey([n + dn, e + de]);
          if (key in cells) out.add(key);
        }
      }
    }
  }
  return [...out];
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

/**
 * Overflow policy: past limits.hazardCellsMax cells, the device with the most words on uncommitted
 * cells loses its oldest word (ties: the device first by id, then the cell first by key), until few
 * enough cells are left; a cell goes when no device's word is left in it. So a device flooding
 * sightings of made-up cells pays with its own, and an honest drone's sighting of a real hazard waits
 * for the others' as long as the window allows (dropping the least recently attested cells let one
 * liar push every honest sighting out within 64 blocks). Committed cells are never evicted. Adds the
 * cells it changed to `changed` (the next block judges them again) and returns the cells left.
 */
function evictOverflow(cells: Record<CellKey, CellRecord>, count: number, changed: Set<CellKey>): number {
  if (count <= limits.hazardCellsMax) return count;
  const words = new Map<string, { height: number; key: CellKey }[]>();
  for (const k in cells) {
    const r = cells[k] as CellRecord;
    if (r.committedAt !== null) continue;
    for (const side of [r.present, r.absent]) {
      for (const d in side) {
        let list = words.get(d);
        if (!list) words.set(d, (list = []));
        list.push({ height: side[d] as number, key: k });
      }
    }
  }
  // Each device's words oldest last, so the next to go is its list's tail.
  for (const list of words.values()) list.sort((a, b) => b.height - a.height || (a.key < b.key ? 1 : a.key > b.key ? -1 : 0));
  // Devices by words left, most first (ties by id); the first is the next to lose one.
  const order = [...words.keys()].sort((a, b) => (words.get(b) as unknown[]).length - (words.get(a) as unknown[]).length || (a < b ? -1 : 1));
  const left = (d: string): number => (words.get(d) as unknown[]).length;
  while (count > limits.hazardCellsMax && order.length > 0) {
    const d = order[0] as string;
    const list = words.get(d) as { height: number; key: CellKey }[];
    const w = list.pop() as { height: number; key: CellKey };
    const r = cells[w.key] as CellRecord;
    const present = { ...r.present };
    const absent = { ...r.absent };
    delete present[d];
    delete absent[d];
    if (Object.keys(present).length === 0 && Object.keys(absent).length === 0) {
      delete cells[w.key];
      count--;
    } else {
      cells[w.key] = { ...r, present, absent, observedAt: keepTimes(r.observedAt, present, absent) };
    }
    changed.add(w.key); // gone or not, its neighbours are judged again
    // Back into its place in the order (it has one word fewer now).
    if (list.length === 0) order.shift();
    else for (let i = 0; i + 1 < order.length && (left(order[i + 1] as string) > left(d) || (left(order[i + 1] as string) === left(d) && (order[i + 1] as string) < d)); i++) [order[i], order[i + 1]] = [order[i + 1] as string, d];
  }
  return count;
}

/**
 * An operator's committed `hazard.clear` (runtime/mission/commands.ts) at `height`: each of `cells`
 * that is committed is no longer, and the "present" words at it go too, so the sightings that
 * committed it cannot commit it again (at the next block, or when a restored state judges every
 * cell), nor can any word made before the clear (clearedAt: a replayed recording): only a fresh
 * sighting at the cell, with f+1 devices' support, does. Denials stay; the record stays while words
 * from before the clear are within the window. Returns a new state (the one given is not changed)
 * and the events.
 */
export function clearHazards(state: HazardState, height: number, cells: readonly (readonly [number, number])[], by: string, command: string): { state: HazardState; events: HazardEvent[] } {
  const next: Record<CellKey, CellRecord> = { ...state.cells };
  const before = judged.get(state);
  const dirty = new Set(before?.dirty ?? []);
  const count = before?.count ?? Object.keys(next).length;
  const events: HazardEvent[] = [];
  for (const c of cells) {
    const k = cellKey(c);
    const r = next[k];
    if (!r || r.committedAt === null) continue;
    // Kept (with no word, if no denial) while words from before the clear could still count: a replay
    // of a recorded sighting must not commit it again (isNewWord).
    next[k] = { ...uncommitted(r), present: {}, observedAt: keepTimes(r.observedAt, {}, r.absent), clearedAt: height };
    dirty.add(k); // its neighbours lost its words: judged again at the next block
    events.push({ type: 'hazard-cleared', cell: r.cell, height, attesters: [], by, command });
  }
  const out: HazardState = { cells: next };
  if (before !== undefined) judged.set(out, { quorum: before.quorum, dirty, count });
  return { state: out, events };
}

export function committedHazards(state: HazardState): (readonly [number, number])[] {
  return Object.keys(state.cells)
    .sort()
    .map((k) => state.cells[k] as CellRecord)
    .filter((r) => r.committedAt !== null)
    .map((r) => r.cell);
}
