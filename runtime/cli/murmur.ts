// `murmur`: the device CLI. keygen, fleet manifest editing and signing, provisioning one device; `start` runs a device.

import { exitCodes, need, noStrayArguments, parse, printJson, runMain, unknownCommand } from './kit.js';
import { initCrypto } from '../crypto/sodium.js';
import { keygen } from './keys.js';
import { fleetCommand, fleetUsage } from './fleet-commands.js';

const usage = `Usage: murmur <command> [options]

Commands:
  keygen --id ID --out FILE [--force]   make an Ed25519 identity (FILE, mode 0600) and FILE.pub
  fleet <init|add|remove|sign|show|verify> ...
                                        create, edit, sign and check the fleet manifest
                                        (murmur fleet --help for details)
  provision --key FILE --manifest FILE --mqtt-url URL --out DIR [--force]
                                        one device's provisioning bundle: identity (0600), signed
                                        manifest, device.yaml (murmur provision --help for details)
  start --config FILE                   run this device (murmur start --help for details)

Options:
  --json      machine-readable output (keygen, fleet, provision; start logs JSON lines instead)
  -h, --help  this help

Exit codes: 0 ok, 1 failed, 2 usage or bad file, 3 refused, 5 unavailable (start: e.g. http.port in use),
70 internal error. (A data directory that stops taking writes does not end start: it waits for it.)`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(usage + '\n');
    return command === undefined ? exitCodes.usage : exitCodes.ok;
  }
  await initCrypto();
  switch (command) {
    case 'keygen': {
      const kUsage = 'Usage: murmur keygen --id ID --out FILE [--force] [--json]';
      const a = parse(rest, { id: { type: 'string' }, out: { type: 'string' }, force: { type: 'boolean' }, json: { type: 'boolean' } }, kUsage);
      if (a.values.help) return void process.stdout.write(kUsage + '\n'), exitCodes.ok;
      noStrayArguments(a.positionals, 0, (w) => `the id goes as --id ${w}, the file as --out FILE`);
      const out = need(a.values.out, 'out');
      const pub = await keygen(need(a.values.id, 'id'), out, a.values.force === true);
      if (a.values.json) printJson({ ...pub, keyFile: out, publicKeyFile: `${out}.pub` });
      else process.stdout.write(`wrote ${out} (secret, mode 0600) and ${out}.pub\nid ${pub.id}\npublic key ${pub.publicKey}\n`);
      return exitCodes.ok;
    }
    case 'fleet':
      if (rest.length === 0 || rest[0] === '--help' || rest[0] === '-h') {
        process.stdout.write(fleetUsage + '\n');
        return rest.length === 0 ? exitCodes.usage : exitCodes.ok;
      }
      return fleetCommand(rest);
    // Loaded on use: the device runtime is most of the module graph, and keygen or fleet never need it.
    case 'provision':
      return (await import('./provision.js')).provisionCommand(rest);
    case 'start':
      return (await import('./start.js')).startCommand(rest);
    default:
      throw unknownCommand(command, ['keygen', 'fleet', 'provision', 'start'], 'murmur');
  }
}

runMain('murmur', main);
