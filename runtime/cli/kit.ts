// Shared CLI plumbing: argument parsing with clear usage errors, and one top-level handler that turns
// expected failures into a one-line message and an exit code, never a stack trace.

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { closestName } from '../lib/closest.js';

/** Documented exit codes shared by murmur, murmurctl and fleet-sim. */
export const exitCodes = {
  ok: 0,
  failed: 1, // the operation ran and failed (e.g. verification failed, expectation not met)
  usage: 2, // bad arguments, bad config or scenario file
  refused: 3, // the swarm or a check refused the request (unauthorized, replayed, expired)
  timeout: 4, // nothing conclusive before --timeout
  unavailable: 5, // broker or device unreachable
  internal: 70,
  storage: 74, // a device run inside another program (fleet-sim) whose data directory took no write; murmur start waits instead (storage-wait.ts)
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
    const ambiguous = ambiguousValue(argv, (e as Error).message);
    if (ambiguous !== null) throw new CliError(ambiguous, exitCodes.usage);
    // parseArgs' own line for a mistyped option advises putting it after `--` as a positional; the whole
    // usage after it buried the one line that matters. The nearest option names the typo.
    const message = (e as Error).message;
    const unknown = /^Unknown option '([^']+)'/.exec(message);
    if (unknown) {
      const near = closestName(unknown[1] as string, ['--help', ...Object.keys(options).map((k) => `--${k}`)]);
      throw new CliError(`unknown option ${unknown[1]}${near === null ? '' : `; did you mean ${near}?`} (--help lists the options)`, exitCodes.usage);
    }
    const missing = /^Option '(--[^ ']+)(?: <value>)?' argument missing/.exec(message);
    if (missing) throw new CliError(`${missing[1]} needs a value (--help lists the options)`, exitCodes.usage);
    throw new CliError(`${message}\n\n${usage}`, exitCodes.usage);
  }
}

/**
 * parseArgs refuses `--power -1` (a value that looks like an option) in three lines of its own; say it
 * in one. No option of these CLIs takes a negative number; a name that starts with a dash can still be
 * given in the `=` form.
 */
function ambiguousValue(argv: readonly string[], message: string): string | null {
  const m = /^Option '([^']+)' argument is ambiguous/.exec(message);
  if (!m) return null;
  const flag = m[1] as string;
  const at = argv.findIndex((a, i) => a === flag && argv[i + 1]?.startsWith('-'));
  const value = at >= 0 ? (argv[at + 1] as string) : '-…';
  return `${flag} "${value}": negative numbers are not taken here, and a value starting with "-" reads as an option; give a positive value (a name that starts with "-" goes as ${flag}=${value})`;
}

/**
 * A command that takes `taken` words besides its options ignored any more: `murmurctl status d1` showed
 * every device, `murmur keygen d5 ...` asked for --id. One line naming the first extra word, and what it
 * may have meant (`hint` of it).
 */
export function noStrayArguments(positionals: readonly string[], taken: number, hint: (word: string) => string = () => ''): void {
  const word = positionals[taken];
  if (word === undefined) return;
  const meant = hint(word);
  throw new CliError(`unexpected argument "${word}"${meant === '' ? '' : `: ${meant}`}`, exitCodes.usage);
}

/**
 * A command word that is none of `known`: one line with the nearest (a typo: `murmurctl sned`), or, for
 * an option given before the command (`murmurctl --broker URL status`), that the command comes first.
 * It printed the whole usage after a bare "unknown command".
 */
export function unknownCommand(word: string, known: readonly string[], program: string): CliError {
  const list = `${program} --help lists them: ${known.join(', ')}`;
  if (word.startsWith('-')) return new CliError(`"${word}" before the command: give the command first, then its options (${list})`, exitCodes.usage);
  const near = closestName(word, known);
  return new CliError(`unknown command "${word}"${near === null ? '' : `; did you mean ${near}?`} (${list})`, exitCodes.usage);
}

export function need(value: string | undefined, flag: string): string {
  if (value === undefined || value === '') throw new CliError(`missing required option --${flag}`, exitCodes.usage);
  return value;
}

