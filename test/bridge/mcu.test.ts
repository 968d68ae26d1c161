// The MCU framed protocol: the C99 reference firmware, compiled here with cc, runs as a process on one
// end of a socat pty pair; the TypeScript client talks to it. 10,000 state-changing requests cross a
// relay that corrupts bytes: every corrupt frame is dropped and retried, and none is applied.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import fc from 'fast-check';
import { Prng } from '../../runtime/lib/prng.js';
import { openSerial, type ByteTransport } from '../../firmware-bridge/transport.js';
import { McuClient } from '../../firmware-bridge/mcu/client.js';
import { cobsDecode, cobsEncode } from '../../firmware-bridge/mcu/cobs.js';
import { addDigest, crc32 } from '../../firmware-bridge/mcu/crc32.js';
import { encodeMcuFrame, McuFrameReader, mcuErrorNames, mcuMethod, mcuType, type McuMessage } from '../../firmware-bridge/mcu/frame.js';
import { repoRoot, startPtyPair, type PtyPair, type Started } from '../../firmware-bridge/tools/processes.js';
import { compileFirmware, firmwareDir, startFirmware } from './firmware.js';
import { startRelay, type Relay } from './lossy-relay.js';
import { waitFor } from './companion.js';
import { memoryPair } from './memory-pair.js';

const seed = Number(process.env.MURMUR_SEED ?? 21);

describe('COBS and CRC-32 (host side)', () => {
  it('COBS round-trips any bytes and never emits 0x00', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        const enc = cobsEncode(bytes);
        expect(enc.includes(0)).toBe(false);
        expect(cobsDecode(enc, 1000)).toEqual(bytes);
      }),
    );
  });

  it('COBS ends on a full block: 254 bytes without a zero take 255, not 256 (as the radio encoder, one shared encoder now)', () => {
    const run = new Uint8Array(254).fill(7);
    expect(cobsEncode(run).length).toBe(255);
    expect(cobsDecode(cobsEncode(run), 1000)).toEqual(run);
    expect(cobsEncode(new Uint8Array(508).fill(7)).length).toBe(510);
    expect(cobsDecode(Uint8Array.of(0xff, ...run, 0x01), 1000)).toEqual(run); // the old form still decodes
  });

  it("docs/mcu.md's example frames are valid frames of the types they name", () => {
    const page = readFileSync(join(repoRoot, 'docs', 'mcu.md'), 'utf8');
    const examples = [...page.matchAll(/^(HELLO_ACK|HELLO|REQUEST|RESPONSE|ERROR) (?:seq|ack) (\d+)[^:]*: +([0-9a-f ]+)$/gm)];
    expect(examples.length).toBe(5);
    for (const [line, name, number, hex] of examples) {
      const got = new McuFrameReader().push(Buffer.from((hex as string).replace(/ /g, ''), 'hex'));
      const expected = { type: mcuType[({ HELLO: 'hello', HELLO_ACK: 'helloAck', REQUEST: 'request', RESPONSE: 'response', ERROR: 'error' } as const)[name as 'HELLO']] };
      expect(got.length, line).toBe(1);
      expect(got[0], line).toMatchObject(name === 'HELLO' || name === 'REQUEST' ? { ...expected, seq: Number(number) } : { ...expected, ack: Number(number) });
    }
  });

  it("docs/mcu.md's error codes are the ones the host names", () => {
    const page = readFileSync(join(repoRoot, 'docs', 'mcu.md'), 'utf8');
    const rows = [...page.matchAll(/^\| (\d) \| ([a-z ]+) \| [^|]+ \|$/gm)].map(([, code, name]) => [Number(code), name]);
    expect(Object.fromEntries(rows)).toEqual(mcuErrorNames);
  });

  it('CRC-32 gives the catalogue check value 0xCBF43926 for "123456789"', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });
});

