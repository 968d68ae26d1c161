// Observability of a running device: pino JSON logs stamped with node id, height and round; Prometheus
// metrics (prom-client, a registry per device); and a loopback HTTP endpoint serving /metrics and
// /health. Nothing here decides anything; it only reports.

import { redactBrokerUrl } from '../links/broker-url.js';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger as PinoLogger } from 'pino';
import type { AgentStatusJson } from './control-topics.js';
import { dirname } from 'node:path';
import { makeDirs } from '../lib/make-dirs.js';
import { requireCjs } from '../lib/require-cjs.js';

// Required, not imported: less CPU at every start (runtime/lib/require-cjs.ts).
const { pino } = requireCjs('pino') as typeof import('pino');
const { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } = requireCjs('prom-client') as typeof import('prom-client');

export interface HealthView {
  readonly node: string;
  readonly ready: boolean;
  readonly height: number;
  readonly round: number;
  readonly proposer: string;
  readonly peers: Readonly<Record<'alive' | 'suspect' | 'dead', number>>;
  readonly links: Readonly<Record<string, { up: boolean }>>;
  readonly mission: string | null;
  /** What this device reports about itself in its heartbeats, and why when it is not ok. */
  readonly health: 'ok' | 'degraded' | 'failing';
  readonly healthReasons: readonly string[];
  /** The newest checkpoint this device holds: its height and the commitment blocks after it carry. */
  readonly checkpoint: { readonly height: number; readonly appHash: string } | null;
  /** Snapshots installed by state sync since start, and offers or chunks refused from peers. */
  readonly stateSync: { readonly installs: number; readonly refused: number };
  /** Every agent: engine, state, model, restarts (as in the status topic). */
  readonly agents: readonly AgentStatusJson[];
  /** Messages dropped since start: envelopes before consensus by reason (murmur_envelopes_dropped_total),
   *  frames each link dropped by reason (murmur_link_bad_frames), and the copies the router dropped per
   *  link (murmur_envelopes_duplicate_total). */
  readonly dropped: { readonly envelopes: Readonly<Record<string, number>>; readonly frames: Readonly<Record<string, Readonly<Record<string, number>>>>; readonly duplicates: Readonly<Record<string, number>> };
}

export function createLogger(node: string, level: string, position: () => { height: number; round: number }, file?: string): PinoLogger {
  // mixin runs per line, so every entry carries the height and round at the moment it was written.
  const options = { level, base: { node }, timestamp: pino.stdTimeFunctions.isoTime, mixin: () => position() };
  // Written synchronously: a device's log is a few lines a second, and nothing is lost at a crash.
  return file === undefined ? pino(options) : pino(options, logFileStream(file));
}

/**
 * The log file, written synchronously, falling back to stderr for good when a write fails (a full
 * disk, often the data directory's too): said once, naming the file and the error. Unguarded, the
 * failed write threw out of whatever was logging, and the device died with a stack trace; a storage
 * failure's own fatal line (device.ts guarded) was lost the same way.
 */
function logFileStream(file: string): { write(line: string): void } {
  // Its directory made by makeDirs, which ends: pino's mkdir (Node's recursive one) spun for ever under
  // /proc, deaf to SIGTERM.
  makeDirs(dirname(file));
  let dest: ReturnType<typeof pino.destination> | null = pino.destination({ dest: file, append: true, sync: true });
  // The destination reports a failed write as an 'error' event, at once (sync: true); with no listener
  // that event threw.
  let failed: Error | null = null;
  dest.on('error', (e: Error) => void (failed ??= e));
  return {
    write(line: string): void {
      if (dest !== null) {
        try {
          dest.write(line);
        } catch (e) {
          failed ??= e as Error;
        }
        if (failed === null) return;
        dest = null;
        process.stderr.write(`murmur: cannot write the log file ${file}: ${(failed as Error).message}; logging to stderr from here on\n`);
      }
      process.stderr.write(line);
    },
  };
}

/** A connection event of the MQTT link or the control plane (`detail.link` names the link; none: the control plane). */
export type LinkLog = (event: string, detail: Record<string, unknown>) => void;

/**
 * Where the links' and the control plane's connection events go. A broker that cannot be reached is a
 * warning once per outage of each connection (the first failed attempt, at start or after a connection
 * was lost), not once per retry (the retries go to debug); the connection that ends such an outage is a
 * warning too, so an operator at log.level warn sees both ends. Everything else stays at info.
 */
