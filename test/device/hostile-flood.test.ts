// Four real `murmur start` devices on a real Mosquitto, and a client with no key of the fleet flooding its
// topics (reviewer, with /tmp/rev-links-scratch/repro-commands-flood.sh and repro-silent-drops.sh):
// - 1,000 commands on the commands topic, half from "stranger" (not in the manifest), half claiming
//   "ops" with the stranger's signature: each device logged a warning and signed an ack for every one.
//   Now the first per claimed sender and kind is logged and answered, the rest counted
//   (murmur_commands_refused_total) and answered a few a second.
// - malformed envelopes inside good frames, precommits from a non-member and forged as d2, envelopes
//   naming another fleet, frames tagged for another fleet: dropped without a trace before. Now counted
//   (murmur_envelopes_dropped_total, murmur_link_bad_frames, /health) and said once each at warn.

import mqtt from 'mqtt';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlTopics } from '../../runtime/device/control-topics.js';
import { encodeFrame, fleetTag } from '../../runtime/links/frame.js';
import { fleetTopics } from '../../runtime/links/mqtt-topics.js';
import { encodeCommandBody } from '../../runtime/wire/command.js';
import { sealEnvelope } from '../../runtime/wire/envelope.js';
import { encodeVoteBody } from '../../runtime/wire/vote.js';
import { encodeStatusBody } from '../../runtime/wire/consensus-aux.js';
import { encodeBlock, encodeProposalBody } from '../../runtime/wire/block.js';
import { proposerOf } from '../../runtime/consensus/proposer.js';
import { DeviceFleet, until } from './device-fleet.js';

const fleet = new DeviceFleet({ validators: 4, agents: false });
let hostile: mqtt.MqttClient;
const acks: string[] = [];
const topics = fleetTopics('e2e');
/** d1's newest status document (json/d1/status), as the broker hands it to anyone subscribed. */
let d1Status: { dropped?: unknown } | null = null;

beforeAll(async () => {
  await fleet.setup();
  await fleet.startAll();
  hostile = await mqtt.connectAsync(fleet.broker.url, { clientId: 'hostile-flood', connectTimeout: 10_000, reconnectPeriod: 0 });
  hostile.on('message', (t, payload) => {
    if (t === controlTopics('e2e').status('d1')) d1Status = JSON.parse(payload.toString()) as { dropped?: unknown };
    else acks.push(t);
  });
  await hostile.subscribeAsync('murmur/v1/e2e/ack/#', { qos: 0 });
  await hostile.subscribeAsync(controlTopics('e2e').status('d1'), { qos: 0 });
}, 60_000);

afterAll(async () => {
  await hostile?.endAsync(true);
  await fleet.teardown();
});

async function metric(id: string, name: string): Promise<Record<string, number>> {
  const d = fleet.devices.get(id)!;
  const text = await (await fetch(`http://127.0.0.1:${d.httpPort}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{([^}]*)\\})? (\\S+)$`, 'gm'))) out[m[1] ?? ''] = Number(m[2]);
  return out;
}

/** Publishes `n` payloads, 100 at a time, each awaited (QoS 1: the broker has them all). */
async function flood(n: number, topic: (i: number) => string, payload: (i: number) => Uint8Array): Promise<void> {
  for (let i = 0; i < n; i += 100) await Promise.all(Array.from({ length: Math.min(100, n - i) }, (_, j) => hostile.publishAsync(topic(i + j), Buffer.from(payload(i + j)), { qos: 1 })));
}

const linesOf = (id: string, event: string): Record<string, unknown>[] =>
  fleet.devices.get(id)!.output.split('\n').filter((l) => l.includes(`"event":"${event}"`)).map((l) => JSON.parse(l) as Record<string, unknown>);

