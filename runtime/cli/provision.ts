// `murmur provision`: on the fleet authority's machine, one device's provisioning bundle (a directory):
// its identity (mode 0600), the signed manifest and a device.yaml naming the device's own paths. Everything
// is checked with the code `murmur start` runs before any file lands, so a provisioned device never half-starts.

import { createHash } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import { basename, join } from 'node:path';
import { stringify } from 'yaml';
import { checkConfigFiles, parseDeviceConfig } from '../config/device-config.js';
import { writeKeyFile } from '../crypto/key-file.js';
import { openDevice } from '../device/device.js';
import { toHex } from '../lib/bytes.js';
import { brokerUrlProblem, redactBrokerUrl } from '../links/broker-url.js';
import { memberOf } from '../manifest/manifest.js';
import { CliError, exitCodes, need, parse, printJson } from './kit.js';
import { loadIdentity, readPublicKey } from './keys.js';
import { prepareOutputDir } from './output-file.js';
import { readManifestFile } from './manifest-file.js';

/** Where deploy/install.sh puts each file on the device; deploy/murmur.service reads the config from here
 * and may write only the data directory. */
export const onDevice = { dir: '/etc/murmur', dataDir: '/var/lib/murmur' } as const;

/** The files of a provisioning bundle, by their name in the bundle and in /etc/murmur alike. */
export const bundleFiles = { key: 'device.key', manifest: 'fleet.manifest', config: 'device.yaml', ca: 'mqtt-ca.pem', info: 'PROVISION.json', sums: 'SHA256SUMS' } as const;

export const provisionUsage = `Usage: murmur provision --key KEYFILE --manifest MANIFEST --mqtt-url URL --out DIR [options]

On the fleet authority's machine: writes DIR, the provisioning bundle of one device: device.key (its
identity, mode 0600), fleet.manifest (the signed manifest) and device.yaml (paths on the device:
${onDevice.dir}/..., dataDir ${onDevice.dataDir}), plus PROVISION.json and SHA256SUMS. The device must already
be a validator or follower in the signed manifest (murmur fleet add, then murmur fleet sign): provision
never edits the manifest. Install it on the device with the release: sudo sh install.sh --provision DIR

  --key FILE                the device's key file from murmur keygen; its id is the device id
  --manifest FILE           the signed fleet manifest
  --authority-key PUB|HEX   the authority that must have signed it (default: the manifest's own);
                            either way it is pinned in device.yaml
  --mqtt-url URL            broker: mqtt://, mqtts://, ws:// or wss://
  --mqtt-username NAME      broker credentials (the password is read from the first line of FILE)
  --mqtt-password-file FILE
  --mqtt-ca FILE            CA certificate for mqtts://, installed as ${onDevice.dir}/${bundleFiles.ca}
  --radio SPEC              a serial radio (repeatable): PATH[+PATH][,preset=sik|e32][,baud=N]
                            [,packetBytes=N][,dutyCycle=X][,hopLimit=N][,relaySuppress=N]
                            [,relayJitterMs=N][,name=NAME]
  --http-port N             health and metrics port (default 9464; fixed: the installer's health check reads it)
  --hal sim|none            the HAL driver (default: sim)
  --log-level LEVEL         trace, debug, info (default), warn, error, fatal, silent
  --force                   replace an identity already in DIR
  --json                    machine-readable result

Exit codes: 0 ok, 1 the manifest does not verify, 2 usage or bad file, 3 refused (not in the manifest,
an identity already in DIR).`;

const radioNumbers = ['baud', 'packetBytes', 'dutyCycle', 'hopLimit', 'relaySuppress', 'relayJitterMs'] as const;
const radioStrings = ['preset', 'name'] as const;

/** `/dev/ttyUSB0+/dev/ttyUSB1,preset=sik,hopLimit=2` -> a `radios` entry; the schema checks the values. */
export function parseRadioSpec(spec: string): Record<string, unknown> {
  const [paths = '', ...pairs] = spec.split(',');
  if (paths === '' || paths.includes('=')) throw new CliError(`--radio "${spec}": start with the serial device path, like /dev/ttyUSB0,preset=sik`, exitCodes.usage);
  const radio: Record<string, unknown> = { paths: paths.split('+') };
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    const key = pair.slice(0, at);
    const value = pair.slice(at + 1);
    if (at < 1 || value === '') throw new CliError(`--radio "${spec}": "${pair}" is not key=value`, exitCodes.usage);
    if ((radioStrings as readonly string[]).includes(key)) radio[key] = value;
    else if ((radioNumbers as readonly string[]).includes(key)) {
      const n = Number(value);
      if (!Number.isFinite(n)) throw new CliError(`--radio "${spec}": ${key} must be a number, is "${value}"`, exitCodes.usage);
      radio[key] = n;
    } else throw new CliError(`--radio "${spec}": unknown setting "${key}"; use ${[...radioStrings, ...radioNumbers].join(', ')}`, exitCodes.usage);
  }
  return radio;
}

