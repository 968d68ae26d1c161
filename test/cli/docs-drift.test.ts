// What the user documentation says against what the code takes and answers: device.yaml's fields in
// docs/device-config.md (and the README's hal example) against the zod schema, the MQTT topics of
// docs/topics.md and the README against the code that makes them, the README's param.set
// parameters against the mission machine's, and the exit codes the README and `murmur --help` list
// against runtime/cli/kit.ts. A field, default or code changed on one side only fails here, named.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { deviceConfigSchemaFor, parseDeviceConfig } from '../../runtime/config/device-config.js';
import { defaultConsensusConfig } from '../../runtime/consensus/types.js';
import { paramSpecs } from '../../runtime/mission/params.js';
import { exitCodes } from '../../runtime/cli/kit.js';
import { fleetTopics } from '../../runtime/links/mqtt-topics.js';
import { controlTopics } from '../../runtime/device/control-topics.js';
import { runCli } from '../support/run-cli.js';

const repoRoot = join(import.meta.dirname, '..', '..');
const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
const configDoc = readFileSync(join(repoRoot, 'docs', 'device-config.md'), 'utf8');
const topicsDoc = readFileSync(join(repoRoot, 'docs', 'topics.md'), 'utf8');

/** The fenced block of `lang` in `text` that contains `marker` (the first one when no marker). */
function fenced(text: string, lang: string, marker = ''): string {
  const re = new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g');
  for (const m of text.matchAll(re)) if ((m[1] as string).includes(marker)) return m[1] as string;
  throw new Error(`no \`\`\`${lang} block${marker ? ` containing "${marker}"` : ''}`);
}

/** Every field the schema takes, as dotted paths (an array's items as `[]`), with its zod default. */
function schemaFields(): Map<string, { def: unknown }> {
  const out = new Map<string, { def: unknown }>();
  type Def = { type: string; in?: unknown; innerType?: unknown; defaultValue?: unknown; shape?: Record<string, unknown>; element?: unknown };
  const walk = (s: unknown, path: string, def: unknown): void => {
    const d = (s as { _zod: { def: Def } })._zod.def;
    if (d.type === 'pipe') return walk(d.in, path, def);
    if (d.type === 'default') return walk(d.innerType, path, typeof d.defaultValue === 'function' ? (d.defaultValue as () => unknown)() : d.defaultValue);
    if (d.type === 'optional') return walk(d.innerType, path, def);
    if (path !== '') out.set(path, { def });
    if (d.type === 'object') for (const [k, v] of Object.entries(d.shape ?? {})) walk(v, path === '' ? k : `${path}.${k}`, undefined);
    else if (d.type === 'array' && (d.element as { _zod: { def: Def } })._zod.def.type === 'object') walk(d.element, `${path}[]`, undefined);
  };
  walk(deviceConfigSchemaFor(z), '', undefined);
  return out;
}

const fields = schemaFields();
const docBlock = fenced(configDoc, 'yaml');
// A valid hex key where the page shows an elided one.
const docYaml = docBlock.replace(/authority: \S+/, `authority: ${'5f'.repeat(32)}`);
const docRaw = parseYaml(docYaml) as Record<string, unknown>;

/** Leaf paths of a parsed YAML value, list items as `[]` (`radios[].paths` for radios[0].paths). */
function leaves(v: unknown, path = ''): [string, unknown][] {
  if (Array.isArray(v)) return v.some((x) => x !== null && typeof x === 'object' && !Array.isArray(x)) ? v.flatMap((x) => leaves(x, `${path}[]`)) : [[path, v]];
  if (v !== null && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => leaves(x, path === '' ? k : `${path}.${k}`));
  return [[path, v]];
}

/**
 * The commented examples of the block (`# gnss: { ... }`, `#   batteryWh: 100`), each with the path
 * it belongs at: its key's column is the '#' column plus the spaces after the first one, and its parent
 * the nearest key above at a smaller column (a list item's keys sit two past its dash).
 */
