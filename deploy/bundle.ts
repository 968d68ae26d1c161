// `npm run bundle -- --target linux-arm64|linux-x64`: an offline install bundle for one device CPU: the built
// code, production dependencies, that CPU's native binaries only (checked by ELF machine), the installer,
// the systemd unit and a manifest of every file. Output: bundles/murmur-<version>-<target>.tar.gz.

import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CliError, exitCodes, parse, printJson, runMain } from '../runtime/cli/kit.js';
import { build, BuildError, type BuildInfo } from './build.js';
import { entryBytes, manifestName, sizeByGroup, writeBundleRecords } from './bundle-manifest.js';
import { installProductionDeps, missingOptionalPackages, pruneForTarget, StageError, verifyNatives, writeOfflineLockfile } from './stage.js';
import { runProcess } from './run-process.js';
import { sweepDead } from './stale-dirs.js';
import { dataFormat } from '../runtime/device/data-format.js';
import { isTargetName, targets, type Target } from './targets.js';

export interface BundleOptions {
  readonly repoRoot: string;
  readonly target: Target;
  readonly outDir: string;
  /** Release version; default "<package version>-g<commit>" so two builds of one version never collide. */
  readonly version?: string;
  /** Use this already-built dist/ instead of compiling (a test builds once for two targets). */
  readonly prebuiltDist?: string;
  readonly online?: boolean;
}

export interface BundleResult {
  readonly file: string;
  readonly name: string;
  readonly version: string;
  readonly target: string;
  readonly tarGzBytes: number;
  readonly unpackedBytes: number;
  readonly files: number;
  readonly nativeFiles: string[];
  readonly droppedLockEdges: string[];
  readonly missingOptional: string[];
  readonly largest: Array<{ group: string; bytes: number }>;
  readonly wallMs: number;
  /** Where the time went: build, npm ci, prune and ELF check, copy, manifest (sha256), tar.gz. */
  readonly phasesMs: Record<string, number>;
}

/** Files from deploy/ that travel inside each release, so a device can roll back and health-check on its own. */
const releaseDeployFiles = ['install.sh', 'murmur.service', 'murmur-rollback.service', 'health-check.mjs'] as const;

