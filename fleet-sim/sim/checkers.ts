// Checkers outside the nodes (TigerBeetle's VOPR style). They see every signature an honest node makes
// and every block any honest node commits, as it happens, and record each violated property.

import type { Verifier } from '../../runtime/crypto/sodium.js';
import { hashHex, sameBytes, toHex } from '../../runtime/lib/bytes.js';
import { keyLookup, hasRole, operatorOf, type Manifest } from '../../runtime/manifest/manifest.js';
import { verifyCertificate } from '../../runtime/wire/certificate.js';
import { decodeEnvelope, parseEnvelopeBody, verifyEnvelope, type OpenContext, type RawEnvelope, type WireError } from '../../runtime/wire/envelope.js';
import type { Result } from '../../runtime/lib/result.js';
import type { CommittedBlock } from '../../runtime/consensus/types.js';
import { hashBytes } from '../../runtime/crypto/sodium.js';
import { cborHeadAt } from '../../runtime/wire/vote.js';
import type { ChainState } from '../../runtime/consensus/chain-state.js';

export interface Violation {
  readonly property: 'agreement' | 'validity' | 'double-sign' | 'certificate' | 'liveness';
  readonly atMs: number;
  readonly detail: string;
}

export class Checkers {
  readonly violations: Violation[] = [];
  /** height -> block hash hex and the time it was first committed by an honest node. */
  readonly decided = new Map<number, { hash: string; atMs: number; commands: string[] }>();
  /** height -> the application state an honest node had after that block (restored nodes included). */
  private readonly appStates = new Map<number, { node: string; state: string }>();
  /** node/kind/height/round -> the body signed there (a copy). */
  private readonly signed = new Map<string, Uint8Array>();
  private readonly committedNonces = new Set<string>();
  /** Per height, the certificates already found to verify, each with the proof it came in
   *  (CommittedBlock.proof) and the validator set it was checked against: an identical proof under the
   *  same set needs no second check, and in a big fleet most nodes commit a height with one of a few. */
  private readonly goodCerts = new Map<number, { readonly proof: Uint8Array; readonly validators: Manifest['validators'] }[]>();
  /** Commits another thread's nodes made at heights no node here has committed yet (shards.ts). */
  private readonly remoteEarly = new Map<number, [node: string, hash: string][]>();

  /** Opens a signed envelope for its position alone: any sender, any signature. */
  private readonly anyKey: OpenContext;

  constructor(
    private readonly fleet: string,
    private readonly verifier: Verifier,
    private readonly now: () => number,
    /** decodeEnvelope, or the world's memo of it (runtime/wire/envelope-memo.ts: the same answers). */
    private readonly decode: (bytes: Uint8Array) => Result<RawEnvelope, WireError> = decodeEnvelope,
    /** parseEnvelopeBody, or the world's memo of it, shared with the nodes' openings of the envelope. */
    private readonly parseBody: (raw: RawEnvelope) => Result<unknown, WireError> = parseEnvelopeBody,
  ) {
    this.anyKey = { fleet, keyOf: () => new Uint8Array(0), verifier: { backend: 'libsodium-wrappers', verify: () => true } };
  }

  private violate(property: Violation['property'], detail: string): void {
    this.addViolation({ property, atMs: this.now(), detail });
  }

  /** Records a violation (one another thread's checkers found, in a run split over threads). */
  addViolation(v: Violation): void {
    if (this.violations.length < 100) this.violations.push(v);
  }

  /**
   * Agreement with a commit made on another thread of a split run (shards.ts), whose checkers checked
   * its certificate and validity already: its hash against the first commit of that height here, or
   * held until a node here commits the height.
   */
  onRemoteCommit(node: string, height: number, hash: string): void {
    const first = this.decided.get(height);
    if (first === undefined) {
      // Held until a node here commits the height; meanwhile the held ones must agree among themselves.
      const early = this.remoteEarly.get(height) ?? [];
      const other = early.find(([, h]) => h !== hash);
      if (other) this.violate('agreement', `${node} committed ${hash.slice(0, 12)} at height ${height}, ${other[0]} committed ${other[1].slice(0, 12)}`);
      early.push([node, hash]);
      this.remoteEarly.set(height, early);
      return;
    }
    this.agree(node, height, hash, first.hash);
  }

  private agree(node: string, height: number, hash: string, firstHash: string): void {
    if (firstHash !== hash) this.violate('agreement', `${node} committed ${hash.slice(0, 12)} at height ${height}, others committed ${firstHash.slice(0, 12)}`);
  }

  /** No honest node signs two different messages at one (height, round, kind). */
  onSigned(node: string, envelope: Uint8Array): void {
    const raw = this.decode(envelope);
    if (!raw.ok) return this.violate('double-sign', `${node} signed an undecodable envelope`);
    const { kind, body } = raw.value;
    // Votes and proposals start with height and round; the position key ignores the value.
    const p = this.positionOf(raw.value);
    if (p === null) return;
    const key = `${node}/${kind}/${p.height}/${p.round}`;
    const before = this.signed.get(key);
    if (before !== undefined && sameBytes(before, body)) return;
    if (before !== undefined) this.violate('double-sign', `honest ${node} signed two different ${kind}s at height ${p.height} round ${p.round}`);
    this.signed.set(key, Buffer.from(body));
  }