export function linkLogger(log: PinoLogger, brokerUrl: string, now: () => number = Date.now): LinkLog {
  const url = redactBrokerUrl(brokerUrl);
  const downSince = new Map<string, number>(); // connection -> when its outage was reported
  return (event, given) => {
    // A broker password in device.yaml's mqtt.url went into the log in plain text on every connection.
    const detail = typeof given.url === 'string' ? { ...given, url: redactBrokerUrl(given.url) } : given;
    const conn = typeof detail.link === 'string' ? `${detail.link} link` : 'control plane';
    if (event === 'error' || event === 'control-plane-error') {
      if (downSince.has(conn)) return log.debug({ event, ...detail }, `link ${event}`);
      downSince.set(conn, now());
      return log.warn({ event, ...detail }, `cannot reach the broker at ${url} (${conn}): ${String(detail.reason ?? 'no reason given')}; retrying until it answers`);
    }
    const since = downSince.get(conn);
    if ((event === 'connected' || event === 'control-plane-connected') && since !== undefined) {
      downSince.delete(conn);
      return log.warn({ event, ...detail, downMs: now() - since }, `broker at ${url} reached again (${conn}) after ${((now() - since) / 1000).toFixed(1)} s`);
    }
    // Said by the link with its cause: a broker that keeps closing this device's connection, and junk too
    // big to be a frame (a retained one stays on the broker for every new subscriber).
    if (event === 'connection-dropped' || event === 'oversized-publish') return log.warn({ event, ...detail }, `${conn}: ${String(detail.reason)}`);
    // A radio's serial port that went away (unplugged, a USB hub reset) and came back: both ends at warn,
    // so a loose cable leaves a trace after the device recovered on its own.
    if (event === 'port-gone') return log.warn({ event, ...detail }, `${conn}: serial port ${String(detail.path)} closed (${String(detail.reason)}); reopening it every ${String(detail.retryMs)} ms`);
    if (event === 'port-back') return log.warn({ event, ...detail }, `${conn}: serial port ${String(detail.path)} reopened after ${(Number(detail.downMs) / 1000).toFixed(1)} s (${String(detail.attempts)} attempts)`);
    log.info({ event, ...detail }, `link ${event}`);
  };
}

