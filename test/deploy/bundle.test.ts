// Real bundles: compile once, bundle linux-arm64 and linux-x64 from the npm cache, then check the arm64
// bundle holds only AArch64 binaries and that the x64 bundle, installed by install.sh, runs its bins here.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from '../../deploy/build.js';
import { makeBundle, type BundleResult } from '../../deploy/bundle.js';
import { parseManifest } from '../../deploy/bundle-manifest.js';
import { findNativeFiles } from '../../deploy/elf.js';
import { targets } from '../../deploy/targets.js';
import { Mosquitto, freePort } from '../links/processes.js';
import { repoRoot } from './fixture-bundle.js';
import { runInstall } from './run-install.js';

const mib = (n: number): string => `${(n / 1048576).toFixed(1)} MiB`;

let work: string;
const made: Partial<Record<'arm64' | 'x64', BundleResult>> = {};
const unpacked: Partial<Record<'arm64' | 'x64', string>> = {};

function untar(file: string, into: string): string {
  mkdirSync(into, { recursive: true });
  const r = spawnSync('tar', ['-xzf', file, '-C', into], { encoding: 'utf8', timeout: 60_000 });
  expect(r.stderr).toBe('');
  return into;
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'murmur-bundle-'));
  // The test's own dist/, so it neither needs nor disturbs the repository's.
  const built = build(repoRoot, join(work, 'dist'));
  const dist = built.outDir;
  console.log(`npm run build: ${built.jsFiles} files in ${built.wallMs} ms`);
  for (const cpu of ['arm64', 'x64'] as const) {
    const r = makeBundle({ repoRoot, target: targets[`linux-${cpu}`], outDir: join(work, 'out'), version: `9.9.${cpu === 'arm64' ? 1 : 2}-test`, prebuiltDist: dist });
    made[cpu] = r;
    unpacked[cpu] = join(untar(r.file, join(work, `unpacked-${cpu}`)), r.name);
    console.log(`bundle ${r.target}: ${mib(r.tarGzBytes)} .tar.gz, ${mib(r.unpackedBytes)} unpacked, ${r.files} files, built in ${r.wallMs} ms`);
  }
}, 240_000);

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

/** Size budgets (.tar.gz): about 30% over the sizes measured when written, so a dependency that swells what
 * must be carried to the field is noticed here rather than on a device's SD card. */
const tarGzBytesMax = { arm64: 30 * 1048576, x64: 40 * 1048576 } as const;

