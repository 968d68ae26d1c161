// Verify at the edge (STYLE.md §4): bytes from a link become core inputs only after the envelope,
// its signature, the sender's role and every tx inside a block have checked out. Tx verdicts are
// cached by envelope bytes, since a command is seen once from the operator and again in proposals.

import type { Verifier } from '../crypto/sodium.js';
import { hashHex, sameBytes, toHex } from '../lib/bytes.js';
import { limits } from '../lib/limits.js';
import { err, ok, type Result } from '../lib/result.js';
import { hasRole, keyLookup, memberOf, operatorOf, verifyManifest, type Manifest } from '../manifest/manifest.js';
import type { DecodedBlock } from '../wire/block.js';
import { decodeBlockBytes, proposalPositionOf } from '../wire/block.js';
import { decodeEnvelope, openEnvelope, peekEnvelope, verifyEnvelope, type OpenContext, type RawEnvelope, type VerifiedEnvelope, type WireError, type WireErrorCode } from '../wire/envelope.js';
import type { EnvelopeMemo } from '../wire/envelope-memo.js';
import { kinds } from '../wire/kinds.js';
import { parseWith } from '../wire/fields.js';
import { voteHeightOf, votePeekOf } from '../wire/vote.js';
import { syncResponseHeightOf } from '../wire/consensus-aux.js';
import { hasProofHead } from '../wire/proof.js';
import { evidenceKeyOf } from '../consensus/chain-state.js';
import { proposerOf } from '../consensus/proposer.js';
import type { CheckedTx, Input, RejectedTx, VerifiedVote } from '../consensus/types.js';

export interface EdgeContext {
  readonly fleet: string;
  readonly verifier: Verifier;
  readonly hash: (b: Uint8Array) => Uint8Array;
  /** The manifest in force at a height (from the committed chain). */
  readonly manifestAt: (height: number) => Manifest;
  readonly currentHeight: () => number;
  /** The round consensus is in at the current height. */
  readonly currentRound: () => number;
  /** This node's id: proposals and votes under it are never dropped unchecked (the shell looks at
   *  each for its signer state: NodeShell.ownKeyMessage). */
  readonly self: string;
  /** Whether consensus could do anything with a vote of this position, sender and value, read unverified
   *  (ConsensusState.takesVote); absent: every vote in the window goes on to its check. */
  readonly takesVote?: (kind: 'prevote' | 'precommit', height: number, round: number, from: string, value: string) => boolean;
  /** The same for a proposal from its round's proposer (ConsensusState.takesProposal); absent: taken. */
  readonly takesProposal?: (height: number, round: number) => boolean;
  /** Whether this node votes at the current height. A follower decides on a proposal and 2f+1
   *  precommits; prevotes (half the votes) are dropped before their signature is checked. */
  readonly votes: () => boolean;
  /** The authority key a manifest update must be signed with. */
  readonly authority: Uint8Array;
  /** Why a device's report can change nothing the fleet has committed or will (Application.superseded),
   *  read unverified; absent: every report goes on to its check and the mempool. */
  readonly superseded?: (kind: 'attestation' | 'telemetry', sender: string, body: Uint8Array) => string | null;
  /** Envelopes decoded and opened by the other nodes of a simulated world (wire/envelope-memo.ts);
   *  absent on a device, which decodes each itself. */
  readonly memo?: EnvelopeMemo;
}

interface TxCacheEntry {
  readonly key: number;
  readonly bytes: Uint8Array;
  readonly verdict: CheckedTx | RejectedTx;
  /** The validator set the verdict was reached with: a hit needs the same one. */
  readonly manifest: Manifest;
  /** Its place in the ring (txCacheRing). */
  readonly slot: number;
}

const rejected = (reason: string, code?: DropCode): RejectedTx => (code === undefined ? { kind: 'rejected', reason } : { kind: 'rejected', reason, code });