  /**
   * The height and round of a signed envelope, as opening it with any key parses them (null where that
   * fails). A vote body shaped as encodeVoteBody writes it ([height, round, 32-byte hash or null],
   * nothing after) is read from its heads: the full parse accepts exactly such a body and gives the
   * same two numbers (parseVoteBody: an unsigned height, a round up to 2^32-1). Anything else (a
   * proposal, a vote written otherwise) is opened in full. Every honest node's vote passes here (14 a
   * height at n = 7), and the full opening built its signing bytes and parsed it for these two numbers.
   * A proposal's body is parsed once for the checkers and every node's opening (the world's memo).
   */
  private positionOf(raw: RawEnvelope): { readonly height: number; readonly round: number } | null {
    if (raw.fleet === this.fleet && (raw.kind === 'prevote' || raw.kind === 'precommit')) {
      const b = raw.body;
      const h = b[0] === 0x83 ? cborHeadAt(b, 1) : null;
      const r = h !== null && h.major === 0 ? cborHeadAt(b, h.next) : null;
      if (r !== null && r.major === 0 && r.value <= 0xffffffff) {
        const end = b[r.next] === 0xf6 ? r.next + 1 : b[r.next] === 0x58 && b[r.next + 1] === hashBytes ? r.next + 2 + hashBytes : -1;
        if (h !== null && end === b.length) return { height: h.value, round: r.value };
      }
    }
    // Opened with any key: it fails for another fleet or a body that does not parse, nothing else.
    if (raw.fleet !== this.fleet) return null;
    const v = this.parseBody(raw);
    if (!v.ok) return null;
    const p = v.value as { height: number; round: number };
    return { height: p.height, round: p.round };
  }

  /** Agreement (followers included), validity and certificate checks at every honest commit. */
  onCommit(node: string, c: CommittedBlock, chain: ChainState): void {
    const h = c.block.height;
    const hash = hashHex(c.hash);
    const m: Manifest = chain.manifestAt(h);
    this.checkCertificate(node, c, m);
    const first = this.decided.get(h);
    if (first) return this.agree(node, h, hash, first.hash);
    const commands: string[] = [];
    let ctx: OpenContext | null = null;
    for (const tx of c.block.txs) {
      const raw = this.decode(tx);
      if (!raw.ok || raw.value.kind !== 'command') continue;
      ctx ??= { fleet: this.fleet, keyOf: keyLookup(m), verifier: this.verifier };
      const o = verifyEnvelope(raw.value, ctx);
      if (!o.ok || o.value.kind !== 'command') {
        this.violate('validity', `height ${h} holds a command that does not verify: ${o.ok ? 'not a command' : o.error.message}`);
        continue;
      }
      const op = operatorOf(m, o.value.sender);
      if (!op || !hasRole(op, 'operator')) this.violate('validity', `height ${h} holds a command from unauthorized "${o.value.sender}"`);
      const nonce = `${o.value.sender}/${toHex(o.value.parsed.nonce)}`;
      if (this.committedNonces.has(nonce)) this.violate('validity', `height ${h} commits command ${nonce} a second time`);
      if (c.block.timeMs >= o.value.parsed.expiresAt) this.violate('validity', `height ${h} commits expired command ${nonce}`);
      this.committedNonces.add(nonce);
      commands.push(nonce);
    }
    this.decided.set(h, { hash, atMs: this.now(), commands });
    const early = this.remoteEarly.get(h);
    if (early !== undefined) {
      this.remoteEarly.delete(h);
      for (const [other, otherHash] of early) this.onRemoteCommit(other, h, otherHash);
    }
  }

  private checkCertificate(node: string, c: CommittedBlock, m: Manifest): void {
    const h = c.block.height;
    const good = this.goodCerts.get(h) ?? [];
    // The same verdict only for the same question: these signatures, for this block, under this set.
    // The proof holds both, as bytes: equal proofs, the same block and certificate (a node's source
    // decides which of the validators' certificates it holds, so a height has a few).
    if (good.some((g) => g.validators === m.validators && sameBytes(g.proof, c.proof))) return;
    const cert = verifyCertificate(c.certificate, this.fleet, m.validators, this.verifier, c.hash);
    if (!cert.ok) return this.violate('certificate', `${node} committed height ${h} with a certificate that does not verify: ${cert.error}`);
    good.push({ proof: c.proof, validators: m.validators });
    this.goodCerts.set(h, good);
    if (this.goodCerts.size > 64) this.goodCerts.delete(this.goodCerts.keys().next().value as number);
  }

  /**
   * Application agreement: every honest node's application state after height h is the same, whether
   * it applied every block or restored a snapshot (its own or fetched by state sync) on the way.
   */
  onAppState(node: string, height: number, state: string): void {
    const first = this.appStates.get(height);
    if (!first) this.appStates.set(height, { node, state });
    else if (first.state !== state) this.violate('agreement', `${node}'s application state after height ${height} is ${state.slice(0, 20)}, ${first.node}'s is ${first.state.slice(0, 20)}`);
  }

  /** Whether these bytes are a command an honest node has committed already (a replay of it must be
   *  refused: onCommit finds a second commit of its nonce). Any sender and signature: only its nonce counts. */
  isCommittedCommand(bytes: Uint8Array): boolean {
    const raw = this.decode(bytes);
    if (!raw.ok || raw.value.kind !== 'command') return false;
    const o = verifyEnvelope(raw.value, this.anyKey);
    return o.ok && o.value.kind === 'command' && this.committedNonces.has(`${o.value.sender}/${toHex(o.value.parsed.nonce)}`);
  }

  livenessFailure(detail: string): void {
    this.violate('liveness', detail);
  }
}