export class DeviceMetrics {
  readonly registry = new Registry();
  readonly height = new Gauge({ name: 'murmur_height', help: 'Height of the last committed block', registers: [this.registry] });
  readonly round = new Gauge({ name: 'murmur_round', help: 'Current consensus round at the current height', registers: [this.registry] });
  readonly blockAge = new Gauge({ name: 'murmur_block_age_seconds', help: 'Seconds since the last block this device committed (or since it started, before its first)', registers: [this.registry] });
  readonly stalled = new Gauge({ name: 'murmur_stalled', help: '1 while this validator says its fleet commits no block (longer than rounds 0-3 of its timeouts take; its status and /health say who is missing), else 0', registers: [this.registry] });
  readonly commitLatency = new Histogram({
    name: 'murmur_commit_latency_seconds',
    help: 'Time between consecutive commits on this device: one height, commit wait included',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly roundsPerHeight = new Histogram({ name: 'murmur_rounds_per_height', help: 'Rounds a height needed to commit (1 = first round)', buckets: [1, 2, 3, 4, 6, 8, 16], registers: [this.registry] });
  readonly peers = new Gauge({ name: 'murmur_peers', help: 'Peers by failure-detector status', labelNames: ['status'] as const, registers: [this.registry] });
  readonly linkFrames = new Gauge({ name: 'murmur_link_frames', help: 'Frames per link and direction (counter values of the link)', labelNames: ['link', 'direction'] as const, registers: [this.registry] });
  readonly linkBytes = new Gauge({ name: 'murmur_link_bytes', help: 'Bytes per link and direction', labelNames: ['link', 'direction'] as const, registers: [this.registry] });
  readonly linkRelayed = new Gauge({ name: 'murmur_link_relayed', help: 'Packets a radio link sent for others (flood relay; counter value of the link)', labelNames: ['link'] as const, registers: [this.registry] });
  readonly linkDropped = new Gauge({ name: 'murmur_link_dropped', help: 'Frames dropped per link and reason', labelNames: ['link', 'reason'] as const, registers: [this.registry] });
  readonly walFsync = new Histogram({ name: 'murmur_wal_fsync_seconds', help: 'Duration of each fsync of the data directory files', buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5], registers: [this.registry] });
  readonly signatureChecks = new Gauge({ name: 'murmur_signature_checks', help: 'Signature checks: verified for real, or answered from memory (the same signature, message and key seen before, own signatures included; counter values)', labelNames: ['outcome'] as const, registers: [this.registry] });
  readonly commands = new Counter({ name: 'murmur_commands_total', help: 'Operator commands by outcome', labelNames: ['outcome'] as const, registers: [this.registry] });
  readonly commandsRefused = new Counter({ name: 'murmur_commands_refused_total', help: 'Commands refused at intake by reason (unsigned, forged, unauthorized, expired, replayed, invalid, full); each command once, its link and control-plane copies and resends of the same bytes included', labelNames: ['reason'] as const, registers: [this.registry] });
  readonly refusalAcksWithheld = new Counter({ name: 'murmur_refusal_acks_withheld_total', help: 'Refusals of commands no member signed (a stranger\'s, a forged one, another fleet\'s, unreadable bytes) left without a reply: over the few per second per claimed sender and per device this device answers', registers: [this.registry] });
  readonly envelopesDropped = new Counter({ name: 'murmur_envelopes_dropped_total', help: 'Messages from the links dropped before consensus, by reason: malformed (not an envelope, or a body that does not parse), wrong-fleet, unknown-sender (not in the manifest, or may not send that kind), bad-signature, invalid (signed by a member, but nothing consensus can take), own-key-not-sent (this device\'s key, not what its signer state holds: not its echo), not-proposer (a proposal from a member that is not its round\'s proposer, dropped before its signature and block are checked)', labelNames: ['reason'] as const, registers: [this.registry] });
  readonly envelopesDuplicate = new Counter({ name: 'murmur_envelopes_duplicate_total', help: 'Envelopes the router dropped per link as copies of one already seen (on another link, or on this one within its 150 ms window; this device\'s own messages coming back too): the duplicate load each link carries', labelNames: ['link'] as const, registers: [this.registry] });
  readonly linkReopens = new Gauge({ name: 'murmur_link_reopens', help: "Times a radio's serial port was reopened after it went away (unplugged and back), per link (counter value)", labelNames: ['link'] as const, registers: [this.registry] });
  readonly linkBadFrames = new Gauge({ name: 'murmur_link_bad_frames', help: 'Received frames dropped by the link per link and reason (bad-crc, truncated, wrong-fleet, oversized, bad-topic, retained, own-topic-not-sent, ...; counter values): murmur_link_dropped{reason="bad-frame"} split', labelNames: ['link', 'reason'] as const, registers: [this.registry] });
  readonly health = new Gauge({ name: 'murmur_health', help: "1 for the device's health state now (ok, degraded or failing, as /health's `health`; its reasons are there), 0 for the others: /health answers 200 whenever the device is ready, so a probe that reads only the HTTP status, or Prometheus alone, saw no failure", labelNames: ['state'] as const, registers: [this.registry] });
  readonly linkUp = new Gauge({ name: 'murmur_link_up', help: '1 while the link is up (MQTT connected, a radio port open), else 0', labelNames: ['link'] as const, registers: [this.registry] });
  readonly fcLink = new Gauge({ name: 'murmur_fc_link', help: "The flight controller link's counters (hal.driver mavlink): framesSent, framesReceived, bytesReceived, badCrc (frames that failed the CRC check: a bad cable, a baud mismatch, noise), rejectedSignature, rejectedReplay, ... (counter values)", labelNames: ['counter'] as const, registers: [this.registry] });
  readonly txsCommitted = new Counter({ name: 'murmur_txs_committed_total', help: 'Transactions in committed blocks', registers: [this.registry] });
  readonly checkpointHeight = new Gauge({ name: 'murmur_checkpoint_height', help: 'Height of the newest state checkpoint this device holds', registers: [this.registry] });
  readonly stateSync = new Gauge({ name: 'murmur_state_sync', help: 'Snapshots installed by state sync since start, and offers or chunks refused', labelNames: ['outcome'] as const, registers: [this.registry] });
  readonly agentInfo = new Gauge({ name: 'murmur_agent_info', help: 'Always 1: one series per agent naming its inference engine, scheduler state and model', labelNames: ['agent', 'engine', 'state', 'model'] as const, registers: [this.registry] });
  readonly agentRestarts = new Gauge({ name: 'murmur_agent_restarts', help: 'Times the scheduler restarted the agent after a crash or overrun (counter value)', labelNames: ['agent'] as const, registers: [this.registry] });
  readonly agentTicks = new Gauge({ name: 'murmur_agent_ticks', help: 'Ticks the agent completed (counter value)', labelNames: ['agent'] as const, registers: [this.registry] });
  readonly agentOverruns = new Gauge({ name: 'murmur_agent_overruns', help: 'Ticks over the agent CPU budget (counter value)', labelNames: ['agent'] as const, registers: [this.registry] });
  readonly agentModelRefused = new Gauge({ name: 'murmur_agent_model_refused', help: '1 while the model the rollout assigned is refused (hash mismatch, missing file), else 0', labelNames: ['agent'] as const, registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'murmur_process_' });
  }

  /** Sets the agent gauges from the scheduler's status (the info series is rebuilt so old labels go). */
  setAgents(agents: readonly AgentStatusJson[]): void {
    this.agentInfo.reset();
    for (const a of agents) {
      this.agentInfo.set({ agent: a.name, engine: a.engine, state: a.state, model: a.model ?? '' }, 1);
      this.agentRestarts.set({ agent: a.name }, a.restarts);
      this.agentTicks.set({ agent: a.name }, a.ticks);
      this.agentOverruns.set({ agent: a.name }, a.overruns);
      this.agentModelRefused.set({ agent: a.name }, a.modelRefused === null ? 0 : 1);
    }
  }
}

/** Serves GET /metrics and GET /health on loopback; resolves with the bound port. */
export async function startHttp(host: string, port: number, metrics: DeviceMetrics, health: () => HealthView, refresh: () => void): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET' }).end();
      return;
    }
    if (path === '/metrics') {
      refresh();
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        (e: unknown) => res.writeHead(500).end(String(e)),
      );
      return;
    }
    if (path === '/health') {
      const h = health();
      res.writeHead(h.ready ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(h));
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('try /metrics or /health\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port };
}
