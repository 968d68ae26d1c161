// The bundle's file list: one line per file, "sha256<TAB>bytes<TAB>path", sorted by path. install.sh checks
// every file against it before installing, so a bundle truncated on its way to the field is refused.

import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

export const manifestName = 'MANIFEST.tsv';

export interface ManifestEntry {
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
}

export function listFiles(root: string): ManifestEntry[] {
  const entries: ManifestEntry[] = [];
  for (const e of readdirSync(root, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const full = join(e.parentPath, e.name);
    const path = relative(root, full).split(sep).join('/');
    if (path === manifestName) continue;
    const data = readFileSync(full);
    entries.push({ path, bytes: statSync(full).size, sha256: createHash('sha256').update(data).digest('hex') });
  }
  return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
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
  const manifestSha256 = createHash('sha256').update(formatManifest(entries)).digest('hex');
  const text = JSON.stringify({ ...info, manifestSha256 }, null, 2) + '\n';
  const records = recordNames.map((path) => {
    writeFileSync(join(top, path), text);
    return { path, bytes: Buffer.byteLength(text), sha256: createHash('sha256').update(text).digest('hex') };
  });
  const all = [...entries, ...records].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  writeFileSync(join(top, manifestName), formatManifest(all));
  return all;
}

export function formatManifest(entries: readonly ManifestEntry[]): string {
  for (const e of entries) {
    // install.sh reads the manifest with sha256sum and a TAB split: a path with TAB or newline would break both.
    if (/[\t\n\r]/.test(e.path)) throw new Error(`file name with a tab or newline cannot go in a bundle: ${JSON.stringify(e.path)}`);
  }
  return entries.map((e) => `${e.sha256}\t${e.bytes}\t${e.path}`).join('\n') + '\n';
}

export function parseManifest(text: string): ManifestEntry[] {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line, i) => {
      const [sha256, bytes, path] = line.split('\t');
      if (sha256 === undefined || bytes === undefined || path === undefined || !/^[0-9a-f]{64}$/.test(sha256) || !/^\d+$/.test(bytes))
        throw new Error(`${manifestName} line ${i + 1} is malformed: ${JSON.stringify(line)}`);
      return { sha256, bytes: Number(bytes), path };
    });
}

/** Bytes per group (a top-level package under node_modules, or the first two path parts), largest first. */
export function sizeByGroup(entries: readonly ManifestEntry[]): Array<{ group: string; bytes: number }> {
  const totals = new Map<string, number>();
  for (const e of entries) {
    const parts = e.path.split('/');
    const nm = parts.indexOf('node_modules');
    const group = nm >= 0 ? parts.slice(0, nm + (parts[nm + 1]?.startsWith('@') ? 3 : 2)).join('/') : parts.slice(0, 2).join('/');
    totals.set(group, (totals.get(group) ?? 0) + e.bytes);
  }
  return [...totals.entries()].map(([group, bytes]) => ({ group, bytes })).sort((a, b) => b.bytes - a.bytes || (a.group < b.group ? -1 : 1));
}
