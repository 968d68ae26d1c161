// device.yaml: the schema of a device's configuration and its validation. Every error names the
// field and says how to fix it, and all checks (files readable, directory writable) happen before
// anything starts, so a device never half-starts on a bad file.

import { accessSync, constants, mkdirSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { idPattern } from '../lib/ids.js';
import { err, ok, type Result } from '../lib/result.js';

const hex32 = /^[0-9a-f]{64}$/;

const consensusSchema = z
  .object({
    proposeMs: z.number().int().min(50).max(60_000),
    proposeDeltaMs: z.number().int().min(0).max(60_000),
    prevoteMs: z.number().int().min(20).max(60_000),
    prevoteDeltaMs: z.number().int().min(0).max(60_000),
    precommitMs: z.number().int().min(20).max(60_000),
    precommitDeltaMs: z.number().int().min(0).max(60_000),
    commitWaitMs: z.number().int().min(0).max(60_000),
    gossipMs: z.number().int().min(20).max(60_000),
  })
  .strict()
  .partial();

export const deviceConfigSchema = z
  .object({
    id: z.string().regex(idPattern),
    key: z.string().min(1),
    manifest: z.string().min(1),
    authority: z.string().regex(hex32).optional(),
    dataDir: z.string().min(1),
    mqtt: z
      .object({
        url: z.string().regex(/^(mqtts?|wss?):\/\/[^\s]+$/),
        username: z.string().optional(),
        password: z.string().optional(),
        caFile: z.string().optional(),
      })
      .strict(),
    radios: z
      .array(
        z
          .object({
            name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/).optional(),
            paths: z.array(z.string().min(1)).min(1).max(4),
            preset: z.enum(['sik', 'e32']).optional(),
            baud: z.number().int().positive().optional(),
            packetBytes: z.number().int().min(32).max(256).optional(),
            dutyCycle: z.number().gt(0).max(1).optional(),
            hopLimit: z.number().int().min(1).max(7).optional(),
          })
          .strict(),
      )
      .max(4)
      .default([]),
    http: z
      .object({
        host: z.enum(['127.0.0.1', '::1', 'localhost']).default('127.0.0.1'),
        port: z.number().int().min(0).max(65_535).default(9464),
      })
      .strict()
      .default({ host: '127.0.0.1', port: 9464 }),
    log: z
      .object({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info') })
      .strict()
      .default({ level: 'info' }),
    origin: z.object({ latDeg: z.number().min(-90).max(90), lonDeg: z.number().min(-180).max(180) }).strict().default({ latDeg: 47.397742, lonDeg: 8.545594 }),
    hal: z
      .object({
        driver: z.enum(['sim', 'none']).default('sim'),
        sim: z
          .object({
            startNorthM: z.number().min(-100_000).max(100_000).default(0),
            startEastM: z.number().min(-100_000).max(100_000).default(0),
            timeScale: z.number().min(0.1).max(100).default(1),
            seed: z.number().int().min(0).default(1),
          })
          .strict()
          .default({ startNorthM: 0, startEastM: 0, timeScale: 1, seed: 1 }),
      })
      .strict()
      .default({ driver: 'sim', sim: { startNorthM: 0, startEastM: 0, timeScale: 1, seed: 1 } }),
    telemetry: z.object({ periodMs: z.number().int().min(100).max(600_000).default(1_000) }).strict().default({ periodMs: 1_000 }),
    consensus: consensusSchema.default({}),
    agents: z.object({ enabled: z.boolean().default(true), modelsDir: z.string().min(1).optional() }).strict().default({ enabled: true }),
  })
  .strict();

export type DeviceConfig = z.infer<typeof deviceConfigSchema>;

/** The fix for each field, said once here so every error about it carries the same advice. */
const fixes: Readonly<Record<string, string>> = {
  id: 'set it to this device\'s id in the fleet manifest: lowercase letters, digits, ".", "_" or "-" (like "drone-1")',
  key: 'set it to the key file written by `murmur keygen --id ID --out FILE`',
  manifest: 'set it to the signed manifest file written by `murmur fleet sign`',
  authority: 'set it to the 64-hex-digit fleet authority public key, or remove it',
  dataDir: 'set it to a directory this user may write (the WAL, signer state and snapshots live there)',
  'mqtt': 'add `mqtt: { url: mqtt://127.0.0.1:1883 }`',
  'mqtt.url': 'use a broker URL like mqtt://127.0.0.1:1883 or mqtts://broker:8883',
  radios: 'list serial radios like `radios: [{ paths: [/dev/ttyUSB0], preset: sik }]` (preset sik or e32, or baud and packetBytes)',
  'http.host': 'the metrics endpoint listens on loopback only: use 127.0.0.1',
  'http.port': 'use a TCP port from 1 to 65535 (0 picks a free one)',
  'log.level': 'use one of trace, debug, info, warn, error, fatal, silent',
  'hal.driver': 'use "sim" (simulated vehicle) or "none" (no flight hardware)',
  'hal.sim.timeScale': 'use a number from 0.1 to 100 (how much faster than real time the simulated vehicle runs)',
  'telemetry.periodMs': 'use milliseconds from 100 to 600000',
  'agents.modelsDir': 'set it to the directory holding rolled-out models as <name>/<version>/{model.onnx,metadata.json}, or remove it (default: <dataDir>/models)',
};

function fixFor(path: string): string {
  for (let p = path; p !== ''; p = p.includes('.') ? p.slice(0, p.lastIndexOf('.')) : '') {
    const f = fixes[p];
    if (f) return f;
  }
  return 'see docs/device-config.md';
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let v = raw;
  for (const k of path) v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined;
  return v;
}

function describeIssue(issue: z.core.$ZodIssue, raw: unknown): string {
  const path = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const where = path === '' ? '' : `${path}.`;
    return issue.keys.map((k) => `${where}${k}: unknown field; remove it or check its spelling (fields: docs/device-config.md)`).join('; ');
  }
  const value = valueAt(raw, issue.path);
  const shown = JSON.stringify(value) ?? 'nothing';
  const got =
    value === undefined ? 'missing'
    : issue.code === 'invalid_type' ? `is ${shown}, expected a ${issue.expected}`
    : issue.code === 'invalid_format' ? `${shown} is not valid`
    : `${shown}: ${issue.message.replace(/^Invalid input: /, '').toLowerCase()}`;
  return `${path}: ${got}; ${fixFor(path)}`;
}

/** Parses and checks YAML text; relative paths resolve against the config file's directory. */
export function parseDeviceConfig(text: string, file: string): Result<DeviceConfig, string> {
  let raw: unknown;
  try {
    raw = parseYaml(text, { maxAliasCount: 16 });
  } catch (e) {
    return err(`${file}: not valid YAML: ${(e as Error).message.split('\n')[0] ?? ''}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return err(`${file}: must be a YAML mapping of fields (id, key, manifest, dataDir, mqtt, ...)`);
  const r = deviceConfigSchema.safeParse(raw);
  if (!r.success) return err(`${file}: ${r.error.issues.map((i) => describeIssue(i, raw)).join('; ')}`);
  const base = dirname(resolve(file));
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(base, p));
  const c: DeviceConfig = { ...r.data, key: abs(r.data.key), manifest: abs(r.data.manifest), dataDir: abs(r.data.dataDir) };
  if (c.mqtt.caFile !== undefined) c.mqtt = { ...c.mqtt, caFile: abs(c.mqtt.caFile) };
  if (c.agents.modelsDir !== undefined) c.agents = { ...c.agents, modelsDir: abs(c.agents.modelsDir) };
  return ok(c);
}

/** Reads, parses and checks that the files it names are usable; creates the data directory. */
export function loadDeviceConfig(file: string): Result<DeviceConfig, string> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return err(`${file}: cannot read the config file (${(e as NodeJS.ErrnoException).code ?? 'error'}); pass --config with the path of a device.yaml`);
  }
  const p = parseDeviceConfig(text, file);
  if (!p.ok) return p;
  const c = p.value;
  for (const [field, path] of [['key', c.key], ['manifest', c.manifest], ...(c.mqtt.caFile ? [['mqtt.caFile', c.mqtt.caFile]] : [])] as const) {
    try {
      accessSync(path, constants.R_OK);
    } catch {
      return err(`${file}: ${field}: cannot read ${path}; ${fixFor(field)}`);
    }
  }
  try {
    mkdirSync(c.dataDir, { recursive: true, mode: 0o700 });
    accessSync(c.dataDir, constants.W_OK);
  } catch {
    return err(`${file}: dataDir: cannot create or write ${c.dataDir}; ${fixFor('dataDir')}`);
  }
  return ok(c);
}
