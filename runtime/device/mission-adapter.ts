// Turns a committed block (signed envelopes, already verified at the edge by consensus) into the
// mission machine's input: commands and telemetry with their senders, and the members in force.

import type { Verifier } from '../crypto/sodium.js';
import { toHex } from '../lib/bytes.js';
import { verifyManifest, type Manifest } from '../manifest/manifest.js';
import type { CommittedBlock } from '../consensus/types.js';
import type { ManifestCheck, Members, MissionBlock, MissionTx } from '../mission/types.js';
import { decodeCbor } from '../wire/cbor.js';
import { parseCommandBody } from '../wire/command.js';
import { decodeEnvelope } from '../wire/envelope.js';
import { parseWith } from '../wire/fields.js';
import { kinds } from '../wire/kinds.js';
import { parseTelemetryBody } from '../wire/telemetry.js';

export function membersOf(m: Manifest): Members {
  return {
    epoch: m.body.epoch,
    devices: [...m.body.validators.map((v) => v.id), ...m.body.followers.map((f) => f.id)],
    operators: m.body.operators.map((o) => ({ id: o.id, roles: o.roles })),
  };
}

export const commandRef = (operator: string, nonce: Uint8Array): string => `${operator}/${toHex(nonce)}`;

export interface AdapterContext {
  readonly manifestAt: (height: number) => Manifest;
  readonly verifier: Verifier;
  readonly authority: Uint8Array;
}

/** Decodes one tx; commands and telemetry pass, anything else (attestations, evidence) is not ours. */
export function missionTxOf(bytes: Uint8Array, ctx: AdapterContext, fleet: string): MissionTx | null {
  const raw = decodeEnvelope(bytes);
  if (!raw.ok) return null;
  const e = raw.value;
  if (e.kind !== 'command' && e.kind !== 'telemetry') return null;
  const d = decodeCbor(e.body, kinds[e.kind].bodyBytesMax);
  if (!d.ok) return null;
  if (e.kind === 'telemetry') {
    const t = parseWith('telemetry', d.value, parseTelemetryBody);
    // A device reports only for itself; the envelope signature (checked at the edge) names the sender.
    if (!t.ok || t.value.node !== e.sender) return null;
    const b = t.value;
    // b.heightUnknown is not carried: the committed state holds the sixth element's number whatever
    // the eleventh says, as a node of a version before it reads (telemetry.ts, ARCHITECTURE.md "Wire
    // format evolution").
    return { kind: 'telemetry', node: b.node, pos: { n: b.northDm, e: b.eastDm }, altDm: b.altDm, batteryPermille: b.batteryPermille, completed: b.completed === '' ? null : b.completed, progress: b.progress ?? null, ...(b.handedOver ? { handedOver: b.handedOver } : {}), sent: { session: b.session, seq: b.seq } };
  }
  const c = parseWith('command', d.value, parseCommandBody);
  if (!c.ok) return null;
  const body = c.value;
  let manifest: ManifestCheck | undefined;
  if (body.type === 'fleet.update' && body.args.manifest instanceof Uint8Array) {
    const m = verifyManifest(body.args.manifest, ctx.verifier, ctx.authority);
    manifest = !m.ok ? { ok: false, reason: m.error } : m.value.body.fleet !== fleet ? { ok: false, reason: `the manifest is for fleet "${m.value.body.fleet}"` } : { ok: true, epoch: m.value.body.epoch };
  }
  return {
    kind: 'command',
    id: commandRef(e.sender, body.nonce),
    operator: e.sender,
    type: body.type,
    args: body.args,
    issuedAt: body.issuedAt,
    expiresAt: body.expiresAt,
    ...(manifest ? { manifest } : {}),
  };
}

export function missionBlockOf(c: CommittedBlock, ctx: AdapterContext, fleet: string): MissionBlock {
  const txs: MissionTx[] = [];
  for (const t of c.txs) {
    const m = missionTxOf(t.bytes, ctx, fleet);
    if (m) txs.push(m);
  }
  return { height: c.block.height, timeMs: c.block.timeMs, members: membersOf(ctx.manifestAt(c.block.height)), txs };
}
