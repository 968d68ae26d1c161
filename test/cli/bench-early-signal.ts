// How long after exec a stop signal still kills `murmur start` by its default action (exit 143, no
// clean stop) instead of reaching bin/murmur.js's early handlers (exit 0); beside it, the same for a
// bare Node script whose first statement installs its handler: what Node's own start-up costs before
// any code of the process can run. `npm run bench:early-signal`. Real processes, SIGTERM d ms after
// spawn, d from 0 to 200 ms in 10 ms steps, the two interleaved so they share the machine's load.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../support/run-cli.js';

const trials = Number(process.env.TRIALS ?? 8);
const delays = Array.from({ length: 21 }, (_, i) => i * 10);
const dir = mkdtempSync(join(tmpdir(), 'murmur-early-signal-'));
const bare = join(dir, 'first-statement.mjs');
writeFileSync(bare, 'process.once("SIGTERM", () => process.exit(0));\nsetTimeout(() => {}, 5_000);\n');

const targets = {
  'murmur start': [join(repoRoot, 'bin', 'murmur.js'), 'start', '--config', join(dir, 'none.yaml')],
  'node, handler first': [bare],
} as const;
type Target = keyof typeof targets;

/** Whether the process died by the signal (true) or exited on its own (false). */
async function killedBySignal(args: readonly string[], delayMs: number): Promise<boolean> {
  const p = spawn(process.execPath, args, { stdio: 'ignore' });
  const exited = new Promise<string | null>((r) => p.once('exit', (_code, sig) => r(sig)));
  await new Promise((r) => setTimeout(r, delayMs));
  p.kill('SIGTERM');
  const guard = setTimeout(() => p.kill('SIGKILL'), 10_000);
  const sig = await exited;
  clearTimeout(guard);
  return sig === 'SIGTERM';
}

const killed: Record<Target, number[]> = { 'murmur start': [], 'node, handler first': [] };
try {
  for (const d of delays) {
    const n: Record<Target, number> = { 'murmur start': 0, 'node, handler first': 0 };
    for (let i = 0; i < trials; i++) for (const t of Object.keys(targets) as Target[]) if (await killedBySignal(targets[t], d)) n[t]++;
    for (const t of Object.keys(targets) as Target[]) killed[t].push(n[t]);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

console.log(`SIGTERM d ms after spawn, ${trials} tries each: how many died by the signal (node ${process.version}, load ${loadavg()[0]!.toFixed(2)})`);
console.log(['d ms'.padEnd(22), ...delays.map((d) => String(d).padStart(4))].join(''));
for (const t of Object.keys(targets) as Target[]) console.log([t.padEnd(22), ...killed[t].map((k) => String(k).padStart(4))].join(''));
for (const t of Object.keys(targets) as Target[]) {
  const half = delays.find((_, i) => (killed[t][i] as number) * 2 < trials);
  const last = delays.filter((_, i) => (killed[t][i] as number) > 0).pop();
  console.log(`${t}: killed by the signal in most tries up to ${half === undefined ? '>200' : half - 10} ms, in any up to ${last ?? 'none'} ms`);
}
