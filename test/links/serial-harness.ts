// Serial radio links over socat pty pairs, and the bad inputs a radio can hear.

import { closeSync, openSync, writeSync } from 'node:fs';
import { afterAll, beforeAll } from 'vitest';
import { crc32 } from 'node:zlib';
import { cobsEncode } from '../../runtime/links/cobs.js';
import { fleetTag } from '../../runtime/links/frame.js';
import { encodeRadioFrame, type RadioFrame } from '../../runtime/links/radio-frame.js';
import { SerialLink, type SerialLinkOptions } from '../../runtime/links/serial-link.js';
import { Prng } from '../../runtime/lib/prng.js';
import { utf8 } from '../../runtime/lib/bytes.js';
import { Inbox, type BadInput, type LinkHarness } from './conformance.js';
import { PtyPair } from './processes.js';

export const fleet = 'conf-fleet';
const prng = new Prng(7);

/** Two socat pty pairs for a line of three radios (a on p1.a, b on p1.b and p2.a, c on p2.b), started
 *  before the calling file's tests and stopped after them; read them inside the tests. */
export function ptyPairsForFile(): { p1: PtyPair; p2: PtyPair } {
  const pairs = {} as { p1: PtyPair; p2: PtyPair };
  beforeAll(async () => {
    pairs.p1 = await PtyPair.start();
    pairs.p2 = await PtyPair.start();
  });
  afterAll(async () => {
    await pairs.p1?.stop();
    await pairs.p2?.stop();
  });
  return pairs;
}

export function serialLink(node: string, paths: string[], extra: Partial<SerialLinkOptions> = {}): SerialLink {
  // Ptys do not enforce a baud rate; a high nominal rate keeps the conformance suite fast.
  return new SerialLink({ fleet, node, paths, baud: 2_000_000, packetBytes: 252, peers: ['a', 'b', 'c'], ...extra });
}

const withDelimiter = (raw: Uint8Array): Buffer => Buffer.concat([Buffer.from(cobsEncode(raw)), Buffer.of(0)]);

export function radioWire(payload: Uint8Array, over: Partial<RadioFrame> = {}): Buffer {
  const f: RadioFrame = { cls: 'consensus', fleetTag: fleetTag(fleet), origin: crc32(utf8('mallory')) >>> 0, msgId: prng.nextU32(), hopsLeft: 1, index: 0, count: 1, dest: undefined, fragment: payload, ...over };
  return withDelimiter(encodeRadioFrame(f));
}

export function radioBadInputs(): BadInput[] {
  const random = Buffer.from(prng.bytes(120).map((b) => (b === 0 ? 1 : b)));
  // Fragments of 20 bytes keep every input within a 58-byte LoRa packet, so the reason is certain.
  const raw = encodeRadioFrame({ cls: 'consensus', fleetTag: fleetTag(fleet), origin: 1, msgId: prng.nextU32(), hopsLeft: 1, index: 0, count: 1, dest: undefined, fragment: prng.bytes(20) });
  const flipped = Buffer.from(raw);
  flipped[20] = (flipped[20] as number) ^ 0x21;
  return [
    { reason: undefined, bytes: Buffer.concat([random, Buffer.of(0)]) },
    { reason: 'truncated', bytes: withDelimiter(raw.subarray(0, 12)) },
    { reason: 'bad-crc', bytes: withDelimiter(flipped) },
    { reason: 'oversized', bytes: Buffer.concat([Buffer.alloc(400, 0x41), Buffer.of(0)]) },
    { reason: 'wrong-fleet', bytes: radioWire(prng.bytes(20), { fleetTag: fleetTag('other-fleet') }) },
    { reason: 'bad-fragment', bytes: radioWire(prng.bytes(20), { index: 3, count: 2 }) },
    { reason: 'bad-cobs', bytes: Buffer.of(0x09, 1, 2, 0) },
  ];
}

/** Writes raw bytes into a pty end, as a radio that is not a Murmur node would. */
export function writeRaw(path: string, bytes: Uint8Array): void {
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, bytes);
  } finally {
    closeSync(fd);
  }
}

export async function serialHarness(packetBytes = 252): Promise<LinkHarness> {
  const pair = await PtyPair.start();
  const a = serialLink('a', [pair.a], { packetBytes });
  const b = serialLink('b', [pair.b], { packetBytes });
  await a.start();
  await b.start();
  return {
    a,
    b,
    ids: ['a', 'b'],
    inject: async (bytes) => {
      writeRaw(pair.a, bytes);
      await new Promise((r) => setTimeout(r, 20));
    },
    validWire: (p) => radioWire(p),
    badInputs: () => radioBadInputs(),
    close: async () => {
      await a.stop();
      await b.stop();
      await pair.stop();
    },
  };
}

/** Two started radios on one socat pty pair (a sends, b's inbox receives); everything stopped after. */
export async function onPair(extra: Partial<SerialLinkOptions>, aOnly: Partial<SerialLinkOptions>, body: (a: SerialLink, inbox: Inbox) => Promise<void>): Promise<void> {
  const pair = await PtyPair.start();
  const a = serialLink('a', [pair.a], { ...extra, ...aOnly });
  const b = serialLink('b', [pair.b], extra);
  await a.start();
  await b.start();
  try {
    await body(a, new Inbox(b));
  } finally {
    await a.stop();
    await b.stop();
    await pair.stop();
  }
}
