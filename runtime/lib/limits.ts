// Every bound in Murmur, in one place, units last in names (STYLE.md §5). Each queue, cache and map
// names its bound here and states what happens on overflow where it is used.

export const limits = {
  // Wire format (runtime/wire). Checked before anything is allocated.
  envelopeBytesMax: 1_048_576, // a whole signed envelope on the wire
  cborDepthMax: 16, // nesting of arrays and maps
  cborItemsMax: 65_536, // total CBOR data items in one envelope
  cborCollectionLengthMax: 8_192, // entries in one array or map
  cborTextBytesMax: 262_144,
  signingScratchBytesMax: 65_536, // signed bytes of a received message built in one reused buffer (wire/signing.ts); larger ones get their own
  idBytesMax: 64, // fleet id, node id, operator id
  commandBytesMax: 4_096, // one signed operator command's body, but fleet.update's
  commandArgsBytesMax: 3_072,
  // fleet.update carries the whole signed manifest of the next epoch (~53 bytes a member): within the
  // limits above a fleet of more than about 55 members could not change it. Its args may hold one
  // manifest (manifestBytesMax) and their key; its body, and any transaction in a block, a little more.
  fleetUpdateArgsBytesMax: 263_168,
  fleetUpdateBytesMax: 264_192,
  blockTxBytesMax: 266_240,
  attestationBytesMax: 2_048,
  heartbeatBytesMax: 512,
  telemetryBytesMax: 256, // one telemetry body (kind 13)
  trailingElementsMax: 8, // elements a positional body (telemetry, heartbeat) may carry past those this version reads, ignored (ARCHITECTURE.md, wire format evolution)
  voteBytesMax: 256,
  blockTxCountMax: 500, // transactions (commands, attestations, evidence) in one block
  blockBytesMax: 524_288,
  certificateSignaturesMax: 256,
  proofBytesMax: 557_056, // a block proof (wire/proof.ts): blockBytesMax plus a certificate of 256 signatures
  ackBytesMax: 140_000, // an ack body: `assigned` may name every member (2,048 ids of up to 64 bytes)
  manifestBytesMax: 262_144,
  manifestMembersMax: 2_048, // validators + followers + operators
  validatorsMax: 128,
  nonceBytes: 16,
  // Links (runtime/links). Outbound queues refuse or drop per traffic class; caches evict the oldest.
  linkConsensusQueueMax: 1_024, // queued consensus frames per link; a new one is refused when full
  linkHeartbeatQueueMax: 8, // queued heartbeats per link; the oldest is dropped (only the newest matters)
  linkTelemetryQueueMax: 256, // queued telemetry frames per link; the oldest is dropped (only the newest position matters)
  // The same queues by bytes (a lane holds at least one largest frame, envelopeBytesMax + overhead), for
  // links whose frames are whole envelopes (MQTT, memory): twenty 1 MB blocks queued while the broker is away
  // were 20 MB. Consensus lanes (live and bulk, each) refuse past it; heartbeats and telemetry drop the oldest.
  linkConsensusQueueBytesMax: 8_388_608,
  linkHeartbeatQueueBytesMax: 2_097_152,
  linkTelemetryQueueBytesMax: 2_097_152,
  linkFrameOverheadBytes: 10, // link frame header + CRC-32 around one envelope (memory and MQTT)
  mqttInflightMax: 512, // publishes handed to mqtt.js and not yet written; the rest wait in the class queues
  mqttReconnectMsMin: 200, // first reconnect delay; doubles per failure with jitter
  // A device back on the broker seconds after its peers talks past them meanwhile (with consensus
  // 'first', it sends on MQTT while they still listen on the radio): 15 s left a 20-device fleet stalled
  // for ~10 s after a 10 s outage. A fleet-sized herd retrying every 3 s is no load for a broker.
  mqttReconnectMsMax: 3_000,
  // A connection that lasted this long starts the reconnect backoff again. At the longest delay (3 s), a
  // broker that dropped every connection every 2-3 s held a fleet to 0.25-0.8 heights/s; a client with
  // the same id taking over keeps one of the two connecting at the longest delay (its connections last
  // well under this), so the fight stays at about one takeover a second, as before.
  mqttConnectionLastedMs: 1_000,
  // The broker closed this many connections within mqttDropsWindowMs, each within mqttShortConnectionMs
  // of its CONNACK: said once (a client id taken over, or a broker or path that drops connections).
  mqttDropsToWarn: 3,
  mqttDropsWindowMs: 60_000,
  mqttShortConnectionMs: 10_000,
  mqttTopicCacheMax: 4_096, // parsed topics one MQTT link remembers; cleared when full
  brokerPacketBytesMax: 1_114_112, // one MQTT packet: envelopeBytesMax plus topic and link frame
  brokerConnectsPerSecMax: 50, // new TCP connections per second; more are closed before MQTT starts
  brokerClientsMax: 512, // connected clients; more are closed
  brokerDrainMs: 10_000, // aedes drainTimeout: a subscriber that stops reading is cut off after this
  radioBlockAirMs: 250, // while consensus rides only a radio, a proposer's block txs take at most this much of its airtime
  radioConsensusStaleMs: 2_000, // a consensus envelope queued on a radio this long is dropped unsent
  // Airtime one lane of a radio's queue may hold (consensus live, its bulk lane, heartbeats, telemetry,
  // each), in bytes on the air at the radio's rate (baud, air rate, duty cycle), never less than one
  // largest envelope (fragmentsMax packets). SiK at 57600 baud: 57,600 bytes, where 1,024 packets of
  // 252 bytes were 258 KB and 45 s of air per consensus lane. Above both presets' stale-consensus limit
  // (SiK 2 s, E32 7.7 s), so that limit, oldest first, still sheds an ordinary consensus backlog; what a
  // lane held past it was consensus that would go stale unsent and position reports far behind the newest.
  radioQueueAirMs: 10_000,
  radioOnlyTelemetryEvery: 10, // with the broker down, a device signs telemetry every this many periods
  telemetryKeepaliveEvery: 30, // periods after which a device that has not moved reports again (telemetry-gate.ts)
  telemetryMissionKeepaliveEvery: 10, // the same for a device flying (or holding) a part of a mission: its silence makes it lost (lostAfterS)
  simObstaclesMax: 64, // hal.sim.obstacles: a simulated vehicle's range beams test every one each scan
  geofencePointsMax: 64, // device.yaml geofence.polygon: the reflexes test the position against every edge each tick
  radioStalePackets: 32, // ...or, on a slower radio, as long as this many full packets take on the air
  // A relay of a live consensus envelope (not block sync) queued this long is dropped unsent: its origin
  // sends what still matters again every gossip interval (500 ms by default), so a relay that waited
  // longer is overtaken by the next copy. Relays waited up to the 2 s above, behind the relayer's own
  // packets, on a line of radios; the middle ones then spent their airtime on votes for rounds long over
  // (docs/benchmarks.md, "Radio under load with the broker dead").
  radioRelayStaleMs: 500,
  radioRelayStalePackets: 8, // ...or, on a slower radio, as long as this many full packets take on the air
  radioFragmentsMax: 64, // fragments of one envelope on a serial radio
  radioDedupEntriesMax: 4_096, // (origin, message, fragment) keys remembered; oldest evicted
  radioReassembliesMax: 32, // envelopes being reassembled at once; oldest abandoned
  radioReassemblyMs: 15_000, // an incomplete envelope is abandoned after this
  radioRxBufferBytesMax: 2_048, // bytes without a COBS delimiter before the buffer is discarded
  radioHopLimitMax: 7, // flood relay hops (Meshtastic's maximum)
  radioRelayJitterMsMax: 10_000, // a relay's random wait before it is queued (serial-link.ts)
  radioPendingRelaysMax: 64, // relays waiting out their random delay; beyond this they are queued at once
  radioBulkRelaysMax: 256, // relayed envelopes remembered as bulk (block sync, state sync) for their later fragments; oldest forgotten
  radioRelayOriginShare: 1, // of a radio's airtime, the most its relays of one origin's frames take (per second); 0.5 cut lines' throughput (relay-allowance.ts)
  radioRelayOriginsMax: 256, // origins whose relayed airtime is counted at once; all forgotten beyond
  radioCutRelaysMax: 256, // relayed envelopes cut short by a full queue whose later fragments are not relayed; oldest forgotten
  radioMediumBacklogMs: 2_000, // fleet-sim's air: a packet that would wait longer for its transmitter is dropped and counted
  routerDedupEntriesMax: 8_192, // envelope hashes remembered by the router; oldest evicted
  routerAloneHeardMs: 5_000, // under 'first', a later link also carries traffic while a peer was heard on it, and not on the first, this recently
  routerHeardPeersMax: 4_096, // peers whose last hearing per link the router keeps; oldest forgotten
  routerDedupWindowMs: 150, // a copy this soon after the first is a duplicate; below the shortest gossip interval, so re-broadcasts pass
  // Membership (runtime/membership)
  membershipPeersMax: 2_048, // peers tracked by one view; heartbeats from more are ignored and counted
  phiSamplesMax: 1_000, // inter-arrival samples per peer (Akka max-sample-size); oldest dropped
  // Commands
  commandLifetimeMsMax: 3_600_000, // expiresAt - issuedAt may not exceed one hour
  refusalsCountedMax: 8_192, // refused commands a device remembers having counted (its link and control-plane copies count once); oldest forgotten
  clockSkewMsMax: 30_000,
  // Consensus (runtime/consensus, runtime/node)
  mempoolTxsMax: 5_000, // overflow: new txs are refused until a block drains the pool
  mempoolPerOperatorMax: 500, // one operator cannot fill the pool; overflow: refused
  mempoolPerDeviceMax: 64, // attestations and telemetry one device may have waiting; overflow: refused
  mempoolDeviceTxsMax: 4_000, // all devices' attestations and telemetry: the rest of the pool is kept for commands, evidence and manifests
  consensusRoundsAheadMax: 8, // votes for rounds further ahead are dropped (a flood cannot grow the vote set)
  // Committed evidence is kept while its offence is at most this many heights behind the chain, and
  // refused as too old past it (CometBFT's evidence MaxAgeNumBlocks): the store holds at most one entry
  // per validator and offence height over these heights (chain-state.ts evidenceKeptMax).
  evidenceMaxAgeHeights: 256,
  evidenceSentMax: 1_024, // equivocations a validator remembers reporting (older heights forgotten first)
  ownMessagesMax: 9, // own signed messages of a height (three rounds of proposal, prevote, precommit) a node re-sends (gossip) and keeps to send again after a restart
  lateVoteHeightsMax: 4, // vote sets of heights already left, kept to catch an equivocation that arrives late
  futureHeightMessagesMax: 512, // messages for height+1 buffered during the commit wait; overflow: dropped
  recentBlocksMax: 256, // committed blocks kept in memory to serve block sync (the most a node's syncWindowHeights may be); a peer further behind state-syncs
  // Committed (operator, nonce) pairs kept until they expire. A block rule refuses a command that would
  // exceed it (chain-state.ts txProblem), so no input reaches the table's assertion; 64,000 of the
  // longest keys (a 32-character operator id) take ~5 MB of a state snapshot, which must fit its 6 MiB
  // (snapshotChunksMax). At the longest lifetime (1 h) that is ~17 commands/s sustained for an hour.
  seenNoncesMax: 64_000,
  syncBlocksPerAnswerMax: 8, // blocks sent in answer to one status of a peer that is behind
  syncAheadBlocksMax: 8, // certified blocks kept for the heights just after the next one (they came out of order); further ones and overflow: dropped
  verifiedTxCacheMax: 2_048, // tx verdicts remembered (~700 B each), 4 full blocks' worth; overflow: the oldest is forgotten and re-verified if seen again
  walRecordBytesMax: 2_097_152, // one WAL record; a larger length field means corruption
  aheadLogBytesMax: 1_048_576, // the ahead log (records written without an fsync) is emptied at the first commit past this size
  // Snapshots and state sync (runtime/consensus/snapshot.ts, state-sync.ts, snapshot-fetch.ts). A chunk's envelope (always
  // under 1,800 bytes with 64-character ids) fits every link's MTU, an E32 radio's 2,048-byte unicast included.
  snapshotChunkBytes: 1_536, // one chunk of a state snapshot; part of the protocol (the commitment hashes chunks of this size)
  snapshotChunksMax: 4_096, // chunks in one snapshot, so a snapshot is at most 6 MiB; a larger state is neither offered nor written to disk (warned)
  snapshotChunksPerRequestMax: 16, // chunks one chunk-request may ask for
  snapshotChunksPerPeerPerGossipMax: 64, // chunks served to one peer per gossip interval; requests beyond it are dropped
  snapshotsServedMax: 2, // checkpoints held in memory to serve: the newest proven one and the one awaiting its proof
  stateSyncBadPeersMax: 256, // peers remembered for serving a bad offer or chunk (ignored from then on); cleared when full
  stateSyncStallGossips: 10, // behind a peer and no commit for this many gossip intervals: ask for a snapshot
  stateSyncChunkTimeoutGossips: 2, // a chunk request unanswered this long is asked again, of another source when there is one
  // Nonces of the newest snapshot requests (at most one per gossip interval, one per stateSyncReaskGossips
  // during a fetch): an offer answering none is ignored. 10 rotated out in 5 s, before a slow radio
  // brought the offers answering them (5.5-13 s at 19200 baud), and no offer was ever taken.
  stateSyncRequestsRememberedMax: 64,
  stateSyncReaskGossips: 4, // during a fetch with no chunk (or a quiet one), a new snapshot request at most this often
  stateSyncQuietGossips: 8, // a fetch with no chunk for this long is quiet: a newer offer replaces it (keeping the chunks both list)
  stateSyncQuietPeersMax: 512, // peers remembered with chunk requests they let go unanswered; cleared when full
  stateSyncFetchGossipsMax: 40, // a snapshot fetch with no new chunk for this long is abandoned
  // Agents (agents/)
  modelBytesMax: 4_194_304, // one ONNX model file
  modelParamsMax: 1_000_000, // float32 values in one tensor
  modelNodesMax: 256, // operators in one graph
  modelMultiplyAddsPerRowMax: 1_000_000, // Gemm and MatMul multiply-adds for one feature row (ts-engine.ts multiplyAddsPerRow): about 10 ms of the pure-TypeScript engine on the development VM, 200 times the shipped hazard model's 4,608; a model past it is refused at load, before it runs
  agentsMax: 32, // agents one scheduler runs
  agentOutputsPerTickMax: 64, // actions + attestations from one tick; the rest are dropped and counted
  agentReportsMax: 256, // recent scheduler reports kept for status; oldest dropped
  agentStateBytesMax: 65_536, // persisted JSON state of one agent
  controlLogEveryMs: 2_000, // a device's retained decision log (json/<node>/log, up to 200 decisions, ~44 KB) is republished at most this often: once per deciding block it was 437 KB/s a device under 10 commands/s
  agentStateSaveEveryMs: 1_000, // an agent's changed state is written at most this often (and at stop)
  avoidanceLapseMs: 1_000, // a failsafe held back by an avoidance move (scheduler.ts) is sent once its agent has sent none for this long, release or not (the back-off is sent every 100 ms; a velocity setpoint lapses after 1 s)
  inferencePendingMax: 64, // runs queued to the inference worker; more are refused
  hazardCellsMax: 4_096, // hazard cells tracked by the commit rule; past it the device with the most words loses its oldest
  hazardAttestersPerCellMax: 128, // distinct devices remembered per cell
  estimateSamplesMax: 1_024, // attested values kept per quantity; oldest dropped
  // Firmware bridge (firmware-bridge/): MAVLink and the MCU framed protocol.
  mavlinkCommandsPendingMax: 16, // commands awaiting COMMAND_ACK; a further command is refused
  missionItemsMax: 1_000, // items in one uploaded mission; a longer plan is refused before sending
  fenceItemsMax: 64, // items of the fence uploaded to the flight controller: the polygon's vertices (as many as a committed geofence has), then keep-out circles as room allows
  mcuFrameBytesMax: 256, // one decoded MCU frame (CBOR payload + CRC); longer frames are dropped
  mcuRequestsPendingMax: 32, // MCU requests awaiting a response; a further request is refused
  nmeaSentenceBytesMax: 82, // NMEA 0183: 79 characters + "$" + CRLF; longer lines are dropped
  // fleet-sim dashboard and reports (fleet-sim/dashboard, fleet-sim/report).
  recordingFrameSamplesMax: 400_000, // node samples in one recording; frames are thinned to fit
  recordingEventsMax: 200_000, // events in one recording; later ones are dropped and counted
  fleetSimDeviceLogBytesMax: 8_388_608, // one --processes device's log in the report directory; past it the file moves to .1 and a new one starts
  dashboardClientsMax: 16, // live event streams served at once; another gets 503
  dashboardClientBufferBytesMax: 4_194_304, // unsent bytes per stream; frames are skipped past it
  dashboardClientBacklogBytesMax: 16_777_216, // unsent live bytes past what it joined with; the stream is cut (the page reconnects)
  dashboardBacklogChunkBytesMax: 262_144, // a late page's recording, and /recording.json, go out in chunks of about this many bytes, a turn of the event loop between them
  dashboardClientStallMs: 60_000, // a page that takes nothing of the recording it joined with for this long is cut
  dashboardLiveFrameMsMin: 100, // wall time between frames sent live; newer frames replace skipped ones
  deviceVerifyMemoMax: 512, // remembered signature checks on a device (own signatures, votes seen again in a certificate)
  deviceVerifyMemoBytesMax: 131_072, // bytes of signed messages those keep; cleared when past either bound
  storageWaitFirstMs: 1_000, // a device whose data directory takes no writes tries to start again after this, doubling each time (device/storage-wait.ts)
  storageWaitMaxMs: 60_000, // up to this; a device that ran this long before its storage failed starts again from the first wait
  simVerifyCacheMax: 200_000, // remembered signature checks in one simulated world; cleared when full
  simVerifyCacheBytesMax: 67_108_864, // bytes those keep (entries carved since the last start); cleared when past it
  simHashCacheMax: 65_536, // remembered hashes in one simulated world (per thread); cleared when full
  simHashCacheBytesMax: 16_777_216, // bytes of hashed input those keep; cleared when past it
  simEnvelopeMemoMax: 2_048, // envelopes decoded and opened once for all the nodes of a simulated world (per thread); cleared when full
  simEnvelopeMemoBytesMax: 4_194_304, // bytes of envelopes those keep; cleared when past it
} as const;

export type Limits = typeof limits;
