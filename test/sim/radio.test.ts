// The simulated serial radio: the runtime's SerialLink and Router modelled in the deterministic world.
// Unit cases drive RadioNet on a bare event queue (airtime, fragments, range, relays, hop limit,
// duplicates); scenario cases show the broker outage ridden through on radio and a lossy line of
// devices that reaches its quorum only through relays. A failure prints the seed and the replay.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Prng } from '../../runtime/lib/prng.js';
import { createSigner, generateKeyPair, initCrypto } from '../../runtime/crypto/sodium.js';
import { sealEnvelope } from '../../runtime/wire/envelope.js';
import { defaultStaleMs } from '../../runtime/links/airtime.js';
import { fragmentBytesMax } from '../../runtime/links/radio-frame.js';
import { parseScenario } from '../../fleet-sim/scenario/parse.js';
import type { RadioModel, Scenario } from '../../fleet-sim/scenario/scenario.js';
import { EventQueue } from '../../fleet-sim/sim/event-queue.js';
import { RadioNet } from '../../fleet-sim/sim/radio-net.js';
import { runScenario, type Report } from '../../fleet-sim/sim/run.js';
import type { World } from '../../fleet-sim/sim/world.js';
import { scenario } from './helpers.js';

const sik: RadioModel = { baud: 57_600, mtuBytes: 252, loss: 0, rangeM: 100, hopLimit: 3 };

/** n radios on a line `spacingM` apart; records what each receives and when. */
function line(n: number, spacingM: number, model: RadioModel = sik) {
  const queue = new EventQueue();
  const got: { to: number; at: number; bytes: Uint8Array; relayed: boolean }[] = [];
  const radio = new RadioNet(
    model,
    {
      now: () => queue.now,
      at: (t, fire) => queue.at(t, fire),
      position: (i) => ({ northM: 0, eastM: i * spacingM }),
      blocked: () => false,
      deliver: (to, bytes, relayed) => got.push({ to, at: queue.now, bytes, relayed }),
    },
    new Prng(5),
    n,
  );
  for (let i = 0; i < n; i++) radio.boot(i);
  return { queue, radio, got };
}

