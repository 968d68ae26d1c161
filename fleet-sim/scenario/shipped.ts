// The scenarios shipped in fleet-sim/scenarios, found from any working directory (a light module: the
// CLIs name them before they load the simulator).

import { isAbsolute, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A shipped scenario's path: relative to the working directory inside the clone (as help and replay
 *  lines show it), else absolute. */
export function shippedScenario(name: string): string {
  const file = fileURLToPath(new URL(`../scenarios/${name}`, import.meta.url));
  const rel = relative(process.cwd(), file);
  return rel.startsWith('..') || isAbsolute(rel) ? file : rel;
}

/** A path as one shell word: as it is when plain, else in single quotes (a quote inside as '\''). */
export function shellWord(s: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`;
}