const sha256 = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');

export async function provisionCommand(argv: string[]): Promise<number> {
  const a = parse(
    argv,
    {
      key: { type: 'string' },
      manifest: { type: 'string' },
      'authority-key': { type: 'string' },
      'mqtt-url': { type: 'string' },
      'mqtt-username': { type: 'string' },
      'mqtt-password-file': { type: 'string' },
      'mqtt-ca': { type: 'string' },
      radio: { type: 'string', multiple: true },
      'http-port': { type: 'string' },
      hal: { type: 'string' },
      'log-level': { type: 'string' },
      out: { type: 'string' },
      force: { type: 'boolean' },
      json: { type: 'boolean' },
    },
    provisionUsage,
  );
  const v = a.values;
  if (v.help) return void process.stdout.write(provisionUsage + '\n'), exitCodes.ok;
  if (a.positionals.length > 0) throw new CliError(`unexpected argument "${a.positionals[0]}"\n\n${provisionUsage}`, exitCodes.usage);
  const keyFile = need(v.key, 'key');
  const manifestFile = need(v.manifest, 'manifest');
  const mqttUrl = need(v['mqtt-url'], 'mqtt-url');
  // Named as the option given, not as the device.yaml field it becomes in a directory not yet written.
  const urlProblem = brokerUrlProblem(mqttUrl);
  if (urlProblem !== null) throw new CliError(`--mqtt-url "${redactBrokerUrl(mqttUrl)}": ${urlProblem}; give a broker URL like mqtt://10.0.0.2:1883 or mqtts://broker:8883`, exitCodes.usage);
  const out = need(v.out, 'out');
  const outKey = join(out, bundleFiles.key);
  // The one refusal that protects an identity: checked before anything is read or written.
  if (existsSync(outKey) && v.force !== true) throw new CliError(`${outKey} already exists; refusing to overwrite an identity (pass --force to replace it)`, exitCodes.refused);
  const port = v['http-port'] === undefined ? 9464 : Number(v['http-port']);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new CliError(`--http-port must be a TCP port from 1 to 65535 (a fixed one: the installer's health check reads it), is "${v['http-port']}"`, exitCodes.usage);
  if ((v['mqtt-username'] === undefined) !== (v['mqtt-password-file'] === undefined)) throw new CliError('give --mqtt-username and --mqtt-password-file together', exitCodes.usage);
  // A flight controller (hal.driver: mavlink) needs hal.mavlink's port, which no flag here writes.
  if (v.hal !== undefined && v.hal !== 'sim' && v.hal !== 'none') {
    const fc = v.hal === 'mavlink' ? '; a flight controller also needs its serial port (hal.mavlink), which provision does not write: set `hal: { driver: mavlink, mavlink: { serial: PORT } }` in /etc/murmur/device.yaml on the device' : '';
    throw new CliError(`--hal ${v.hal}: use sim or none${fc}`, exitCodes.usage);
  }

  // The identity and the manifest: the device is in the signed manifest with exactly this key.
  const identity = await loadIdentity(keyFile);
  const pinned = v['authority-key'] !== undefined ? (await readPublicKey(v['authority-key'])).publicKey : undefined;
  const manifest = readManifestFile(manifestFile, pinned ? { pin: { key: pinned, from: `--authority-key ${v['authority-key']}` } } : {});
  const manifestBytes = manifest.bytes;
  const { fleet, epoch } = manifest.body;
  const member = memberOf(manifest, identity.id);
  if (member === undefined || member.role === 'operator') {
    throw new CliError(`device "${identity.id}" (key ${keyFile}) is not a validator or follower in ${manifestFile} (fleet "${fleet}" epoch ${epoch}); add it with "murmur fleet add DRAFT --validator --key ${keyFile}.pub", sign the manifest again, then provision`, exitCodes.refused);
  }
  if (toHex(member.publicKey) !== toHex(identity.publicKey)) {
    throw new CliError(`${keyFile} is not the key ${manifestFile} lists for "${identity.id}" (fleet "${fleet}" epoch ${epoch}); provision with the key the manifest was signed with`, exitCodes.refused);
  }

  const password = v['mqtt-password-file'] === undefined ? undefined : await readFirstLine(v['mqtt-password-file'], '--mqtt-password-file');
  const ca = v['mqtt-ca'] === undefined ? undefined : await fs.readFile(v['mqtt-ca']).catch(() => {
    throw new CliError(`--mqtt-ca: cannot read ${v['mqtt-ca']}`, exitCodes.usage);
  });
  const config = {
    id: identity.id,
    key: `${onDevice.dir}/${bundleFiles.key}`,
    manifest: `${onDevice.dir}/${bundleFiles.manifest}`,
    authority: toHex(manifest.body.authority),
    dataDir: onDevice.dataDir,
    mqtt: { url: mqttUrl, ...(password !== undefined ? { username: v['mqtt-username'], password } : {}), ...(ca ? { caFile: `${onDevice.dir}/${bundleFiles.ca}` } : {}) },
    ...(v.radio ? { radios: v.radio.map(parseRadioSpec) } : {}),
    http: { host: '127.0.0.1', port },
    ...(v['log-level'] !== undefined ? { log: { level: v['log-level'] } } : {}),
    ...(v.hal !== undefined ? { hal: { driver: v.hal } } : {}),
  };
  const yamlText = `# ${identity.id} (${member.role}, fleet "${fleet}" epoch ${epoch}): written by murmur provision.\n# Paths are the device's own; install with: sudo sh install.sh --provision DIR\n${stringify(config)}`;
  const outConfig = join(out, bundleFiles.config);
  const parsed = parseDeviceConfig(yamlText, outConfig);
  if (!parsed.ok) throw new CliError(parsed.error, exitCodes.usage);

  // Stage beside the bundle, check the staged bytes as the device will read them, then rename into place.
  prepareOutputDir(out, '--out', 0o700);
  const staging = await fs.mkdtemp(join(out, '.provision-'));
  try {
    const written = await writeKeyFile(join(staging, bundleFiles.key), identity);
    if (!written.ok) throw new CliError(written.error, exitCodes.failed);
    await fs.writeFile(join(staging, bundleFiles.manifest), manifestBytes, { mode: 0o644 });
    if (ca) await fs.writeFile(join(staging, bundleFiles.ca), ca, { mode: 0o644 });
    // 0600: the config may hold the broker password.
    await fs.writeFile(join(staging, bundleFiles.config), yamlText, { mode: 0o600 });
    await checkStaged(staging, outConfig);
    const payload = [bundleFiles.key, bundleFiles.manifest, ...(ca ? [bundleFiles.ca] : []), bundleFiles.config];
    const info = { format: 'murmur-provision/1', id: identity.id, role: member.role, fleet, epoch, manifestHash: toHex(manifest.hash), files: payload, createdAt: new Date().toISOString() };
    await fs.writeFile(join(staging, bundleFiles.info), JSON.stringify(info, null, 2) + '\n', { mode: 0o644 });
    const sums = await Promise.all([...payload, bundleFiles.info].map(async (f) => `${sha256(await fs.readFile(join(staging, f)))}  ${f}\n`));
    await fs.writeFile(join(staging, bundleFiles.sums), sums.join(''), { mode: 0o644 });
    // A CA from an earlier provisioning of this directory would be installed with the new config otherwise.
    if (!ca) await fs.rm(join(out, bundleFiles.ca), { force: true });
    for (const f of [...payload, bundleFiles.info, bundleFiles.sums]) await fs.rename(join(staging, f), join(out, f));
    if (v.json) printJson({ ok: true, out, ...info, config: parsed.value });
    else {
      process.stdout.write(
        `provisioned ${identity.id} (${member.role}, fleet "${fleet}" epoch ${epoch}) in ${out}:\n` +
          payload.map((f) => `  ${f.padEnd(15)} -> ${onDevice.dir}/${f}${f === bundleFiles.key ? ' (identity, mode 0600, owned by murmur)' : ''}\n`).join('') +
          `  dataDir ${onDevice.dataDir}, health on http://127.0.0.1:${port}/health, broker ${redactBrokerUrl(mqttUrl)}\n` +
          `copy ${basename(out)}/ to the device with the release bundle, then (offline): sudo sh murmur-<version>-<target>/install.sh --provision ${basename(out)}\n`,
      );
    }
    return exitCodes.ok;
  } finally {
    await fs.rm(staging, { recursive: true, force: true });
  }
}

