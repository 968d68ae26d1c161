// Every bound in Murmur, in one place, units last in names (STYLE.md §5). Each queue, cache and map
// names its bound here and states what happens on overflow where it is used.

export const limits = {
  // Wire format (runtime/wire). Checked before anything is allocated.
  envelopeBytesMax: 1_048_576, // a whole signed envelope on the wire
  cborDepthMax: 16, // nesting of arrays and maps
  cborItemsMax: 65_536, // total CBOR data items in one envelope
  cborCollectionLengthMax: 8_192, // entries in one array or map
  cborTextBytesMax: 262_144,
  idBytesMax: 64, // fleet id, node id, operator id
  commandBytesMax: 4_096, // one signed operator command envelope
  commandArgsBytesMax: 3_072,
  attestationBytesMax: 2_048,
  heartbeatBytesMax: 512,
  voteBytesMax: 256,
  blockTxCountMax: 500, // transactions (commands, attestations, evidence) in one block
  blockBytesMax: 524_288,
  certificateSignaturesMax: 256,
  manifestBytesMax: 262_144,
  manifestMembersMax: 2_048, // validators + followers + operators
  validatorsMax: 128,
  nonceBytes: 16,
  // Commands
  commandLifetimeMsMax: 3_600_000, // expiresAt - issuedAt may not exceed one hour
  clockSkewMsMax: 30_000,
} as const;

export type Limits = typeof limits;
