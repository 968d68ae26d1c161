// What a device says about the messages it drops before consensus (runtime/device/drop-report.ts):
// counted by reason in murmur_envelopes_dropped_total, the links' bad frames per reason in
// murmur_link_bad_frames, and a warning for the first per sender (or topic) and reason, then a count at
// most once a minute. Before, malformed, forged, stranger's and other fleets' messages went to debug
// only and the links' reasons reached neither /metrics nor the log.

import { beforeAll, describe, expect, it } from 'vitest';
import type { Logger as PinoLogger } from 'pino';
import { hash } from '../../runtime/crypto/sodium.js';
import { DropReport, droppedTotals, dropReason } from '../../runtime/device/drop-report.js';
import { DeviceMetrics } from '../../runtime/device/observability.js';
import { EdgeVerifier, type EdgeDrop } from '../../runtime/node/edge.js';
import { decodeEnvelope, sealEnvelope } from '../../runtime/wire/envelope.js';
import { encodeVoteBody } from '../../runtime/wire/vote.js';
import { createVerifier, makeFleet, type FleetFixture } from '../support/fleet-fixture.js';

const t0 = 1_800_000_000_000;
let f: FleetFixture;
let edge: EdgeVerifier;

beforeAll(async () => {
  f = await makeFleet({ validators: 4, operators: [{ id: 'op', roles: ['operator'] }] });
  edge = new EdgeVerifier({ fleet: f.fleet, verifier: createVerifier(), hash, manifestAt: () => f.manifest, currentHeight: () => 5, currentRound: () => 0, self: 'this-node', votes: () => true, authority: f.authority.publicKey });
});

interface Line {
  level: string;
  o: Record<string, unknown>;
  msg: string;
}

function rig(): { drops: DropReport; lines: Line[]; metrics: DeviceMetrics } {
  const lines: Line[] = [];
  const at = (level: string) => (o: Record<string, unknown>, msg: string) => void lines.push({ level, o, msg });
  const log = { debug: at('debug'), info: at('info'), warn: at('warn') } as unknown as PinoLogger;
  const metrics = new DeviceMetrics();
  return { drops: new DropReport(log, metrics), lines, metrics };
}

async function values(m: DeviceMetrics, name: string): Promise<Record<string, number>> {
  const j = (await m.registry.getMetricsAsJSON()).find((x) => x.name === name);
  return Object.fromEntries((j?.values ?? []).map((v) => [Object.values(v.labels).join(' '), v.value]));
}

/** What the edge says about `bytes` (the device's path: toInputOrDrop), or the decoder's error. */
function dropOf(bytes: Uint8Array): EdgeDrop {
  const raw = decodeEnvelope(bytes);
  if (!raw.ok) return raw.error;
  const i = edge.toInputOrDrop(bytes, t0);
  if (i.ok) throw new Error('not dropped');
  return i.error;
}

const precommit = (fleet: string, sender: string, signAs: string) => sealEnvelope('precommit', fleet, sender, encodeVoteBody({ height: 5, round: 0, blockHash: new Uint8Array(32).fill(7) }), f.signer(signAs));

