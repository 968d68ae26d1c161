// `fleet-sim`: runs whole fleets on one machine (deterministic or real time).

import { CliError, exitCodes, runMain } from '../../runtime/cli/kit.js';

const usage = `Usage: fleet-sim <command> [options]

Commands:
  (the simulator arrives with the consensus work; see README.md "What exists")

Options:
  -h, --help  this help`;

async function main(argv: string[]): Promise<number> {
  const [command] = argv;
  if (command === undefined || command === '--help' || command === '-h') {
    process.stdout.write(usage + '\n');
    return command === undefined ? exitCodes.usage : exitCodes.ok;
  }
  throw new CliError(`unknown command "${command}"\n\n${usage}`, exitCodes.usage);
}

runMain('fleet-sim', main);