describe(`C99 reference firmware over ptys (seed ${seed}; replay with MURMUR_SEED=${seed})`, () => {
  let binary: string;
  const cleanup: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    binary = (await compileFirmware()).binary;
    cleanup.push(async () => rmSync(dirname(binary), { recursive: true, force: true }));
  });

  afterAll(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  async function connect(corruptProbability: number, firmware = binary): Promise<{ client: McuClient; relay: Relay | null; port: ByteTransport }> {
    const near: PtyPair = await startPtyPair();
    cleanup.push(() => near.stop());
    let hostPath = near.a;
    let relay: Relay | null = null;
    let fwPath = near.b;
    if (corruptProbability > 0) {
      const far = await startPtyPair();
      cleanup.push(() => far.stop());
      relay = await startRelay(near.b, far.a, { lossFraction: 0, meanBurstBytes: 1, corruptProbability }, seed);
      const r = relay;
      cleanup.push(() => r.close());
      fwPath = far.b;
    }
    const fw: Started = await startFirmware(firmware, fwPath);
    cleanup.push(() => fw.stop());
    const port: ByteTransport = await openSerial({ path: hostPath, baudRate: 921_600 });
    // A 15 ms timeout keeps the 10,000-request run short; a retry that crosses a late answer is harmless
    // (answered from the board's cache), and 400 retries ride out a busy machine.
    const client = new McuClient(port, { timeoutMs: 15, retries: 400 });
    cleanup.push(async () => {
      client.close();
      await port.close();
    });
    hostPath = '';
    return { client, relay, port };
  }

  it('the portable core uses no dynamic allocation and compiles warning-free as C99', () => {
    const core = readFileSync(join(firmwareDir, 'murmur_mcu.c'), 'utf8') + readFileSync(join(firmwareDir, 'murmur_mcu.h'), 'utf8');
    expect(core).not.toMatch(/\b(malloc|calloc|realloc|free|alloca)\s*\(/);
    expect(core).not.toMatch(/#include\s*<(stdio|stdlib|unistd)\.h>/);
    expect(binary).toBeTruthy();
  });

  it('refuses requests before the handshake, then agrees version 1 and serves echo, add and telemetry', async () => {
    const { client } = await connect(0);
    expect((await client.request(mcuMethod.echo, 1)).ok).toBe(false); // the client refuses locally
    const hello = await client.handshake();
    expect(hello.ok && hello.value).toEqual({ version: 1, firmware: 'murmur-mcu-ref-c99' });
    const echo = await client.request(mcuMethod.echo, [1, -2, 'text', new Uint8Array([0, 1, 0])]);
    expect(echo.ok && echo.value).toEqual([1, -2, 'text', new Uint8Array([0, 1, 0])]);
    const add = await client.request(mcuMethod.add, -7);
    expect(add.ok && add.value).toEqual([-7, 1]);
    const big = await client.request(mcuMethod.echo, new Uint8Array(300));
    expect(!big.ok && big.error.message).toContain('exceeds the 256-byte frame limit');
    const unknown = await client.request(99, 0);
    expect(!unknown.ok && unknown.error.message).toContain('unknown method');
    // Bodies outside the board's CBOR subset are answered at once, not left to time out (about 2 s of
    // retries each before): the frame and its CRC were sound, only the body is not.
    for (const body of [null, true, 1.5, { a: 1 }]) {
      const r = await client.request(mcuMethod.echo, body);
      expect(r.ok ? r.value : r.error.message, JSON.stringify(body)).toMatch(/^MCU error 2 \(bad body\) for seq \d+$/);
    }
    const samples: unknown[] = [];
    client.onTelemetry((stream, body) => samples.push([stream, body]));
    expect((await client.request(mcuMethod.telemetryRate, 20)).ok).toBe(true);
    await waitFor('5 telemetry samples', () => samples.length >= 5, 3000);
    expect((await client.request(mcuMethod.telemetryRate, 0)).ok).toBe(true);
    const [stream, body] = samples[0] as [number, number[]];
    expect(stream).toBe(1);
    expect(body[2]).toBe(-7); // the accumulator rides along in each sample
  });

  it('an answer that would not fit the 256-byte frame is ERROR response-too-large, not silently dropped', async () => {
    // After 30 requests the board's own sequence number takes two CBOR bytes, so an ECHO whose request
    // just fits the frame has an answer one byte longer. Before, the board built such answers (253 to 256
    // payload bytes) and then refused to send them: the request timed out after all its copies.
    const { port } = await connect(0);
    const client = new McuClient(port, { timeoutMs: 100, retries: 2 });
    cleanup.push(async () => client.close());
    expect((await client.handshake()).ok).toBe(true);
    for (let i = 0; i < 30; i++) expect((await client.request(mcuMethod.add, 1)).ok).toBe(true);
    const outcomes: string[] = [];
    for (let n = 240; n <= 246; n++) {
      const r = await client.request(mcuMethod.echo, new Uint8Array(n).fill(7));
      if (r.ok) expect(r.value).toEqual(new Uint8Array(n).fill(7));
      outcomes.push(r.ok ? 'ok' : r.error.message.replace(/seq \d+/, 'seq N'));
    }
    const tooLarge = 'MCU error 6 (response too large) for seq N';
    const tooLong = (bytes: number): string => `MCU request of ${bytes} bytes exceeds the 256-byte frame limit`;
    expect(outcomes).toEqual(['ok', 'ok', 'ok', 'ok', tooLarge, tooLong(257), tooLong(258)]);
  });

  it('an ADD that would take the sum past the 53-bit range a host reads exactly is refused, not applied', async () => {
    // The bound is 2^53-1; built here with 1000 to reach it. Before, the board summed on into int64, and
    // its answers (and STATS, and telemetry) carried integers the host cannot read: no answer, ever.
    const small = (await compileFirmware(['-DMCU_ACCUMULATOR_MAX=1000ll'])).binary;
    cleanup.push(async () => rmSync(dirname(small), { recursive: true, force: true }));
    const { client } = await connect(0, small);
    expect((await client.handshake()).ok).toBe(true);
    const answers: unknown[] = [];
    for (const delta of [600, 600, 400, -2001, -2000]) {
      const r = await client.request(mcuMethod.add, delta);
      answers.push(r.ok ? r.value : r.error.message.replace(/seq \d+/, 'seq N'));
    }
    const refused = 'MCU error 7 (out of range) for seq N';
    expect(answers).toEqual([[600, 1], refused, [1000, 2], refused, [-1000, 3]]);
  });

  it('answers a HELLO for versions it does not speak with ERROR version mismatch', async () => {
    const { port } = await connect(0);
    const reader = new McuFrameReader();
    const got: McuMessage[] = [];
    port.onData((c) => got.push(...reader.push(c)));
    port.write(encodeMcuFrame({ type: mcuType.hello, seq: 77, ack: 0, method: 0, body: [2, 3] }));
    await waitFor('an answer', () => got.length > 0, 10_000);
    expect(got[0]).toMatchObject({ type: mcuType.error, ack: 77, body: 4 });
    expect(mcuErrorNames[4]).toBe('version mismatch');
  });

  it('survives 200 KB of seeded random bytes under AddressSanitizer and UBSan, and still answers', async () => {
    // An out-of-bounds access to a stack or global buffer (not one inside the context struct), or
    // undefined behaviour, aborts the sanitized process, and the echo then fails.
    const sanitized = (await compileFirmware(['-g', '-fsanitize=address,undefined', '-fno-sanitize-recover=all'])).binary;
    cleanup.push(async () => rmSync(dirname(sanitized), { recursive: true, force: true }));
    const { client, port } = await connect(0, sanitized);
    expect((await client.handshake()).ok).toBe(true);
    const prng = new Prng(seed + 1);
    for (let i = 0; i < 100; i++) port.write(prng.bytes(2048));
    await new Promise((r) => setTimeout(r, 300));
    const echo = await client.request(mcuMethod.echo, 'still here');
    expect(echo.ok && echo.value).toBe('still here');
    const stats = await client.request(mcuMethod.stats, 0);
    const [, badCobs, badCrc, badCbor, oversize, applied] = (stats.ok ? stats.value : []) as number[];
    expect((badCobs ?? 0) + (badCrc ?? 0) + (badCbor ?? 0) + (oversize ?? 0)).toBeGreaterThan(100);
    expect(applied).toBe(0); // no random frame passed as an ADD
  });

  it('a closed client stops reading the port and refuses new requests without sending them', async () => {
    const { client, port } = await connect(0);
    expect((await client.handshake()).ok).toBe(true);
    expect((await client.request(mcuMethod.telemetryRate, 20)).ok).toBe(true);
    await waitFor('telemetry', () => client.counters().telemetry >= 3, 3000);
    client.close();
    const framesAtClose = client.counters().reader.frames;
    const sent: number[] = [];
    const spy = new McuFrameReader();
    port.onData((c) => sent.push(...spy.push(c).map((m) => m.type))); // what still arrives from the board
    await new Promise((r) => setTimeout(r, 300));
    expect(sent.filter((t) => t === mcuType.telemetry).length).toBeGreaterThan(5); // the board still streams
    expect(client.counters().reader.frames).toBe(framesAtClose); // ...and the closed client no longer reads it
    const late = await client.request(mcuMethod.echo, 1);
    expect(!late.ok && late.error).toEqual({ code: 'stopped', message: 'MCU client closed' });
    expect(client.counters().requests).toBe(2); // hello and telemetry rate; nothing sent after close
  });

  it('requests keep being applied across the 32-bit sequence wrap (a long-running host)', async () => {
    // 2^32 requests take days at full rate; the client starts just below the wrap instead.
    const { port } = await connect(0);
    const client = new McuClient(port, { timeoutMs: 15, retries: 400, firstSeq: 0xffff_ffe0 });
    cleanup.push(async () => client.close());
    expect((await client.handshake()).ok).toBe(true);
    const seqs: number[] = [];
    const failures: string[] = [];
    // 8 at a time, so the sequence window (32) is exercised across the wrap too.
    for (let batch = 0; batch < 100; batch += 8) {
      const rs = await Promise.all(Array.from({ length: Math.min(8, 100 - batch) }, () => client.request(mcuMethod.add, 1, (seq) => seqs.push(seq))));
      for (const r of rs) if (!r.ok) failures.push(r.error.message);
    }
    expect(failures.slice(0, 3)).toEqual([]);
    expect(Math.min(...seqs)).toBe(1); // it did wrap (0 is skipped)
    const stats = await client.request(mcuMethod.stats, 0);
    const [, , , , , applied, , acc] = (stats.ok ? stats.value : []) as number[];
    expect([applied, acc]).toEqual([100, 100]);
  });

  it('a host that restarts while the board keeps running has its new requests applied, not answered from the old session', async () => {
    // The companion process restarts (a crash, an update) and its new client numbers requests from 1
    // again; the board, still powered, remembers the old session's sequence numbers.
    const { client: first, port } = await connect(0);
    expect((await first.handshake()).ok).toBe(true);
    for (let i = 0; i < 80; i++) expect((await first.request(mcuMethod.add, 1)).ok).toBe(true);
    first.close();
    const second = new McuClient(port, { timeoutMs: 15, retries: 400 });
    expect((await second.handshake()).ok).toBe(true);
    const add = await second.request(mcuMethod.add, 1000);
    // Before the fix: refused as "sequence too old" here; with fewer old requests than the board's
    // dedup memory, the old session's cached answer came back and the ADD was silently not applied.
    expect(add.ok && add.value).toEqual([1080, 81]);
    const after = await second.request(mcuMethod.add, 5);
    expect(after.ok && after.value).toEqual([1085, 82]);
    second.close();
  });

  it('a restarted host with fewer requests than the board remembers does not get the old session\'s answers', async () => {
    const { client: first, port } = await connect(0);
    expect((await first.handshake()).ok).toBe(true);
    for (let i = 0; i < 10; i++) expect((await first.request(mcuMethod.add, 1)).ok).toBe(true);
    first.close();
    const second = new McuClient(port, { timeoutMs: 15, retries: 400 });
    expect((await second.handshake()).ok).toBe(true);
    const add = await second.request(mcuMethod.add, 1000);
    expect(add.ok && add.value).toEqual([1010, 11]);
    second.close();
  });

  it('a board that resets mid-session (its firmware restarted on the same port) gets the handshake again and the request, applied once', async () => {
    const pair = await startPtyPair();
    cleanup.push(() => pair.stop());
    let fw: Started = await startFirmware(binary, pair.b);
    cleanup.push(() => fw.stop());
    const port = await openSerial({ path: pair.a, baudRate: 921_600 });
    // Each copy answered well within the second: the reset board's "no handshake" comes to the first
    // copy, the one case where the request is sent again (below, the other).
    const client = new McuClient(port, { timeoutMs: 1_000, retries: 5 });
    try {
      expect((await client.handshake()).ok).toBe(true);
      const before = await client.request(mcuMethod.add, 5);
      expect(before.ok && before.value).toEqual([5, 1]);
      await fw.stop();
      fw = await startFirmware(binary, pair.b); // a reset: no session, its sum back at 0
      const add = await client.request(mcuMethod.add, 7);
      // Before: "MCU error 3 (no handshake)" for this and every later request.
      expect(add.ok && add.value).toEqual([7, 1]);
      expect(client.counters().rehandshakes).toBe(1);
      const next = await client.request(mcuMethod.add, 1);
      expect(next.ok && next.value).toEqual([8, 2]);
    } finally {
      client.close();
      await port.close();
    }
  });

  it('a board that resets between two copies of a request (its answer to the first lost) is not sent it again: the first may have been applied', async () => {
    // The board played here: it applies the first copy of ADD and its answer is lost; then it resets
    // (no session), and answers the resent copy "no handshake". Before, the client shook hands again and
    // sent the request a third time, which the board applied again: 7 added twice.
    const [host, board] = memoryPair();
    const reader = new McuFrameReader();
    let session = false;
    let sum = 0;
    let adds = 0;
    const answer = (m: Omit<McuMessage, 'seq'>): void => board.write(encodeMcuFrame({ ...m, seq: 0 }));
    board.onData((chunk) => {
      for (const m of reader.push(chunk)) {
        if (m.type === mcuType.hello) {
          session = true;
          answer({ type: mcuType.helloAck, ack: m.seq, method: 0, body: [1, 'scripted'] });
        } else if (!session) answer({ type: mcuType.error, ack: m.seq, method: m.method, body: 3 });
        else if (m.method === mcuMethod.add) {
          sum += m.body as number;
          adds++;
          session = false; // the answer is lost, and the board resets
        }
      }
    });
    const client = new McuClient(host, { timeoutMs: 50, retries: 3 });
    expect((await client.handshake()).ok).toBe(true);
    const r = await client.request(mcuMethod.add, 7);
    expect(r.ok ? r.value : r.error.message).toBe(
      `MCU request seq 2 may have been applied: the board reset while it was in flight (it answered "no handshake" after 2 copies were sent, and an earlier one may have been applied before the reset); it is not sent again: read the board's state before repeating it`,
    );
    // The client shook hands again (the board needs it), but did not send the request a third time.
    expect([adds, sum, client.counters().rehandshakes]).toEqual([1, 7, 1]);
    client.close();
  });

  it('10,000 ADD requests through a corrupting relay: corrupt frames dropped and retried, each request applied once', async () => {
    const { client, relay } = await connect(0.004);
    const hello = await client.handshake();
    expect(hello.ok).toBe(true);
    const prng = new Prng(seed);
    const deltas = Array.from({ length: 10_000 }, () => prng.range(-1_000_000, 1_000_000));
    let expectedSum = 0;
    let expectedDigest = 0;
    let next = 0;
    const failures: string[] = [];
    const worker = async (): Promise<void> => {
      for (let i = next++; i < deltas.length; i = next++) {
        const d = deltas[i] as number;
        expectedSum += d;
        const r = await client.request(mcuMethod.add, d, (seq) => {
          expectedDigest = (expectedDigest + addDigest(seq, d)) >>> 0;
        });
        if (!r.ok) failures.push(r.error.message);
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    expect(failures.slice(0, 5)).toEqual([]); // (at most five shown)
    const stats = await client.request(mcuMethod.stats, 0);
    expect(stats.ok).toBe(true);
    const [framesOk, badCobs, badCrc, badCbor, oversize, applied, duplicates, acc, digest] = (stats.ok ? stats.value : []) as number[];
    const host = client.counters();
    const rejectedByFirmware = (badCobs ?? 0) + (badCrc ?? 0) + (badCbor ?? 0) + (oversize ?? 0);
    const rejectedByHost = host.reader.badCobs + host.reader.badCrc + host.reader.badCbor + host.reader.oversize;
    console.log(
      `mcu corrupt link: ${relay?.forward.counters.bytesCorrupted ?? 0}+${relay?.backward.counters.bytesCorrupted ?? 0} bytes corrupted; ` +
        `firmware dropped ${rejectedByFirmware} frames (cobs ${badCobs}, crc ${badCrc}, cbor ${badCbor}), host dropped ${rejectedByHost}; ` +
        `${host.retries} retries, ${duplicates} duplicates answered from cache, ${framesOk} good frames`,
    );
    expect(applied).toBe(10_000);
    expect(acc).toBe(expectedSum);
    expect(digest).toBe(expectedDigest);
    expect(rejectedByFirmware).toBeGreaterThan(100);
    expect(rejectedByHost).toBeGreaterThan(100);
    expect(host.retries).toBeGreaterThan(100);
  });
});
