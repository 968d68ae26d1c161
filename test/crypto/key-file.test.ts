// Identity key files: written 0600, refused when readable by others, refused when damaged.

import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readKeyFile, writeKeyFile } from '../../runtime/crypto/key-file.js';
import { loadWasmBackend } from '../../runtime/crypto/backends.js';
import { createSigner, createVerifier, generateKeyPair, initCrypto } from '../../runtime/crypto/sodium.js';
import { utf8 } from '../../runtime/lib/bytes.js';

const dir = mkdtempSync(join(tmpdir(), 'murmur-keys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeAll(() => initCrypto());

describe('key files', () => {
  it('are written with mode 0600 and read back to the same key', async () => {
    const kp = generateKeyPair();
    const path = join(dir, 'a.key');
    expect((await writeKeyFile(path, { id: 'drone-1', ...kp })).ok).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const r = await readKeyFile(path);
    expect(r.ok && Buffer.from(r.value.publicKey).equals(Buffer.from(kp.publicKey))).toBe(true);
    expect(r.ok && r.value.id).toBe('drone-1');
  });
  it('refuse to overwrite an existing identity unless forced', async () => {
    const path = join(dir, 'b.key');
    await writeKeyFile(path, { id: 'b', ...generateKeyPair() });
    const again = await writeKeyFile(path, { id: 'b', ...generateKeyPair() });
    expect(!again.ok && again.error).toContain('--force');
    expect((await writeKeyFile(path, { id: 'b', ...generateKeyPair() }, { force: true })).ok).toBe(true);
  });
  it('readable by group or others is refused with the fix', async () => {
    const path = join(dir, 'c.key');
    await writeKeyFile(path, { id: 'c', ...generateKeyPair() });
    chmodSync(path, 0o644);
    const r = await readKeyFile(path);
    expect(!r.ok && r.error).toContain('readable by other users (mode 0644)');
    expect(!r.ok && r.error).toContain(`chmod 600 ${path}`);
  });
  it('a directory or a public key file is named as such before any mode check', async () => {
    const path = join(dir, 'e.key');
    await writeKeyFile(path, { id: 'e', ...generateKeyPair() });
    writeFileSync(`${path}.pub`, JSON.stringify({ format: 'murmur-ed25519-public/1', id: 'e', publicKey: 'ab'.repeat(32) }), { mode: 0o644 });
    chmodSync(`${path}.pub`, 0o644);
    const pub = await readKeyFile(`${path}.pub`);
    expect(!pub.ok && pub.error).toBe(`${path}.pub is a public key file; give the secret key file written by keygen (${path}?)`);
    const d = await readKeyFile(dir);
    expect(!d.ok && d.error).toBe(`${dir} is a directory; give the secret key file written by keygen (like ${dir}/NAME.key)`);
  });
  it('a public key that does not match the seed is refused as damaged', async () => {
    const path = join(dir, 'd.key');
    await writeKeyFile(path, { id: 'd', ...generateKeyPair() });
    const j = JSON.parse(readFileSync(path, 'utf8')) as { publicKey: string };
    j.publicKey = 'ab'.repeat(32);
    writeFileSync(path, JSON.stringify(j));
    chmodSync(path, 0o600);
    const r = await readKeyFile(path);
    expect(!r.ok && r.error).toContain('does not match the seed');
  });
});

describe('signer and verifiers', () => {
  it('sodium-native and libsodium-wrappers agree on every signature', async () => {
    const kp = generateKeyPair();
    const s = createSigner(kp);
    const fast = createVerifier();
    const wasm = createVerifier(await loadWasmBackend());
    for (let i = 0; i < 50; i++) {
      const m = utf8(`message ${i}`);
      const sig = s.sign(m);
      expect(fast.verify(sig, m, kp.publicKey)).toBe(true);
      expect(wasm.verify(sig, m, kp.publicKey)).toBe(true);
      const bad = new Uint8Array(sig);
      bad[i % 64] = (bad[i % 64] as number) ^ 0x10;
      expect(fast.verify(bad, m, kp.publicKey)).toBe(false);
      expect(wasm.verify(bad, m, kp.publicKey)).toBe(false);
    }
  });
  it('wrong-length signatures and keys verify false instead of throwing', async () => {
    const kp = generateKeyPair();
    for (const v of [createVerifier(), createVerifier(await loadWasmBackend())]) {
      expect(v.verify(new Uint8Array(10), utf8('x'), kp.publicKey)).toBe(false);
      expect(v.verify(new Uint8Array(64), utf8('x'), new Uint8Array(5))).toBe(false);
    }
  });
});
