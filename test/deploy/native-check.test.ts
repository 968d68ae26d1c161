// The bundle's native-binary check on small fixtures: ELF header parsing, pruning other platforms out of a
// node_modules made from the real packages' prebuilds, and the build failing on a binary for the wrong CPU.

import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findNativeFiles, nativeMismatches, parseElfHeader } from '../../deploy/elf.js';
import { offlineLockfile, pruneForTarget, StageError, verifyNatives } from '../../deploy/stage.js';
import { targets } from '../../deploy/targets.js';
import { repoRoot } from './fixture-bundle.js';

/** The first 20 bytes of an ELF file: magic, class, data, version, then e_type and e_machine. */
function elfHead(machine: number, bits: 32 | 64 = 64, littleEndian = true): Uint8Array {
  const b = new Uint8Array(20);
  b.set([0x7f, 0x45, 0x4c, 0x46, bits === 64 ? 2 : 1, littleEndian ? 1 : 2, 1]);
  b[16] = 3; // ET_DYN
  if (littleEndian) b.set([machine & 0xff, machine >> 8], 18);
  else b.set([machine >> 8, machine & 0xff], 18);
  return b;
}

describe('ELF header', () => {
  it('reads class, byte order and e_machine', () => {
    expect(parseElfHeader(elfHead(183))).toEqual({ bits: 64, littleEndian: true, machine: 183 });
    expect(parseElfHeader(elfHead(62))).toEqual({ bits: 64, littleEndian: true, machine: 62 });
    expect(parseElfHeader(elfHead(40, 32))).toEqual({ bits: 32, littleEndian: true, machine: 40 });
    expect(parseElfHeader(elfHead(183, 64, false))).toEqual({ bits: 64, littleEndian: false, machine: 183 });
  });

  it('says a Mach-O file, a script or a short file is not ELF', () => {
    expect(parseElfHeader(new Uint8Array([0xcf, 0xfa, 0xed, 0xfe, ...new Uint8Array(16)]))).toBeUndefined();
    expect(parseElfHeader(new TextEncoder().encode('#!/bin/sh\necho not a binary\n'))).toBeUndefined();
    expect(parseElfHeader(elfHead(183).subarray(0, 19))).toBeUndefined();
  });
});

