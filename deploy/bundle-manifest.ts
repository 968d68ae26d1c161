// The bundle's file list: one line per file, "sha256<TAB>bytes<TAB>path", and per symbolic link,
// "symlink<TAB>target<TAB>path", sorted by path. install.sh checks every file and link against it before
// installing, so a bundle truncated or added to on its way to the field is refused.

import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, readlinkSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { join, posix, relative, sep } from 'node:path';

export const manifestName = 'MANIFEST.tsv';

export interface FileEntry {
  readonly kind: 'file';
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
}

/** A symbolic link: its target as written in the link (relative to the link's directory). */
export interface LinkEntry {
  readonly kind: 'symlink';
  readonly path: string;
  readonly target: string;
}

export type ManifestEntry = FileEntry | LinkEntry;

/** Bytes a manifest entry takes unpacked (a link: none counted). */
export const entryBytes = (e: ManifestEntry): number => (e.kind === 'file' ? e.bytes : 0);

export function listFiles(root: string): ManifestEntry[] {
  const entries: ManifestEntry[] = [];
  for (const e of readdirSync(root, { withFileTypes: true, recursive: true })) {
    const full = join(e.parentPath, e.name);
    const path = relative(root, full).split(sep).join('/');
    if (e.isSymbolicLink()) {
      entries.push({ kind: 'symlink', path, target: readlinkSync(full) });
      continue;
    }
    if (!e.isFile() || path === manifestName) continue;
    const data = readFileSync(full);
    entries.push({ kind: 'file', path, bytes: statSync(full).size, sha256: createHash('sha256').update(data).digest('hex') });
  }
  return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * Why the link at `e.path` under `top` cannot go in a bundle, or undefined: it must sit in release/ and
 * lead, relative to its own directory, to a path inside release/ (only release/ is installed; an absolute
 * target or one out of it would reach into the device), and to something: it is resolved by the filesystem
 * (through other links: `a -> b/..` with b a link is not where it reads), as install.sh does.
 */
export function linkOutsideRelease(top: string, e: LinkEntry): string | undefined {
  if (!e.path.startsWith('release/')) return `symbolic link ${e.path} is outside release/`;
  const outside = `symbolic link ${e.path} -> ${e.target} points outside release/`;
  const lexical = posix.normalize(posix.join(posix.dirname(e.path), e.target));
  if (posix.isAbsolute(e.target) || !(lexical === 'release' || lexical.startsWith('release/'))) return outside;
  let resolved: string;
  try {
    resolved = realpathSync.native(join(top, e.path)); // the C library's: the JavaScript one takes `..` after a link by its text
  } catch {
    return `symbolic link ${e.path} -> ${e.target} leads nowhere`; // where it leads on a device is anyone's guess
  }
  const release = realpathSync.native(join(top, 'release'));
  return resolved === release || resolved.startsWith(release + sep) ? undefined : outside;
}

/** The two files that hold the manifest's digest, and so cannot be covered by it (the manifest lists them). */
export const recordNames = ['BUNDLE.json', 'release/RELEASE.json'] as const;

/**
 * Writes a bundle's BUNDLE.json, release/RELEASE.json (the same text) and MANIFEST.tsv under `top`. The JSON
 * carries `manifestSha256`: the sha256 of MANIFEST.tsv without its lines for those two files, so install.sh
 * refuses a manifest cut short or edited, not only files that differ from it.
 */
export function writeBundleRecords(top: string, info: Record<string, unknown>): ManifestEntry[] {
  const entries = listFiles(top).filter((e) => !(recordNames as readonly string[]).includes(e.path));
  for (const e of entries) {
    const why = e.kind === 'symlink' ? linkOutsideRelease(top, e) : undefined;
    if (why !== undefined) throw new Error(`${why}: a bundle's links stay inside the release`);
  }
  const manifestSha256 = createHash('sha256').update(formatManifest(entries)).digest('hex');
  const text = JSON.stringify({ ...info, manifestSha256 }, null, 2) + '\n';
  const records = recordNames.map((path) => {
    writeFileSync(join(top, path), text);
    return { kind: 'file' as const, path, bytes: Buffer.byteLength(text), sha256: createHash('sha256').update(text).digest('hex') };
  });
  const all = [...entries, ...records].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  writeFileSync(join(top, manifestName), formatManifest(all));
  return all;
}

export function formatManifest(entries: readonly ManifestEntry[]): string {
  for (const e of entries) {
    // install.sh reads the manifest with sha256sum and a TAB split: a path with TAB or newline would break both.
    if (/[\t\n\r]/.test(e.path)) throw new Error(`file name with a tab or newline cannot go in a bundle: ${JSON.stringify(e.path)}`);
    if (e.kind === 'symlink' && /[\t\n\r]/.test(e.target)) throw new Error(`link target with a tab or newline cannot go in a bundle: ${e.path} -> ${JSON.stringify(e.target)}`);
  }
  return entries.map((e) => (e.kind === 'file' ? `${e.sha256}\t${e.bytes}\t${e.path}` : `symlink\t${e.target}\t${e.path}`)).join('\n') + '\n';
}

export function parseManifest(text: string): ManifestEntry[] {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line, i) => {
      const [first, second, path, ...rest] = line.split('\t');
      const malformed = new Error(`${manifestName} line ${i + 1} is malformed: ${JSON.stringify(line)}`);
      if (first === undefined || second === undefined || path === undefined || rest.length > 0) throw malformed;
      if (first === 'symlink' && second !== '') return { kind: 'symlink', path, target: second } satisfies LinkEntry;
      if (!/^[0-9a-f]{64}$/.test(first) || !/^\d+$/.test(second)) throw malformed;
      return { kind: 'file', sha256: first, bytes: Number(second), path } satisfies FileEntry;
    });
}

/** Bytes per group (a top-level package under node_modules, or the first two path parts), largest first. */
export function sizeByGroup(entries: readonly ManifestEntry[]): Array<{ group: string; bytes: number }> {
  const totals = new Map<string, number>();
  for (const e of entries) {
    const parts = e.path.split('/');
    const nm = parts.indexOf('node_modules');
    const group = nm >= 0 ? parts.slice(0, nm + (parts[nm + 1]?.startsWith('@') ? 3 : 2)).join('/') : parts.slice(0, 2).join('/');
    totals.set(group, (totals.get(group) ?? 0) + entryBytes(e));
  }
  return [...totals.entries()].map(([group, bytes]) => ({ group, bytes })).sort((a, b) => b.bytes - a.bytes || (a.group < b.group ? -1 : 1));
}