describe('dropped envelopes', () => {
  it('the edge names what the device counts: malformed, wrong-fleet, unknown-sender, bad-signature', () => {
    expect(dropReason(dropOf(new Uint8Array(64).fill(0x81)).code)).toBe('malformed');
    expect(dropReason(dropOf(precommit('other', 'v1', 'v1')).code)).toBe('wrong-fleet');
    expect(dropReason(dropOf(precommit(f.fleet, 'evil', 'op')).code)).toBe('unknown-sender');
    expect(dropReason(dropOf(precommit(f.fleet, 'v1', 'v2')).code)).toBe('bad-signature');
    // What a healthy fleet drops all the time stays uncounted.
    expect(dropReason('committed')).toBeNull();
    expect(dropReason('not-needed')).toBeNull();
  });

  it('a vote with this node\'s key that it did not send is counted and said (own-key-not-sent), not taken for its echo', async () => {
    // NodeShell.receiveOrDrop's drop for such a vote (its own echo is no drop: test/node/foreign-signature).
    const { drops, lines, metrics } = rig();
    const own: EdgeDrop = { code: 'own-key', message: "a prevote at 5/0 signed with this node's key that its signer state does not hold: not counted as its own" };
    for (let i = 0; i < 3; i++) drops.envelope(own, { link: 'radio', from: 'v1', sender: 'v1', kind: 'prevote' }, t0 + i);
    // Before: three lines at debug, nothing counted.
    expect(await values(metrics, 'murmur_envelopes_dropped_total')).toEqual({ 'own-key-not-sent': 3 });
    expect(drops.envelopeCounts()).toEqual({ 'own-key-not-sent': 3 });
    expect(lines.map((l) => [l.level, l.o.event, l.o.reason])).toEqual([['warn', 'envelope-dropped', 'own-key-not-sent']]);
    expect(lines[0]!.msg).toMatch(/^dropped a prevote from "v1" on radio \(own-key-not-sent\): a prevote at 5\/0 signed with this node's key/);
  });

  it('400 each: counted by reason, one warning per sender and reason, then one count a minute', async () => {
    const { drops, lines, metrics } = rig();
    const src = (sender?: string) => ({ link: 'mqtt', from: 'd2', ...(sender !== undefined ? { sender, kind: 'precommit' } : {}) });
    const bad = dropOf(new Uint8Array([0x86, 0x01, 0x04]));
    const other = dropOf(precommit('other', 'v1', 'v1'));
    const evil = dropOf(precommit(f.fleet, 'evil', 'op'));
    const forged = dropOf(precommit(f.fleet, 'v1', 'op'));
    for (let i = 0; i < 400; i++) {
      const now = t0 + i * 100; // 40 s
      drops.envelope(bad, src(), now);
      drops.envelope(other, src('v1'), now);
      drops.envelope(evil, src('evil'), now);
      drops.envelope(forged, src('v1'), now);
      drops.report(now);
    }
    expect(await values(metrics, 'murmur_envelopes_dropped_total')).toEqual({ malformed: 400, 'wrong-fleet': 400, 'unknown-sender': 400, 'bad-signature': 400 });
    const warns = lines.filter((l) => l.level === 'warn');
    expect(warns.map((l) => [l.o.event, l.o.reason])).toEqual([
      ['envelope-dropped', 'malformed'],
      ['envelope-dropped', 'wrong-fleet'],
      ['envelope-dropped', 'unknown-sender'],
      ['envelope-dropped', 'bad-signature'],
    ]);
    expect(warns[0]!.msg).toMatch(/^dropped a message from mqtt topic of "d2" on mqtt \(malformed\): /);
    expect(warns[2]!.msg).toMatch(/^dropped a precommit from "evil" on mqtt \(unknown-sender\): sender "evil" is not in the fleet manifest/);
    expect(warns[3]!.msg).toMatch(/^dropped a precommit from "v1" on mqtt \(bad-signature\): precommit from "v1" has a signature that does not verify/);
    // The minute is over: one count each, adding up to the rest.
    drops.report(t0 + 61_000);
    const summaries = lines.filter((l) => l.o.event === 'envelopes-dropped');
    expect(summaries).toHaveLength(4);
    expect(summaries.map((l) => l.o.count)).toEqual([399, 399, 399, 399]);
    expect(summaries.find((l) => l.o.reason === 'wrong-fleet')!.msg).toMatch(/^399 more messages from "v1" dropped \(wrong-fleet\) in the last 61 s, the last at .*: message is for fleet "other"/);
    expect(drops.envelopeCounts()).toEqual({ malformed: 400, 'wrong-fleet': 400, 'unknown-sender': 400, 'bad-signature': 400 });
  });

  it('drops a healthy fleet makes stay at debug and uncounted', async () => {
    const { drops, lines, metrics } = rig();
    drops.envelope({ code: 'committed', message: 'block 3 is already committed here' }, { link: 'mqtt', from: 'd2', sender: 'd2', kind: 'sync-response' }, t0);
    expect(lines.map((l) => l.level)).toEqual(['debug']);
    expect(await values(metrics, 'murmur_envelopes_dropped_total')).toEqual({});
  });
});

describe('link bad frames', () => {
  it('exports each link\'s reasons and warns when one grows, then counts', async () => {
    const { drops, lines, metrics } = rig();
    const link = (wrongFleet: number, crc: number) => [{ name: 'mqtt', counters: { badFrameReasons: { 'wrong-fleet': wrongFleet, 'bad-crc': crc } } }];
    drops.linkFrames(link(0, 0), t0);
    expect(lines).toEqual([]);
    drops.linkFrames(link(200, 1), t0 + 1_000);
    drops.linkFrames(link(400, 1), t0 + 2_000);
    expect(await values(metrics, 'murmur_link_bad_frames')).toEqual({ 'mqtt wrong-fleet': 400, 'mqtt bad-crc': 1 });
    expect(lines.map((l) => l.msg)).toEqual([expect.stringMatching(/^link mqtt dropped 200 frames \(wrong-fleet\): a frame tagged for another fleet/), 'link mqtt dropped a frame (bad-crc)']);
    drops.report(t0 + 62_000);
    expect(lines.at(-1)!.msg).toMatch(/^link mqtt dropped 399 more frames \(wrong-fleet\) in the last 61 s/);
  });

  it('the router\'s duplicates per link become murmur_envelopes_duplicate_total{link}, unlogged', async () => {
    const { drops, lines, metrics } = rig();
    const links = (mqtt: number, radio: number) => [
      { name: 'mqtt', counters: {}, duplicates: mqtt },
      { name: 'radio', counters: {}, duplicates: radio },
    ];
    drops.linkFrames(links(0, 0), t0);
    expect(await values(metrics, 'murmur_envelopes_duplicate_total')).toEqual({ mqtt: 0, radio: 0 });
    drops.linkFrames(links(3, 40), t0 + 1_000);
    drops.linkFrames(links(5, 40), t0 + 2_000);
    drops.linkFrames(links(5, 41), t0 + 3_000);
    expect(await values(metrics, 'murmur_envelopes_duplicate_total')).toEqual({ mqtt: 5, radio: 41 });
    // A fleet with a broker and a radio hears every envelope twice: nothing to warn about.
    expect(lines).toEqual([]);
  });

  it('oversized publishes are counted, and said only by the link, which names their topic', async () => {
    const { drops, lines, metrics } = rig();
    drops.linkFrames([{ name: 'mqtt', counters: { badFrameReasons: { oversized: 3 } } }], t0);
    drops.linkFrames([{ name: 'mqtt', counters: { badFrameReasons: { oversized: 5 } } }], t0 + 1_000);
    drops.report(t0 + 62_000);
    expect(await values(metrics, 'murmur_link_bad_frames')).toEqual({ 'mqtt oversized': 5 });
    expect(lines).toEqual([]);
  });

  it('frames on the device\'s own topic that it did not publish are said with what to check', () => {
    const { drops, lines } = rig();
    drops.linkFrames([{ name: 'mqtt', counters: { badFrameReasons: { 'own-topic-not-sent': 2 } } }], t0);
    expect(lines.map((l) => [l.level, l.o.reason])).toEqual([['warn', 'own-topic-not-sent']]);
    expect(lines[0]!.msg).toMatch(/^link mqtt dropped 2 frames \(own-topic-not-sent\): a frame on this device's own topic that it did not publish .*ACL/);
  });
});

describe('the status document\'s dropped', () => {
  it('totals by reason: envelopes as counted, bad frames and duplicates summed over the links, none left out', () => {
    const links = [
      { name: 'mqtt', counters: { badFrameReasons: { 'wrong-fleet': 100, 'bad-crc': 0 } }, duplicates: 5 },
      { name: 'radio', counters: { badFrameReasons: { 'wrong-fleet': 2, 'bad-cobs': 7 } }, duplicates: 41 },
      { name: 'plain', counters: {} },
    ];
    expect(droppedTotals({ 'bad-signature': 3, malformed: 0 }, links)).toEqual({ envelopes: { 'bad-signature': 3 }, frames: { 'wrong-fleet': 102, 'bad-cobs': 7 }, duplicates: 46 });
    expect(droppedTotals({}, [])).toEqual({ envelopes: {}, frames: {}, duplicates: 0 });
  });
});
