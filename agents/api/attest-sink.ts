// Turns an agent's attestation into a signed kind-7 envelope and hands it to the node's mempool
// (or to the simulator's stand-in). The signature covers the exact body bytes that travel.

import type { Signer } from '../../runtime/crypto/sodium.js';
import { encodeAttestationBody, type AttestationBody } from '../../runtime/wire/attestation.js';
import { sealEnvelope } from '../../runtime/wire/envelope.js';

export function signedAttestationSink(fleet: string, nodeId: string, signer: Signer, submit: (envelope: Uint8Array) => void): (body: AttestationBody) => void {
  return (body) => submit(sealEnvelope('attestation', fleet, nodeId, encodeAttestationBody(body), signer));
}
