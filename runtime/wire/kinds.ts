// The closed list of message kinds. Codes are part of the wire contract (docs/wire.md): never reuse
// or renumber one. Each kind has a body size limit and a parser that returns a typed body.

import { limits } from '../lib/limits.js';
import { parseAckBody } from './ack.js';
import { parseAttestationBody } from './attestation.js';
import { parseProposalBody } from './block.js';
import { parseCommandBody } from './command.js';
import { parseEvidenceBody, parseStatusBody, parseSyncRequestBody, parseSyncResponseBody } from './consensus-aux.js';
import { parseHeartbeatBody } from './heartbeat.js';
import { parseManifestBody } from './manifest-body.js';
import { parseChunkRequestBody, parseSnapshotChunkBody, parseSnapshotOfferBody, parseSnapshotRequestBody } from './state-sync.js';
import { parseTelemetryBody } from './telemetry.js';
import { parseVoteBody } from './vote.js';

export const kinds = {
  manifest: { code: 1, bodyBytesMax: limits.manifestBytesMax, parse: parseManifestBody },
  command: { code: 2, bodyBytesMax: limits.fleetUpdateBytesMax, parse: parseCommandBody },
  proposal: { code: 3, bodyBytesMax: limits.blockBytesMax + 64, parse: parseProposalBody },
  prevote: { code: 4, bodyBytesMax: limits.voteBytesMax, parse: parseVoteBody },
  precommit: { code: 5, bodyBytesMax: limits.voteBytesMax, parse: parseVoteBody },
  heartbeat: { code: 6, bodyBytesMax: limits.heartbeatBytesMax, parse: parseHeartbeatBody },
  status: { code: 8, bodyBytesMax: 64, parse: parseStatusBody },
  'sync-request': { code: 9, bodyBytesMax: 64, parse: parseSyncRequestBody },
  'sync-response': { code: 10, bodyBytesMax: limits.blockBytesMax + 32_768, parse: parseSyncResponseBody },
  evidence: { code: 11, bodyBytesMax: 2 * limits.voteBytesMax + 1_024, parse: parseEvidenceBody },
  attestation: { code: 7, bodyBytesMax: limits.attestationBytesMax, parse: parseAttestationBody },
  ack: { code: 12, bodyBytesMax: limits.ackBytesMax, parse: parseAckBody },
  telemetry: { code: 13, bodyBytesMax: limits.telemetryBytesMax, parse: parseTelemetryBody },
  'snapshot-request': { code: 14, bodyBytesMax: 64, parse: parseSnapshotRequestBody },
  // Proof block, its certificate, the manifest in force and one 34-byte entry per chunk hash.
  'snapshot-offer': { code: 15, bodyBytesMax: limits.blockBytesMax + limits.manifestBytesMax + 34 * limits.snapshotChunksMax + 65_536, parse: parseSnapshotOfferBody },
  'chunk-request': { code: 16, bodyBytesMax: 64, parse: parseChunkRequestBody },
  'snapshot-chunk': { code: 17, bodyBytesMax: limits.snapshotChunkBytes + 64, parse: parseSnapshotChunkBody },
} as const;

export type KindName = keyof typeof kinds;
export type BodyOf<K extends KindName> = ReturnType<(typeof kinds)[K]['parse']>;

const byCode = new Map<number, KindName>();
for (const name of Object.keys(kinds) as KindName[]) byCode.set(kinds[name].code, name);

export function kindByCode(code: number): KindName | undefined {
  return byCode.get(code);
}

export { signingBytes } from './signing.js';
