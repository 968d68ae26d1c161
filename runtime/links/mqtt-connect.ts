// Opens an mqtt.js client. For mqtt:// and mqtts:// it builds the TCP or TLS stream itself (as mqtt.js's
// own tcp and tls builders do) because mqtt.connect() loads every transport on each call: ws, socks and
// ip-address are 36 modules and ~1.4 MB of heap that a device talking TCP to its broker never uses.
// Anything else (ws:// and wss://, credentials or a query in the URL, a SOCKS proxy) goes through
// mqtt.connect() unchanged.

import { connect as netConnect, isIP, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import type { IClientOptions } from 'mqtt';
import { limits } from '../lib/limits.js';
import { brokerUrlProblem, redactBrokerUrl } from './broker-url.js';
import { OversizedPublishFilter } from './oversized-publish-filter.js';
import { traceNow, tracing } from '../lib/trace.js';
import { requireCjs } from '../lib/require-cjs.js';
import { withinMs } from '../lib/within.js';

// Required, not imported: about 0.1 s of CPU less at every start (runtime/lib/require-cjs.ts).
const mqtt = requireCjs('mqtt') as typeof import('mqtt');
const { MqttClient } = mqtt;
type MqttClient = import('mqtt').MqttClient;

/** CONNACK codes that no retry changes (MQTT 3.1.1: protocol version, identifier, credentials, not
 *  authorized; 5: the same and banned, bad authentication method): MqttLink.start() throws them. The rest
 *  (the broker unavailable or busy) are retried. */
export const configRefusals: ReadonlySet<number> = new Set([1, 2, 4, 5, 132, 133, 134, 135, 138, 140]);
/** Of those, the login's: bad user name or password, not authorized (3.1.1: 4, 5; 5: 134, 135). */
const credentialRefusals: ReadonlySet<number> = new Set([4, 5, 134, 135]);

/** Whether an error is the broker refusing this client's login (a CONNACK with a credentialRefusals
 *  code): no retry with the same user name and password changes it, so it is said as such, not as a
 *  broker that cannot be reached. */
export function loginRefused(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'number' && credentialRefusals.has(code);
}

/**
 * `packetBytesMax`: a PUBLISH from the broker announced larger than this (default
 * limits.brokerPacketBytesMax, the most any Murmur client publishes) is skipped from its header on
 * (oversizedPublishEvent; at QoS 1 a stub with no payload takes its place, for mqtt.js to acknowledge),
 * and any other packet that large closes the connection with an 'error' naming its size. mqtt-packet has
 * no limit of its own under MQTT 3.1.1: it buffered whatever a broker announced, up to 256 MB.
 */
export function connectMqtt(url: string, options: IClientOptions, packetBytesMax: number = limits.brokerPacketBytesMax): MqttClient {
  const problem = brokerUrlProblem(url);
  if (problem !== null) throw new Error(`broker URL "${redactBrokerUrl(url)}": ${problem}`);
  const u = new URL(url);
  const tcpOrTls = u.protocol === 'mqtt:' || u.protocol === 'mqtts:';
  const needsMqttJs = u.username !== '' || u.password !== '' || u.search !== '' || options.socksProxy !== undefined || (process.env.MQTTJS_SOCKS_PROXY ?? '') !== '';
  if (!tcpOrTls || needsMqttJs) {
    // mqtt.js builds the stream: connect once its builder is wrapped.
    const c = mqtt.connect(url, { ...options, manualConnect: true });
    // streamBuilder is private in mqtt.js's types; connect() calls it for every (re)connection.
    const own = c as unknown as { streamBuilder: (client: MqttClient) => Duplex };
    const build = own.streamBuilder.bind(c);
    own.streamBuilder = (client) => guardPackets(client, build(client), packetBytesMax);
    if (options.manualConnect === undefined) delete c.options.manualConnect;
    else c.options.manualConnect = options.manualConnect;
    return options.manualConnect === true ? c : c.connect();
  }
  // mqtt.js upgrades mqtt:// to TLS when a client certificate and key are given; so does this.
  const tls = u.protocol === 'mqtts:' || (options.cert !== undefined && options.key !== undefined);
  const host = u.hostname === '' ? 'localhost' : u.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = u.port !== '' ? Number(u.port) : tls ? 8883 : 1883;
  const client = new MqttClient(
    (c) => guardPackets(c, tls ? tlsStream(c, host, port, options) : netConnect({ host, port }), packetBytesMax),
    { ...options, protocol: tls ? 'mqtts' : 'mqtt', host, hostname: host, port },
  );
  client.on('error', () => undefined); // as mqtt.connect(): callers add their own handlers
  return client;
}

/** What a client emits (as `oversizedPublishEvent`) for each PUBLISH the broker sent over the bound, which
 *  was skipped (and acknowledged at QoS 1) rather than parsed. */
export const oversizedPublishEvent = 'murmur-oversized-publish';

/** What the socket emits with each chunk as the broker sent it, before the filter (the 'data' listeners
 *  get what is left of it): murmurctl tells a server that is no MQTT broker by its first byte. */
export const rawDataEvent = 'murmur-raw-data';

/**
 * Filters the packets the broker sends before mqtt.js parses them (as the embedded broker guards its
 * clients'): an oversized PUBLISH is cut out and reported (oversized-publish-filter.ts); any other
 * oversized or malformed packet ends the connection. mqtt.js reads the socket through pipe(), that is
 * through its 'data' events, so the filter sits in the socket's emit: the socket itself stays what
 * mqtt.js and flushNow hold (setNoDelay, cork, destroy).
 */
function guardPackets<S extends Duplex>(client: MqttClient, stream: S, max: number): S {
  const filter = new OversizedPublishFilter(max);
  const emit = stream.emit.bind(stream) as (event: string | symbol, ...args: unknown[]) => boolean;
  (stream as { emit: (event: string | symbol, ...args: unknown[]) => boolean }).emit = (event, ...args) => {
    if (event !== 'data' || !Buffer.isBuffer(args[0])) return emit(event, ...args);
    if (tracing) (client as unknown as { traceDataAt?: number }).traceDataAt = traceNow();
    if (stream.destroyed) return false;
    if (stream.listenerCount(rawDataEvent) > 0) emit(rawDataEvent, args[0]);
    const r = filter.feed(args[0]);
    // Before the bytes go on: the listener learns a skipped PUBLISH's id before mqtt.js parses its stub.
    for (const p of r.skipped) (client as unknown as NodeJS.EventEmitter).emit(oversizedPublishEvent, p);
    if (r.fatal !== null) {
      if (r.out.length > 0) emit('data', r.out); // the packets before the one that ends it
      stream.destroy();
      client.emit('error', new Error(`broker sent ${r.fatal}: connection closed`));
      return false;
    }
    return r.out.length === 0 ? true : emit('data', r.out);
  };
  return stream;
}

/** mqtt.js's TLS stream builder (lib/connect/tls.js) for the TLS options Murmur sets: ca, cert, key, rejectUnauthorized, servername. */
function tlsStream(client: MqttClient, host: string, port: number, o: IClientOptions): ReturnType<typeof tlsConnect> {
  const rejectUnauthorized = o.rejectUnauthorized !== false;
  const socket = tlsConnect({
    host,
    port,
    rejectUnauthorized,
    ...(isIP(host) === 0 ? { servername: o.servername ?? host } : o.servername !== undefined ? { servername: o.servername } : {}),
    ...(o.ca !== undefined ? { ca: o.ca } : {}),
    ...(o.cert !== undefined ? { cert: o.cert } : {}),
    ...(o.key !== undefined ? { key: o.key } : {}),
  });
  const onHandshakeError = (e: Error): void => {
    if (rejectUnauthorized) client.emit('error', e);
    socket.end();
  };
  socket.on('error', onHandshakeError);
  socket.on('secureConnect', () => {
    if (rejectUnauthorized && !socket.authorized) socket.emit('error', new Error('TLS not authorized'));
    else socket.removeListener('error', onHandshakeError);
  });
  return socket;
}

/**
 * Writes what mqtt.js queued on the socket now. mqtt-packet corks the socket for each packet and uncorks
 * it on the next tick, so a packet published in the middle of synchronous work leaves only when that
 * work is done: a validator's vote sat in the socket while the node fsynced the steps its own vote
 * caused, ~1-3 ms a hop. Every write of a packet is made before publish returns, so uncorking here
 * still sends each packet whole; the pending next-tick uncorks then find nothing corked.
 */
export function flushNow(c: MqttClient): void {
  const s = c.stream as unknown as Partial<Socket> | undefined;
  if (!s || typeof s.uncork !== 'function') return;
  for (let i = 0; i < 1_024 && (s.writableCorked ?? 0) > 0; i++) s.uncork();
}

/**
 * Ends a client within `boundMs`, whatever the broker does. mqtt.js's graceful end() waits for every
 * QoS 1 packet still unacknowledged and stops reconnecting first: a publish or subscribe made while the
 * broker was down, or one a broker never acknowledges (frozen, or hostile), kept end() waiting for ever.
 * Connected, the DISCONNECT goes out after what is in flight, for up to `boundMs`; not connected there is
 * nothing to wait for. Then the socket is destroyed, which ends the client (its 'close' clears the
 * keepalive, and no reconnect follows an end()): a second end(), forced or not, is a no-op once one
 * began, and mqtt.js's end() leaves the socket open when the broker never sent CONNACK (until its
 * connect timeout) or stopped reading (the DISCONNECT is never written; until the keepalive gives up).
 */
export async function closeMqtt(c: MqttClient, boundMs = 2_000): Promise<void> {
  await withinMs(c.endAsync(!c.connected), boundMs);
  (c.stream as Partial<Socket> | undefined)?.destroy?.();
}