function commentedExamples(block: string): { path: string[]; value: unknown; line: string }[] {
  const stack: { col: number; seg: string }[] = [];
  const out: { path: string[]; value: unknown; line: string }[] = [];
  const parentAt = (col: number): string[] => {
    while (stack.length > 0 && (stack[stack.length - 1] as { col: number }).col >= col) stack.pop();
    return stack.map((s) => s.seg);
  };
  for (const line of block.split('\n')) {
    const key = /^( *)(- )?([A-Za-z]\w*):/.exec(line);
    if (key) {
      const indent = (key[1] as string).length;
      if (key[2]) {
        parentAt(indent);
        stack.push({ col: indent, seg: '0' });
      }
      const col = indent + (key[2] ? 2 : 0);
      parentAt(col);
      stack.push({ col, seg: key[3] as string });
      continue;
    }
    // A commented key with a flow value ({...}, [...]) or one plain scalar, then at most a comment.
    const ex = /^( *)#( +)([A-Za-z]\w*): (\{.*\}|\[.*\]|[\w.-]+)(?: +#.*)?$/.exec(line);
    if (!ex) continue;
    const col = (ex[1] as string).length + (ex[2] as string).length - 1;
    out.push({ path: [...parentAt(col), ex[3] as string], value: parseYaml(ex[4] as string), line: line.trim() });
  }
  return out;
}

function withAt(base: Record<string, unknown>, path: readonly string[], value: unknown): Record<string, unknown> {
  const copy = structuredClone(base);
  let o: Record<string, unknown> = copy;
  for (const seg of path.slice(0, -1)) {
    const next = o[seg];
    o[seg] = next !== null && typeof next === 'object' ? next : {};
    o = o[seg] as Record<string, unknown>;
  }
  o[path[path.length - 1] as string] = value;
  return copy;
}

const parsesAs = (raw: unknown): ReturnType<typeof parseDeviceConfig> => parseDeviceConfig(JSON.stringify(raw), 'device.yaml');

