// device.yaml: the schema of a device's configuration and its validation. Every error names the
// field and says how to fix it, and all checks (files readable, directory writable) happen before
// anything starts, so a device never half-starts on a bad file.

import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { z } from 'zod';
import { idPattern } from '../lib/ids.js';
import { makeDirs } from '../lib/make-dirs.js';
import { brokerUrlProblem, redactBrokerUrl } from '../links/broker-url.js';
import { withReleasedPackages } from '../lib/released-require.js';
import { limits } from '../lib/limits.js';
import { relaySuppressMax } from '../links/serial-link.js';
import { defaultConsensusConfig, defaultSnapshotCheckpoints } from '../consensus/types.js';
import { err, ok, type Result } from '../lib/result.js';
import { readSigningKey } from './signing-key.js';
import { originLatDegMax } from '../../hal/geo.js';

const hex32 = /^[0-9a-f]{64}$/;

type Zod = typeof z;

const checkpointOf = (c: { consensus: { checkpointEveryHeights?: number | undefined } }): number => c.consensus.checkpointEveryHeights ?? defaultConsensusConfig.checkpointEveryHeights;

/**
 * The schema, built from the zod instance given: parseDeviceConfig loads zod (and yaml) for the one
 * parse and releases them (runtime/lib/released-require.ts), so a running device does not keep them.
 */
