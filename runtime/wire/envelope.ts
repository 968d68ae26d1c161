// The signed envelope every Murmur message travels in (docs/wire.md):
//   CBOR array [version=1, kind, fleetId, senderId, body (byte string), signature (64 bytes)]
// openEnvelope never throws on input: it returns a WireError whose code and message say what is wrong.

import { signatureBytes, type Signer, type Verifier } from '../crypto/sodium.js';
import { isValidId } from '../lib/ids.js';
import { limits } from '../lib/limits.js';
import { err, ok, type Result } from '../lib/result.js';
import { decodeCbor } from './cbor.js';
import { CborWriter } from './cbor-writer.js';
import { parseWith } from './fields.js';
import { kindByCode, kinds, type BodyOf, type KindName } from './kinds.js';
import { signingBytes, withSigningBytes } from './signing.js';
import { cborHeadAt } from './vote.js';

export const protocolVersion = 1;

export type WireErrorCode =
  | 'too-large'
  | 'malformed'
  | 'bad-version'
  | 'unknown-kind'
  | 'wrong-fleet'
  | 'unknown-sender'
  | 'bad-signature'
  | 'bad-field';

export interface WireError {
  readonly code: WireErrorCode;
  readonly message: string;
}

const wireErr = (code: WireErrorCode, message: string): Result<never, WireError> => err({ code, message });

/** An envelope whose structure has been checked but whose signature has not. */
export interface RawEnvelope {
  readonly version: number;
  readonly kind: KindName;
  readonly fleet: string;
  readonly sender: string;
  readonly body: Uint8Array;
  readonly signature: Uint8Array;
  /** The envelope exactly as received; relays forward these bytes, never a re-encoding. */
  readonly bytes: Uint8Array;
}

declare const verifiedBrand: unique symbol;

/** Only openEnvelope makes these, so code that takes one knows the signature and body were checked. */
export type VerifiedEnvelope<K extends KindName = KindName> = {
  [P in K]: RawEnvelope & { readonly kind: P; readonly parsed: BodyOf<P>; readonly [verifiedBrand]: true };
}[K];

/** Heads of a sealed envelope at most: the array's, two small integers', two strings' and two byte strings'. */
const envelopeHeadsBytesMax = 1 + 2 + 2 + 3 * 2 + 5 * 2;

/** The bytes are encodeCbor's for the same array (CborWriter writes them directly: every message a
 *  node sends is sealed, and cbor-x's general encoder cost more than the signature's neighbours). */
export function sealEnvelope(kind: KindName, fleet: string, sender: string, body: Uint8Array, signer: Signer): Uint8Array {
  const signature = signer.sign(signingBytes(kind, fleet, body));
  const w = new CborWriter(envelopeHeadsBytesMax + fleet.length + sender.length + body.length + signature.length);
  return w.array(6).int(protocolVersion).int(kinds[kind].code).text(fleet).text(sender).bytes(body).bytes(signature).finish();
}

/**
 * The kind code and body of an envelope, read from its heads without decoding it; null when its bytes
 * are not laid out as sealEnvelope writes them (decodeEnvelope then reads them, or says what is
 * wrong). Nothing in it is checked, not even the fleet: for dropping a message on what it claims
 * (NodeShell's edge drops an announcement of a height it has), never for using it.
 */
export function peekEnvelope(bytes: Uint8Array): { readonly code: number; readonly body: Uint8Array } | null {
  if (bytes[0] !== 0x86) return null;
  const version = cborHeadAt(bytes, 1);
  if (version === null || version.major !== 0) return null;
  const code = cborHeadAt(bytes, version.next);
  if (code === null || code.major !== 0) return null;
  const fleet = cborHeadAt(bytes, code.next);
  if (fleet === null || fleet.major !== 3) return null;
  const sender = cborHeadAt(bytes, fleet.next + fleet.value);
  if (sender === null || sender.major !== 3) return null;
  const body = cborHeadAt(bytes, sender.next + sender.value);
  if (body === null || body.major !== 2 || body.next + body.value > bytes.length) return null;
  return { code: code.value, body: bytes.subarray(body.next, body.next + body.value) };
}

/** The kind code of an envelope from its first bytes alone (the first fragment of one cut for a radio);
 *  null when they do not start like an envelope. */
export function peekEnvelopeCode(prefix: Uint8Array): number | null {
  if (prefix[0] !== 0x86) return null;
  const version = cborHeadAt(prefix, 1);
  if (version === null || version.major !== 0) return null;
  const code = cborHeadAt(prefix, version.next);
  return code === null || code.major !== 0 ? null : code.value;
}