describe('docs/device-config.md against the device.yaml schema', () => {
  it('its example, as written, is a device.yaml murmur start takes', () => {
    const r = parseDeviceConfig(docYaml, 'device.yaml');
    expect(r.ok ? 'ok' : r.error).toBe('ok');
  });

  it('each commented example (gnss, led, mavlink, obstacles, geofence, ...) is taken where it is shown', () => {
    const examples = commentedExamples(docBlock);
    // The page's examples of the optional parts: if one stops being recognised, the check is hollow.
    expect(examples.map((e) => e.path.join('.'))).toEqual(expect.arrayContaining(['hal.gnss', 'hal.led', 'hal.mavlink', 'hal.sim.obstacles', 'hal.sim.batteryWh', 'geofence', 'mqtt.clientId', 'radios.0.heartbeatMs', 'consensus.gossipMs']));
    const problems: string[] = [];
    for (const e of examples) {
      let raw = withAt(docRaw, e.path, e.value);
      if (e.path.join('.') === 'hal.mavlink') raw = withAt(raw, ['hal', 'driver'], 'mavlink');
      const r = parsesAs(raw);
      if (!r.ok) problems.push(`"${e.line}" at ${e.path.join('.')}: ${r.error}`);
    }
    expect(problems).toEqual([]);
  });

  it('names every field the schema takes', () => {
    const missing = [...fields.keys()].filter((p) => !new RegExp(`\\b${(p.split('.').pop() as string).replace('[]', '')}\\b`).test(docBlock));
    expect(missing, 'accepted by runtime/config/device-config.ts but not in docs/device-config.md').toEqual([]);
  });

  it('every key it writes as a field is one the schema has', () => {
    const names = new Set([...fields.keys()].map((p) => (p.split('.').pop() as string).replace('[]', '')));
    // Words that end a comment's line with a colon in the page's prose, not fields.
    const prose = new Set(['Cassandra', 'loaded']);
    const keys = [...docBlock.matchAll(/(?:^[ \t]*#?[ \t]*|[{,][ \t]*)([A-Za-z]\w*):(?=\s)/gm)].map((m) => m[1] as string);
    expect(keys.length).toBeGreaterThan(60);
    expect([...new Set(keys)].filter((k) => !names.has(k) && !prose.has(k))).toEqual([]);
  });

  it('every value its examples set for a field with a default is that default', () => {
    const minimal = parsesAs({ id: 'd1', key: 'k', manifest: 'm', dataDir: 'd', mqtt: { url: 'mqtt://127.0.0.1:1883' } });
    if (!minimal.ok) throw new Error(minimal.error);
    const given = new Set(['id', 'key', 'manifest', 'dataDir', 'mqtt.url']);
    const defaultOf = (path: string): { has: boolean; value?: unknown } => {
      if (path.startsWith('consensus.')) {
        const k = path.slice('consensus.'.length) as keyof typeof defaultConsensusConfig;
        return k in defaultConsensusConfig ? { has: true, value: defaultConsensusConfig[k] } : { has: false };
      }
      if (!path.includes('[]')) {
        let v: unknown = minimal.value;
        for (const seg of path.split('.')) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[seg] : undefined;
        if (v !== undefined) return { has: true, value: v };
      }
      const f = fields.get(path);
      return f?.def !== undefined ? { has: true, value: f.def } : { has: false };
    };
    const wrong: string[] = [];
    let compared = 0;
    // The example's fields, and those of the commented examples (the mavlink one's baud, autopilot and
    // systemId are 'as shown by default').
    const shown = [...leaves(docRaw), ...commentedExamples(docBlock).flatMap((e) => leaves(e.value, e.path.join('.').replace(/\.0(?=\.|$)/g, '[]')))];
    for (const [path, value] of shown) {
      if (given.has(path)) continue;
      const d = defaultOf(path);
      if (!d.has) continue;
      compared++;
      if (JSON.stringify(d.value) !== JSON.stringify(value)) wrong.push(`${path}: the page shows ${JSON.stringify(value)}, the default is ${JSON.stringify(d.value)}`);
    }
    expect(compared).toBeGreaterThan(20);
    expect(wrong).toEqual([]);
  });
});

describe('the README against the code', () => {
  it("the HAL section's device.yaml example is taken, with its mavlink driver", () => {
    const hal = (parseYaml(fenced(readme, 'yaml', 'driver: mavlink')) as { hal: unknown }).hal;
    const r = parsesAs({ ...docRaw, hal });
    expect(r.ok ? 'ok' : r.error).toBe('ok');
  });

  it('lists every param.set parameter with its default', () => {
    const at = readme.indexOf('Parameters for `param.set`');
    expect(at).toBeGreaterThan(0);
    const sentence = readme.slice(at, readme.indexOf('.', readme.indexOf('`separationM`', at)));
    const listed = Object.fromEntries([...sentence.matchAll(/`(\w+)` \([^)]*?(\d+)\)/g)].map((m) => [m[1], Number(m[2])]));
    expect(listed).toEqual(Object.fromEntries(Object.entries(paramSpecs).map(([k, s]) => [k, s.initial])));
  });

  it('the exit codes sentence names every code of runtime/cli/kit.ts', () => {
    const at = readme.indexOf('Exit codes are 0 ok');
    expect(at).toBeGreaterThan(0);
    const sentence = readme.slice(at, readme.indexOf('.', at));
    const listed = [...sentence.matchAll(/\b(\d+)(?=[ :])/g)].map((m) => Number(m[1]));
    expect(listed.sort((a, b) => a - b)).toEqual(Object.values(exitCodes).sort((a, b) => a - b));
  });

  it('murmur --help and murmur start --help list every exit code murmur has', async () => {
    // murmur waits for nothing with a timeout, so 4 is murmurctl's alone; 1 (failed) is fleet verify's;
    // 74 (storage) is a device's inside fleet-sim only: murmur start waits for its data directory.
    const murmurs = Object.values(exitCodes).filter((c) => c !== exitCodes.timeout && c !== exitCodes.storage);
    const starts = murmurs.filter((c) => c !== exitCodes.failed);
    for (const [args, want] of [[['--help'], murmurs], [['start', '--help'], starts]] as const) {
      const h = await runCli('murmur', [...args]);
      expect(h.code).toBe(0);
      const at = h.stdout.indexOf('Exit codes:');
      expect(at, `murmur ${args.join(' ')} names no exit codes`).toBeGreaterThan(0);
      const listed = [...h.stdout.slice(at).matchAll(/\b(\d+) [a-z]/g)].map((m) => Number(m[1]));
      expect(listed.sort((a, b) => a - b), `murmur ${args.join(' ')}`).toEqual([...want].sort((a, b) => a - b));
    }
  });

  it("the README's murmurctl exit codes are those murmurctl send --help gives", async () => {
    const at = readme.indexOf('murmurctl exit codes:');
    expect(at).toBeGreaterThan(0);
    const codes = (text: string): number[] => [...text.matchAll(/\b(\d+) [a-z]/g)].map((m) => Number(m[1])).sort((a, b) => a - b);
    const h = await runCli('murmurctl', ['send', '--help']);
    expect(h.code).toBe(0);
    const help = h.stdout.slice(h.stdout.indexOf('Exit codes:'));
    expect(codes(readme.slice(at, readme.indexOf('.', at)))).toEqual(codes(help));
    expect(codes(help)).toEqual([0, 1, 2, 3, 4, 5, 130, 143]);
  });
});

describe('MQTT topics: docs/topics.md and the README against the code', () => {
  // One value per placeholder the pages use; a topic of the code is named with the same values.
  const sample: Record<string, string> = { '<fleet>': 'f', '<node>': 'n1', '<from>': 'n1', '<to>': 'n2', '<operator>': 'op', '<nonce hex>': '00ff', '<height>': '7' };
  const fill = (t: string): string => t.replace(/<[a-z ]+>/g, (m) => sample[m] ?? m);
  const lt = fleetTopics('f');
  const ct = controlTopics('f');
  const code = new Set([lt.consensus('n1'), lt.blocks('n1'), lt.heartbeat('n1'), lt.telemetry('n1'), lt.unicast('n1', 'n2'), lt.state('n1'), lt.commands, ct.commands, ct.ack('op', '00ff'), ct.proof(7), ct.status('n1'), ct.telemetry('n1'), ct.ackJson('n1'), ct.log('n1'), ct.decided('n1'), ct.refused('n1'), ct.manifests('n1')]);

  it("the topic tables' rows are the topics the code publishes on, and name every one of them", () => {
    // operator/<op>/... is reserved for operator tools: nothing in Murmur publishes there.
    const rows = [...topicsDoc.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1] as string).filter((t) => !t.endsWith('...'));
    expect(rows.length).toBeGreaterThan(10);
    const documented = new Set(rows.map((t) => `murmur/v1/f/${fill(t)}`));
    expect([...documented].filter((t) => !code.has(t)), 'in docs/topics.md, not made by the code').toEqual([]);
    expect([...code].filter((t) => !documented.has(t)), 'made by the code, not in docs/topics.md').toEqual([]);
  });

  it('every full topic the README names is one the code uses', () => {
    const named = [...readme.matchAll(/`[^`\n]*?(murmur\/v1\/<fleet>\/[^`\s']+)/g)].map((m) => fill(m[1] as string)).filter((t) => !t.endsWith('/'));
    expect(named.length).toBeGreaterThan(1);
    expect(named.filter((t) => !code.has(t))).toEqual([]);
  });
});