describe('offline bundles', () => {
  it('stay within their size budgets', () => {
    expect(made.arm64?.tarGzBytes).toBeLessThan(tarGzBytesMax.arm64);
    expect(made.x64?.tarGzBytes).toBeLessThan(tarGzBytesMax.x64);
    expect(made.arm64?.tarGzBytes).toBeGreaterThan(1048576); // and hold the dependencies at all
  });

  it('the arm64 bundle holds only AArch64 native binaries, serialport, sodium-native and onnxruntime among them', () => {
    const files = findNativeFiles(unpacked.arm64 ?? '');
    expect(files.map((f) => [f.path, f.header?.machine])).toEqual(files.map((f) => [f.path, 183]));
    const paths = files.map((f) => f.path);
    for (const required of ['@serialport/bindings-cpp/prebuilds/linux-arm64/', 'sodium-native/prebuilds/linux-arm64/sodium-native.node', 'onnxruntime-node/bin/napi-v6/linux/arm64/onnxruntime_binding.node', 'onnxruntime-node/bin/napi-v6/linux/arm64/libonnxruntime.so.1']) {
      expect(paths.some((p) => p.includes(required))).toBe(true);
    }
  });

  it('the x64 bundle holds only x86-64 native binaries', () => {
    const files = findNativeFiles(unpacked.x64 ?? '');
    expect(files.length).toBeGreaterThanOrEqual(4);
    expect(files.filter((f) => f.header?.machine !== 62)).toEqual([]);
  });

  it('carries built JavaScript only: no TypeScript sources, no tsx, no dev dependencies', () => {
    const r = made.arm64;
    expect(r).toBeDefined();
    const entries = parseManifest(readFileSync(join(unpacked.arm64 ?? '', 'MANIFEST.tsv'), 'utf8'));
    const paths = entries.map((e) => e.path);
    expect(paths.filter((p) => p.startsWith('release/dist/') && p.endsWith('.ts'))).toEqual([]);
    expect(paths.filter((p) => p.startsWith('release/runtime/'))).toEqual([]);
    expect(paths).toContain('release/dist/runtime/cli/murmur.js');
    for (const absent of ['tsx', 'esbuild', 'vitest', 'eslint', 'fast-check', 'playwright-core']) {
      expect(paths.some((p) => p.startsWith(`release/node_modules/${absent}/`))).toBe(false);
    }
  });

  it('lists every file with its size in a manifest, inside the bundle and beside it', () => {
    const r = made.x64;
    expect(r).toBeDefined();
    const root = unpacked.x64 ?? '';
    const entries = parseManifest(readFileSync(join(root, 'MANIFEST.tsv'), 'utf8'));
    expect(entries.length).toBe(r?.files);
    for (const e of entries.filter((_, i) => i % 97 === 0)) expect(statSync(join(root, e.path)).size).toBe(e.bytes);
    expect(readFileSync(join(work, 'out', `${r?.name}.manifest.tsv`), 'utf8')).toBe(readFileSync(join(root, 'MANIFEST.tsv'), 'utf8'));
  });
});