/**
 * Why the edge dropped a message, in a word a device counts and logs by (murmur_envelopes_dropped_total):
 * a WireError's code (malformed, wrong-fleet, unknown-sender, bad-signature, ...); `committed`, `not-needed`:
 * expected in a healthy fleet (a block it has, a prevote a follower does not count); `own-key`: a proposal or
 * vote with this node's key that its signer state does not hold (NodeShell.ownKeyMessage; its own echo is
 * no drop); `invalid`: a message signed by a member that consensus cannot take (a tx no block may carry,
 * evidence that proves nothing, a sync block that does not parse); `not-proposer`: a proposal whose sender
 * is not its round's proposer (dropped before its signature and block are checked: positionDrop);
 * `superseded`: a device's report the committed state already has a later one of (a second link's copy,
 * a replay; EdgeContext.superseded), expected too.
 */
export type DropCode = WireErrorCode | 'committed' | 'not-needed' | 'own-key' | 'invalid' | 'not-proposer' | 'superseded';

/** A message the edge dropped: its code, and the reason in words. */
export interface EdgeDrop {
  readonly code: DropCode;
  readonly message: string;
}

const drop = (code: DropCode, message: string): Result<never, EdgeDrop> => err({ code, message });
const syncResponseCode = kinds['sync-response'].code;

/** Whether an envelope's first bytes (an array of six, a version and a kind code each in one byte, as
 *  sealEnvelope writes them) show a kind other than sync-response; false when they cannot tell. */
function otherThanSyncResponse(b: Uint8Array): boolean {
  return b[0] === 0x86 && (b[1] as number) < 24 && (b[2] as number) < 24 && b[2] !== syncResponseCode;
}

/**
 * The tx cache's key: 30 bits from the envelope's last four bytes (the end of its signature). Two txs
 * may share it; a hit also needs equal bytes, so a shared key only costs a miss. A small integer (a
 * V8 Smi) spares building and hashing a string, or boxing a number, for every tx of every proposal.
 */
function txCacheKey(b: Uint8Array): number {
  const n = b.length;
  if (n < 4) return n;
  return (((b[n - 4] as number) & 0x3f) << 24) | ((b[n - 3] as number) << 16) | ((b[n - 2] as number) << 8) | (b[n - 1] as number);
}

const hexDigits = Uint8Array.from('0123456789abcdef', (c) => c.charCodeAt(0));
const nonceKeyScratch = Buffer.alloc(2 * limits.idBytesMax + 2 * limits.nonceBytes + 1);

/**
 * `${sender}/${hex(nonce)}`, built in one piece: a template literal makes a rope string, which costs
 * more in every map lookup the key goes through (mempool, the chain's nonce table, block checks).
 */
function nonceKeyOf(sender: string, nonce: Uint8Array): string {
  if (sender.length + 1 + 2 * nonce.length > nonceKeyScratch.length) return `${sender}/${toHex(nonce)}`;
  const b = nonceKeyScratch;
  let p = b.write(sender, 0, 'latin1');
  b[p++] = 0x2f;
  for (const x of nonce) {
    b[p++] = hexDigits[x >> 4] as number;
    b[p++] = hexDigits[x & 15] as number;
  }
  return b.toString('latin1', 0, p);
}

export class EdgeVerifier {
  // Verdicts of recently checked txs, so a tx verified at intake is not verified again in each proposal
  // that carries it. Bounded by limits.verifiedTxCacheMax; overflow forgets the oldest (ring order).
  private readonly txCache = new Map<number, TxCacheEntry>();
  private readonly txCacheRing: (TxCacheEntry | undefined)[] = new Array<TxCacheEntry | undefined>(limits.verifiedTxCacheMax);
  private txCacheNext = 0;
  // The open context of the manifest last used: a manifest changes only at a validator-set change,
  // so this spares building a key lookup for every message.
  private openManifest: Manifest | null = null;
  private openCtx: OpenContext | null = null;
  verifications = 0;

  constructor(private readonly ctx: EdgeContext) {}

  private open(bytes: Uint8Array | RawEnvelope, height: number): Result<VerifiedEnvelope, WireError> {
    const m = this.ctx.manifestAt(height);
    this.verifications++;
    if (this.openManifest !== m || this.openCtx === null) {
      this.openCtx = { fleet: this.ctx.fleet, keyOf: keyLookup(m), verifier: this.ctx.verifier };
      this.openManifest = m;
    }
    const ctx = this.openCtx;
    // A caller that already decoded the envelope hands it over, so it is not decoded twice.
    const memo = this.ctx.memo;
    const r = bytes instanceof Uint8Array ? openEnvelope(bytes, ctx) : memo !== undefined ? memo.verify(bytes, ctx, m) : verifyEnvelope(bytes, ctx);
    return r;
  }

