// Shared CLI plumbing: argument parsing with clear usage errors, and one top-level handler that turns
// expected failures into a one-line message and an exit code, never a stack trace.

import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Documented exit codes shared by murmur, murmurctl and fleet-sim. */
export const exitCodes = {
  ok: 0,
  failed: 1, // the operation ran and failed (e.g. verification failed, expectation not met)
  usage: 2, // bad arguments, bad config or scenario file
  refused: 3, // the swarm or a check refused the request (unauthorized, replayed, expired)
  timeout: 4, // nothing conclusive before --timeout
  unavailable: 5, // broker or device unreachable
  internal: 70,
} as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = exitCodes.failed,
  ) {
    super(message);
  }
}

export type Options = NonNullable<ParseArgsConfig['options']>;

export function parse<O extends Options>(argv: string[], options: O, usage: string) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (e) {
    throw new CliError(`${(e as Error).message}\n\n${usage}`, exitCodes.usage);
  }
}

export function need(value: string | undefined, flag: string): string {
  if (value === undefined || value === '') throw new CliError(`missing required option --${flag}`, exitCodes.usage);
  return value;
}

export function runMain(program: string, main: (argv: string[]) => Promise<number | void>): void {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code ?? 0;
    },
    (e: unknown) => {
      if (e instanceof CliError) {
        process.stderr.write(`${program}: ${e.message}\n`);
        process.exitCode = e.exitCode;
      } else {
        process.stderr.write(`${program}: internal error: ${e instanceof Error ? e.message : String(e)}\n`);
        if (process.env.MURMUR_DEBUG) process.stderr.write(`${(e as Error).stack ?? ''}\n`);
        else process.stderr.write('(set MURMUR_DEBUG=1 to see where)\n');
        process.exitCode = exitCodes.internal;
      }
    },
  );
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}