/** Murmur's release (package.json's version), from the tree this module runs in: the clone, the
 *  compiled release (dist/ beside package.json) or an installed bundle; null when none is found. */
export function murmurVersion(): string | null {
  for (let dir = import.meta.dirname, i = 0; i < 6; i++, dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'murmur' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not here: one level up
    }
  }
  return null;
}

/** The exit status a shell gives a program ended by `sig`: 130 for Ctrl-C (SIGINT), 143 for SIGTERM. */
export const signalExitCode = (sig: NodeJS.Signals): number => (sig === 'SIGTERM' ? 143 : 130);

/** How a signal is named to the person at the terminal. */
export const signalName = (sig: NodeJS.Signals): string => (sig === 'SIGTERM' ? 'SIGTERM' : 'Ctrl-C');

/**
 * Hears Ctrl-C and SIGTERM until `stop()`, for a command that ends its work at the next good moment:
 * `heard()` is the first signal (null before one came); a second one ends the program at once, with its
 * exit status.
 */
export function hearInterrupts(): { heard(): NodeJS.Signals | null; stop(): void } {
  let first: NodeJS.Signals | null = null;
  const on = (sig: NodeJS.Signals): void => {
    if (first !== null) process.exit(signalExitCode(sig));
    first = sig;
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, on);
  return {
    heard: () => first,
    stop: () => {
      for (const sig of ['SIGINT', 'SIGTERM'] as const) process.off(sig, on);
    },
  };
}

/**
 * Runs a CLI's `main` and turns what it throws into one line on stderr and an exit code. `jsonErrors`:
 * when the command line asks for --json, the failure is also one JSON object on stdout,
 * `{"outcome":"error","exitCode":N,"reason":"..."}` (unless a result was printed as JSON already), so
 * a script reading stdout gets an outcome whatever failed (a wrong key, the broker down, a bad flag).
 */
export function runMain(program: string, main: (argv: string[]) => Promise<number | void>, opts: { jsonErrors?: boolean } = {}): void {
  const argv = process.argv.slice(2);
  // `--version` (-V) alone: the release, as a person asking which one a device runs expects. It was
  // refused as an option given before the command.
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
    process.stdout.write(`${program} ${murmurVersion() ?? '(version unknown: no package.json of murmur found beside it)'}\n`);
    return;
  }
  main(argv).then(
    (code) => {
      process.exitCode = code ?? 0;
    },
    (e: unknown) => {
      const reason = e instanceof CliError ? e.message : `internal error: ${e instanceof Error ? e.message : String(e)}`;
      const code = e instanceof CliError ? e.exitCode : exitCodes.internal;
      process.stderr.write(`${program}: ${reason}\n`);
      if (!(e instanceof CliError)) {
        if (process.env.MURMUR_DEBUG) process.stderr.write(`${(e as Error).stack ?? ''}\n`);
        else process.stderr.write('(set MURMUR_DEBUG=1 to see where)\n');
      }
      process.exitCode = code;
      if (opts.jsonErrors === true && asksForJson(argv) && !printedJson) printJson({ outcome: 'error', exitCode: code, reason });
      // What the command had opened before it failed (a dashboard server, a broker connection, a
      // worker) would keep the process running with nothing left to do: leave within a second.
      setTimeout(() => process.exit(), exitAfterErrorMs).unref();
    },
  );
}

const exitAfterErrorMs = 1_000;

/** `--json` among the options (before a `--` that ends them), as parseArgs would read it. */
function asksForJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === '--json' || a.startsWith('--json='));
}

/** Whether printJson printed a result: then a failure after it prints no second JSON object. */
let printedJson = false;

/** C0 and C1 control characters: ESC, CSI and the rest of what a terminal acts on, newline and tab too. */
const controls = /[\u0000-\u001f\u007f-\u009f]/g;

/**
 * Text from devices or the broker made safe to print: each control character as \xNN. A reason that
 * held "\x1b[31m" (or a newline and a forged line after it) reached the operator's terminal as it was.
 */
export function printable(text: string): string {
  return text.replace(controls, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export function printJson(value: unknown): void {
  printedJson = true;
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}