  private decode(bytes: Uint8Array): Result<RawEnvelope, WireError> {
    return this.ctx.memo !== undefined ? this.ctx.memo.decode(bytes) : decodeEnvelope(bytes);
  }

  /**
   * The height whose validator set checks a vote: the vote's own when it is at most `back` heights
   * below the current one, else the current height's. A late vote can still complete an equivocation
   * (core.ts onLateVote), and evidence names a height of its own: a validator dropped since must not
   * get away with it because its key is no longer in the set.
   */
  private setHeightFor(raw: RawEnvelope, h: number, back: number): number {
    if (raw.kind !== 'prevote' && raw.kind !== 'precommit') return h;
    const vh = voteHeightOf(raw.body);
    return vh !== null && vh < h && vh >= h - back ? vh : h;
  }

  /**
   * A proposal or vote that consensus would drop on its height, round or sender alone (core.ts accepts,
   * onProposal, onLateVote), dropped here before its signature is checked and a proposal's block decoded
   * and its txs verified: a member flooding such messages (far-future or long-past votes, junk
   * proposals for rounds it does not propose, a third and fourth value for a position it equivocated
   * at) cost each receiver a signature check apiece, and a junk proposal its whole block. Read from the body's first bytes, unverified: a forged position or sender
   * can only have this one message dropped, which its check would do anyway. Messages under this node's
   * own id go on (the shell looks at each), as does a body not laid out as the encoders write it. A
   * signature that would not have verified goes uncounted this way: a validator's name on a far-future
   * vote is not worth a check to find out.
   */
  private positionDrop(raw: RawEnvelope, h: number): Result<never, EdgeDrop> | null {
    const kind = raw.kind;
    if ((kind !== 'prevote' && kind !== 'precommit' && kind !== 'proposal') || raw.sender === this.ctx.self) return null;
    // Another fleet's, or a name no validator has here: left to open, which refuses and counts them by
    // reason (wrong-fleet, unknown-sender) without a signature check either. A late vote is judged by
    // the set of its own height, as open checks it (setHeightFor): a validator a set change removed
    // since is one there, and its late votes go through the checks below. Before, they skipped them and
    // were each verified (200 late precommits of far rounds from a removed validator: 200 checks).
    if (raw.fleet !== this.ctx.fleet || memberOf(this.ctx.manifestAt(this.setHeightFor(raw, h, limits.lateVoteHeightsMax)), raw.sender)?.role !== 'validator') return null;
    const vote = kind === 'proposal' ? null : votePeekOf(raw.body);
    const at = kind === 'proposal' ? proposalPositionOf(raw.body) : vote;
    if (at === null) return null;
    if (at.height > h) return drop('not-needed', `${kind} for height ${at.height} not needed: this node is at height ${h}`);
    if (at.height < h) {
      if (kind === 'proposal') return drop('committed', `block ${at.height} is already committed here (a proposal for it from ${raw.sender})`);
      if (at.height < h - limits.lateVoteHeightsMax) return drop('committed', `block ${at.height} is already committed here (a ${kind} for it from ${raw.sender})`);
    } else {
      const roundMax = this.ctx.currentRound() + limits.consensusRoundsAheadMax;
      if (at.round > roundMax) return drop('not-needed', `${kind} for round ${at.round} not needed: this node takes rounds up to ${roundMax} at height ${h}`);
      if (kind === 'proposal' && raw.sender !== proposerOf(this.ctx.manifestAt(h).validators, h, at.round)) {
        return drop('not-proposer', `proposal for height ${h} round ${at.round} from ${raw.sender}, who is not its proposer`);
      }
      if (kind === 'proposal' && this.ctx.takesProposal?.(h, at.round) === false) {
        return drop('not-needed', `proposal for height ${h} round ${at.round} from ${raw.sender} not needed: this node holds its proposal for that round (in the commit wait), or has no room left for the height`);
      }
    }
    if (vote !== null && kind !== 'proposal' && this.ctx.takesVote?.(kind, vote.height, vote.round, raw.sender, vote.value) === false) {
      return drop('not-needed', `${kind} for height ${at.height} round ${at.round} from ${raw.sender} not needed: this node holds that vote or the sender's two other values there (or, in the commit wait, has no room left for the height)`);
    }
    return null;
  }