describe('a client with no key of the fleet floods its topics', () => {
  it('1,000 commands: each device warns once per claimed sender and kind and signs a few acks, not one per command', async () => {
    const frameOf = (env: Uint8Array) => encodeFrame(fleetTag('e2e'), 'consensus', env);
    const stranger = fleet.signer('stranger');
    const h0 = (await fleet.health('d1')).height;
    const started = Date.now();
    await flood(1_000, () => topics.commands, (i) => {
      const now = Date.now();
      const body = encodeCommandBody({ type: 'noop', nonce: randomBytes(16), issuedAt: now, expiresAt: now + 60_000, args: {} });
      return frameOf(sealEnvelope('command', 'e2e', i % 2 ? 'stranger' : 'ops', body, stranger));
    });
    const refused = await until('d1 to count 1,000 refusals', async () => {
      const m = await metric('d1', 'murmur_commands_refused_total');
      return (m['reason="forged"'] ?? 0) + (m['reason="unauthorized"'] ?? 0) >= 1_000 ? m : null;
    }, 20_000);
    expect(refused).toEqual({ 'reason="forged"': 500, 'reason="unauthorized"': 500 });
    for (const id of fleet.devices.keys()) {
      // Each device refuses all 1,000 (d1 above; the others may lag it on a loaded machine), then its two
      // lines are there: the first of each in full, at warn; before: 1,000 lines a device.
      await until(`${id} to count 1,000 refusals`, async () => {
        const m = await metric(id, 'murmur_commands_refused_total');
        return (m['reason="forged"'] ?? 0) + (m['reason="unauthorized"'] ?? 0) >= 1_000 ? true : null;
      }, 20_000);
      const lines = await until(`${id} to log its refusals`, async () => (linesOf(id, 'command-refused').length >= 2 ? linesOf(id, 'command-refused') : null), 5_000);
      expect(lines.map((l) => [l.level, l.kind, l.from]).sort(), id).toEqual([[40, 'forged', 'ops'], [40, 'unauthorized', 'stranger']]);
    }
    // Per device: each sender's burst (5) and one a second after; before: 4,000 acks from the fleet.
    const seconds = (Date.now() - started) / 1000;
    expect(acks.length).toBeGreaterThanOrEqual(4 * 2);
    expect(acks.length).toBeLessThanOrEqual(4 * 2 * (5 + Math.ceil(seconds) + 1));
    expect(acks.filter((t) => t.includes('/ack/stranger/')).length).toBeGreaterThanOrEqual(4);
    const withheld = await metric('d1', 'murmur_refusal_acks_withheld_total');
    expect(withheld['']).toBeGreaterThan(900);
    // The fleet commits on.
    await until('a block after the flood', async () => ((await fleet.health('d1')).height > h0 + 2 ? true : null), 10_000);
  }, 30_000);

  it('malformed, non-member, forged and other fleets\' messages are counted by reason and said once each', async () => {
    const tag = fleetTag('e2e');
    const stranger = fleet.signer('stranger');
    const h = (await fleet.health('d1')).height + 50;
    const vote = (fleetId: string, sender: string) => sealEnvelope('precommit', fleetId, sender, encodeVoteBody({ height: h, round: 0, blockHash: randomBytes(32) }), stranger);
    const onD2 = () => topics.consensus('d2');
    // Malformed CBOR (a truncated array), each different: the router drops a copy of the same bytes as a duplicate.
    await flood(100, onD2, () => encodeFrame(tag, 'consensus', Uint8Array.from([0x86, 0x01, 0x04, ...randomBytes(8)])));
    await flood(100, onD2, () => encodeFrame(tag, 'consensus', vote('e2e', 'evil'))); // not a member
    // d2's name, another key: a status (a vote for a height this far ahead is dropped unchecked as not
    // needed, whoever signed it: edge.ts positionDrop).
    await flood(100, onD2, (i) => encodeFrame(tag, 'consensus', sealEnvelope('status', 'e2e', 'd2', encodeStatusBody({ height: h, round: i }), stranger)));
    await flood(100, onD2, () => encodeFrame(tag, 'consensus', vote('other', 'd2'))); // another fleet, this fleet's tag
    await flood(100, onD2, () => encodeFrame(fleetTag('other'), 'consensus', vote('other', 'd2'))); // another fleet's tag
    const want = { 'reason="malformed"': 100, 'reason="unknown-sender"': 100, 'reason="bad-signature"': 100, 'reason="wrong-fleet"': 100 };
    const got = await until('d1 to count every dropped message', async () => {
      const m = await metric('d1', 'murmur_envelopes_dropped_total');
      return Object.entries(want).every(([k, v]) => (m[k] ?? 0) >= v) ? m : null;
    }, 15_000).catch(async () => metric('d1', 'murmur_envelopes_dropped_total'));
    expect(got).toEqual(want);
    expect(await metric('d1', 'murmur_link_bad_frames')).toMatchObject({ 'link="mqtt",reason="wrong-fleet"': 100 });
    const byReason = Object.fromEntries(Object.entries(want).map(([k, v]) => [k.slice(8, -1), v]));
    expect((await fleet.health('d1')).dropped).toMatchObject({ envelopes: byReason, frames: { mqtt: { 'wrong-fleet': 100 } } });
    // The same totals in the status document it publishes every second, for whoever reads only MQTT
    // (murmurctl, a dashboard): before, only /metrics and /health had them.
    const inStatus = await until('d1 to publish its drops in its status', async () => {
      const d = d1Status?.dropped as { envelopes?: Record<string, number>; frames?: Record<string, number> } | undefined;
      return d?.envelopes?.['wrong-fleet'] === 100 && d.frames?.['wrong-fleet'] === 100 ? d : null;
    }, 5_000);
    expect(inStatus).toEqual({ envelopes: byReason, frames: { 'wrong-fleet': 100 }, duplicates: expect.any(Number) });
    // Said at warn: one line per sender (or topic) and reason, and one for the link's bad frames.
    const frames = await until('d1 to say the link dropped frames', async () => (linesOf('d1', 'frames-dropped').length > 0 ? linesOf('d1', 'frames-dropped') : null), 5_000);
    expect(frames.map((l) => [l.level, l.link, l.reason])).toEqual([[40, 'mqtt', 'wrong-fleet']]);
    const dropped = linesOf('d1', 'envelope-dropped');
    expect(dropped.map((l) => [l.level, l.reason, l.sender ?? l.from]).sort()).toEqual([
      [40, 'bad-signature', 'd2'],
      [40, 'malformed', 'd2'],
      [40, 'unknown-sender', 'evil'],
      [40, 'wrong-fleet', 'd2'],
    ]);
  }, 30_000);
});