describe('RadioNet (the runtime radio link, simulated)', () => {
  it('paces a sender by airtime: 20 one-packet envelopes at 57600 baud take 20 packet times', () => {
    const { queue, radio, got } = line(2, 10, { ...sik, hopLimit: 1 });
    for (let k = 0; k < 20; k++) expect(radio.send(0, null, new Uint8Array(200).fill(k), 'consensus')).toBe(true);
    queue.runUntil(60_000, 1e6);
    expect(got.length).toBe(20);
    // 200 bytes + 16 header + 4 CRC + 2 COBS = 222 bytes on the air, 10 bits each at 57600 baud.
    const packetMs = (222 * 10_000) / 57_600;
    expect(got.at(-1)?.at ?? 0).toBeCloseTo(20 * packetMs, 0);
    expect(radio.counters.bytesSent).toBe(20 * 222);
  });

  it('fragments at the MTU and reassembles: a 1000-byte envelope is 5 packets and arrives whole once', () => {
    const { queue, radio, got } = line(2, 10, { ...sik, hopLimit: 1 });
    const envelope = Uint8Array.from({ length: 1000 }, (_, i) => i & 0xff);
    radio.send(0, null, envelope, 'consensus');
    queue.runUntil(10_000, 1e6);
    expect(radio.counters.packetsSent).toBe(Math.ceil(1000 / fragmentBytesMax(252, false)));
    expect(got.map((g) => g.to)).toEqual([1]);
    expect(got[0]?.bytes).toBe(envelope);
  });

  it('reaches a device out of range through flood relays, no further than the hop limit', () => {
    // Range 100 m, 80 m apart: each radio hears only its neighbours. From node 0, three hops reach node 3.
    const { queue, radio, got } = line(6, 80);
    radio.send(0, null, new Uint8Array(50), 'consensus');
    queue.runUntil(10_000, 1e6);
    const reached = got.map((g) => g.to).sort();
    expect(reached).toEqual([1, 2, 3]);
    expect(got.find((g) => g.to === 1)?.relayed).toBe(false);
    expect(got.find((g) => g.to === 3)?.relayed).toBe(true);
    // Nodes 1 and 2 relay (hops 3 -> 2 -> 1); node 3 hears hops 1 and does not relay.
    expect(radio.counters.relays).toBe(2);
    expect(radio.counters.duplicates).toBeGreaterThan(0); // node 0 hears its own packet relayed back
    // On a line a radio hears at most two copies before its own relay: suppression never cuts one.
    expect(radio.counters.relaysSuppressed).toBe(0);
  });

  it('in a dense mesh cancels relays once a packet was heard relaySuppress times, and every radio still gets everything', () => {
    // Ten radios 1 m apart, all in range, hop limit 3: every hearer of a packet would relay it.
    const run = (model: RadioModel) => {
      const { queue, radio, got } = line(10, 1, model);
      for (let k = 0; k < 20; k++) {
        queue.at(k * 200, () => radio.send(0, null, new Uint8Array(400).fill(k), 'consensus')); // 2 fragments each
        queue.runUntil(k * 200, 1e6);
      }
      queue.runUntil(60_000, 1e6);
      return { c: radio.counters, got };
    };
    const off = run({ ...sik, relaySuppress: 0, relayJitterMs: 0 });
    const on = run(sik); // the runtime's defaults: 3 copies, a wait of up to four packets' airtime
    for (const r of [off, on]) {
      expect(r.got.length).toBe(9 * 20); // each of the nine others received each envelope once
      expect(r.c.envelopesQueued).toBe(20);
    }
    expect(off.c.relays).toBe(9 * 40); // every hearer relayed both fragments of every envelope
    expect(off.c.relaysSuppressed).toBe(0);
    expect(on.c.relaysSuppressed).toBeGreaterThan(0);
    expect(on.c.relays + on.c.relaysSuppressed).toBe(9 * 40); // each relay either went out or was cancelled
    expect(on.c.relays).toBeLessThan(off.c.relays / 2);
  });

  it('a heartbeat always finds room (older whole heartbeats make way, as SerialLink does), and what relays are remembered stays bounded', () => {
    // Ten radios in range, each sending a heartbeat every 5 ms: far more than 57600 baud carries.
    const { queue, radio } = line(10, 1);
    let refused = 0;
    for (let k = 0; k < 400; k++) {
      queue.at(k * 5, () => {
        for (let i = 0; i < 10; i++) if (!radio.send(i, null, new Uint8Array(120).fill(k & 0xff), 'heartbeat')) refused++;
      });
    }
    queue.runUntil(2_000, 1e7);
    expect(refused).toBe(0);
    expect(radio.counters.dropped.queueFull).toBeGreaterThan(0); // older heartbeats made way
    const ports = (radio as unknown as { ports: ({ relaysQueued: Map<string, unknown>; relaysTrackedMax: number } | null)[] }).ports;
    for (const p of ports) expect(p?.relaysQueued.size ?? 0).toBeLessThanOrEqual(p?.relaysTrackedMax ?? 0);
    queue.runUntil(60_000, 1e7);
  });

  it('a radio that votes keep full still sends a heartbeat and a block-sync answer within their shares of the airtime', async () => {
    await initCrypto();
    const signer = createSigner(generateKeyPair());
    const answer = sealEnvelope('sync-response', 'sim', 'v0', new Uint8Array(1_500).fill(7), signer); // 7 packets
    const { queue, radio, got } = line(2, 10, { ...sik, hopLimit: 1 });
    // Two 200-byte votes every 5 ms for 2 s: ten times what 57600 baud carries (a packet is 38.5 ms).
    for (let k = 0; k < 400; k++) queue.at(k * 5, () => [0, 1].forEach((j) => radio.send(0, null, new Uint8Array(200).fill((k * 2 + j) & 0xff), 'consensus')));
    queue.at(100, () => radio.send(0, null, new Uint8Array(120).fill(9), 'heartbeat'));
    queue.at(100, () => radio.send(0, null, answer, 'consensus'));
    queue.runUntil(2_000, 1e7);
    const at = (bytes: Uint8Array): number => got.find((g) => g.bytes === bytes || (g.bytes.length === bytes.length && g.bytes[0] === bytes[0] && bytes[0] === 9))?.at ?? Infinity;
    // Before: strict lane order sent neither while the votes kept coming. Heartbeat share 10 %: about
    // ten packets' wait (0.4 s); bulk 25 %: its seven packets at one in four (1.1 s).
    expect(at(new Uint8Array(120).fill(9))).toBeLessThan(600);
    expect(at(answer)).toBeLessThan(1_500);
    queue.runUntil(60_000, 1e7);
  });

  it('an envelope longer on the air than the stale limit still arrives whole while heartbeats go out between its fragments', () => {
    const { queue, radio, got } = line(2, 10, { ...sik, hopLimit: 1 });
    const proposal = new Uint8Array(60 * 230).fill(3); // 60 packets: 2.3 s of air, past the 2 s limit
    radio.send(0, null, proposal, 'consensus');
    for (let k = 0; k < 20; k++) queue.at(k * 200, () => radio.send(0, null, new Uint8Array(120).fill(k), 'heartbeat'));
    queue.runUntil(10_000, 1e7);
    // Before: each heartbeat moved the on-air mark off the proposal, whose rest was dropped as stale.
    expect(radio.counters.dropped.stale).toBe(0);
    expect(got.filter((g) => g.bytes.length === proposal.length).length).toBe(1);
    expect(got.filter((g) => g.bytes.length === 120).length).toBeGreaterThan(10);
  });

  it('consensus leaves before telemetry queued ahead of it', () => {
    const { queue, radio, got } = line(2, 10);
    const tele = (k: number): Uint8Array => Uint8Array.from({ length: 220 }, (_, i) => (i === 219 ? k : 1));
    const vote = new Uint8Array(100).fill(2);
    for (let k = 0; k < 5; k++) radio.send(0, null, tele(k), 'telemetry');
    radio.send(0, null, vote, 'consensus');
    queue.runUntil(10_000, 1e6);
    // The first telemetry packet was already on the air; the vote goes next.
    expect(got.map((g) => g.bytes[0])).toEqual([1, 2, 1, 1, 1, 1]);
  });

  it("a vote goes on the air before the rest of a block-sync answer queued ahead of it (SerialLink's bulk lane)", async () => {
    await initCrypto();
    const signer = createSigner(generateKeyPair());
    const answer = sealEnvelope('sync-response', 'sim', 'v0', new Uint8Array(1_500).fill(7), signer); // 7 packets, ~300 ms
    const vote = sealEnvelope('prevote', 'sim', 'v0', new Uint8Array(40).fill(4), signer);
    const { queue, radio, got } = line(2, 10, { ...sik, hopLimit: 1 });
    radio.send(0, null, answer, 'consensus');
    queue.runUntil(50, 1e6); // its first packet is on the air
    radio.send(0, null, vote, 'consensus');
    queue.runUntil(10_000, 1e6);
    expect(got.map((g) => (g.bytes === vote ? 'vote' : g.bytes === answer ? 'answer' : 'other'))).toEqual(['vote', 'answer']);
    expect(radio.counters.dropped.stale).toBe(0);
  });

  it('does not queue an envelope again while a copy of it still waits, and does once that copy is on the air', () => {
    const { queue, radio, got } = line(2, 10, { ...sik, hopLimit: 1 });
    // A 7-fragment proposal re-broadcast every 50 ms: its airtime is ~270 ms, so the copies sent while
    // it waits are not queued; one sent after its last fragment went out is.
    const proposal = Uint8Array.from({ length: 7 * fragmentBytesMax(252, false) }, (_, i) => i & 0xff);
    for (let t = 0; t <= 200; t += 50) queue.at(t, () => expect(radio.send(0, null, proposal, 'consensus')).toBe(true));
    queue.at(400, () => radio.send(0, null, proposal, 'consensus'));
    // A unicast of the same bytes is another message (other header, other destination).
    queue.at(10, () => radio.send(0, 1, proposal, 'consensus'));
    queue.runUntil(10_000, 1e6);
    expect(radio.counters.coalesced).toBe(4);
    expect(radio.counters.envelopesQueued).toBe(3);
    expect(got.length).toBe(3);
  });

  it('a send the waiting copy absorbs wants it again: the stale limit runs from then, so the copy still goes', () => {
    // 9600 baud: 45 envelopes of 200 bytes ahead of the vote (~10.6 s of airtime), stale limit 8.4 s.
    const { queue, radio, got } = line(2, 10, { ...sik, baud: 9_600, hopLimit: 1 });
    for (let k = 0; k < 45; k++) radio.send(0, null, new Uint8Array(200).fill(k + 1), 'consensus');
    const vote = new Uint8Array(120).fill(200);
    radio.send(0, null, vote, 'consensus');
    queue.at(6_000, () => radio.send(0, null, vote, 'consensus')); // consensus re-broadcasts it
    queue.runUntil(30_000, 1e6);
    expect(radio.counters.coalesced).toBe(1);
    expect(radio.counters.envelopesQueued).toBe(46);
    expect(radio.counters.dropped.stale).toBeGreaterThan(0); // the backlog ahead of it did expire
    expect(got.filter((g) => g.bytes[0] === 200).length).toBe(1);
    // Telemetry is never coalesced (only consensus is tracked).
    const t = new Uint8Array(50).fill(9);
    radio.send(0, null, t, 'telemetry');
    radio.send(0, null, t, 'telemetry');
    expect(radio.counters.envelopesQueued).toBe(48);
  });

  it('loses packets per receiver with the scenario loss, from the seed', () => {
    const { queue, radio, got } = line(2, 10, { ...sik, loss: 0.3, hopLimit: 1 });
    // One envelope every 20 ms: well within the airtime, so none waits long enough to go stale.
    for (let k = 0; k < 400; k++) queue.at(k * 20, () => radio.send(0, null, new Uint8Array(40), 'consensus'));
    queue.runUntil(600_000, 1e7);
    expect(got.length).toBeGreaterThan(230);
    expect(got.length).toBeLessThan(330);
    expect(radio.counters.dropped.loss).toBe(400 - got.length);
    expect(radio.counters.dropped.stale).toBe(0);
  });

  it('drops consensus that waited past the stale limit unsent, as the serial link does', () => {
    const { queue, radio, got } = line(2, 10, { ...sik, baud: 9_600 });
    // 100 envelopes of 222 bytes on the air at 960 B/s; the lane holds one largest envelope's bytes
    // (64 packets, 16,128 bytes: more than 10 s of this radio's air), so 72 wait besides the one on
    // the air at once (73 taken, 16.9 s of airtime) and 27 are refused. They may wait only the radio's stale limit (32 packets of airtime
    // here, 8.4 s, as SerialLink's default).
    const staleMs = defaultStaleMs(sik.mtuBytes, 960);
    expect(staleMs).toBe(8_400);
    const accepted = Array.from({ length: 100 }, (_, k) => radio.send(0, null, new Uint8Array(200).fill(k), 'consensus')).filter(Boolean).length;
    expect(accepted).toBe(Math.floor((64 * 252) / 222) + 1);
    expect(radio.counters.dropped.queueBytes).toBe(100 - accepted);
    queue.runUntil(120_000, 1e6);
    expect(radio.counters.dropped.stale).toBeGreaterThan(25);
    expect(got.length + radio.counters.dropped.stale).toBe(accepted);
    const order = got.map((g) => g.bytes[0] as number);
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(Math.max(...got.map((g) => g.at))).toBeLessThan(staleMs + 1_000);
  });

  it('refuses an envelope past 64 fragments and one that does not fit the queue whole', () => {
    // Ten times SiK's baud, so the lane's airtime bound (10 s, 576,000 bytes) is not what binds here.
    const { radio } = line(2, 10, { ...sik, baud: 576_000 });
    expect(radio.send(0, null, new Uint8Array(65 * fragmentBytesMax(252, false)), 'consensus')).toBe(false);
    expect(radio.counters.dropped.oversize).toBe(1);
    // The telemetry queue holds 256 packets: the 5th 60-fragment envelope does not fit whole.
    const big = (k: number): Uint8Array => new Uint8Array(60 * fragmentBytesMax(252, false)).fill(k);
    const accepted = [0, 1, 2, 3, 4].map((k) => radio.send(0, null, big(k), 'telemetry'));
    expect(accepted).toEqual([true, true, true, true, false]);
    expect(radio.counters.dropped.queueFull).toBe(1);
    expect(radio.counters.dropped.queueBytes).toBe(0);
  });

  it("holds at most 10 s of airtime per lane (SerialLink's radioQueueBytes): a burst of the largest envelopes is refused whole past it, counted by bytes, and what was held is sent", () => {
    const { queue, radio, got } = line(2, 10, { ...sik, hopLimit: 1 });
    // 64 packets of 252 bytes, 2.8 s on the air at 57600 baud; 10 s (57,600 bytes) holds 3 of them.
    // Before: 16 (1,024 packets, 258 KB, 45 s of airtime), and nothing counted.
    const largest = (k: number): Uint8Array => new Uint8Array(64 * fragmentBytesMax(252, false)).fill(k);
    const accepted = Array.from({ length: 20 }, (_, k) => radio.send(0, null, largest(k), 'consensus'));
    expect(accepted.filter(Boolean).length).toBe(3);
    expect(radio.queued(0) * 252).toBeLessThanOrEqual(57_600);
    expect(radio.counters.dropped.queueFull).toBe(17);
    expect(radio.counters.dropped.queueBytes).toBe(17);
    // The lane's stale limit (2 s) drops what waited too long; what goes out arrives whole.
    queue.runUntil(20_000, 1e6);
    expect(got.length + radio.counters.dropped.stale).toBeGreaterThanOrEqual(1);
    for (const g of got) expect(g.bytes.length).toBe(64 * fragmentBytesMax(252, false));
    // Sent bytes no longer count: a largest envelope fits again.
    expect(radio.send(0, null, largest(99), 'consensus')).toBe(true);
  });
});

