// Stages one release for a target: production dependencies from the lockfile (npm ci --omit=dev, from the
// npm cache), native prebuilds for that CPU only, then proves it by the ELF machine of every binary.

import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runProcess } from './run-process.js';
import { findNativeFiles, nativeMismatches, type NativeFile } from './elf.js';
import type { Target } from './targets.js';

export class StageError extends Error {}

type LockEntry = {
  version?: string;
  dev?: boolean;
  optional?: boolean;
  os?: string[];
  cpu?: string[];
  libc?: string[];
  resolved?: string;
  link?: boolean;
  name?: string;
  optionalDependencies?: Record<string, string>;
};
type Lockfile = { packages: Record<string, LockEntry> };

/**
 * The staging copy of the lockfile, fixed for an offline `npm ci`:
 * - the project's .npmrc sets omit-lockfile-registry-resolved, so entries have no tarball URL and npm would
 *   ask the registry for each packument; writing the conventional URL back lets the cache answer by integrity;
 * - an optional edge with no lock entry at all (it happened with cbor-extract 2.2.3, whose platform packages
 *   were missing from the registry) makes `npm ci` refuse the lockfile as out of sync; such edges are dropped
 *   and reported, and the package that wanted them falls back as it would in a clone.
 * Returns the edited lockfile and the edges it dropped.
 */
export function offlineLockfile(lockText: string, registry: string): { text: string; dropped: string[] } {
  const lock = JSON.parse(lockText) as Lockfile;
  const base = registry.replace(/\/+$/, '');
  const dropped: string[] = [];
  for (const [key, entry] of Object.entries(lock.packages)) {
    if (key !== '' && entry.link !== true && entry.resolved === undefined && entry.version !== undefined) {
      const name = entry.name ?? key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length);
      entry.resolved = `${base}/${name}/-/${name.split('/').pop() ?? name}-${entry.version}.tgz`;
    }
    for (const dep of Object.keys(entry.optionalDependencies ?? {})) {
      if (!hasLockEntry(lock, key, dep)) {
        delete entry.optionalDependencies?.[dep];
        dropped.push(`${key || '(root)'} -> ${dep}`);
      }
    }
  }
  return { text: JSON.stringify(lock, null, 2) + '\n', dropped };
}

/** Node's resolution walk: key/node_modules/dep, then each ancestor's node_modules, then the top level. */
function hasLockEntry(lock: Lockfile, fromKey: string, dep: string): boolean {
  let at = fromKey;
  for (let guard = 0; guard < 64; guard += 1) {
    if (lock.packages[at === '' ? `node_modules/${dep}` : `${at}/node_modules/${dep}`] !== undefined) return true;
    if (at === '') return false;
    const cut = at.lastIndexOf('/node_modules/');
    at = cut < 0 ? '' : at.slice(0, cut);
  }
  return false;
}

export interface InstallOptions {
  /** Allow npm to use the network for anything missing from the cache (default: cache only). */
  readonly online: boolean;
}

