// The embedded MQTT broker (aedes) for a gateway device or a laptop fleet: per-device credentials,
// topic ACLs (broker-acl.ts), a maximum packet size enforced before the packet is buffered, a
// connection rate limit and a client cap (on the TCP connection, before a TLS handshake), TCP_NODELAY,
// and drainTimeout so one frozen subscriber cannot stall delivery to everyone. Every rejection is
// logged with its reason.

import net, { type Server, type Socket } from 'node:net';
import tls from 'node:tls';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import { limits } from '../lib/limits.js';
import { checkPasswordAsync, unmatchableHash, publishRefusal, subscribeRefusal, type BrokerCredential, type Identity } from './broker-acl.js';
import { fleetPrefix, parseTopic } from './mqtt-topics.js';
import { PacketSizeGuard } from './packet-size-guard.js';

export { PacketSizeGuard };

export interface BrokerRejection {
  readonly event: 'auth' | 'publish' | 'subscribe' | 'packet-size' | 'rate-limit' | 'clients-max' | 'protocol';
  readonly reason: string;
  readonly client?: string;
  readonly remote?: string;
}

export interface EmbeddedBrokerOptions {
  /** Loopback by default; bind other addresses only on purpose. */
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  readonly credentials: readonly BrokerCredential[];
  /** TLS listener instead of plain TCP. With requestCert, credentials without a password log in by certificate CN. */
  readonly tls?: { readonly key: string | Buffer; readonly cert: string | Buffer; readonly ca?: string | Buffer; readonly requestCert?: boolean };
  readonly packetBytesMax?: number;
  readonly connectsPerSecMax?: number;
  readonly clientsMax?: number;
  readonly drainMs?: number;
  readonly log?: (r: BrokerRejection) => void;
  /**
   * Asked for every delivery of device traffic (consensus, heartbeat, telemetry, unicast, state) from
   * device `from` to subscriber `to`, connected as MQTT client `toClient`; false drops that copy.
   * fleet-sim applies partitions, loss and its twins' split with it; a gateway leaves it unset.
   */
  readonly forward?: (from: string, to: string, toClient: string) => boolean;
}

const rejectionsKept = 200;
/** A TLS client that has not finished its handshake by then is cut (Node's default: 120 s). */
const tlsHandshakeMs = 10_000;
const closeWaitMs = 2_000;

export class EmbeddedBroker {
  private aedes: Aedes | undefined;
  private server: Server | undefined;
  private readonly identities = new WeakMap<Client, Identity>();
  private readonly willTopics = new WeakMap<Client, string>();
  private readonly byId: Map<string, BrokerCredential>;
  private readonly recent: BrokerRejection[] = [];
  private tokens: number;
  private lastRefillMs = Date.now();
  private readonly sockets = new Set<Socket>();
  /** Checked against when a login names no user with a password (see authenticate). */
  private readonly unmatchable = unmatchableHash();
  /** scrypt password checks run so far: one per password login, whether or not its user exists. */
  passwordChecks = 0;
  port = 0;

  constructor(private readonly opts: EmbeddedBrokerOptions) {
    this.byId = new Map(opts.credentials.map((c) => [c.id, c]));
    this.tokens = this.rate();
  }

  get url(): string {
    return `${this.opts.tls ? 'mqtts' : 'mqtt'}://${this.opts.host ?? '127.0.0.1'}:${this.port}`;
  }