describe('the x64 bundle on this machine', () => {
  let prefix: string;
  let bin: string;
  const cli = (args: string[]) => spawnSync(process.execPath, [join(bin, 'murmur.js'), ...args], { encoding: 'utf8', timeout: 30_000, cwd: work });

  beforeAll(async () => {
    prefix = join(work, 'root');
    const r = await runInstall(join(unpacked.x64 ?? '', 'install.sh'), ['--prefix', prefix, '--bundle', made.x64?.file ?? '']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    console.log(`install of the x64 bundle (.tar.gz, into a prefix): ${r.wallMs} ms`);
    bin = join(prefix, 'opt/murmur/current/bin');
  }, 120_000);

  it('answers murmur --help from the installed release, running dist/ (no TypeScript present)', () => {
    const r = cli(['--help']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Usage: murmur <command>');
  });

  it('makes keys and a signed manifest and verifies it, with the bundled sodium-native', () => {
    const keys = join(work, 'keys');
    mkdirSync(keys, { recursive: true });
    const ok = (args: string[]): string => {
      const r = cli(args);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      return r.stdout;
    };
    ok(['keygen', '--id', 'authority', '--out', join(keys, 'authority.key')]);
    ok(['fleet', 'init', '--fleet', 'bundle-test', '--authority', join(keys, 'authority.key'), '--out', join(work, 'fleet.draft.json')]);
    for (const i of [0, 1, 2, 3]) {
      ok(['keygen', '--id', `v${i}`, '--out', join(keys, `v${i}.key`)]);
      ok(['fleet', 'add', join(work, 'fleet.draft.json'), '--validator', '--key', join(keys, `v${i}.key.pub`)]);
    }
    ok(['fleet', 'sign', join(work, 'fleet.draft.json'), '--authority', join(keys, 'authority.key'), '--out', join(work, 'fleet.manifest')]);
    ok(['fleet', 'verify', join(work, 'fleet.manifest'), '--authority-key', join(keys, 'authority.key.pub')]);
    const probe = spawnSync(process.execPath, ['-e', "import('sodium-native').then((s) => console.log(typeof s.default.crypto_sign_detached))"], { cwd: join(prefix, 'opt/murmur/current'), encoding: 'utf8', timeout: 30_000 });
    expect(probe.stdout.trim()).toBe('function');
  });
});

describe('a device started from the installed x64 bundle', () => {
  let broker: Mosquitto | undefined;
  let device: ChildProcess | undefined;
  let output = '';
  let httpPort = 0;
  let readyMs = 0;
  let dir: string;
  const current = (): string => join(work, 'root/opt/murmur/current');

  beforeAll(async () => {
    dir = join(work, 'device');
    mkdirSync(dir, { recursive: true });
    broker = await Mosquitto.start();
    httpPort = await freePort();
    const murmur = (args: string[]): void => {
      const r = spawnSync(process.execPath, [join(current(), 'bin/murmur.js'), ...args], { cwd: dir, encoding: 'utf8', timeout: 30_000 });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    };
    // A one-validator fleet, made with the bundle's own CLI: enough for the device to commit on its own.
    murmur(['keygen', '--id', 'authority', '--out', 'authority.key']);
    murmur(['keygen', '--id', 'd1', '--out', 'd1.key']);
    murmur(['fleet', 'init', '--fleet', 'bundle', '--authority', 'authority.key', '--out', 'fleet.draft.json']);
    murmur(['fleet', 'add', 'fleet.draft.json', '--validator', '--key', 'd1.key.pub']);
    murmur(['fleet', 'sign', 'fleet.draft.json', '--authority', 'authority.key', '--out', 'fleet.manifest']);
    writeFileSync(join(dir, 'device.yaml'), ['id: d1', 'key: d1.key', 'manifest: fleet.manifest', 'dataDir: data', `mqtt: { url: "${broker.url}" }`, `http: { port: ${httpPort} }`, ''].join('\n'));
    const t0 = performance.now();
    device = spawn(process.execPath, [join(current(), 'bin/murmur.js'), 'start', '--config', join(dir, 'device.yaml')], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const proc = device;
    readyMs = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not ready within 30 s:\n${output.slice(-2000)}`)), 30_000);
      const onData = (b: Buffer): void => {
        output += b.toString('utf8');
        if (output.includes('"event":"ready"')) {
          clearTimeout(timer);
          resolve(Math.round(performance.now() - t0));
        }
      };
      proc.stdout?.on('data', onData);
      proc.stderr?.on('data', onData);
      proc.once('exit', (code) => reject(new Error(`murmur start exited with ${code} before ready:\n${output.slice(-2000)}`)));
    });
    console.log(`device from the x64 bundle: start to ready ${readyMs} ms`);
  }, 60_000);

  afterAll(async () => {
    const proc = device;
    if (proc?.pid !== undefined && proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise<void>((r) => proc.once('exit', () => r()));
      process.kill(proc.pid, 'SIGKILL');
      await exited;
    }
    await broker?.stop();
  });

  it('answers its health endpoint, and the release\'s own health check (install.sh\'s default) passes on it', async () => {
    const res = await fetch(`http://127.0.0.1:${httpPort}/health`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { node: string; ready: boolean })).toMatchObject({ node: 'd1', ready: true });
    const check = spawnSync(process.execPath, [join(current(), 'deploy/health-check.mjs'), '--config', join(dir, 'device.yaml')], { encoding: 'utf8', timeout: 30_000 });
    expect(check.stdout).toContain(`GET http://127.0.0.1:${httpPort}/health -> 200`);
    expect(check.status).toBe(0);
  });

  it('runs at rest in bounded memory, and stops cleanly on SIGTERM', async () => {
    const proc = device as ChildProcess;
    await new Promise((r) => setTimeout(r, 3_000));
    const rssKb = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'))?.[1]);
    console.log(`device from the x64 bundle: resident memory after 3 s at rest ${(rssKb / 1024).toFixed(1)} MiB`);
    expect(rssKb).toBeGreaterThan(10 * 1024);
    expect(rssKb).toBeLessThan(150 * 1024);
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    process.kill(proc.pid as number, 'SIGTERM');
    expect(await exited).toBe(0);
  });
});