describe('staging native binaries for one target', () => {
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'murmur-native-'));
  });
  afterAll(() => {
    rmSync(work, { recursive: true, force: true });
  });

  /** A node_modules holding the real prebuilds of serialport, sodium-native and onnxruntime-node's bindings. */
  function fixtureNodeModules(name: string): string {
    const nm = join(work, name, 'node_modules');
    const from = join(repoRoot, 'node_modules');
    cpSync(join(from, '@serialport/bindings-cpp/prebuilds'), join(nm, '@serialport/bindings-cpp/prebuilds'), { recursive: true });
    cpSync(join(from, 'sodium-native/prebuilds'), join(nm, 'sodium-native/prebuilds'), { recursive: true });
    // onnxruntime's 25-45 MB libraries are left out; its small binding .node files carry the same ELF machine.
    const ort = 'onnxruntime-node/bin/napi-v6';
    for (const dir of ['linux/arm64', 'linux/x64', 'darwin/arm64', 'win32/x64']) {
      mkdirSync(join(nm, ort, dir), { recursive: true });
      cpSync(join(from, ort, dir, 'onnxruntime_binding.node'), join(nm, ort, dir, 'onnxruntime_binding.node'));
    }
    mkdirSync(join(nm, 'tsx/dist'), { recursive: true });
    writeFileSync(join(nm, 'tsx/dist/cli.mjs'), '// runs .ts sources; a bundle has none\n');
    return nm;
  }

  it('finds binaries for many machines and operating systems before pruning', () => {
    const files = findNativeFiles(fixtureNodeModules('before'));
    const machines = new Set(files.map((f) => f.header?.machine ?? 'not ELF'));
    expect(machines).toEqual(new Set([183, 62, 40, 3, 'not ELF']));
    expect(nativeMismatches(files, targets['linux-arm64']).length).toBeGreaterThan(10);
  });

  for (const target of [targets['linux-arm64'], targets['linux-x64']]) {
    it(`keeps only ${target.name} binaries, all of ELF machine ${target.elfMachine}`, () => {
      const nm = fixtureNodeModules(target.name);
      pruneForTarget(nm, target);
      expect(readdirSync(join(nm, '@serialport/bindings-cpp/prebuilds'))).toEqual([target.name]);
      expect(readdirSync(join(nm, 'sodium-native/prebuilds'))).toEqual([target.name]);
      expect(readdirSync(join(nm, 'onnxruntime-node/bin/napi-v6'))).toEqual(['linux']);
      expect(readdirSync(join(nm, 'onnxruntime-node/bin/napi-v6/linux'))).toEqual([target.cpu]);
      expect(existsSync(join(nm, 'tsx'))).toBe(false);
      const files = verifyNatives(nm, target);
      expect(files.length).toBeGreaterThanOrEqual(4);
      expect(files.every((f) => f.header?.machine === target.elfMachine)).toBe(true);
    });
  }

  it('fails the build, naming the file, when a binary for the wrong CPU sits in the target folder', () => {
    const nm = fixtureNodeModules('smuggled');
    const arm64 = targets['linux-arm64'];
    pruneForTarget(nm, arm64);
    // An x86-64 sodium binary renamed into the arm64 folder: only its ELF header tells.
    cpSync(join(repoRoot, 'node_modules/sodium-native/prebuilds/linux-x64/sodium-native.node'), join(nm, 'sodium-native/prebuilds/linux-arm64/sodium-native.node'));
    expect(() => verifyNatives(nm, arm64)).toThrow(StageError);
    expect(() => verifyNatives(nm, arm64)).toThrow(/sodium-native\/prebuilds\/linux-arm64\/sodium-native\.node: x86-64 \(EM_X86_64\), 64-bit, but linux-arm64 needs AArch64 \(EM_AARCH64\)/);
  });

  it('fails the build when a required binary for the target is missing', () => {
    const nm = fixtureNodeModules('missing');
    const arm64 = targets['linux-arm64'];
    pruneForTarget(nm, arm64);
    rmSync(join(nm, 'onnxruntime-node/bin/napi-v6/linux/arm64'), { recursive: true });
    expect(() => verifyNatives(nm, arm64)).toThrow(/onnxruntime-node\/bin\/napi-v6\/linux\/arm64: no \.node binary for linux-arm64/);
  });
});

describe('the staging lockfile', () => {
  it('adds tarball URLs for the npm cache and drops optional edges that have no package', () => {
    const lock = {
      lockfileVersion: 3,
      packages: {
        '': { name: 'murmur', version: '0.1.0' },
        'node_modules/cbor-extract': { version: '2.2.3', optionalDependencies: { '@cbor-extract/cbor-extract-linux-arm64': '2.2.3', 'present-opt': '1.0.0' } },
        'node_modules/present-opt': { version: '1.0.0' },
        'node_modules/@scope/pkg': { version: '3.1.4' },
        'node_modules/a/node_modules/b': { version: '1.2.3', resolved: 'https://example.test/b.tgz' },
      },
    };
    const { text, dropped } = offlineLockfile(JSON.stringify(lock), 'https://registry.npmjs.org/');
    const out = JSON.parse(text) as { packages: Record<string, { resolved?: string; optionalDependencies?: Record<string, string> }> };
    expect(dropped).toEqual(['node_modules/cbor-extract -> @cbor-extract/cbor-extract-linux-arm64']);
    expect(out.packages['node_modules/cbor-extract']?.optionalDependencies).toEqual({ 'present-opt': '1.0.0' });
    expect(out.packages['node_modules/@scope/pkg']?.resolved).toBe('https://registry.npmjs.org/@scope/pkg/-/pkg-3.1.4.tgz');
    expect(out.packages['node_modules/a/node_modules/b']?.resolved).toBe('https://example.test/b.tgz');
    expect(out.packages['']?.resolved).toBeUndefined();
  });
});