  /** Turns a received envelope into a core input, or a reason it was dropped. `announced`: it came on a
   *  validator's announcement topic (a hint the link gives, unverified: it only decides whether a
   *  light follower asks for the heights below a block that arrived ahead). */
  toInput(bytes: Uint8Array, now: number, announced = false): Result<Input, string> {
    const i = this.toInputOrDrop(bytes, now, announced);
    return i.ok ? i : err(i.error.message);
  }

  /** toInput, with the drop's code beside its reason (EdgeDrop). */
  toInputOrDrop(bytes: Uint8Array, now: number, announced = false): Result<Input, EdgeDrop> {
    const h = this.ctx.currentHeight();
    // A block this node has (a second source's announcement, a late sync answer) is dropped on the
    // height its body names, before the envelope is decoded or its signature checked: unchecked, but
    // all it can do is have this one message dropped, which a check would do anyway. A message not laid
    // out as sealEnvelope and encodeProof write it is read in full (and its height checked after).
    // Most messages say in their third byte that they are something else (a one-byte version and kind
    // code): those are not peeked at, which costs a few objects per message.
    const peek = otherThanSyncResponse(bytes) ? null : peekEnvelope(bytes);
    if (peek !== null && peek.code === syncResponseCode) {
      const ch = syncResponseHeightOf(peek.body);
      if (ch !== null && ch < h) return drop('committed', `block ${ch} is already committed here`);
    }
    const raw = this.decode(bytes);
    if (!raw.ok) return err(raw.error);
    if (raw.value.kind === 'attestation' || raw.value.kind === 'telemetry') {
      // A report the committed state already has a later one of (a second link's copy, a replay): it
      // could only be committed to change nothing. Unchecked, but all it can do is have itself dropped.
      const why = this.ctx.superseded?.(raw.value.kind, raw.value.sender, raw.value.body) ?? null;
      if (why !== null) return drop('superseded', why);
    }
    if (raw.value.kind === 'command' || raw.value.kind === 'manifest' || raw.value.kind === 'evidence' || raw.value.kind === 'attestation' || raw.value.kind === 'telemetry') {
      const tx = this.checkTx(bytes, raw.value);
      return tx.kind === 'rejected' ? drop((tx.code as DropCode | undefined) ?? 'invalid', tx.reason) : ok({ type: 'tx', now, tx });
    }
    if (raw.value.kind === 'prevote' && !this.ctx.votes()) return drop('not-needed', 'prevote not needed: this node is a follower');
    const unneeded = this.positionDrop(raw.value, h);
    if (unneeded !== null) return unneeded;
    const e = this.open(raw.value, this.setHeightFor(raw.value, h, limits.lateVoteHeightsMax));
    if (!e.ok) return e;
    const v = e.value;
    switch (v.kind) {
      case 'prevote':
      case 'precommit':
        return ok({ type: 'vote', now, msg: toVote(v.kind, v.sender, v.parsed, v.signature, bytes) });
      case 'proposal': {
        const b = v.parsed;
        return ok({ type: 'proposal', now, msg: { from: v.sender, height: b.height, round: b.round, validRound: b.validRound, block: b.block, value: hashHex(b.block.hash), txs: this.checkTxs(b.block), envelope: bytes } });
      }
      case 'status':
        return ok({ type: 'status', now, from: v.sender, height: v.parsed.height, round: v.parsed.round });
      case 'sync-request':
        return ok({ type: 'sync-request', now, from: v.sender, height: v.parsed.height });
      case 'sync-response': {
        // An envelope or body not laid out as sealEnvelope and encodeProof write them was not read above.
        if (v.parsed.certificate.height < h) return drop('committed', `block ${v.parsed.certificate.height} is already committed here`);
        const blk = parseWith('sync block', v.parsed.blockBytes, (x) => decodeBlockBytes(x as Uint8Array, this.ctx.hash));
        if (!blk.ok) return drop('invalid', blk.error);
        // The body is the block's proof; kept as it came (its bytes only when they are as encodeProof
        // writes them: another encoding of the same values is encoded again at commit).
        const proof = hasProofHead(v.body) ? { proof: v.body } : {};
        return ok({ type: 'sync-response', now, from: v.sender, block: blk.value, txs: this.checkTxs(blk.value), certificate: v.parsed.certificate, announced, ...proof });
      }
      case 'snapshot-request':
        return ok({ type: 'snapshot-request', now, from: v.sender, height: v.parsed.height, nonce: v.parsed.nonce });
      case 'snapshot-offer': {
        const o = v.parsed;
        const blk = parseWith('snapshot proof block', o.proofBlock, (x) => decodeBlockBytes(x as Uint8Array, this.ctx.hash));
        if (!blk.ok) return drop('invalid', blk.error);
        // A manifest that fails here is still handed on, so the core counts the peer that sent it.
        const m = verifyManifest(o.manifest, this.ctx.verifier, this.ctx.authority);
        const offer = { from: v.sender, height: o.height, chunkHashes: o.chunkHashes, proofBlock: blk.value, proofCertificate: o.proofCertificate, manifest: m.ok ? m.value : m.error, nonce: o.nonce };
        return ok({ type: 'snapshot-offer', now, offer });
      }
      case 'chunk-request':
        return ok({ type: 'chunk-request', now, from: v.sender, height: v.parsed.height, first: v.parsed.first, count: v.parsed.count, nonce: v.parsed.nonce });
      case 'snapshot-chunk':
        return ok({ type: 'snapshot-chunk', now, from: v.sender, height: v.parsed.height, index: v.parsed.index, bytes: v.parsed.bytes });
      default:
        return drop('invalid', `${v.kind} messages are not for consensus`);
    }
  }

