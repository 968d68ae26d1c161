// The executor's own-return record in the data directory (runtime/device/own-return.ts): written and
// read back through the device's FileStorage (atomic replace), and each way the file can be wrong (cut
// short, damaged, of another format, not a record) read as no record with the reason, never a throw; a
// device starting on such a file (MissionRunner) logs one line naming the file and empties it. Then
// ownReturnMismatch: when a record is the return the vehicle flies now, and when it is not.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FlightState } from '../../hal/devices.js';
import { FileStorage } from '../../runtime/device/file-storage.js';
import { MissionRunner, type MissionRunnerOptions } from '../../runtime/device/mission-runner.js';
import { decodeOwnReturn, encodeOwnReturn, ownReturnAgeMsMax, ownReturnFile, ownReturnFormat, ownReturnMismatch, type OwnReturn } from '../../runtime/device/own-return.js';
import { encodeCbor } from '../../runtime/wire/cbor.js';
import { crc32 } from '../../runtime/node/crc32.js';

const record: OwnReturn = { action: 'return-to-launch', command: 'ops/07', what: 'rtl for command ops/07', atMs: 1_765_000_000_000, home: { latDeg: 47.397742, lonDeg: 8.545594 } };

function dataDir(onTestFinished: (f: () => void) => void): { dir: string; storage: FileStorage } {
  const dir = mkdtempSync(join(tmpdir(), 'murmur-own-return-'));
  const storage = new FileStorage(dir);
  onTestFinished(() => {
    storage.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, storage };
}

/** A file of format 1 around `body` (CBOR), its checksum right. */
function fileOf(body: unknown): Uint8Array {
  const b = encodeCbor(body);
  const out = new Uint8Array(5 + b.length);
  out[0] = ownReturnFormat;
  new DataView(out.buffer).setUint32(1, crc32(b));
  out.set(b, 5);
  return out;
}

describe('the own-return record', () => {
  it('written through the data directory (atomic replace) reads back the same; emptied, it is no record', ({ onTestFinished }) => {
    const { storage } = dataDir(onTestFinished);
    for (const r of [record, { ...record, action: 'land', command: null, what: 'failsafe landing (battery 9%)', home: null } satisfies OwnReturn]) {
      storage.replace(ownReturnFile, encodeOwnReturn(r));
      expect(decodeOwnReturn(storage.read(ownReturnFile) as Uint8Array)).toEqual({ ok: true, value: r });
    }
    storage.replace(ownReturnFile, new Uint8Array(0));
    expect(decodeOwnReturn(storage.read(ownReturnFile) as Uint8Array)).toEqual({ ok: true, value: null });
  });

  it('cut short, damaged, of another format or not a record: no record, with the reason', () => {
    const good = encodeOwnReturn(record);
    const flipped = good.slice();
    flipped[good.length - 3] = (flipped[good.length - 3] as number) ^ 0x10;
    const cases: [string, Uint8Array, RegExp][] = [
      ['cut in its header', good.subarray(0, 3), /^is cut short \(3 bytes, its header is 5\)$/],
      ['cut in its body', good.subarray(0, good.length - 4), /^fails its checksum/],
      ['a bit flipped', flipped, /^fails its checksum/],
      ['another format', Uint8Array.of(2, ...good.subarray(1)), /^is of format 2, not 1 \(written by another release\)$/],
      ['zeros (a sector lost)', new Uint8Array(good.length), /^is of format 0, not 1/],
      ['a wrong action', fileOf(['hold', null, 'x', 1, null]), /record\.action/],
      ['a field missing', fileOf(['land', null, 'x', 1]), /record/],
      ['not CBOR', Uint8Array.of(1, ...new Uint8Array(4).fill(0), 0xff), /checksum|CBOR/],
    ];
    for (const [what, bytes, why] of cases) {
      const r = decodeOwnReturn(bytes);
      expect(r.ok, what).toBe(false);
      expect(r.ok ? '' : r.error, what).toMatch(why);
    }
  });

  it('a device starting on a damaged file logs one line naming it, empties it, and starts without a record', ({ onTestFinished }) => {
    const { dir, storage } = dataDir(onTestFinished);
    const good = encodeOwnReturn(record);
    writeFileSync(join(dir, ownReturnFile), good.subarray(0, good.length - 2)); // a copy cut short
    const lines: { event?: string; msg: string }[] = [];
    const line = (a: unknown, b?: string): void => void lines.push(typeof a === 'string' ? { msg: a } : { ...(a as { event?: string }), msg: b ?? '' });
    const o = { id: 'd1', fleet: 'f', manifest: { body: { authority: new Uint8Array(32) } }, hal: { devices: {} }, origin: { latDeg: 47, lonDeg: 8 }, fence: null, log: { info: line, warn: line }, control: {}, metrics: {}, storage } as unknown as MissionRunnerOptions;
    const r = new MissionRunner(o);
    onTestFinished(() => r.stop());
    expect(lines).toEqual([{ event: 'own-return-unreadable', file: ownReturnFile, msg: expect.stringMatching(/^own-return in the data directory fails its checksum .*: ignored and emptied; a return or landing found at this start is taken as not this device's$/) }]);
    expect(readFileSync(join(dir, ownReturnFile)).length).toBe(0);
  });
});

describe('whether a record is the return the vehicle flies now', () => {
  const now = record.atMs + 60_000;
  const returning: FlightState = { timeMs: 1, armed: true, mode: 'return', landed: 'in-air', home: { ...record.home!, relAltM: 0, altMslM: 488 }, failsafe: false };
  const rtlModes = ['return', 'land'] as const;
  it('armed, in the air, in a mode of its action, of this flight: it is', () => {
    expect(ownReturnMismatch(record, returning, rtlModes, now)).toBeNull();
    expect(ownReturnMismatch(record, { ...returning, mode: 'land', landed: 'landing' }, rtlModes, now)).toBeNull(); // a return's last phase
    expect(ownReturnMismatch(record, { ...returning, home: null }, rtlModes, now)).toBeNull(); // no home to compare
  });
  it('another mode, down, disarmed, too old, ahead of the clock, or another home: it is not, and says why', () => {
    const cases: [string, FlightState, number, RegExp][] = [
      ['a pilot switched', { ...returning, mode: 'hold' }, now, /in mode hold, not return or land: someone changed it since/],
      ['disarmed', { ...returning, armed: false, landed: 'on-ground' }, now, /disarmed: that return ended/],
      ['on the ground', { ...returning, landed: 'on-ground' }, now, /on the ground: that return ended/],
      ['too old', returning, record.atMs + ownReturnAgeMsMax + 60_000, /31 min old \(at most 30 min\): of another flight/],
      ['ahead of the clock', returning, record.atMs - 120_000, /120 s ahead of this device's clock/],
      ['a failsafe the FC announced since this device started', { ...returning, failsafe: true, failsafeSaid: '"Failsafe: battery critical, action return"' }, now, /the flight controller announced a failsafe since this device started \("Failsafe: battery critical, action return"; mode return\): its own, not that return/],
      ['home set anew 50 m off', { ...returning, home: { ...returning.home!, latDeg: record.home!.latDeg + 50 / 111_195 } }, now, /home moved 50 m since/],
    ];
    for (const [what, fs, at, why] of cases) expect(ownReturnMismatch(record, fs, rtlModes, at), what).toMatch(why);
    expect(ownReturnMismatch({ ...record, action: 'land' }, returning, ['land'], now)).toMatch(/in mode return, not land/);
  });
});
