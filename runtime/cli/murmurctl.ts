// `murmurctl`: the operator's CLI.

import { initCrypto } from '../crypto/sodium.js';
import { exitCodes, need, noStrayArguments, parse, printJson, runMain, unknownCommand } from './kit.js';
import { keygen } from './keys.js';

const usage = `Usage: murmurctl <command> [options]

Commands:
  keygen --id OPERATOR_ID --out FILE [--force]   make an operator identity (FILE 0600, FILE.pub);
                                                 the fleet authority adds FILE.pub to the manifest
  send TYPE [--arg NAME=VALUE ...] [--wait none|committed|executed] [--timeout 30s]
                                                 sign and publish a command; verify its commit
                                                 certificate against the manifest (send --help)
  status                                         one row per device: liveness, height, battery, ...
  watch [--count N]                              stream the fleet's JSON topics
  log [--node ID]                                committed commands, rejected ones included

Options:
  --broker URL      MQTT broker (default $MURMUR_BROKER or mqtt://127.0.0.1:1883)
  --manifest FILE   signed fleet manifest (default $MURMUR_MANIFEST)
  --key FILE        send: the operator key file from keygen (default $MURMUR_KEY)
  --json            machine-readable output on stdout; a failure is one JSON object too,
                    {"outcome":"error","exitCode":N,"reason":"..."} (and its line on stderr)
  -h, --help        this help

Exit codes: 0 ok, 1 failed, 2 usage, 3 refused, 4 timeout, 5 unavailable, 70 internal error.`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(usage + '\n');
    return command === undefined ? exitCodes.usage : exitCodes.ok;
  }
  await initCrypto();
  switch (command) {
    case 'keygen': {
      const kUsage = `Usage: murmurctl keygen --id OPERATOR_ID --out FILE [--force] [--json]

  --json   the identity as JSON; a failure as {"outcome":"error","exitCode":N,"reason":"..."}`;
      const a = parse(rest, { id: { type: 'string' }, out: { type: 'string' }, force: { type: 'boolean' }, json: { type: 'boolean' } }, kUsage);
      if (a.values.help) return void process.stdout.write(kUsage + '\n'), exitCodes.ok;
      noStrayArguments(a.positionals, 0, (w) => `the id goes as --id ${w}, the file as --out FILE`);
      const out = need(a.values.out, 'out');
      const pub = await keygen(need(a.values.id, 'id'), out, a.values.force === true);
      if (a.values.json) printJson({ ...pub, keyFile: out, publicKeyFile: `${out}.pub` });
      else process.stdout.write(`wrote ${out} (secret, mode 0600) and ${out}.pub\noperator ${pub.id}\npublic key ${pub.publicKey}\n`);
      return exitCodes.ok;
    }
    // Loaded on use, as murmur's start: the MQTT client and the wire codecs are most of the module graph
    // (~185 ms of a 0.38 s --help, keygen or mistyped command before), and keygen never needs them.
    case 'send':
      return (await import('./ctl-send.js')).sendCommand(rest);
    case 'status':
    case 'watch':
    case 'log':
      return (await import('./ctl-view.js')).viewCommand(command, rest);
    default:
      throw unknownCommand(command, ['keygen', 'send', 'status', 'watch', 'log'], 'murmurctl');
  }
}

runMain('murmurctl', main, { jsonErrors: true });