  /** A block's txs, each against the validator set of the block's height: every honest node reaches
   *  the same verdicts on a block, whatever its own height when it checks (a node applies a certified
   *  block's accepted txs only, so they must). */
  checkTxs(block: DecodedBlock): (CheckedTx | RejectedTx)[] {
    return block.block.txs.map((t) => this.checkTx(t, undefined, block.block.height));
  }

  /**
   * Signature, role and fleet of one tx envelope, against the validator set in force at `height` (by
   * default the current one); the core checks nonce, expiry and duplicates. A caller that has decoded
   * the envelope already hands `raw` over, so it is not decoded twice.
   */
  checkTx(bytes: Uint8Array, raw?: RawEnvelope, height: number = this.ctx.currentHeight()): CheckedTx | RejectedTx {
    const key = txCacheKey(bytes);
    const manifest = this.ctx.manifestAt(height);
    const hit = this.txCache.get(key);
    if (hit && hit.manifest === manifest && sameBytes(hit.bytes, bytes)) return hit.verdict;
    // Cache and verdict hold their own copy of the tx, not a view that pins the proposal it came in.
    // Buffer.from copies a tx under 4 KiB into Node's shared 8 KiB pool, many times cheaper than a new
    // ArrayBuffer; a remembered tx keeps at most its pool slab alive.
    const own = Buffer.from(bytes);
    // Evidence is checked against the set of the height its votes name too; below `height` that is a
    // committed height's set, as fixed as this one.
    const entry = { key, bytes: own, verdict: this.checkTxUncached(own, raw, height), manifest, slot: this.txCacheNext };
    const evicted = this.txCacheRing[this.txCacheNext];
    // A newer tx with the same key may have replaced the evicted one in the map: that one stays.
    if (evicted !== undefined && this.txCache.get(evicted.key) === evicted) this.txCache.delete(evicted.key);
    this.txCacheRing[this.txCacheNext] = entry;
    this.txCacheNext = (this.txCacheNext + 1) % limits.verifiedTxCacheMax;
    this.txCache.set(key, entry);
    return entry.verdict;
  }

  /**
   * Forgets the verdicts on the txs of a committed block. The cache is for txs on their way into a
   * block (intake, each proposal that carries them); a committed one is refused if it comes again (its
   * nonce or key is spent) and is then checked again. Kept, they would fill the ring: on a follower,
   * the last limits.verifiedTxCacheMax commands of the fleet, some 1.4 MB.
   */
  forgetCommitted(txs: readonly { readonly bytes: Uint8Array }[]): void {
    for (const tx of txs) {
      const e = this.txCache.get(txCacheKey(tx.bytes));
      if (e === undefined || !sameBytes(e.bytes, tx.bytes)) continue;
      this.txCache.delete(e.key);
      if (this.txCacheRing[e.slot] === e) this.txCacheRing[e.slot] = undefined;
    }
  }

