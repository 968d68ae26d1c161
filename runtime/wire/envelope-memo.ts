// Decoded and opened envelopes remembered across the nodes of one simulated world, as memo-verifier.ts
// remembers signature checks and fleet-sim's memo-hash.ts hashes. In a simulator process every node
// decodes, checks and parses every broadcast it hears: the same work once per receiver on one CPU,
// where a device does it once on its own. decodeEnvelope is a pure function of the bytes, and
// verifyEnvelope of the envelope and the context it is opened with (fleet, the validator set's keys,
// the verifier), so remembering both is exact: a seed replays the same with the memo or without.
//
// Looked up by the envelope's last 6 bytes (the end of its signature, pseudo-random per
// message) as a number, and answered only for bytes equal to the remembered ones, byte for byte: a
// colliding lookup decodes for real and takes the slot. An opened envelope is answered only for the same
// decoded envelope (the one this memo handed out), the same manifest, verifier and fleet (by identity);
// its parsed body (a function of the kind and body bytes alone) is kept once for every opening, so an
// opening under another context, the checkers' included, does not parse the body again.
// What it hands out is shared by every node that asks: decoded from the memo's own copy of the bytes,
// never written into by its readers (every field of RawEnvelope, VerifiedEnvelope and the parsed bodies
// is readonly). Bounded in entries and bytes; cleared when full (that only costs time). Devices run
// without one.

import { sameBytes } from '../lib/bytes.js';
import type { Result } from '../lib/result.js';
import type { Manifest } from '../manifest/manifest.js';
import { decodeEnvelope, parseEnvelopeBody, verifyEnvelope, type OpenContext, type RawEnvelope, type VerifiedEnvelope, type WireError } from './envelope.js';

interface Opened {
  readonly manifest: Manifest;
  readonly verifier: OpenContext['verifier'];
  readonly fleet: string;
  readonly result: Result<VerifiedEnvelope, WireError>;
}

interface Entry {
  /** The memo's own copy of the bytes. */
  readonly bytes: Buffer;
  readonly decoded: Result<RawEnvelope, WireError>;
  /** The last opening of `decoded` (a world has one validator set at a time, bar a set change). */
  opened: Opened | null;
  /** parseEnvelopeBody of `decoded`, once asked: every opening shares it, whatever its context. */
  body: Result<unknown, WireError> | null;
}

export interface EnvelopeMemo {
  /** decodeEnvelope(bytes), remembered. */
  decode(bytes: Uint8Array): Result<RawEnvelope, WireError>;
  /** verifyEnvelope(raw, ctx) for ctx built from `manifest`'s keys, remembered when `raw` came from
   *  this memo's decode. */
  verify(raw: RawEnvelope, ctx: OpenContext, manifest: Manifest): Result<VerifiedEnvelope, WireError>;
  /** parseEnvelopeBody(raw), remembered when `raw` came from this memo's decode. */
  parseBody(raw: RawEnvelope): Result<unknown, WireError>;
  hits: number;
  misses: number;
}

/** The last 6 bytes as a number (exact below 2^53); shorter input, its length. */
function keyOf(b: Uint8Array): number {
  const n = b.length;
  if (n < 6) return n;
  return (b[n - 6] as number) * 0x100_0000_0000 + (b[n - 5] as number) * 0x1_0000_0000 + (((b[n - 4] as number) << 24) >>> 0) + (((b[n - 3] as number) << 16) | ((b[n - 2] as number) << 8) | (b[n - 1] as number));
}

export function envelopeMemo(entriesMax: number, bytesMax: number): EnvelopeMemo {
  const seen = new Map<number, Entry>();
  let bytes = 0;
  const m: EnvelopeMemo = {
    hits: 0,
    misses: 0,
    decode(input: Uint8Array): Result<RawEnvelope, WireError> {
      const key = keyOf(input);
      const e = seen.get(key);
      if (e !== undefined && sameBytes(e.bytes, input)) {
        m.hits++;
        return e.decoded;
      }
      m.misses++;
      if (input.length > bytesMax) return decodeEnvelope(input); // never remembered: decoded each time
      if (seen.size >= entriesMax || bytes + input.length > bytesMax) {
        seen.clear(); // overflow policy: start again (only costs time)
        bytes = 0;
      }
      // A copy, decoded from: what is handed out never changes with the caller's buffer.
      const own = Buffer.from(input);
      const entry: Entry = { bytes: own, decoded: decodeEnvelope(own), opened: null, body: null };
      bytes += own.length - (seen.get(key)?.bytes.length ?? 0);
      seen.set(key, entry);
      return entry.decoded;
    },
    verify(raw: RawEnvelope, ctx: OpenContext, manifest: Manifest): Result<VerifiedEnvelope, WireError> {
      const e = seen.get(keyOf(raw.bytes));
      if (e === undefined || !e.decoded.ok || e.decoded.value !== raw) return verifyEnvelope(raw, ctx);
      const o = e.opened;
      if (o !== null && o.manifest === manifest && o.verifier === ctx.verifier && o.fleet === ctx.fleet) {
        m.hits++;
        return o.result;
      }
      m.misses++;
      const result = verifyEnvelope(raw, ctx, () => (e.body ??= parseEnvelopeBody(raw)));
      e.opened = { manifest, verifier: ctx.verifier, fleet: ctx.fleet, result };
      return result;
    },
    parseBody(raw: RawEnvelope): Result<unknown, WireError> {
      const e = seen.get(keyOf(raw.bytes));
      if (e === undefined || !e.decoded.ok || e.decoded.value !== raw) return parseEnvelopeBody(raw);
      return (e.body ??= parseEnvelopeBody(raw));
    },
  };
  return m;
}