export async function makeBundle(opts: BundleOptions): Promise<BundleResult> {
  const started = performance.now();
  const phasesMs: Record<string, number> = {};
  let mark = started;
  const phase = (name: string): void => {
    const now = performance.now();
    phasesMs[name] = Math.round(now - mark);
    mark = now;
  };
  const { repoRoot, target } = opts;
  prepareOutDir(opts.outDir); // before minutes of build and npm ci, not after
  let dist = opts.prebuiltDist;
  if (dist === undefined) dist = build(repoRoot).outDir;
  phase('build');
  const distInfo = JSON.parse(readFileSync(join(dist, 'BUILD.json'), 'utf8')) as BuildInfo;
  const version = opts.version ?? `${distInfo.version}-g${distInfo.commit}`;
  if (!/^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$/.test(version)) throw new CliError(`--version "${version}" must be letters, digits and . + _ - only`, exitCodes.usage);
  const name = `murmur-${version}-${target.name}`;
  const scratch = join(repoRoot, '.murmur-tmp', `bundle-${target.name}-${process.pid}`);
  const top = join(scratch, name);
  const release = join(top, 'release');
  sweepDead(join(repoRoot, '.murmur-tmp'), /^bundle-.+-(\d+)$/);
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(release, { recursive: true });
  try {
    cpSync(join(repoRoot, 'package.json'), join(release, 'package.json'));
    const droppedLockEdges = writeOfflineLockfile(repoRoot, release);
    await installProductionDeps(release, target, { online: opts.online === true });
    const missingOptional = missingOptionalPackages(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8'), release, target);
    phase('npmCi');
    // Keep the project's lockfile as the record of exact versions (the staging copy only added URLs).
    cpSync(join(repoRoot, 'package-lock.json'), join(release, 'package-lock.json'));
    const nodeModules = join(release, 'node_modules');
    pruneForTarget(nodeModules, target);
    const natives = verifyNatives(nodeModules, target);
    phase('pruneAndCheck');
    cpSync(dist, join(release, 'dist'), { recursive: true });
    cpSync(join(repoRoot, 'bin'), join(release, 'bin'), { recursive: true });
    cpSync(join(repoRoot, 'README.md'), join(release, 'README.md'));
    for (const f of releaseDeployFiles) cpSync(join(repoRoot, 'deploy', f), join(release, 'deploy', f));
    cpSync(join(repoRoot, 'deploy', 'install.sh'), join(top, 'install.sh'));
    chmodSync(join(top, 'install.sh'), 0o755);
    chmodSync(join(release, 'deploy', 'install.sh'), 0o755);
    const bundleInfo = { name: 'murmur', version, target: target.name, machine: target.unameMachine, node: '>=20', dataFormat, commit: distInfo.commit, dirty: distInfo.dirty, builtAt: distInfo.builtAt };
    phase('copy');
    const entries = writeBundleRecords(top, bundleInfo);
    phase('manifest');

    const file = await writeOutputs(scratch, name, opts.outDir, distInfo.builtAt);
    phase('tarGz');
    return {
      file, name, version, target: target.name,
      tarGzBytes: statSync(file).size,
      unpackedBytes: entries.reduce((n, e) => n + entryBytes(e), 0),
      files: entries.length,
      nativeFiles: natives.map((n) => `release/node_modules/${n.path}`),
      droppedLockEdges,
      missingOptional,
      largest: sizeByGroup(entries).slice(0, 8),
      wallMs: Math.round(performance.now() - started),
      phasesMs,
    };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** What a failed write to --out means, in one line naming it (exit 2); undefined for anything else. */
function outDirError(outDir: string, e: unknown, stderr = ''): CliError | undefined {
  const code = (e as NodeJS.ErrnoException | undefined)?.code ?? (/No space left/.test(stderr) ? 'ENOSPC' : /Permission denied/.test(stderr) ? 'EACCES' : /Read-only file system/.test(stderr) ? 'EROFS' : undefined);
  const why: Record<string, string> = {
    ENOSPC: 'no space left on its filesystem: free some or pass another --out',
    EACCES: 'not writable (permission denied): pass a directory you can write',
    EPERM: 'not writable (operation not permitted): pass a directory you can write',
    EROFS: 'on a read-only filesystem: pass another --out',
    EEXIST: 'a file, not a directory: pass a directory',
    ENOTDIR: 'not a directory (a file is in its path): pass a directory',
  };
  const text = code === undefined ? undefined : why[code];
  return text === undefined ? undefined : new CliError(`--out ${outDir}: ${text}`, exitCodes.usage);
}

/** Creates --out and checks it takes a file (one line naming it, exit 2, when it does not). */
export function prepareOutDir(outDir: string): void {
  const probe = join(outDir, `.write-test-${process.pid}`);
  try {
    mkdirSync(outDir, { recursive: true });
    writeFileSync(probe, '');
  } catch (e) {
    throw outDirError(outDir, e) ?? e;
  } finally {
    removeQuietly(probe);
  }
}

/** rmSync that also takes a path below a file (ENOTDIR): cleanup must not hide the error being reported. */
function removeQuietly(file: string): void {
  try {
    rmSync(file, { force: true });
  } catch {
    // nothing there to remove
  }
}

/**
 * The .tar.gz and the .manifest.tsv beside it, each written under a .partial-<pid> name in --out and renamed
 * into place, so a final name never holds a half-written file; partial files of killed runs are removed
 * first, and this run's on failure. Returns the .tar.gz.
 */
export async function writeOutputs(parent: string, name: string, outDir: string, builtAt: string): Promise<string> {
  const file = join(outDir, `${name}.tar.gz`);
  const manifestOut = join(outDir, `${name}.manifest.tsv`);
  const tmp = `${file}.partial-${process.pid}`;
  const manifestTmp = `${manifestOut}.partial-${process.pid}`;
  try {
    mkdirSync(outDir, { recursive: true });
    sweepDead(outDir, /\.partial-(\d+)$/);
    await tarGz(parent, name, tmp, builtAt, outDir);
    copyFileSync(join(parent, name, manifestName), manifestTmp);
    renameSync(tmp, file);
    renameSync(manifestTmp, manifestOut);
    return file;
  } catch (e) {
    for (const f of [tmp, manifestTmp]) removeQuietly(f);
    if (e instanceof CliError) throw e;
    throw outDirError(outDir, e) ?? e;
  }
}

/** GNU tar with fixed owner, order and times, so the same inputs give the same archive listing. */
async function tarGz(parent: string, name: string, file: string, builtAt: string, outDir: string): Promise<void> {
  const mtime = `@${Math.floor(Date.parse(builtAt) / 1000)}`;
  const r = await runProcess('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', `--mtime=${mtime}`, '-C', parent, '-czf', file, name], { timeoutMs: 600_000 });
  if (r.status !== 0) {
    rmSync(file, { force: true });
    throw outDirError(outDir, undefined, r.stderr) ?? new StageError(`tar failed: ${r.stderr.trim() || r.error?.message || `exit ${r.status}`}`);
  }
}

const usage = `Usage: npm run bundle -- --target linux-arm64|linux-x64 [options]

Builds dist/ (npm run build), then bundles/murmur-<version>-<target>.tar.gz for offline install.

Options:
  --target T      linux-arm64 (Raspberry Pi OS 64-bit) or linux-x64
  --out DIR       output directory (default bundles/)
  --version V     release version (default <package version>-g<commit>)
  --dist DIR      use an existing build instead of compiling
  --online        let npm fetch what the npm cache lacks (default: cache only)
  --json          print the result as JSON`;

const mib = (n: number): string => `${(n / 1048576).toFixed(1)} MiB`;

async function main(argv: string[]): Promise<number> {
  const a = parse(argv, { target: { type: 'string' }, out: { type: 'string' }, version: { type: 'string' }, dist: { type: 'string' }, online: { type: 'boolean' }, json: { type: 'boolean' } }, usage);
  if (a.values.help) return void process.stdout.write(usage + '\n'), exitCodes.ok;
  const t = a.values.target;
  if (t === undefined || !isTargetName(t)) throw new CliError(`--target must be one of ${Object.keys(targets).join(', ')}${t === undefined ? '' : ` (got "${t}")`}\n\n${usage}`, exitCodes.usage);
  const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
  if (a.values.dist !== undefined && !existsSync(join(a.values.dist, 'BUILD.json'))) throw new CliError(`--dist ${a.values.dist} holds no BUILD.json: run npm run build`, exitCodes.usage);
  try {
    const r = await makeBundle({
      repoRoot,
      target: targets[t],
      outDir: a.values.out ?? join(repoRoot, 'bundles'),
      ...(a.values.version === undefined ? {} : { version: a.values.version }),
      ...(a.values.dist === undefined ? {} : { prebuiltDist: a.values.dist }),
      online: a.values.online === true,
    });
    if (a.values.json) printJson(r);
    else {
      process.stdout.write(`${relative(process.cwd(), r.file)}: ${mib(r.tarGzBytes)} (${mib(r.unpackedBytes)} unpacked, ${r.files} files) in ${(r.wallMs / 1000).toFixed(1)} s\n`);
      process.stdout.write(`phases (ms): ${Object.entries(r.phasesMs).map(([k, v]) => `${k} ${v}`).join(', ')}\n`);
      process.stdout.write(`native binaries (all ${targets[t].name}, checked by ELF machine):\n${r.nativeFiles.map((f) => `  ${f}`).join('\n')}\n`);
      process.stdout.write(`largest parts:\n${r.largest.map((g) => `  ${mib(g.bytes).padStart(10)}  ${g.group}`).join('\n')}\n`);
      if (r.missingOptional.length > 0) process.stdout.write(`optional packages for ${r.target} not in the npm cache, left out (each has a slower fallback; --online fetches them): ${r.missingOptional.join(', ')}\n`);
      if (r.droppedLockEdges.length > 0) process.stdout.write(`lockfile optional edges with no package (skipped): ${r.droppedLockEdges.length}\n`);
    }
    return exitCodes.ok;
  } catch (e) {
    if (e instanceof BuildError || e instanceof StageError) throw new CliError(e.message, exitCodes.failed);
    throw e;
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) runMain('bundle', main);