  private checkTxUncached(bytes: Uint8Array, decoded: RawEnvelope | undefined, h: number): CheckedTx | RejectedTx {
    const raw = decoded === undefined ? this.decode(bytes) : ok(decoded);
    if (!raw.ok) return rejected(raw.error.message, raw.error.code);
    if (raw.value.kind === 'manifest') {
      const m = verifyManifest(bytes, this.ctx.verifier, this.ctx.authority);
      return m.ok ? { kind: 'manifest', bytes, manifest: m.value, key: signatureKey(bytes) } : rejected(m.error);
    }
    const e = this.open(raw.value, h);
    if (!e.ok) return rejected(e.error.message, e.error.code);
    const v = e.value;
    switch (v.kind) {
      case 'command': {
        const op = operatorOf(this.ctx.manifestAt(h), v.sender);
        if (!op || !hasRole(op, 'operator')) return rejected(`"${v.sender}" may not issue commands (needs role operator)`);
        const tx = { kind: 'command' as const, bytes, operator: v.sender, nonceKey: nonceKeyOf(v.sender, v.parsed.nonce), issuedAt: v.parsed.issuedAt, expiresAt: v.parsed.expiresAt };
        const args = v.parsed.args;
        // As the mission machine takes a fleet.update (commands.ts): the signed manifest as its only argument.
        const named = v.parsed.type === 'fleet.update' && args.manifest instanceof Uint8Array && Object.keys(args).length === 1 ? args.manifest : null;
        return named === null ? tx : { ...tx, fleetUpdate: this.ctx.hash(named) };
      }
      case 'evidence': {
        // Each vote against the validator set of the height it names (a committed height's set is the
        // same on every node, so is this verdict).
        const openVote = (bytes: Uint8Array): Result<VerifiedEnvelope, string> => {
          const r = this.decode(bytes);
          const o = r.ok ? this.open(r.value, this.setHeightFor(r.value, h, h)) : r;
          return o.ok ? o : err(o.error.message);
        };
        const a = openVote(v.parsed.first);
        const b = openVote(v.parsed.second);
        if (!a.ok || !b.ok) return rejected(`evidence holds a vote that does not verify: ${!a.ok ? a.error : !b.ok ? b.error : ''}`);
        const x = a.value;
        const y = b.value;
        if ((x.kind !== 'prevote' && x.kind !== 'precommit') || x.kind !== y.kind) return rejected('evidence must hold two votes of one kind');
        if (x.sender !== y.sender) return rejected('evidence votes come from different validators');
        const vx = x.parsed as { height: number; round: number; blockHash: Uint8Array | null };
        const vy = y.parsed as typeof vx;
        if (vx.height !== vy.height || vx.round !== vy.round) return rejected('evidence votes are for different positions');
        const hx = vx.blockHash ? toHex(vx.blockHash) : 'nil';
        const hy = vy.blockHash ? toHex(vy.blockHash) : 'nil';
        if (hx === hy) return rejected('evidence votes do not conflict');
        return { kind: 'evidence', bytes, culprit: x.sender, height: vx.height, round: vx.round, vote: x.kind, key: evidenceKeyOf(x.sender, vx.height) };
      }
      case 'attestation':
      case 'telemetry': // device telemetry (kind 13) rides in blocks for mission allocation
        return { kind: 'other', bytes, key: signatureKey(bytes), sender: v.sender };
      default:
        return rejected(`a ${v.kind} cannot be a block transaction`);
    }
  }
}

/** The key of a manifest or other non-command tx in the mempool and a block: its signature, in hex. */
function signatureKey(bytes: Uint8Array): string {
  return bytes.length >= 64 ? toHex(bytes.subarray(bytes.length - 64)) : toHex(bytes);
}

function toVote(kind: 'prevote' | 'precommit', from: string, b: { height: number; round: number; blockHash: Uint8Array | null }, signature: Uint8Array, envelope: Uint8Array): VerifiedVote {
  return { kind, from, height: b.height, round: b.round, blockHash: b.blockHash, value: b.blockHash ? hashHex(b.blockHash) : 'nil', signature, envelope };
}
