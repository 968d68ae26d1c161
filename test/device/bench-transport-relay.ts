// One relay of bench-transport.ts. Modes:
//   chain   relay i < 3 republishes hop i as hop i+1 (no crypto): a 3-hop ping-pong with every relay
//           subscribed to every hop, so each hop fans out to n relays, as a height's messages do.
//   plain   one Tendermint height (on a command the proposer proposes, all prevote, all precommit on a
//           quorum of prevotes, the proposer acks on a quorum of precommits) without sign or verify.
//   signed  the same, each message signed and each received one verified, every relay subscribed to
//           floor/# (bench:e2e's floor until 2026-12-05: each also heard and verified its own messages).
//   peers   signed, with a device's topic plan: each relay publishes on its own topics and hears only
//           the others' (a device's MqttLink subscribes per peer), counting its own votes as it casts them.
//           bench:e2e's floor (bench-floor.ts) runs this mode: Ed25519 with a device's backend, QoS 1 and
//           TCP_NODELAY as a device's MQTT link; no WAL, edge checks, mempool, agents or telemetry.
// TRANSPORT_QOS (default 1): the QoS of the relays' publishes; subscriptions are QoS 1, as a device's.
// Usage (forked by bench-transport.ts and bench-floor.ts): bench-transport-relay.ts <mode> <index> <n> <broker url>

import mqtt from 'mqtt';
import { createSigner, createVerifier, initCrypto, keyPairFromSeed } from '../../runtime/crypto/sodium.js';

const [mode, index, n, url] = [String(process.argv[2]), Number(process.argv[3]), Number(process.argv[4]), String(process.argv[5])];
const quorum = Math.floor((2 * n) / 3) + 1;
await initCrypto();
const keys = Array.from({ length: n }, (_, i) => keyPairFromSeed(new Uint8Array(32).fill(i + 1)));
const signer = createSigner(keys[index]!);
const verifier = createVerifier();
const signed = mode === 'signed' || mode === 'peers';
const peers = mode === 'peers';
const votes = new Map<string, Set<number>>();
const done = new Set<string>();
const qos = Number(process.env.TRANSPORT_QOS ?? 1) as 0 | 1;
const c = mqtt.connect(url, { clientId: `transport-${mode}-${index}-${process.pid}` });

function publish(kind: string, height: number): void {
  const body = Buffer.alloc(150);
  body.write(`${kind}:${height}:${index}`);
  const sig = signed ? signer.sign(body) : new Uint8Array(64);
  c.publish(peers ? `floor/${kind}/${index}` : `floor/${kind}`, Buffer.concat([Buffer.from([index]), sig, body]), { qos });
  if (peers && kind !== 'proposal') onVote(kind, height, index);
  if (peers && kind === 'proposal' && first(`prevote:${height}`)) publish('prevote', height);
}
const first = (key: string): boolean => !done.has(key) && done.add(key) !== undefined;
function count(kind: string, height: number, from: number): number {
  const k = `${kind}:${height}`;
  const s = votes.get(k) ?? new Set<number>();
  votes.set(k, s);
  s.add(from);
  return s.size;
}

c.on('message', (topic, m: Buffer) => {
  if (mode === 'chain') {
    const hop = Number(topic.slice('chain/'.length));
    if (hop === index && hop < 3) c.publish(`chain/${hop + 1}`, m, { qos });
    return;
  }
  const kind = peers ? (topic.split('/')[1] as string) : topic.slice('floor/'.length);
  if (kind === 'cmd') {
    const h = Number(m.toString());
    if (h % n === index && first(`proposal:${h}`)) publish('proposal', h);
    return;
  }
  if (kind !== 'proposal' && kind !== 'prevote' && kind !== 'precommit') return;
  const from = m[0] as number;
  const body = m.subarray(65);
  if (from >= n || (signed && !verifier.verify(m.subarray(1, 65), body, keys[from]!.publicKey))) return;
  const h = Number(body.toString().split(':')[1]);
  if (kind === 'proposal' && first(`prevote:${h}`)) publish('prevote', h);
  if (kind === 'prevote' || kind === 'precommit') onVote(kind, h, from);
});
function onVote(kind: string, h: number, from: number): void {
  if (kind === 'prevote' && count(kind, h, from) >= quorum && first(`precommit:${h}`)) publish('precommit', h);
  if (kind === 'precommit' && count(kind, h, from) >= quorum && h % n === index && first(`ack:${h}`)) c.publish('floor/ack', String(h), { qos });
}
c.on('connect', () => {
  (c.stream as unknown as { setNoDelay?: (b: boolean) => void }).setNoDelay?.(true);
  const others = Array.from({ length: n }, (_, i) => i).filter((i) => i !== index);
  const topics = mode === 'chain' ? ['chain/#'] : peers ? ['floor/cmd', ...['proposal', 'prevote', 'precommit'].flatMap((k) => others.map((i) => `floor/${k}/${i}`))] : ['floor/#'];
  c.subscribe(topics, { qos: 1 }, () => process.send?.('ready'));
});
process.on('disconnect', () => process.exit(0));
