// The two libsodium backends: sodium-native when it loads, libsodium-wrappers only when it cannot (so a
// device never holds both), and the same bytes from either: Ed25519 is deterministic (RFC 8032) and
// BLAKE2b is a function, so a fleet may mix devices on either backend.

import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { loadNativeBackend, loadWasmBackend, wasmBackendLoaded, type SodiumBackend } from '../../runtime/crypto/backends.js';
import { createSigner, createVerifier, cryptoBackend, generateKeyPair, hash, initCrypto, keyPairFromSeed, nativeLoadError } from '../../runtime/crypto/sodium.js';
import { fromHex, toHex, utf8 } from '../../runtime/lib/bytes.js';
import { unwrap } from '../../runtime/lib/result.js';
import { cliEntry, repoRoot, runCli } from '../support/run-cli.js';

const hideNative = join(import.meta.dirname, 'fixtures', 'no-sodium-native.mjs');

/** xorshift32: fixed, reproducible inputs; no need for a crypto-grade source here. */
function bytesFrom(seed: number, length: number): Uint8Array {
  let x = seed >>> 0 || 1;
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

const hex = (s: string): Uint8Array => fromHex(s) as Uint8Array;
const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => toHex(a) === toHex(b);

describe('backend selection', () => {
  it('uses sodium-native where it loads and never imports libsodium-wrappers for it', async () => {
    // This file runs in its own process (vitest isolates files), so nothing imported the fallback yet.
    expect(await initCrypto()).toBe('sodium-native');
    const kp = generateKeyPair();
    const sig = createSigner(kp).sign(utf8('m'));
    expect(createVerifier().verify(sig, utf8('m'), kp.publicKey)).toBe(true);
    expect(hash(utf8('abc')).length).toBe(32);
    expect(cryptoBackend()).toBe('sodium-native');
    expect(wasmBackendLoaded()).toBe(false);
  });

  it('falls back to libsodium-wrappers when sodium-native cannot load, and says why', async () => {
    const backend = await initCrypto({ loadNative: () => { throw new Error('No native build was found for platform=linux arch=riscv64'); } });
    expect(backend).toBe('libsodium-wrappers');
    expect(cryptoBackend()).toBe('libsodium-wrappers');
    expect(nativeLoadError()).toContain('arch=riscv64');
    // The public API on the fallback makes the same bytes as on sodium-native.
    const kp = keyPairFromSeed(bytesFrom(7, 32));
    const msg = bytesFrom(8, 300);
    const fallbackSig = createSigner(kp).sign(msg);
    const fallbackHash = hash(msg);
    expect(await initCrypto()).toBe('sodium-native');
    expect(toHex(keyPairFromSeed(bytesFrom(7, 32)).publicKey)).toBe(toHex(kp.publicKey));
    expect(toHex(createSigner(kp).sign(msg))).toBe(toHex(fallbackSig));
    expect(toHex(hash(msg))).toBe(toHex(fallbackHash));
  });

  it('no runtime module imports libsodium-wrappers except the lazy fallback in backends.ts', () => {
    const offenders: string[] = [];
    for (const root of ['runtime', 'agents', 'hal', 'firmware-bridge', 'fleet-sim']) {
      for (const f of readdirSync(join(repoRoot, root), { recursive: true, encoding: 'utf8' })) {
        if (!f.endsWith('.ts') || statSync(join(repoRoot, root, f)).isDirectory()) continue;
        const text = readFileSync(join(repoRoot, root, f), 'utf8');
        const rel = `${root}/${f}`;
        if (/from\s+['"]libsodium-wrappers['"]|require\(\s*['"]libsodium-wrappers['"]/.test(text)) offenders.push(`${rel}: static import`);
        if (rel !== 'runtime/crypto/backends.ts' && /import\(\s*['"]libsodium-wrappers['"]/.test(text)) offenders.push(`${rel}: dynamic import`);
      }
    }
    expect(offenders).toEqual([]);
  });
});

describe('sodium-native and libsodium-wrappers agree byte for byte', () => {
  const pair = async (): Promise<[SodiumBackend, SodiumBackend]> => [unwrap(loadNativeBackend()), await loadWasmBackend()];

  it('match RFC 8032 test 1 and the BLAKE2b-256 of "abc"', async () => {
    // RFC 8032 section 7.1, TEST 1 (empty message).
    const seed = hex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60');
    const publicKey = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';
    const signature = 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b';
    for (const b of await pair()) {
      const kp = b.seedKeyPair(seed);
      expect(toHex(kp.publicKey), b.name).toBe(publicKey);
      expect(toHex(b.signDetached(new Uint8Array(0), kp.secretKey)), b.name).toBe(signature);
      expect(toHex(b.blake2b256(utf8('abc'))), b.name).toBe('bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319');
    }
  });

  it('derive the same keys and signatures, and each verifies the other', async () => {
    const [n, w] = await pair();
    for (let i = 0; i < 64; i++) {
      const seed = bytesFrom(1000 + i, 32);
      const msg = bytesFrom(2000 + i, [0, 1, 31, 64, 121, 1000, 20_211][i % 7] as number);
      const kn = n.seedKeyPair(seed);
      const kw = w.seedKeyPair(seed);
      expect(sameBytes(kn.publicKey, kw.publicKey), `public key ${i}`).toBe(true);
      expect(sameBytes(kn.secretKey, kw.secretKey), `secret key ${i}`).toBe(true);
      const sn = n.signDetached(msg, kn.secretKey);
      const sw = w.signDetached(msg, kw.secretKey);
      expect(toHex(sn), `signature ${i}`).toBe(toHex(sw));
      expect(n.verifyDetached(sw, msg, kn.publicKey) && w.verifyDetached(sn, msg, kw.publicKey)).toBe(true);
      const bad = new Uint8Array(sn);
      bad[i % 64] = (bad[i % 64] as number) ^ 0x01;
      expect(n.verifyDetached(bad, msg, kn.publicKey) || w.verifyDetached(bad, msg, kw.publicKey)).toBe(false);
    }
  });

  it('hash every length around the BLAKE2b block size to the same digest', async () => {
    const [n, w] = await pair();
    for (const len of [0, 1, 63, 64, 65, 127, 128, 129, 255, 256, 257, 4096, 65_537]) {
      const m = bytesFrom(len + 3, len);
      const dn = n.blake2b256(m);
      expect(dn.length).toBe(32);
      expect(toHex(dn), `length ${len}`).toBe(toHex(w.blake2b256(m)));
    }
  });

  it('return plain Uint8Arrays (a Buffer slice would alias its pool)', async () => {
    const [n] = await pair();
    const kp = n.seedKeyPair(bytesFrom(5, 32));
    for (const out of [kp.publicKey, kp.secretKey, n.signDetached(utf8('x'), kp.secretKey), n.blake2b256(utf8('x')), n.randomBytes(16)]) {
      expect(Object.getPrototypeOf(out)).toBe(Uint8Array.prototype);
    }
  });
});

describe('a process where sodium-native cannot load', () => {
  // bin/murmur.js registers tsx itself; a bare .mts probe needs `--import tsx`.
  const run = (args: string[], cwd: string, tsx = false): Promise<{ code: number; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      execFile(process.execPath, ['--import', hideNative, ...(tsx ? ['--import', 'tsx'] : []), ...args], { cwd, timeout: 60_000 }, (e, stdout, stderr) => resolve({ code: e ? Number(e.code ?? 1) : 0, stdout, stderr }));
    });

  it('signs and hashes on libsodium-wrappers to the bytes sodium-native makes here', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'murmur-fallback-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const probe = join(dir, 'probe.mts');
    const sodiumTs = pathToFileURL(join(repoRoot, 'runtime/crypto/sodium.ts')).href;
    const bytesTs = pathToFileURL(join(repoRoot, 'runtime/lib/bytes.ts')).href;
    writeFileSync(
      probe,
      [
        `import { initCrypto, nativeLoadError, keyPairFromSeed, createSigner, hash } from '${sodiumTs}';`,
        `import { fromHex, toHex } from '${bytesTs}';`,
        'const backend = await initCrypto();',
        "const kp = keyPairFromSeed(fromHex('11'.repeat(32)));",
        "const msg = fromHex('00ff'.repeat(500));",
        'console.log(JSON.stringify({ backend, why: nativeLoadError(), publicKey: toHex(kp.publicKey), signature: toHex(createSigner(kp).sign(msg)), hash: toHex(hash(msg)) }));',
      ].join('\n'),
    );
    const r = await run([probe], repoRoot, true);
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as { backend: string; why: string; publicKey: string; signature: string; hash: string };
    expect(out.backend).toBe('libsodium-wrappers');
    expect(out.why).toContain("Cannot find module 'sodium-native'");
    await initCrypto();
    const kp = keyPairFromSeed(hex('11'.repeat(32)));
    const msg = hex('00ff'.repeat(500));
    expect(out).toMatchObject({ publicKey: toHex(kp.publicKey), signature: toHex(createSigner(kp).sign(msg)), hash: toHex(hash(msg)) });
  });

  it('murmur signs a fleet manifest that murmur with sodium-native verifies', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'murmur-fallback-cli-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const p = (f: string): string => join(dir, f);
    const murmur = cliEntry('murmur');
    const keys = await Promise.all(['authority', 'v0'].map((id) => run([murmur, 'keygen', '--id', id, '--out', p(`${id}.key`)], dir)));
    for (const k of keys) expect(k.code, k.stderr).toBe(0);
    expect((await run([murmur, 'fleet', 'init', '--fleet', 'fb', '--authority', p('authority.key'), '--out', p('fleet.json')], dir)).code).toBe(0);
    expect((await run([murmur, 'fleet', 'add', p('fleet.json'), '--validator', '--key', p('v0.key.pub')], dir)).code).toBe(0);
    const signed = await run([murmur, 'fleet', 'sign', p('fleet.json'), '--authority', p('authority.key'), '--out', p('fleet.manifest')], dir);
    expect(signed.code, signed.stderr).toBe(0);
    const verified = await runCli('murmur', ['fleet', 'verify', p('fleet.manifest'), '--authority-key', p('authority.key.pub'), '--json']);
    expect(verified.code, verified.stderr).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true, fleet: 'fb', validators: 1 });
  });
});