export function deviceConfigSchemaFor(z: Zod) {
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
      // Fleet-wide: blocks carry the commitment of the latest checkpoint, so every device must agree.
      checkpointEveryHeights: z.number().int().min(2).max(4_096),
      syncWindowHeights: z.number().int().min(4).max(limits.recentBlocksMax),
      followerSources: z.number().int().min(0).max(limits.validatorsMax),
      ownVotesWindowMs: z.number().int().min(0).max(3_600_000),
    })
    .strict()
    .partial();

  return z
    .object({
      id: z.string().regex(idPattern),
      key: z.string().min(1),
      manifest: z.string().min(1),
      authority: z.string().regex(hex32).optional(),
      dataDir: z.string().min(1),
      mqtt: z
        .object({
          // Checked below (brokerUrlProblem: scheme, host, port; no white space), in one issue.
          url: z.string(),
          username: z.string().optional(),
          password: z.string().optional(),
          caFile: z.string().optional(),
          // The MQTT client id: the consensus link connects as it, the control plane as <clientId>-ctl
          // (default murmur-<fleet>-<id> and murmur-ctl-<fleet>-<id>). A broker allows one connection per id.
          clientId: z.string().regex(/^[A-Za-z0-9_.-]{1,48}$/).optional(),
          heartbeatMs: z.number().int().min(100).max(60_000).default(1_000),
        })
        .strict(),
      radios: z
        .array(
          z
            .object({
              name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/).optional(),
              paths: z.array(z.string().min(1)).min(1).max(4),
              preset: z.enum(['sik', 'e32']).optional(),
              baud: z.number().int().min(1_200).max(4_000_000).optional(),
              packetBytes: z.number().int().min(32).max(256).optional(),
              dutyCycle: z.number().gt(0).max(1).optional(),
              hopLimit: z.number().int().min(1).max(7).optional(),
              // 0 (never cancel a relay) or 2..relaySuppressMax copies heard (runtime/links/serial-link.ts).
              relaySuppress: z
                .number()
                .int()
                .min(0)
                .max(relaySuppressMax)
                .refine((n) => n !== 1, { message: `would cancel every relay; use 0 (never cancel) or 2..${relaySuppressMax} copies heard` })
                .optional(),
              relayJitterMs: z.number().int().min(0).max(limits.radioRelayJitterMsMax).optional(),
              heartbeatMs: z.number().int().min(100).max(86_400_000).optional(),
              heartbeatShare: z.number().gt(0).max(0.5).default(0.1),
              consensusStaleMs: z.number().int().min(100).max(600_000).optional(),
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
        // file: append the JSON lines there instead of standard output (systemd's journal reads stdout).
        .object({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'), file: z.string().min(1).optional() })
        .strict()
        .default({ level: 'info' }),
      origin: z.object({ latDeg: z.number().min(-originLatDegMax).max(originLatDegMax), lonDeg: z.number().min(-180).max(180) }).strict().default({ latDeg: 47.397742, lonDeg: 8.545594 }),
      hal: z
        .object({
          driver: z.enum(['sim', 'mavlink', 'none']).default('sim'),
          mavlink: z
            .object({
              serial: z.string().min(1),
              baud: z.number().int().min(1_200).max(4_000_000).default(921_600),
              autopilot: z.enum(['px4', 'ardupilot']).default('px4'),
              // The MAVLink system id this device speaks as (its component is 191, onboard computer).
              systemId: z.number().int().min(1).max(255).default(245),
              // The flight controller's MAVLink system and component ids (ArduPilot SYSID_THISMAV, PX4
              // MAV_SYS_ID; a swarm commonly gives each drone its own): the one this device flies.
              fcSystemId: z.number().int().min(1).max(255).default(1),
              fcComponentId: z.number().int().min(1).max(255).default(1),
              // The pack's series cells, for a flight controller that reports only the pack's total
              // voltage (ArduPilot without cell monitoring): the telemetry agent judges volts per cell.
              batteryCells: z.number().int().min(1).max(14).optional(),
              // What the flight controller does when it breaches the fence Murmur keeps on it: set after
              // each fence upload (ArduPilot FENCE_ACTION, PX4 GF_ACTION: a parameter the FC keeps across
              // reboots), or `leave` the vehicle's own, read and reported (with a warning if it does nothing).
              fenceAction: z.enum(['return', 'land', 'hold', 'leave']).default('leave'),
              // MAVLink 2 message signing: a file holding the 32-byte key the flight controller was given
              // (SETUP_SIGNING), as 64 hex digits. Without it the device sends unsigned, which an FC that
              // enforces signing ignores.
              signingKeyFile: z.string().min(1).optional(),
            })
            .strict()
            .optional(),
          sim: z
            .object({
              startNorthM: z.number().min(-100_000).max(100_000).default(0),
              startEastM: z.number().min(-100_000).max(100_000).default(0),
              timeScale: z.number().min(0.1).max(100).default(1),
              // The vehicle's noise (GNSS error, wind gusts, sensors). Absent: drawn from the device's id,
              // so each device's vehicle has noise of its own and the same device the same noise at every
              // start; with one seed for all, every simulated drone of a fleet read the same GNSS errors.
              seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
              // The simulated pack, Wh (the default quadcopter's is 100): a small one runs the battery
              // failsafe within a short rehearsal (fleet-sim's real-time mode writes world.batteryWh here).
              batteryWh: z.number().min(1).max(10_000).optional(),
              // Vertical cylinders (masts, trees) the simulated range ring sees: for rehearsing the
              // hazard agent on a bench (fleet-sim's real-time mode writes the scenario's hazards here).
              obstacles: z
                .array(
                  z
                    .object({
                      northM: z.number().min(-100_000).max(100_000),
                      eastM: z.number().min(-100_000).max(100_000),
                      radiusM: z.number().min(0.1).max(1_000),
                      heightM: z.number().min(0.1).max(10_000),
                    })
                    .strict(),
                )
                .max(limits.simObstaclesMax)
                .default([]),
            })
            .strict()
            .default({ startNorthM: 0, startEastM: 0, timeScale: 1, obstacles: [] }),
          // A GNSS receiver of its own (NMEA 0183 on a serial port): the position source, in place of the
          // flight controller's or the simulated vehicle's.
          gnss: z
            .object({
              driver: z.literal('nmea'),
              serial: z.string().min(1),
              baud: z.number().int().min(1_200).max(921_600).default(9_600),
            })
            .strict()
            .optional(),
          // A status LED through the Linux LED class (/sys/class/leds/<name>): shows the device's health.
          led: z
            .object({
              driver: z.literal('sysfs'),
              name: z.string().regex(/^[A-Za-z0-9_:.-]{1,64}$/),
              classDir: z.string().min(1).optional(),
            })
            .strict()
            .optional(),
        })
        .strict()
        .default({ driver: 'sim', sim: { startNorthM: 0, startEastM: 0, timeScale: 1, obstacles: [] } }),
      // Which links carry each traffic class (runtime/links/router.ts): all that are up, or the first up
      // in order (MQTT, then the radios). consensus: first keeps a slow radio free until the broker fails.
      routing: z
        .object({ consensus: z.enum(['all', 'first']).optional(), heartbeat: z.enum(['all', 'first']).optional(), telemetry: z.enum(['all', 'first']).optional() })
        .strict()
        .optional(),
      // A fence this device keeps to on its own, whatever the swarm commits (like an autopilot's fence
      // parameters): its reflexes hold before it and return home past it, and its executor skips the
      // waypoints outside it. Metres in the fleet's local frame; the committed geofence applies as well.
      geofence: z
        .object({
          polygon: z
            .array(z.tuple([z.number().min(-100_000).max(100_000), z.number().min(-100_000).max(100_000)]))
            .min(3)
            .max(limits.geofencePointsMax),
        })
        .strict()
        .optional(),
      telemetry: z.object({ periodMs: z.number().int().min(100).max(600_000).default(1_000) }).strict().default({ periodMs: 1_000 }),
      consensus: consensusSchema.default({}),
      snapshots: z
        .object({ everyHeights: z.number().int().min(2).max(1_048_576).optional() })
        .strict()
        .default({}),
      agents: z
        .object({ enabled: z.boolean().default(true), modelsDir: z.string().min(1).optional(), engine: z.enum(['onnxruntime', 'pure-ts', 'rules']).default('onnxruntime') })
        .strict()
        .default({ enabled: true, engine: 'onnxruntime' }),
      membership: z
        .object({
          threshold: z.number().min(1).max(100).default(8),
          deadThreshold: z.number().min(1).max(100).default(8),
          // Default: 100 ms (as Akka), or half of mqtt.heartbeatMs when that is less (heartbeats under 200 ms).
          minStdDevMs: z.number().int().min(1).max(60_000).optional(),
          acceptablePauseMs: z.number().int().min(0).max(600_000).optional(),
          recoveredBeats: z.number().int().min(1).max(100).default(3),
        })
        .strict()
        .default({ threshold: 8, deadThreshold: 8, recoveredBeats: 3 }),
    })
    .strict()
    .superRefine((c, ctx) => {
      const bad = brokerUrlProblem(c.mqtt.url) ?? (/\s/.test(c.mqtt.url) ? 'it contains white space' : null);
      if (bad !== null) ctx.addIssue({ code: 'custom', path: ['mqtt', 'url'], message: bad });
      const cp = checkpointOf(c);
      if (c.snapshots.everyHeights !== undefined && c.snapshots.everyHeights % cp !== 0) ctx.addIssue({ code: 'custom', path: ['snapshots', 'everyHeights'], message: `must be a multiple of the checkpoint interval (${cp})` });
      // Two checkpoints deep at least, so the snapshot a peer serves is always within block sync's reach.
      const w = c.consensus.syncWindowHeights ?? defaultConsensusConfig.syncWindowHeights;
      if (w < 2 * cp) ctx.addIssue({ code: 'custom', path: ['consensus', 'syncWindowHeights'], message: `must be at least twice the checkpoint interval (${2 * cp})` });
      // The device itself speaks as (systemId, 191): it would ignore such a flight controller's frames as its own echo.
      const m = c.hal.mavlink;
      if (m && m.fcSystemId === m.systemId && m.fcComponentId === 191) ctx.addIssue({ code: 'custom', path: ['hal', 'mavlink', 'fcComponentId'], message: `is this device's own MAVLink address (system ${m.systemId}, component 191)` });
    })
    .transform((c) => ({
      ...c,
      snapshots: { everyHeights: c.snapshots.everyHeights ?? defaultSnapshotCheckpoints * checkpointOf(c) },
      membership: { ...c.membership, minStdDevMs: c.membership.minStdDevMs ?? Math.min(100, Math.floor(c.mqtt.heartbeatMs / 2)) },
    }));
}

export type DeviceConfig = z.infer<ReturnType<typeof deviceConfigSchemaFor>>;

/** The fix for each field, said once here so every error about it carries the same advice. */
const fixes: Readonly<Record<string, string>> = {
  id: 'set it to this device\'s id in the fleet manifest: lowercase letters, digits, ".", "_" or "-" (like "drone-1")',
  key: 'set it to the key file written by `murmur keygen --id ID --out FILE`',
  manifest: 'set it to the signed manifest file written by `murmur fleet sign`',
  authority: 'set it to the 64-hex-digit fleet authority public key, or remove it',
  dataDir: 'set it to a directory this user may write (the WAL, signer state and snapshots live there)',
  'mqtt': 'add `mqtt: { url: mqtt://127.0.0.1:1883 }`',
  'mqtt.caFile': 'set it to the PEM file of the CA that signed the broker\'s certificate (relative to this file), or remove it',
  'hal.mavlink.signingKeyFile': 'set it to a file holding the flight controller\'s MAVLink signing key as 64 hex digits (the 32 bytes given to it with SETUP_SIGNING; relative to this file), or remove it to send unsigned',
  'mqtt.url': 'use a broker URL like mqtt://127.0.0.1:1883 or mqtts://broker:8883',
  'mqtt.clientId': 'use 1-48 letters, digits, ".", "_" or "-" (the control plane connects as <clientId>-ctl), or remove it for murmur-<fleet>-<id>',
  'mqtt.heartbeatMs': 'use milliseconds from 100 to 60000 (default 1000, the interval the detection benchmark measured)',
  'radios.heartbeatMs': 'use milliseconds from 100 up, or leave it out so the interval is sized to the radio\'s airtime (docs/device-config.md, "Heartbeats")',
  'radios.consensusStaleMs': 'use milliseconds from 100 to 600000: how long a consensus envelope may wait for airtime before it is dropped unsent, or leave it out for 2000 (longer on a slow radio: the airtime of 32 full packets, 7734 on an E32)',
  'radios.heartbeatShare': 'use a fraction above 0 and at most 0.5 of the radio\'s airtime (default 0.1)',
  'membership.threshold': 'use a phi from 1 to 100 (default 8, as Akka and Cassandra): lower suspects sooner and more often wrongly',
  'membership.deadThreshold': 'use a phi from 1 to 100 (default 8): how unlikely the silence must be before a suspect peer is dead',
  'membership.minStdDevMs': 'use milliseconds from 1 to at most half of mqtt.heartbeatMs, or leave it out (default 100, as Akka, or half of mqtt.heartbeatMs when that is less)',
  'membership.acceptablePauseMs': 'use milliseconds from 0 to 600000, or leave it out to use one mqtt.heartbeatMs (what the benchmark measured)',
  'membership.recoveredBeats': 'use a count from 1 to 100 (default 3)',
  radios: 'list serial radios like `radios: [{ paths: [/dev/ttyUSB0], preset: sik }]` (preset sik or e32, or baud and packetBytes)',
  'http.host': 'the metrics endpoint listens on loopback only: use 127.0.0.1, ::1 or localhost',
  'http.port': 'use a TCP port from 1 to 65535 (0 picks a free one)',
  'log.level': 'use one of trace, debug, info, warn, error, fatal, silent',
  'hal.driver': 'use "sim" (simulated vehicle), "mavlink" (a flight controller on a serial port) or "none" (no flight hardware)',
  'hal.mavlink': 'set `hal.mavlink: { serial: /dev/ttyAMA0, baud: 921600, autopilot: px4 }` (autopilot px4 or ardupilot)',
  'hal.mavlink.systemId': 'use a whole number from 1 to 255: the MAVLink system id this device speaks as (default 245; the flight controller\'s own, usually 1, makes the device a component of the vehicle)',
  'hal.gnss': 'set `hal.gnss: { driver: nmea, serial: /dev/ttyAMA0, baud: 9600 }` (an NMEA 0183 receiver on a serial port)',
  'hal.led': 'set `hal.led: { driver: sysfs, name: ACT }` (an LED under /sys/class/leds; classDir for another directory)',
  routing: 'use all (every link that is up; the default for consensus and heartbeat) or first (the first link up: MQTT, then the radios; the default for telemetry)',
  'log.file': 'set it to a file the device may append to (its directory is created), or remove it to log to standard output',
  'hal.sim.obstacles': `list at most ${limits.simObstaclesMax} as { northM, eastM, radiusM, heightM } in metres from the origin (radius 0.1-1000, height 0.1-10000)`,
  'origin.latDeg': `use a latitude from -${originLatDegMax} to ${originLatDegMax} degrees: the fleet's flat local frame keeps the origin's east-west scale, which nearer a pole is metres out within a kilometre (hal/geo.ts)`,
  'origin.lonDeg': 'use a longitude from -180 to 180 degrees',
  geofence: 'set `geofence: { polygon: [[north, east], ...] }`: at least 3 points in metres from the origin, or remove it',
  'geofence.polygon': `list 3 to ${limits.geofencePointsMax} [north, east] points in metres from the origin (each within 100 km)`,
  'hal.sim.batteryWh': 'use a number of watt-hours from 1 to 10000 (the simulated pack; default 100)',
  'hal.mavlink.fcSystemId': 'use a whole number from 1 to 255: the flight controller\'s MAVLink system id (ArduPilot SYSID_THISMAV, PX4 MAV_SYS_ID; default 1)',
  'hal.mavlink.fcComponentId': 'use a whole number from 1 to 255: the flight controller\'s MAVLink component id (default 1, an autopilot\'s; not 191 on the device\'s own system id)',
  'hal.mavlink.batteryCells': 'use a whole number of series cells from 1 to 14 (a 4S pack: 4)',
  'hal.mavlink.fenceAction': 'use return, land or hold (set on the flight controller after each fence upload: ArduPilot FENCE_ACTION, PX4 GF_ACTION), or leave (the default) to keep the vehicle\'s own and report it',
  'hal.sim.timeScale': 'use a number from 0.1 to 100 (how much faster than real time the simulated vehicle runs)',
  'telemetry.periodMs': 'use milliseconds from 100 to 600000',
  'consensus.checkpointEveryHeights': `use the same whole number from 2 to 4096 on every device of the fleet (default ${defaultConsensusConfig.checkpointEveryHeights})`,
  'consensus.syncWindowHeights': `use a whole number up to ${limits.recentBlocksMax}, at least twice consensus.checkpointEveryHeights (default ${defaultConsensusConfig.syncWindowHeights})`,
  'consensus.followerSources': `use a whole number from 0 to ${limits.validatorsMax}: the validators a follower takes committed blocks from (default ${defaultConsensusConfig.followerSources}; 0: hear every vote)`,
  'snapshots.everyHeights': `use a multiple of the checkpoint interval (consensus.checkpointEveryHeights, default ${defaultConsensusConfig.checkpointEveryHeights}), e.g. ${defaultSnapshotCheckpoints * defaultConsensusConfig.checkpointEveryHeights}`,
  'agents.engine': 'use onnxruntime (a worker thread, the default), pure-ts (a worker thread of its own, no onnxruntime: about 30 MB less memory) or rules',
  'agents.modelsDir': 'set it to the directory holding rolled-out models as <name>/<version>/{model.onnx,metadata.json}, or remove it (default: <dataDir>/models)',
};

/** The fix said for a field (like "hal.mavlink.serial"): its own, or its nearest section's. */
export function fixFor(path: string): string {
  // "radios.1.heartbeatMs" has the advice of "radios.heartbeatMs".
  for (let p = path.replace(/\.\d+(?=\.|$)/g, ''); p !== ''; p = p.includes('.') ? p.slice(0, p.lastIndexOf('.')) : '') {
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
  // A broker URL may carry a password: shown without it.
  const shown = JSON.stringify(path === 'mqtt.url' && typeof value === 'string' ? redactBrokerUrl(value) : value) ?? 'nothing';
  const got =
    value === undefined ? 'missing'
    : issue.code === 'invalid_type' ? `is ${shown}, expected ${expectedType[issue.expected] ?? `a ${issue.expected}`}`
    : issue.code === 'invalid_format' ? `${shown} is not valid`
    : `${shown}: ${issue.message.replace(/^Invalid input: /, '').replace(/^[A-Z](?=[a-z])/, (c) => c.toLowerCase())}`;
  return `${path}: ${got}; ${fixFor(path)}`;
}

/**
 * Another of Murmur's files, or none, given as the config: said for what it is. A key file or a draft
 * (JSON, so YAML) got seven lines of missing and unknown fields; a signed manifest or an empty file
 * "must be a YAML mapping".
 */
function wrongFileProblem(text: string, file: string): string | null {
  if (text.trim() === '') return `${file}: the file is empty; a device.yaml sets at least id, key, manifest, dataDir and mqtt (docs/device-config.md)`;
  // Text read as UTF-8: a NUL or an invalid byte (U+FFFD) in it is a binary file.
  if (/[\u0000\uFFFD]/.test(text)) return `${file}: a binary file (a signed fleet manifest?), not a device.yaml; give --config the device's YAML file, which names the manifest in its manifest field`;
  const format = /^\s*\{[\s\S]*?"format"\s*:\s*"(murmur-[a-z0-9-]+)\/\d+"/.exec(text)?.[1];
  if (format === 'murmur-ed25519-key' || format === 'murmur-ed25519-public') return `${file}: a key file, not a device.yaml; give --config the device's YAML file, which names this key in its key field`;
  if (format === 'murmur-fleet-draft') return `${file}: a fleet manifest draft, not a device.yaml; give --config the device's YAML file`;
  return null;
}

/** Parses and checks YAML text; relative paths resolve against the config file's directory. */
export function parseDeviceConfig(text: string, file: string): Result<DeviceConfig, string> {
  // zod's core requires all 60 of its locales (to offer z.locales); the English messages said here come
  // from its locales/en directly. Deferred, the locale index and the other locales are never read: about
  // 30 ms of CPU less at every start (and at each in-process device's, fleet-sim real time).
  const wrongFile = wrongFileProblem(text, file);
  if (wrongFile !== null) return err(wrongFile);
  const parsed = withReleasedPackages(['zod', 'yaml'], (load): Result<DeviceConfig, string> => {
    const { parse: parseYaml } = load('yaml') as typeof import('yaml');
    let raw: unknown;
    try {
      raw = parseYaml(text, { maxAliasCount: 16 });
    } catch (e) {
      // The library's message ends "at line L, column C:" before a picture of the text over several
      // lines; the one line said here ended at that colon. It names the line's text instead.
      const first = ((e as Error).message.split('\n')[0] ?? '').replace(/:\s*$/, '');
      const line = (e as { linePos?: readonly { line: number }[] }).linePos?.[0]?.line;
      const src = line !== undefined ? text.split('\n')[line - 1]?.trim() : undefined;
      const dup = (e as { code?: string }).code === 'DUPLICATE_KEY' ? '; give each field once' : '';
      return err(`${file}: not valid YAML: ${first}${src ? ` (${JSON.stringify(src.length > 60 ? `${src.slice(0, 60)}…` : src)})` : ''}${dup}`);
    }
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return err(`${file}: must be a YAML mapping of fields (id, key, manifest, dataDir, mqtt, ...)`);
    // A schema of its own each time, though zod may be shared (runtime/lib/released-require.ts): zod
    // hands out a default's nested objects as they are, and no two configs may share one.
    const r = deviceConfigSchemaFor((load('zod') as typeof import('zod')).z).safeParse(raw);
    // Only plain data leaves: the parsed config and the issues' text.
    return r.success ? ok(r.data) : err(`${file}: ${r.error.issues.map((i) => describeIssue(i, raw)).join('; ')}`);
  }, ['zod/v4/locales']);
  if (!parsed.ok) return parsed;
  const d = parsed.value;
  const base = dirname(resolve(file));
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(base, p));
  // Only a shell expands ~: `dataDir: ~/murmur-data` made a directory named "~" beside this file.
  const paths: [string, string | undefined][] = [['key', d.key], ['manifest', d.manifest], ['dataDir', d.dataDir], ['mqtt.caFile', d.mqtt.caFile], ['agents.modelsDir', d.agents.modelsDir], ['log.file', d.log.file], ['hal.mavlink.signingKeyFile', d.hal.mavlink?.signingKeyFile]];
  for (const [field, p] of paths) {
    if (p !== undefined && (p === '~' || p.startsWith('~/'))) return err(`${file}: ${field}: ${p} starts with ~, which only a shell expands (here it would be a directory named "~" beside this file); give the full path, such as ${p.replace(/^~/, homedir())}`);
  }
  if (d.hal.driver === 'mavlink' && d.hal.mavlink === undefined) return err(`${file}: hal.mavlink: missing with hal.driver: mavlink; ${fixFor('hal.mavlink')}`);
  // A flight controller described but not driven: the device would fly its simulated vehicle (the
  // default driver) or none, and the flight controller would sit unused.
  if (d.hal.driver !== 'mavlink' && d.hal.mavlink !== undefined) {
    const what = d.hal.driver === 'sim' ? 'sim (the default: a simulated vehicle)' : 'none';
    return err(`${file}: hal.mavlink: set, but hal.driver is ${what}; add \`driver: mavlink\` to fly the flight controller on ${d.hal.mavlink.serial}, or remove hal.mavlink`);
  }
  if (d.hal.driver === 'mavlink' && d.hal.gnss !== undefined && d.hal.gnss.serial === d.hal.mavlink?.serial) {
    return err(`${file}: hal.gnss.serial: ${d.hal.gnss.serial} is also hal.mavlink.serial; a port carries one of them: give the receiver its own port, or remove hal.gnss to use the flight controller's position`);
  }
  const c: DeviceConfig = { ...d, key: abs(d.key), manifest: abs(d.manifest), dataDir: abs(d.dataDir) };
  // A floor on the spread as large as the interval would hide every late heartbeat.
  if (c.membership.minStdDevMs * 2 > c.mqtt.heartbeatMs) return err(`${file}: membership.minStdDevMs: ${c.membership.minStdDevMs} is more than half of mqtt.heartbeatMs (${c.mqtt.heartbeatMs}); ${fixFor('membership.minStdDevMs')}`);
  if (c.mqtt.caFile !== undefined) c.mqtt = { ...c.mqtt, caFile: abs(c.mqtt.caFile) };
  if (c.agents.modelsDir !== undefined) c.agents = { ...c.agents, modelsDir: abs(c.agents.modelsDir) };
  if (c.log.file !== undefined) c.log = { ...c.log, file: abs(c.log.file) };
  const signingKeyFile = c.hal.mavlink?.signingKeyFile;
  if (c.hal.mavlink !== undefined && signingKeyFile !== undefined) c.hal = { ...c.hal, mavlink: { ...c.hal.mavlink, signingKeyFile: abs(signingKeyFile) } };
  return ok(c);
}

/** zod's type names, as a person says them ("expected a int" before). */
const expectedType: Record<string, string> = { int: 'a whole number', number: 'a number', string: 'text', boolean: 'true or false', object: 'a mapping of fields', array: 'a list' };

/**
 * Checks that the files a config names (key, manifest, mqtt.caFile) can be read. `at` maps a path in the
 * config to where that file is now: `murmur provision` checks a bundle whose config names the device's own
 * paths (/etc/murmur/...) before it reaches the device.
 */
export function checkConfigFiles(c: DeviceConfig, file: string, at: (path: string) => string = (p) => p): Result<void, string> {
  const signing = c.hal.mavlink?.signingKeyFile;
  for (const [field, path] of [['key', c.key], ['manifest', c.manifest], ...(c.mqtt.caFile ? [['mqtt.caFile', c.mqtt.caFile]] : []), ...(signing ? [['hal.mavlink.signingKeyFile', signing]] : [])] as const) {
    try {
      accessSync(at(path), constants.R_OK);
    } catch {
      return err(`${file}: ${field}: cannot read ${at(path)}; ${fixFor(field)}`);
    }
    // Readable, but a directory (a path one level short): said here rather than as EISDIR at start.
    if (statSync(at(path)).isDirectory()) return err(`${file}: ${field}: ${at(path)} is a directory; ${fixFor(field)}`);
  }
  if (signing !== undefined) {
    const key = readSigningKey(at(signing));
    if (!key.ok) return err(`${file}: hal.mavlink.signingKeyFile: ${key.error}; ${fixFor('hal.mavlink.signingKeyFile')}`);
  }
  return ok(undefined);
}


/**
 * Whether `dir` could be the data directory: a directory this user may write, or (not there yet) one it
 * may create: its nearest existing ancestor a directory this user may write. Nothing is created here:
 * a start refused later (a bad key, another fleet's manifest) leaves no directory behind; openDevice
 * makes it once every check has passed.
 */
function dataDirUsable(dir: string): boolean {
  for (let d = dir, n = 0; n < 256; d = dirname(d), n++) {
    let st;
    try {
      st = statSync(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(d) === d) return false;
      continue;
    }
    if (!st.isDirectory()) return false;
    try {
      accessSync(d, constants.W_OK | constants.X_OK);
      return true;
    } catch {
      return false;
    }
  }
  return false;
}

/** Makes the data directory (0700) once a start has passed every check: the directories it made (top
 *  down; none when it was there), or a refusal naming the field. */
export function makeDataDir(c: DeviceConfig, file: string): Result<string[], string> {
  let made: string[];
  try {
    made = makeDirs(c.dataDir, 0o700);
    accessSync(c.dataDir, constants.W_OK);
  } catch {
    return err(`${file}: dataDir: cannot create or write ${c.dataDir}; ${fixFor('dataDir')}`);
  }
  return ok(made);
}

/** Reads, parses and checks that the files it names are usable and that the data directory can be
 *  made or written (without making it: openDevice does, after the identity checks). */
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
  const files = checkConfigFiles(c, file);
  if (!files.ok) return files;
  if (!dataDirUsable(c.dataDir)) return err(`${file}: dataDir: cannot create or write ${c.dataDir}; ${fixFor('dataDir')}`);
  return ok(c);
}