  async start(): Promise<void> {
    const aedes = await Aedes.createBroker({
      drainTimeout: this.opts.drainMs ?? limits.brokerDrainMs,
      preConnect: (client, packet, done) => {
        if (packet.will) this.willTopics.set(client, packet.will.topic);
        done(null, true);
      },
      authenticate: (client, username, password, done) => this.authenticate(client, username, password, done),
      authorizePublish: (client, packet, done) => {
        if (!client) return done(null); // the broker's own messages
        const who = this.identities.get(client);
        const max = this.opts.packetBytesMax ?? limits.brokerPacketBytesMax;
        const reason = !who ? 'not authenticated' : packet.payload.length > max ? `payload of ${packet.payload.length} bytes exceeds ${max}` : publishRefusal(who, packet.topic);
        if (reason) {
          this.reject({ event: 'publish', reason, client: client.id });
          return done(new Error(reason));
        }
        done(null);
      },
      authorizeSubscribe: (client, sub, done) => {
        const who = this.identities.get(client);
        const reason = !who ? 'not authenticated' : subscribeRefusal(who, sub.topic);
        if (reason) {
          this.reject({ event: 'subscribe', reason, client: client.id });
          return done(new Error(reason));
        }
        done(null, sub);
      },
      authorizeForward: (client, packet) => {
        const forward = this.opts.forward;
        const who = forward ? this.identities.get(client) : undefined;
        if (!forward || !who) return packet;
        const t = parseTopic(fleetPrefix(who.fleet), packet.topic);
        if (!t || t.type === 'commands' || t.from === who.id) return packet;
        return forward(t.from, who.id, client.id) ? packet : null;
      },
    });
    aedes.on('clientError', (client, e) => this.reject({ event: 'protocol', reason: e.message, client: client.id }));
    this.aedes = aedes;
    const t = this.opts.tls;
    const server = t
      ? tls.createServer({ key: t.key, cert: t.cert, ...(t.ca ? { ca: t.ca } : {}), requestCert: t.requestCert ?? false, rejectUnauthorized: false, handshakeTimeout: tlsHandshakeMs })
      : net.createServer({ noDelay: true });
    this.server = server;
    // The rate and client limits apply to the TCP connection, before any TLS handshake: applied after
    // it, a socket that never finished one held a file descriptor for Node's 120 s handshake timeout,
    // uncounted, so a few thousand of them took every descriptor the broker had.
    if (t) {
      server.on('connection', (raw: Socket) => void this.admitConnection(raw));
      server.on('secureConnection', (socket: Socket) => this.accept(socket));
    } else {
      server.on('connection', (socket: Socket) => this.admitConnection(socket) && this.accept(socket));
    }
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port ?? 0, this.opts.host ?? '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as net.AddressInfo).port;
  }

  async stop(): Promise<void> {
    // Stop listening first, then cut the open connections: a client reconnecting between the two
    // would otherwise hold server.close() open forever.
    const server = this.server;
    this.server = undefined;
    const closed = server ? new Promise<void>((r) => server.close(() => r())) : Promise.resolve();
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await closed;
    const aedes = this.aedes;
    this.aedes = undefined;
    // Every socket is gone already; aedes' close can still wait on a client caught mid-connect, so
    // it gets a bounded time (a stuck close must not hold a shutdown or a restart on the same port).
    if (aedes) await new Promise<void>((r) => {
      const t = setTimeout(r, closeWaitMs);
      aedes.close(() => {
        clearTimeout(t);
        r();
      });
    });
  }

  /** The most recent rejections, oldest first (bounded). */
  rejections(): readonly BrokerRejection[] {
    return this.recent;
  }

  connectedClients(): number {
    return this.aedes?.connectedClients ?? 0;
  }

  private rate(): number {
    return this.opts.connectsPerSecMax ?? limits.brokerConnectsPerSecMax;
  }

  /** Applies the connection rate and client limits to a new TCP connection; false: it was closed. */
  private admitConnection(socket: Socket): boolean {
    if (!this.server) {
      socket.destroy(); // accepted as stop() began
      return false;
    }
    const remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    const now = Date.now();
    this.tokens = Math.min(this.rate(), this.tokens + ((now - this.lastRefillMs) / 1000) * this.rate());
    this.lastRefillMs = now;
    if (this.tokens < 1) {
      this.reject({ event: 'rate-limit', reason: `more than ${this.rate()} connections per second`, remote });
      socket.destroy();
      return false;
    }
    this.tokens -= 1;
    const clientsMax = this.opts.clientsMax ?? limits.brokerClientsMax;
    if (this.sockets.size >= clientsMax) {
      this.reject({ event: 'clients-max', reason: `${clientsMax} clients already connected`, remote });
      socket.destroy();
      return false;
    }
    socket.setNoDelay(true); // under TLS too (net.createServer's noDelay covers plain TCP)
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    return true;
  }