/** npm ci --omit=dev into stageDir (which holds package.json and the offline lockfile) for the target's CPU. */
export async function installProductionDeps(stageDir: string, target: Target, opts: InstallOptions): Promise<void> {
  const args = [
    'ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error',
    // Picks the target's optional platform packages, whatever this machine is.
    `--os=${target.os}`, `--cpu=${target.cpu}`, '--libc=glibc',
    opts.online ? '--prefer-offline' : '--offline',
  ];
  // --ignore-scripts: the prebuilt binaries ship inside the packages; install scripts would compile or
  // download for the build machine (onnxruntime-node fetches CUDA on x64), never for the target.
  const r = await runProcess('npm', args, { cwd: stageDir, timeoutMs: 600_000, env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' } });
  if (r.error !== undefined) throw new StageError(`npm ci could not run: ${r.error.message}`);
  if (r.status !== 0) {
    const hint = /ENOTCACHED/.test(r.stderr) ? '\n(a package is not in the npm cache: run `npm ci` in the repository once, or pass --online)' : '';
    throw new StageError(`npm ci --omit=dev failed for ${target.name}:\n${r.stderr.trim()}${hint}`);
  }
}

/**
 * Optional platform packages the lockfile has for this target that npm did not install (offline, they were
 * not in the cache: npm skips a failed optional package silently). The bundle still works (each has a
 * fallback) but is slower; `--online` fetches them.
 */
export function missingOptionalPackages(lockText: string, stageDir: string, target: Target): string[] {
  const lock = JSON.parse(lockText) as Lockfile;
  const fits = (list: string[] | undefined, value: string): boolean => list === undefined || list.includes(value);
  return Object.entries(lock.packages)
    .filter(([key, e]) => key !== '' && e.optional === true && e.dev !== true)
    .filter(([, e]) => fits(e.os, target.os) && fits(e.cpu, target.cpu) && fits(e.libc, 'glibc'))
    .filter(([key]) => !neverLoadedPackages.some((p) => key === `node_modules/${p}` || key.startsWith(`node_modules/${p}/`)))
    .filter(([key]) => !existsSync(join(stageDir, key)))
    .map(([key]) => key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length));
}

/**
 * Packages a bundle never loads, removed from it:
 * - tsx and esbuild run the .ts sources in a clone; bin/launch.js runs dist/ when those are absent;
 * - typescript, ts-node and their helpers (@types, @cspotcode, @tsconfig) arrive as run-time dependencies
 *   of mavlink-mappings (through mavlink-mappings-gen), but loading mavlink-mappings and node-mavlink
 *   loads none of them. test/deploy/bundle.test.ts imports every production dependency from an installed
 *   bundle, so a package that does need one of these fails there, not on a device.
 */
export const neverLoadedPackages = ['tsx', 'esbuild', '@esbuild', 'typescript', 'ts-node', '@types', '@cspotcode', '@tsconfig'] as const;

/**
 * Removes what the target cannot use: other platforms' prebuilds, onnxruntime-node's other OS/CPU builds,
 * the packages a device never loads, and node_modules/.bin links. Returns the removed paths, relative to node_modules.
 */
export function pruneForTarget(nodeModules: string, target: Target): string[] {
  const removed: string[] = [];
  const remove = (rel: string): void => {
    rmSync(join(nodeModules, rel), { recursive: true, force: true });
    removed.push(rel);
  };
  for (const name of neverLoadedPackages) if (existsSync(join(nodeModules, name))) remove(name);
  for (const entry of readdirSync(nodeModules, { withFileTypes: true, recursive: true })) {
    if (!entry.isDirectory() || entry.name !== '.bin') continue;
    remove(relativeTo(nodeModules, join(entry.parentPath, entry.name)));
  }
  // prebuildify layout (serialport, sodium-native, bare-*): prebuilds/<os>-<cpu>[+<cpu>...]/
  const keep = `${target.os}-${target.cpu}`;
  for (const dir of findDirs(nodeModules, 'prebuilds')) {
    for (const platform of readdirSync(join(nodeModules, dir))) {
      if (platform !== keep && platformDir.test(platform)) remove(`${dir}/${platform}`);
    }
  }
  // onnxruntime-node layout: bin/napi-v6/<os>/<cpu>/
  const ort = 'onnxruntime-node/bin/napi-v6';
  if (existsSync(join(nodeModules, ort))) {
    for (const os of readdirSync(join(nodeModules, ort))) {
      if (os !== target.os) remove(`${ort}/${os}`);
      else for (const cpu of readdirSync(join(nodeModules, ort, os))) if (cpu !== target.cpu) remove(`${ort}/${os}/${cpu}`);
    }
  }
  return removed;
}

const platformDir = /^(linux|darwin|win32|android|ios|freebsd|openbsd|netbsd|sunos|aix)-/;

/** Native packages whose binary for the target must be present, or the device would fail at its first import. */
export function requiredNativeDirs(target: Target): string[] {
  return [
    `@serialport/bindings-cpp/prebuilds/${target.os}-${target.cpu}`,
    `sodium-native/prebuilds/${target.os}-${target.cpu}`,
    `onnxruntime-node/bin/napi-v6/${target.os}/${target.cpu}`,
  ];
}

/** The build's own check: every native file is for the target's CPU, and each required binary is there. */
export function verifyNatives(nodeModules: string, target: Target): NativeFile[] {
  const files = findNativeFiles(nodeModules);
  const problems = nativeMismatches(files, target);
  for (const dir of requiredNativeDirs(target)) {
    if (!files.some((f) => f.path.startsWith(`${dir}/`) && f.path.endsWith('.node'))) problems.push(`${dir}: no .node binary for ${target.name}`);
  }
  const links = findSymlinks(nodeModules);
  if (links.length > 0) problems.push(...links.map((l) => `${l}: symbolic link (a bundle holds plain files only)`));
  if (problems.length > 0) throw new StageError(`native binaries do not match ${target.name}:\n  ${problems.join('\n  ')}`);
  return files;
}

function findDirs(root: string, name: string): string[] {
  return readdirSync(root, { withFileTypes: true, recursive: true })
    .filter((e) => e.isDirectory() && e.name === name)
    .map((e) => relativeTo(root, join(e.parentPath, e.name)));
}

function findSymlinks(root: string): string[] {
  return readdirSync(root, { recursive: true, encoding: 'utf8' })
    .filter((rel) => lstatSync(join(root, rel)).isSymbolicLink());
}

function relativeTo(root: string, full: string): string {
  return full.slice(root.length + 1).split('\\').join('/');
}

export function readRegistry(): string {
  const r = spawnSync('npm', ['config', 'get', 'registry'], { encoding: 'utf8', timeout: 30_000 });
  const url = r.status === 0 ? r.stdout.trim() : '';
  return url.startsWith('http') ? url : 'https://registry.npmjs.org/';
}

export function writeOfflineLockfile(repoRoot: string, stageDir: string): string[] {
  const { text, dropped } = offlineLockfile(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8'), readRegistry());
  writeFileSync(join(stageDir, 'package-lock.json'), text);
  return dropped;
}
