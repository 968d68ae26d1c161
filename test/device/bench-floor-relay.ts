// One "validator" of bench:e2e's floor (bench-floor.ts): the messages of one Tendermint height and
// nothing else. On a command from the bench, the height's proposer publishes a signed proposal; every
// relay prevotes on the proposal, precommits on a quorum of prevotes, and the proposer acks on a quorum
// of precommits. Ed25519 with the backend a device uses, QoS 1 and TCP_NODELAY as a device's MQTT link,
// and its topic plan: each relay publishes on topics of its own and subscribes to the others' (a device
// subscribes per peer, so the broker never echoes its own messages back), counting its own votes as it
// casts them, as a device's shell does. No WAL, no edge checks, no mempool, no agents, no telemetry.
// (Until 2026-12-05 the relays subscribed to floor/#: each also received and verified its own three
// messages per height, n more deliveries per kind than a device gets; npm run bench:transport measures
// both plans, `signed` and `peers`.) Usage (forked by bench-floor.ts):
// bench-floor-relay.ts <index> <n> <broker url>

import mqtt from 'mqtt';
import { createSigner, createVerifier, initCrypto, keyPairFromSeed } from '../../runtime/crypto/sodium.js';

const [index, n, url] = [Number(process.argv[2]), Number(process.argv[3]), String(process.argv[4])];
const quorum = Math.floor((2 * n) / 3) + 1;
await initCrypto();
const keys = Array.from({ length: n }, (_, i) => keyPairFromSeed(new Uint8Array(32).fill(i + 1)));
const signer = createSigner(keys[index]!);
const verifier = createVerifier();
const prevotes = new Map<number, Set<number>>();
const precommits = new Map<number, Set<number>>();
const done = new Set<string>();

const c = mqtt.connect(url, { clientId: `floor-${index}-${process.pid}` });

/** A message: sender index (1 byte), signature (64), body (a 150-byte vote-sized payload naming kind and height). */
function publish(kind: string, height: number): void {
  const body = Buffer.alloc(150);
  body.write(`${kind}:${height}:${index}`);
  const sig = signer.sign(body);
  c.publish(`floor/${kind}/${index}`, Buffer.concat([Buffer.from([index]), sig, body]), { qos: 1 });
  // Its own message, as the shell takes its own: at once, not after the broker's echo.
  if (kind === 'proposal' && first(`prevote:${height}`)) publish('prevote', height);
  if (kind === 'prevote' || kind === 'precommit') onVote(kind, height, index);
}

/** True the first time for a key: each relay sends each message of a height once. */
const first = (key: string): boolean => !done.has(key) && done.add(key) !== undefined;

function count(m: Map<number, Set<number>>, height: number, from: number): number {
  const s = m.get(height) ?? new Set<number>();
  m.set(height, s);
  s.add(from);
  return s.size;
}

c.on('message', (topic, m: Buffer) => {
  const kind = topic.split('/')[1];
  if (kind === 'cmd') {
    const h = Number(m.toString());
    if (h % n === index && first(`proposal:${h}`)) publish('proposal', h);
    return;
  }
  if (kind !== 'proposal' && kind !== 'prevote' && kind !== 'precommit') return;
  const from = m[0] as number;
  const body = m.subarray(65);
  if (from >= n || !verifier.verify(m.subarray(1, 65), body, keys[from]!.publicKey)) return;
  const h = Number(body.toString().split(':')[1]);
  if (kind === 'proposal' && first(`prevote:${h}`)) publish('prevote', h);
  if (kind === 'prevote' || kind === 'precommit') onVote(kind, h, from);
});

function onVote(kind: 'prevote' | 'precommit', h: number, from: number): void {
  if (kind === 'prevote' && count(prevotes, h, from) >= quorum && first(`precommit:${h}`)) publish('precommit', h);
  if (kind === 'precommit' && count(precommits, h, from) >= quorum && h % n === index && first(`ack:${h}`)) c.publish('floor/ack', String(h), { qos: 1 });
}
c.on('connect', () => {
  (c.stream as unknown as { setNoDelay?: (b: boolean) => void }).setNoDelay?.(true);
  const others = Array.from({ length: n }, (_, i) => i).filter((i) => i !== index);
  const topics = ['floor/cmd', ...['proposal', 'prevote', 'precommit'].flatMap((k) => others.map((i) => `floor/${k}/${i}`))];
  c.subscribe(topics, { qos: 1 }, () => process.send?.('ready'));
});
process.on('disconnect', () => process.exit(0));