  /** Hands an admitted connection (under TLS: once its handshake is done) to aedes. */
  private accept(socket: Socket): void {
    if (!this.server) {
      socket.destroy(); // accepted as stop() began
      return;
    }
    const remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    const guard = new PacketSizeGuard(this.opts.packetBytesMax ?? limits.brokerPacketBytesMax);
    // A second 'data' listener sees the same chunks as aedes' parser; it cuts the connection as
    // soon as a header announces an oversized packet, before the body is buffered.
    socket.on('data', (chunk: Buffer) => {
      const over = guard.feed(chunk);
      if (over !== undefined) {
        this.reject({ event: 'packet-size', reason: `packet of ${over} bytes exceeds ${this.opts.packetBytesMax ?? limits.brokerPacketBytesMax}`, remote });
        socket.destroy();
      }
    });
    this.aedes?.handle(socket);
  }

  private authenticate(client: Client, username: string | undefined, password: Buffer | undefined, done: (e: AuthenticateError | null, ok: boolean | null) => void): void {
    const fail = (reason: string, code: number) => {
      this.reject({ event: 'auth', reason, client: client.id });
      const e = new Error(reason) as AuthenticateError;
      e.returnCode = code as AuthenticateError['returnCode'];
      done(e, null);
    };
    let id = username;
    let cred = id === undefined ? undefined : this.byId.get(id);
    if (!username && this.opts.tls?.requestCert) {
      const sock = (client as unknown as { conn: tls.TLSSocket }).conn;
      const cn = sock.authorized ? sock.getPeerCertificate()?.subject?.CN : undefined;
      id = typeof cn === 'string' ? cn : undefined;
      cred = id === undefined ? undefined : this.byId.get(id);
      if (!cred || cred.passwordHash !== undefined) return fail(`no verified client certificate for a certificate login (CN ${String(cn)})`, 4);
    } else {
      // Every password login costs one scrypt, whoever it names: an unknown user (or one without a
      // password, or a login without one) is checked against a hash nothing matches, so the answer
      // comes as late as a wrong password's. Answering those at once told a client which user names
      // exist (a timing oracle), the reason code being the same 4 either way.
      const known = cred !== undefined && cred.passwordHash !== undefined && password !== undefined ? cred : undefined;
      this.passwordChecks++;
      void checkPasswordAsync(password ?? Buffer.alloc(0), known?.passwordHash ?? this.unmatchable).then((ok) => {
        if (!cred || id === undefined) return fail(`unknown user "${String(username)}"`, 4);
        if (!known || !ok) return fail(`bad password for "${id}"`, 4);
        this.admit(client, known, fail, done);
      });
      return;
    }
    this.admit(client, cred, fail, done);
  }

  /** After the credential checked out: the client id and will rules, then the identity is bound. */
  private admit(client: Client, cred: BrokerCredential, fail: (reason: string, code: number) => void, done: (e: AuthenticateError | null, ok: boolean | null) => void): void {
    const who: Identity = { id: cred.id, role: cred.role, fleet: cred.fleet };
    // MQTT lets a new connection with the same client id take over the old one: a device must not be
    // able to knock another off the broker by borrowing its id. Ids "murmur-..." are reserved.
    const own = [`murmur-${cred.fleet}-${cred.id}`, `murmur-ctl-${cred.fleet}-${cred.id}`].map((x) => x.slice(0, 64));
    if (client.id.startsWith('murmur-') && !own.includes(client.id)) return fail(`client id "${client.id}" belongs to another node (${cred.id} may use ${own.join(' or ')})`, 2);
    const will = this.willTopics.get(client);
    const willRefused = will === undefined ? undefined : publishRefusal(who, will);
    if (willRefused) return fail(`will topic refused: ${willRefused}`, 5);
    this.identities.set(client, who);
    done(null, true);
  }

  private reject(r: BrokerRejection): void {
    this.recent.push(r);
    if (this.recent.length > rejectionsKept) this.recent.shift();
    this.opts.log?.(r);
  }
}
