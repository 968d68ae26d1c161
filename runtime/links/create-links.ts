// Builds a device's links from its configuration: an MQTT link, any number of serial radios (from a
// preset or explicit settings), and the router over all of them. Bad settings come back as one error
// that names the field, never a stack trace.

import { err, ok, type Result } from '../lib/result.js';
import { MqttLink, type MqttLinkOptions } from './mqtt-link.js';
import { Router, type ClassPolicy } from './router.js';
import { radioPresets, SerialLink, type SerialLinkOptions } from './serial-link.js';
import type { TrafficClass } from './link.js';

type Own = 'fleet' | 'node' | 'peers';

export interface RadioConfig extends Partial<Omit<SerialLinkOptions, Own | 'paths'>> {
  /** Serial device paths of this radio (usually one). */
  readonly paths: readonly string[];
  /** sik: 57600 baud, 252-byte packets; e32: 9600 baud, 58-byte packets, 2.4 kbps air. */
  readonly preset?: keyof typeof radioPresets;
}

export interface LinksConfig {
  readonly fleet: string;
  readonly node: string;
  /** Manifest ids: per-peer MQTT subscriptions and named radio origins. */
  readonly peers?: readonly string[];
  readonly mqtt?: Omit<MqttLinkOptions, Own>;
  readonly radios?: readonly RadioConfig[];
  readonly policy?: Partial<Record<TrafficClass, ClassPolicy>>;
}

export interface DeviceLinks {
  readonly router: Router;
  readonly mqtt: MqttLink | undefined;
  readonly radios: readonly SerialLink[];
}

export function createLinks(c: LinksConfig): Result<DeviceLinks> {
  const radiosIn = c.radios ?? [];
  if (!c.mqtt && radiosIn.length === 0) return err('links: configure mqtt or at least one radio');
  if (c.mqtt && !/^(mqtts?|wss?):\/\/[^/]+/.test(c.mqtt.url)) return err(`links.mqtt.url must look like mqtt://host:port or mqtts://host:port, is "${c.mqtt.url}"`);
  const peers = c.peers ? { peers: c.peers } : {};
  const radioBaudMin = 1_200;
  const mqtt = c.mqtt ? new MqttLink({ ...c.mqtt, fleet: c.fleet, node: c.node, ...peers }) : undefined;
  const radios: SerialLink[] = [];
  for (const [i, r] of radiosIn.entries()) {
    const where = `links.radios[${i}]`;
    if (r.preset !== undefined && !(r.preset in radioPresets)) return err(`${where}.preset must be one of ${Object.keys(radioPresets).join(', ')}, is "${String(r.preset)}"`);
    if (!Array.isArray(r.paths) || r.paths.length === 0) return err(`${where}.paths must list at least one serial device, e.g. ["/dev/ttyUSB0"]`);
    const preset = r.preset ? radioPresets[r.preset] : undefined;
    const baud = r.baud ?? preset?.baud;
    const packetBytes = r.packetBytes ?? preset?.packetBytes;
    if (baud === undefined || !(baud > 0)) return err(`${where}.baud must be a positive number (or set a preset)`);
    // The slowest port speed a SiK or E32 radio takes; below it a 252-byte packet is seconds of airtime.
    if (baud < radioBaudMin) return err(`${where}.baud is ${baud}: a radio's serial port runs at ${radioBaudMin} baud or more (SiK and E32 radios: 1200..115200)`);
    if (packetBytes === undefined || packetBytes < 32 || packetBytes > 256) return err(`${where}.packetBytes must be 32..256 (or set a preset)`);
    if (r.dutyCycle !== undefined && !(r.dutyCycle > 0 && r.dutyCycle <= 1)) return err(`${where}.dutyCycle must be in (0, 1], e.g. 0.01 for EU868`);
    if (r.hopLimit !== undefined && !(Number.isInteger(r.hopLimit) && r.hopLimit >= 1 && r.hopLimit <= 7)) return err(`${where}.hopLimit must be an integer 1..7`);
    const air = r.airBitsPerSec ?? (preset && 'airBitsPerSec' in preset ? preset.airBitsPerSec : undefined);
    radios.push(
      new SerialLink({
        ...r,
        fleet: c.fleet,
        node: c.node,
        ...peers,
        name: r.name ?? (radiosIn.length === 1 ? 'radio' : `radio${i}`),
        paths: r.paths,
        baud,
        packetBytes,
        ...(air !== undefined ? { airBitsPerSec: air } : {}),
      }),
    );
  }
  const links = [...(mqtt ? [mqtt] : []), ...radios];
  const names = links.map((l) => l.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) return err(`links: two links are named "${dup}"; give each radio its own name`);
  return ok({ router: new Router({ links, self: c.node, ...(c.policy ? { policy: c.policy } : {}) }), mqtt, radios });
}