export function decodeEnvelope(bytes: Uint8Array): Result<RawEnvelope, WireError> {
  if (bytes.length > limits.envelopeBytesMax) return wireErr('too-large', `envelope is ${bytes.length} bytes (limit ${limits.envelopeBytesMax})`);
  const d = decodeCbor(bytes, limits.envelopeBytesMax);
  if (!d.ok) return wireErr('malformed', `envelope: ${d.error}`);
  const a = d.value;
  if (!Array.isArray(a) || a.length !== 6) return wireErr('malformed', 'envelope must be a CBOR array of 6 elements');
  const [version, code, fleet, sender, body, signature] = a as unknown[];
  if (version !== protocolVersion) return wireErr('bad-version', `protocol version ${String(version)} is not supported (expected ${protocolVersion})`);
  const kind = typeof code === 'number' ? kindByCode(code) : undefined;
  if (!kind) return wireErr('unknown-kind', `unknown message kind ${String(code)}`);
  if (!isValidId(fleet)) return wireErr('bad-field', 'envelope fleet id must match [a-z0-9][a-z0-9._-]{0,63}');
  if (!isValidId(sender)) return wireErr('bad-field', 'envelope sender id must match [a-z0-9][a-z0-9._-]{0,63}');
  if (!(body instanceof Uint8Array)) return wireErr('bad-field', 'envelope body must be a byte string');
  if (body.length > kinds[kind].bodyBytesMax) return wireErr('too-large', `${kind} body is ${body.length} bytes (limit ${kinds[kind].bodyBytesMax})`);
  if (!(signature instanceof Uint8Array) || signature.length !== signatureBytes) return wireErr('bad-field', `envelope signature must be ${signatureBytes} bytes`);
  return ok({ version, kind, fleet, sender, body, signature, bytes });
}

export interface OpenContext {
  /** The fleet this node belongs to; anything else is refused. */
  readonly fleet: string;
  /** The public key that `sender` signs `kind` with, or a reason it may not send that kind. */
  readonly keyOf: (sender: string, kind: KindName) => Uint8Array | string;
  readonly verifier: Verifier;
}

/**
 * A decoded envelope's body, decoded and parsed for its kind: verifyEnvelope's last step, a function of
 * the kind and the body bytes alone (not of the key or signature).
 */
export function parseEnvelopeBody(raw: RawEnvelope): Result<unknown, WireError> {
  const body = decodeCbor(raw.body, kinds[raw.kind].bodyBytesMax);
  if (!body.ok) return wireErr('malformed', `${raw.kind} body: ${body.error}`);
  const parsed = parseWith(raw.kind, body.value, kinds[raw.kind].parse as (v: unknown) => unknown);
  if (!parsed.ok) return wireErr('bad-field', parsed.error);
  return parsed;
}

/** Checks the fleet, the sender's key and the signature, then parses the body (`parseBody`: the
 *  simulator's envelope memo hands in one that remembers its answer; wire/envelope-memo.ts). */
export function verifyEnvelope(raw: RawEnvelope, ctx: OpenContext, parseBody: (raw: RawEnvelope) => Result<unknown, WireError> = parseEnvelopeBody): Result<VerifiedEnvelope, WireError> {
  if (raw.fleet !== ctx.fleet) return wireErr('wrong-fleet', `message is for fleet "${raw.fleet}", this is fleet "${ctx.fleet}"`);
  const key = ctx.keyOf(raw.sender, raw.kind);
  if (typeof key === 'string') return wireErr('unknown-sender', key);
  if (!withSigningBytes(raw.kind, raw.fleet, raw.body, (message) => ctx.verifier.verify(raw.signature, message, key))) {
    return wireErr('bad-signature', `${raw.kind} from "${raw.sender}" has a signature that does not verify`);
  }
  const parsed = parseBody(raw);
  if (!parsed.ok) return parsed;
  // Spelled out rather than spread: every received message passes here, and a spread costs more.
  const { version, kind, fleet, sender, signature, bytes } = raw;
  return ok({ version, kind, fleet, sender, body: raw.body, signature, bytes, parsed: parsed.value } as unknown as VerifiedEnvelope);
}

/** Decode, check and verify in one call: what every receive path uses. */
export function openEnvelope(bytes: Uint8Array, ctx: OpenContext): Result<VerifiedEnvelope, WireError> {
  const raw = decodeEnvelope(bytes);
  return raw.ok ? verifyEnvelope(raw.value, ctx) : raw;
}
