// Snapshots of the committed chain state, so the WAL before them can be dropped and a device's disk
// stays bounded. A snapshot holds exactly what valid(v) and apply need: last block hash, time and
// certificate, appHash, validator sets by height (as signed manifest bytes), live nonces and evidence.

import type { Manifest } from '../manifest/manifest.js';
import type { CommitCertificate } from '../wire/certificate.js';
import type { ChainState, CommittedEvidence } from './chain-state.js';

export interface ChainSnapshot {
  readonly height: number;
  readonly lastHash: Uint8Array;
  readonly lastTimeMs: number;
  readonly lastCertificate: CommitCertificate | null;
  readonly appHash: Uint8Array;
  readonly manifests: readonly { readonly fromHeight: number; readonly bytes: Uint8Array }[];
  readonly nonces: readonly (readonly [string, number])[];
  readonly evidence: readonly CommittedEvidence[];
}

export function takeSnapshot(c: ChainState): ChainSnapshot {
  return c.exportState();
}

/** `manifest` turns signed manifest bytes back into a verified Manifest (the shell checks the authority). */
export function restoreSnapshot(c: ChainState, s: ChainSnapshot, manifest: (bytes: Uint8Array) => Manifest): void {
  c.importState(s, manifest);
}