function load(name: string): Scenario {
  const file = `fleet-sim/scenarios/${name}.yaml`;
  return parseScenario(readFileSync(file, 'utf8'));
}

async function withWorld(s: Scenario): Promise<{ r: Report; w: World }> {
  let world: World | null = null;
  const r = await runScenario(s, s.seed, { onWorld: (w) => (world = w) });
  return { r, w: world as unknown as World };
}

/** Heights the honest chain committed strictly inside [from, until). */
function committedWithin(w: World, from: number, until: number): number {
  return [...w.checkers.decided.values()].filter((d) => d.atMs >= from && d.atMs < until).length;
}

const why = (r: Report): string => `seed ${r.seed} of ${r.scenario}: failed=${r.expect.failed.join('; ')} ${r.safety.violations[0]?.detail ?? ''}\n  replay: ${r.replay}`;

describe('radio in the deterministic world', () => {
  it('broker-outage: heights commit inside the outage, carried by the radio', async () => {
    const s = load('broker-outage');
    const outage = s.faults.find((f) => f.kind === 'broker-down');
    if (!outage || outage.kind !== 'broker-down') throw new Error('broker-outage.yaml has no broker-down fault');
    const { r, w } = await withWorld(s);
    expect(r.expect.failed, why(r)).toEqual([]);
    expect(committedWithin(w, outage.at + 200, outage.until), why(r)).toBeGreaterThanOrEqual(5);
    // The commands published while the broker was down reached no one; the operator published them
    // again (as murmurctl does) and every one committed.
    expect(w.resent, why(r)).toBeGreaterThan(0);
    expect(r.liveness.commandsCommitted, why(r)).toBe(r.liveness.commandsSubmitted);
    expect(r.radio?.router.firstByRadio ?? 0, why(r)).toBeGreaterThan(100);
    // Policy first: nothing rides the radio while the broker is up, so every radio byte is outage traffic.
    expect(r.radio?.packetsSent ?? 0, why(r)).toBeGreaterThan(0);
  });

  it('default (npm start) keeps committing through its ten-second broker outage', async () => {
    const full = load('default');
    const outage = full.faults.find((f) => f.kind === 'broker-down');
    if (!outage || outage.kind !== 'broker-down') throw new Error('default.yaml has no broker-down fault');
    // The run up to just after the outage (the rest of the story does not change what happens in it).
    const s: Scenario = { ...full, durationMs: outage.until + 1_000, livenessBudgetMs: 10_000 };
    const { r, w } = await withWorld(s);
    expect(r.safety.ok, why(r)).toBe(true);
    expect(committedWithin(w, outage.at + 500, outage.until), why(r)).toBeGreaterThanOrEqual(3);
    expect(r.radio?.router.firstByRadio ?? 0, why(r)).toBeGreaterThan(1_000);
  }, 240_000);

  it('a proposer keeps to its block budget (the radio\'s while the broker is down), yet a larger command still commits alone', async () => {
    const noops = Array.from({ length: 20 }, (_, k) => ({ kind: 'once' as const, at: 1_000 + k, command: 'noop', args: {} }));
    const big = { kind: 'once' as const, at: 1_000, command: 'noop', args: { pad: 'x'.repeat(1_000) } };
    const s = scenario({ name: 'block-budget', durationMs: 6_000, workload: [big, ...noops] });
    let world: World | null = null;
    const r = await runScenario(s, s.seed, {
      onWorld: (w) => {
        world = w;
        // What Device.tick does with Router.blockTxBytesHint when only the radio is up: 600 bytes here.
        w.queue.at(500, () => w.nodes.forEach((n) => n.shell && (n.shell.core.txBytesBudget = 600)));
      },
    });
    expect(r.safety.ok, why(r)).toBe(true);
    const blocks = [...(world as unknown as World).checkers.decided.values()].filter((d) => d.commands.length > 0);
    expect(blocks.flatMap((b) => b.commands).length, why(r)).toBe(21);
    // A noop is ~150 bytes: at most four fit in 600; the 1 KB one goes alone, as the first of its block.
    for (const b of blocks) expect(b.commands.length, why(r)).toBeLessThanOrEqual(4);
    expect(blocks.length).toBeGreaterThanOrEqual(6);
  });

  it('lossy-radio: a line of devices reaches its quorum only through relays, and commits', async () => {
    const s = load('lossy-radio');
    const { r, w } = await withWorld(s);
    expect(r.expect.failed, why(r)).toEqual([]);
    expect(r.radio?.router.relayedDeliveries ?? 0, why(r)).toBeGreaterThan(100);
    expect(r.radio?.relays ?? 0, why(r)).toBeGreaterThan(1_000);
    expect(r.radio?.dropped.loss ?? 0, why(r)).toBeGreaterThan(0);
    // The broker is down for the whole scenario: every height before healing came over the radio.
    expect(committedWithin(w, 0, s.durationMs), why(r)).toBeGreaterThan(10);
    // v00 and v03 are 450 m apart with 200 m radios: no packet of one reaches the other directly.
    const [a, b] = [w.flight?.positions[0], w.flight?.positions[3]];
    expect(Math.hypot((a?.northM ?? 0) - (b?.northM ?? 0), (a?.eastM ?? 0) - (b?.eastM ?? 0))).toBeGreaterThan(s.radio?.rangeM ?? 0);
  });

  it('one seed decides the radio: the same seed gives the same report', async () => {
    const s = { ...load('lossy-radio'), durationMs: 8_000 };
    const a = await runScenario(s, 3);
    const b = await runScenario(s, 3);
    expect({ ...a, wallMs: 0 }).toEqual({ ...b, wallMs: 0 });
    expect(a.radio?.packetsSent ?? 0).toBeGreaterThan(0);
  });
});