describe('a member floods proposals for rounds it does not propose', () => {
  it('each device drops them before their signature and block are checked, counts them as not-proposer, says so once, and commits on', async () => {
    // d3's own key (a captured validator): block-shaped junk for the heights just ahead and each round
    // of them that is not d3's. Those for the height a device is at when they arrive are not-proposer;
    // the rest, another height, are dropped unchecked too (not counted: a healthy fleet has them).
    const h0 = (await fleet.health('d1')).height;
    const sent: Uint8Array[] = [];
    for (let h = h0; h < h0 + 30; h++) {
      for (let r = 0; r < 4; r++) {
        if (proposerOf(fleet.manifest.validators, h, r) === 'd3') continue;
        const blockBytes = encodeBlock({ height: h, parent: randomBytes(32), timeMs: Date.now(), proposer: 'd3', txs: [], lastCommit: null, manifestHash: randomBytes(32), appHash: randomBytes(32) });
        sent.push(encodeFrame(fleetTag('e2e'), 'consensus', sealEnvelope('proposal', 'e2e', 'd3', encodeProposalBody({ height: h, round: r, validRound: -1, blockBytes }), fleet.signer('d3'))));
      }
    }
    await flood(sent.length, () => topics.consensus('d3'), (i) => sent[i] as Uint8Array);
    const counted = await until('d1 to count proposals from a non-proposer', async () => ((await metric('d1', 'murmur_envelopes_dropped_total'))['reason="not-proposer"'] ?? 0) > 0 || null, 10_000);
    expect(counted).toBe(true);
    const lines = await until('d1 to say so', async () => {
      const l = linesOf('d1', 'envelope-dropped').filter((x) => x.reason === 'not-proposer');
      return l.length > 0 ? l : null;
    }, 5_000);
    expect(lines.map((l) => [l.level, l.sender, l.kind])).toEqual([[40, 'd3', 'proposal']]);
    expect(String(lines[0]?.msg)).toMatch(/proposal for height \d+ round \d from d3, who is not its proposer/);
    await until('a block after the flood', async () => ((await fleet.health('d1')).height > h0 + 2 ? true : null), 10_000);
  }, 30_000);
});
