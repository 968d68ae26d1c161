// The scenarios shipped in fleet-sim/scenarios, found from any working directory (a light module: the
// CLIs name them before they load the simulator).

import { createHash } from 'node:crypto';
import { closeSync, existsSync, fstatSync, openSync, readdirSync, readSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A shipped scenario's path: relative to the working directory inside the clone (as help and replay
 *  lines show it), else absolute. */
export function shippedScenario(name: string): string {
  const file = fileURLToPath(new URL(`../scenarios/${name}`, import.meta.url));
  const rel = relative(process.cwd(), file);
  return rel.startsWith('..') || isAbsolute(rel) ? file : rel;
}

/** Said before a deterministic run of a scenario with `hil`, which only real time carries out (the
 *  simulator flies every node's simulated multirotor): it ran without a word. */
export function hilNote(hil: { readonly nodes: readonly number[] } | undefined, file: string): string | null {
  if (hil === undefined) return null;
  return `fleet-sim: note: hil (node${hil.nodes.length > 1 ? 's' : ''} ${hil.nodes.join(', ')}) flies the simulated flight controller over MAVLink in real time only; this deterministic run flies the simulated multirotor there (fleet-sim start ${shellWord(file)} --realtime for the flight controller)\n`;
}

/** A path as one shell word: as it is when plain, else in single quotes (a quote inside as '\''). */
export function shellWord(s: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`;
}

/** The largest scenario file read (the 1000-device fleet's is under 2 KB). */
export const scenarioBytesMax = 1 << 20;

/**
 * A scenario file's bytes: a regular file, or a pipe (`fleet-sim run <(...)`), read up to
 * scenarioBytesMax. /dev/zero was read until the process held gigabytes. Errors carry a `code` that
 * scenarioReadProblem explains (Node's, or ENOTREG and EFBIG).
 */
export function readScenarioBytes(file: string): Buffer {
  const fd = openSync(file, 'r');
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    if (!st.isFile() && !st.isFIFO()) throw Object.assign(new Error('not a regular file'), { code: 'ENOTREG' });
    const buf = Buffer.alloc(scenarioBytesMax + 1);
    let n = 0;
    for (let got = 1; got > 0 && n < buf.length; n += got) got = readSync(fd, buf, n, buf.length - n, null);
    if (n > scenarioBytesMax) throw Object.assign(new Error('too big'), { code: 'EFBIG' });
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/**
 * Why a scenario file could not be read, said with the fix. The README lists the shipped scenarios by
 * name (`leader-crash`), and `fleet-sim run leader-crash` got Node's "ENOENT: no such file or
 * directory, open 'leader-crash'".
 */
export function scenarioReadProblem(file: string, e: unknown, verb: 'run' | 'start'): string {
  const code = (e as NodeJS.ErrnoException).code;
  const shippedDir = dirname(shippedScenario('default.yaml'));
  if (code === 'ENOENT') {
    const name = basename(file).replace(/\.(ya?ml|json)$/, '');
    const shipped = shippedScenario(`${name}.yaml`);
    if (existsSync(shipped) && !existsSync(file)) return `no scenario file ${file}; the shipped scenario "${name}" is ${shipped}: fleet-sim ${verb} ${shellWord(shipped)}`;
    return `no scenario file ${file}; the shipped ones are in ${shippedDir}/ (${shippedNames().slice(0, 6).join(', ')}, ...)`;
  }
  if (code === 'ENOTREG') return `${file} is not a regular file (a device or socket); give a scenario file, like ${shellWord(shippedScenario('leader-crash.yaml'))}`;
  if (code === 'EFBIG') return `${file} is larger than ${scenarioBytesMax / (1 << 20)} MiB; a scenario file is a few kilobytes (the 1000-device fleet's is under 2 KB)`;
  if (code === 'EISDIR') return `${file} is a directory; give a scenario file in it, like ${shellWord(join(file, 'leader-crash.yaml'))}`;
  return `cannot read scenario ${file}: ${(e as Error).message}`;
}

/** The start of an HTML page (a run's HTML report). */
export function looksLikeHtml(text: string): boolean {
  return /^\s*<(!doctype html|html)[\s>]/i.test(text);
}

/** The JSON report written beside an HTML one (report/write.ts: the same name), or null. */
export function jsonBeside(file: string): string | null {
  return /\.html?$/i.test(file) ? file.replace(/\.html?$/i, '.json') : null;
}

/**
 * A fleet-sim report given where a scenario belongs (`fleet-sim run report.html`): what it is and what
 * to do instead; null for anything else. Before, the parser said "not valid YAML or JSON" or named a
 * scenario field the report lacked.
 */
export function notAScenario(file: string, text: string, verb: 'run' | 'start'): string | null {
  if (looksLikeHtml(text)) {
    const json = jsonBeside(file);
    return `${file} is a run's HTML report (open it in a browser), not a scenario; to run that run again: fleet-sim replay ${json !== null && existsSync(json) ? shellWord(json) : 'REPORT.json (the JSON report written beside it)'}`;
  }
  if (!/^\s*\{/.test(text)) return null;
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return null;
  }
  const r = doc as { mode?: unknown; file?: unknown; seed?: unknown };
  if (r.mode === 'deterministic') return `${file} is a deterministic run's report, not a scenario; to run that run again: fleet-sim replay ${shellWord(file)}`;
  if (r.mode !== 'realtime') return null;
  const seed = typeof r.seed === 'number' ? ` --seed ${r.seed}` : '';
  const again = typeof r.file === 'string' && r.file !== '' ? `its scenario again: fleet-sim ${verb} ${shellWord(r.file)}${verb === 'start' ? ' --realtime' : ''}${seed}` : `fleet-sim replay ${shellWord(file)} says what to run`;
  return `${file} is a real-time run's report, not a scenario; ${again}`;
}

function shippedNames(): string[] {
  try {
    return readdirSync(dirname(shippedScenario('default.yaml'))).filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -5)).sort();
  } catch {
    return [];
  }
}

/** The scenario file a deterministic report names (its `scenarioFile`): where it is, from any working
 *  directory, and the SHA-256 of the bytes the run read, so a replay can tell the file changed. */
export interface ScenarioFile {
  readonly path: string;
  readonly sha256: string;
}

export function scenarioFileOf(file: string, bytes: Uint8Array): ScenarioFile {
  return { path: resolve(file), sha256: createHash('sha256').update(bytes).digest('hex') };
}