/** The checks `murmur start` makes (schema, files readable, key 0600 and the manifest's key for this id), on the staged files. */
async function checkStaged(staging: string, outConfig: string): Promise<void> {
  const text = await fs.readFile(join(staging, bundleFiles.config), 'utf8');
  const c = parseDeviceConfig(text, outConfig);
  if (!c.ok) throw new CliError(c.error, exitCodes.usage);
  const at = (p: string): string => (p.startsWith(`${onDevice.dir}/`) ? join(staging, p.slice(onDevice.dir.length + 1)) : p);
  const files = checkConfigFiles(c.value, outConfig, at);
  if (!files.ok) throw new CliError(files.error, exitCodes.usage);
  // Checked here, not run: the data directory is the device's, not this machine's.
  const parts = await openDevice({ ...c.value, key: at(c.value.key), manifest: at(c.value.manifest) }, outConfig, { lock: false });
  if (!parts.ok) throw new CliError(parts.error, exitCodes.usage);
}

async function readFirstLine(file: string, flag: string): Promise<string> {
  const text = await fs.readFile(file, 'utf8').catch(() => {
    throw new CliError(`${flag}: cannot read ${file}`, exitCodes.usage);
  });
  const line = text.split(/\r?\n/)[0] ?? '';
  if (line === '') throw new CliError(`${flag}: ${file} is empty; its first line is the password`, exitCodes.usage);
  return line;
}
