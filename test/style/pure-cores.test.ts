// The pure cores (consensus, mission state machine) may not touch time, randomness, I/O or the event
// loop (STYLE.md §1). This test reads their sources and fails on any forbidden construct.

import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const pureDirs = ['runtime/consensus', 'runtime/mission'];

const forbidden: [RegExp, string][] = [
  [/from\s+['"]node:/, 'a node: import'],
  [/import\(\s*['"]node:/, 'a dynamic node: import'],
  [/require\(/, 'require()'],
  [/\bDate\.now\b/, 'Date.now'],
  [/\bnew Date\b/, 'new Date'],
  [/\bMath\.random\b/, 'Math.random'],
  [/\bsetTimeout\b/, 'setTimeout'],
  [/\bsetInterval\b/, 'setInterval'],
  [/\bsetImmediate\b/, 'setImmediate'],
  [/\bqueueMicrotask\b/, 'queueMicrotask'],
  [/\bPromise\b/, 'Promise'],
  [/\basync\s/, 'async'],
  [/\bawait\s/, 'await'],
  [/\bconsole\./, 'console'],
  [/\bprocess\./, 'process'],
  [/\bperformance\./, 'performance'],
];

function sourcesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourcesUnder(p));
    else if (p.endsWith('.ts') && !p.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

/** Strips comments and string contents so a rule quoted in a comment does not trip the check. */
function codeOnly(src: string): string {
  return src
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/\/\/.*$/gm, '')
    .replace(/`(?:\\.|[^`\\])*`/g, '``')
    .replace(/'(?:\\.|[^'\\\n])*'/g, (m) => (m.startsWith("'node:") ? m : "''"))
    .replace(/"(?:\\.|[^"\\\n])*"/g, (m) => (m.startsWith('"node:') ? m : '""'));
}

export function violations(src: string): string[] {
  const code = codeOnly(src);
  return forbidden.filter(([re]) => re.test(code)).map(([, what]) => what);
}

describe('pure cores', () => {
  it('the checker catches every forbidden construct', () => {
    expect(violations("import { readFile } from 'node:fs';")).toContain('a node: import');
    expect(violations('const t = Date.now();')).toContain('Date.now');
    expect(violations('const r = Math.random();')).toContain('Math.random');
    expect(violations('setTimeout(f, 1);')).toContain('setTimeout');
    expect(violations('setInterval(f, 1);')).toContain('setInterval');
    expect(violations('const p: Promise<void> = x;')).toContain('Promise');
    expect(violations('console.log(1);')).toContain('console');
    expect(violations('// Date.now is not allowed here\nconst x = 1;')).toEqual([]);
  });

  for (const dir of pureDirs) {
    it(`${dir} uses no clock, randomness, timers, promises, node: modules or console`, () => {
      const files = sourcesUnder(dir);
      const found = files.flatMap((f) => violations(readFileSync(f, 'utf8')).map((v) => `${f}: ${v}`));
      expect(found).toEqual([]);
    });
  }
});
