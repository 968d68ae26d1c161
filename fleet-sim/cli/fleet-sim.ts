// `fleet-sim`: runs whole fleets on one machine. Deterministic mode: one seed decides the world; any
// failure prints the seed and the one command that replays it.

import { existsSync, readFileSync } from 'node:fs';
import { CliError, exitCodes, hearInterrupts, parse, runMain, signalExitCode, signalName, unknownCommand } from '../../runtime/cli/kit.js';
import { prepareOutputFile, writeOutputFile } from '../../runtime/cli/output-file.js';
import { rejectedText } from '../report/rejections.js';
import type { Scenario } from '../scenario/scenario.js';
import { hilNote, jsonBeside, looksLikeHtml, notAScenario, readScenarioBytes, scenarioFileOf, scenarioReadProblem, shellWord, shippedScenario, type ScenarioFile } from '../scenario/shipped.js';
import type { Report } from '../sim/run.js';

// The simulator, the scenario parser and start's dashboard and real-time fleet load when a command
// needs them: --help and usage errors answer in about 0.4 s instead of 1.1 s.
const simulator = () => import('../sim/run.js');
const randomWorlds = () => import('../sim/random-world.js');

export const defaultScenarioFile = 'fleet-sim/scenarios/leader-crash.yaml';

const usage = `Usage: fleet-sim <command> [options]

Commands:
  run [SCENARIO] [--seed N] [--threads T] [--json FILE|-]
                                              run one scenario (default ${defaultScenarioFile});
                                              --threads splits its followers over T threads (a
                                              seed replays with the same T)
  start [SCENARIO] [--speed X] [--port P] [--realtime] ...
                                              run one (default fleet-sim/scenarios/default.yaml) with
                                              the live dashboard and reports (npm start adds
                                              --realtime); fleet-sim start --help for every option
  seeds --count N [--from S] [--seconds T] [--json FILE|-]
                                              run N random worlds (seeds S..S+N-1), each T
                                              simulated seconds long (default 8)
  replay --seed S [--seconds T] [--json FILE|-]
                                              replay random world S exactly (T as it ran)
  replay REPORT.json [--allow-changed]        replay the scenario file and seed a deterministic run's
                                              report names; refused (exit 2) when the file changed
                                              since, unless --allow-changed

Exit status: 0 safety held and every expectation was met, 1 otherwise, 2 bad scenario or usage
(start: 5 when its --broker did not take the connection, 130 when Ctrl-C stopped a real-time fleet
before the scenario began, or a deterministic one at any time; run and replay: 130 (143 for SIGTERM)
when Ctrl-C stopped the world, within a simulated second, no report written; seeds: 130 (143) when
Ctrl-C stopped it between two worlds with none failed, the worlds run so far written and counted).`;

/** A scenario file, parsed, and the file as its report names it (absolute, and the hash of what was read). */
async function loadScenario(file: string): Promise<{ s: Scenario; read: ScenarioFile }> {
  const { parseScenario, ScenarioError } = await import('../scenario/parse.js');
  let bytes: Buffer;
  try {
    bytes = readScenarioBytes(file);
  } catch (e) {
    throw new CliError(scenarioReadProblem(file, e, 'run'), exitCodes.usage);
  }
  const text = bytes.toString('utf8');
  const wrong = notAScenario(file, text, 'run');
  if (wrong !== null) throw new CliError(wrong, exitCodes.usage);
  try {
    return { s: parseScenario(text), read: scenarioFileOf(file, bytes) };
  } catch (e) {
    if (e instanceof ScenarioError) throw new CliError(`${file}: ${e.message}`, exitCodes.usage);
    throw e;
  }
}

function seedOf(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  // The bound of a scenario file's seed and of `start --seed`: every replay line a report prints runs.
  if (!/^\d{1,16}$/.test(v) || Number(v) > Number.MAX_SAFE_INTEGER) throw new CliError(`--${flag} must be a whole number in 0..${Number.MAX_SAFE_INTEGER}, got "${v}"`, exitCodes.usage);
  return Number(v);
}

/** --seconds: how long each random world runs, 1 to 3600 simulated seconds (default 8). */
async function worldMs(v: string | undefined): Promise<number> {
  if (v === undefined) return (await randomWorlds()).randomWorldMs;
  if (!/^\d{1,4}$/.test(v) || Number(v) < 1 || Number(v) > 3600) throw new CliError(`--seconds must be a whole number of simulated seconds from 1 to 3600, got "${v}"`, exitCodes.usage);
  return Number(v) * 1000;
}

function output(value: unknown, json: string | undefined): void {
  if (json === undefined) return;
  const text = JSON.stringify(value, null, 2) + '\n';
  if (json === '-') process.stdout.write(text);
  else writeOutputFile(json, text, { flag: '--json', example: 'report.json' });
}

function summary(r: Report): string {
  const v = r.safety.violations[0];
  return `${r.scenario} seed ${r.seed}: ${r.expect.met ? 'ok' : 'FAILED'} (heights ${r.liveness.heights}, commands ${r.liveness.commandsCommitted}/${r.liveness.commandsSubmitted}${rejectedText(r.liveness.commandsRejected, r.liveness.rejections)}, p50 ${r.latencyMs.commitP50?.toFixed(1) ?? '-'} ms, max stall ${r.liveness.maxStallMs} ms, ${r.wallMs} ms wall)${v ? `\n  ${v.property}: ${v.detail}` : ''}`;
}

/** --threads: a whole number the scenario can be split into (shards.ts says why not). */
async function threadsFor(s: Scenario, file: string, v: string | undefined): Promise<number> {
  if (v === undefined) return 1;
  if (!/^\d{1,2}$/.test(v) || Number(v) < 1 || Number(v) > 16) throw new CliError(`--threads must be a whole number from 1 to 16, got "${v}"`, exitCodes.usage);
  const { shardProblem } = await import('../sim/shards.js');
  const problem = shardProblem(s, Number(v), {});
  if (problem !== null) throw new CliError(`--threads ${v}: ${file}: ${problem}`, exitCodes.usage);
  return Number(v);
}

/**
 * Runs one world. Ctrl-C (SIGTERM) ends it between two simulated seconds: one line says where and that
 * no report was written, exit 130 (143); a second one ends it at once. Before, a world ran without a
 * turn of the event loop and the process died by the signal without a word (fleet-1000 runs minutes).
 * The world is the same either way: the slices only hand the loop a turn (at most every 100 ms of wall
 * time), they change no event's order.
 */
async function runOne(s: Scenario, seed: number, file: string, json: string | undefined, threads = 1, read?: ScenarioFile): Promise<number> {
  const { runScenario, replayCommand, RunStopped } = await simulator();
  const interrupts = hearInterrupts();
  let lastTurn = performance.now();
  let r: Report;
  try {
    r = await runScenario(s, seed, {
      file,
      threads,
      ...(read ? { scenarioFile: read } : {}),
      sliceMs: 1_000,
      pace: async (simMs) => {
        if (performance.now() - lastTurn > 100) {
          await new Promise((resolve) => setImmediate(resolve));
          lastTurn = performance.now();
        }
        if (interrupts.heard() !== null) throw new RunStopped(simMs);
      },
    });
    // The liveness check after the scenario runs without a turn of the loop: a Ctrl-C then is heard here.
    await new Promise((resolve) => setImmediate(resolve));
  } catch (e) {
    if (!(e instanceof RunStopped)) throw e;
    const sig = interrupts.heard() ?? 'SIGINT';
    // The report's replay line prints the report (--json -); run again, it goes where this run's was to go.
    const again = `${replayCommand(file, seed, threads, s.durationMs).replace(/ --json -$/, '')}${json !== undefined ? ` --json ${shellWord(json)}` : ''}`;
    process.stderr.write(`fleet-sim: ${signalName(sig)}: stopped at ${(e.atMs / 1000).toFixed(0)} s of ${s.durationMs / 1000} s (simulated); no report written. The run is deterministic: ${again} runs it again\n`);
    return signalExitCode(sig);
  } finally {
    interrupts.stop();
  }
  const late = interrupts.heard();
  output(r, json);
  if (json !== '-') process.stdout.write(summary(r) + '\n');
  if (!r.expect.met) process.stderr.write(`fleet-sim: seed ${seed} failed (${r.expect.failed.join(', ')}); replay with:\n  ${r.replay}\n`);
  if (late !== null) {
    process.stderr.write(`fleet-sim: ${signalName(late)} came as the run finished: its ${json !== undefined ? 'report and ' : ''}summary stand\n`);
    return signalExitCode(late);
  }
  return r.expect.met ? exitCodes.ok : exitCodes.failed;
}

/**
 * Runs seeds from..from+count-1. Ctrl-C (SIGTERM) between two worlds ends it there: the worlds run so
 * far are counted and written (--json) as when it ends, the line says how far it got and the command
 * that runs the rest, exit 130 (143). A second Ctrl-C ends it at once. Before, a soak of 2,000 worlds
 * (npm run sim:soak, ~10 minutes) stopped by Ctrl-C died by the signal without a word: which seeds had
 * run, and whether any had failed, was lost with it.
 */
async function seeds(count: number, from: number, json: string | undefined, durationMs: number): Promise<number> {
  const failed: number[] = [];
  const rows: unknown[] = [];
  const [{ runScenario }, { randomScenario, randomWorldMs }] = await Promise.all([simulator(), randomWorlds()]);
  const interrupts = hearInterrupts();
  let seed = from;
  for (; seed < from + count && interrupts.heard() === null; seed++) {
    // A turn of the event loop between two worlds, so a signal is heard (a world runs without one).
    if (seed > from) await new Promise((r) => setImmediate(r));
    if (interrupts.heard() !== null) break;
    const r = await runScenario(randomScenario(seed, durationMs), seed, { file: '--random' });
    rows.push({ seed, ok: r.expect.met, heights: r.liveness.heights, failed: r.expect.failed, violations: r.safety.violations.slice(0, 3) });
    if (!r.expect.met) {
      failed.push(seed);
      process.stderr.write(`seed ${seed} FAILED: ${r.safety.violations[0]?.detail ?? r.expect.failed.join(', ')}\n  replay: ${r.replay}\n`);
    } else if (json !== '-') process.stdout.write(`seed ${seed} ok (${r.liveness.heights} heights, ${r.wallMs} ms)\n`);
  }
  interrupts.stop();
  const stopped = interrupts.heard();
  const ran = seed - from;
  output({ count: ran, from, failed, runs: rows, ...(stopped !== null ? { stopped: `by ${stopped} after ${ran} of ${count}` } : {}) }, json);
  if (json !== '-') process.stdout.write(`${ran - failed.length}/${ran} seeds ok${failed.length ? `; failed: ${failed.join(', ')}` : ''}\n`);
  if (stopped !== null) {
    const rest = from + count - seed;
    process.stderr.write(`fleet-sim seeds: stopped by ${signalName(stopped)} after ${ran} of ${count} worlds (seeds ${from}..${seed - 1}${failed.length ? `; failed: ${failed.join(', ')}` : ', all ok'}); the rest: fleet-sim seeds --count ${rest} --from ${seed}${durationMs !== randomWorldMs ? ` --seconds ${durationMs / 1000}` : ''}\n`);
    return failed.length > 0 ? exitCodes.failed : signalExitCode(stopped);
  }
  return failed.length === 0 ? exitCodes.ok : exitCodes.failed;
}

/** What each command reads; an option of another command would be parsed and silently ignored. */
const takes: Record<string, { options: readonly string[]; files: number }> = {
  run: { options: ['seed', 'threads', 'json'], files: 1 },
  seeds: { options: ['count', 'from', 'seconds', 'json'], files: 0 },
  replay: { options: ['seed', 'seconds', 'json', 'allow-changed'], files: 1 },
};

/** Where the option belongs, or what to give instead (v: the value given). */
const elsewhere: Record<string, (v: string) => string> = {
  'seeds --seed': (v) => `seeds runs --from S to S+N-1: give --from ${v}`,
  'seeds --threads': () => 'run takes it',
  'run --count': () => 'seeds takes it',
  'run --from': () => 'seeds takes it',
  'run --seconds': () => "a scenario file's duration sets it",
  'run --allow-changed': () => 'replay REPORT.json takes it',
  'seeds --allow-changed': () => 'replay REPORT.json takes it',
  'replay --threads': () => "a random world runs on one thread; a report's replay line carries its own",
  'replay --count': () => 'seeds takes it',
  'replay --from': () => 'seeds takes it',
};

function refuseForeign(command: string, values: Record<string, unknown>, positionals: readonly string[]): void {
  const t = takes[command];
  if (t === undefined) return; // an unknown command is refused below
  for (const [k, v] of Object.entries(values)) {
    if (v === undefined || k === 'help' || t.options.includes(k)) continue;
    const hint = elsewhere[`${command} --${k}`]?.(String(v));
    throw new CliError(`fleet-sim ${command} does not take --${k}${hint ? ` (${hint})` : ''}`, exitCodes.usage);
  }
  if (command === 'replay' && values.seed !== undefined && positionals.length > 0) throw new CliError('fleet-sim replay takes --seed S or a report file, not both', exitCodes.usage);
  if (command === 'replay' && values['allow-changed'] !== undefined && positionals.length === 0) throw new CliError('fleet-sim replay takes --allow-changed with a report file (run its scenario file even though it changed since the report)', exitCodes.usage);
  if (positionals.length > t.files) {
    throw new CliError(t.files === 0 ? `fleet-sim ${command} takes no file, got ${positionals.join(' ')}` : `fleet-sim ${command} takes one ${command === 'run' ? 'scenario' : 'report'} file, got ${positionals.length}: ${positionals.join(' ')}`, exitCodes.usage);
  }
}

/** The scenario file a real-time report names (`file`), as one shell word; a report without one
 *  (written before it had that field) names the shipped scenario of its name when there is one, else
 *  a placeholder. */
function realtimeReportFile(rep: { readonly scenario?: unknown; readonly file?: unknown }): string {
  if (typeof rep.file === 'string' && rep.file !== '') return shellWord(rep.file);
  const shipped = typeof rep.scenario === 'string' && /^[A-Za-z0-9_-]+$/.test(rep.scenario) ? shippedScenario(`${rep.scenario}.yaml`) : null;
  return shipped !== null && existsSync(shipped) ? shellWord(shipped) : '<scenario file>';
}

/** Why a file given to replay is not a JSON report, and what to do instead: an HTML report's JSON is
 *  beside it; anything else is taken for a scenario (the usual mistake). */
function notAJsonReport(file: string, text: string): string {
  if (!looksLikeHtml(text)) return `${file} is not a JSON report (fleet-sim run --json FILE and fleet-sim start write one); to run a scenario file: fleet-sim run ${shellWord(file)}`;
  const json = jsonBeside(file);
  return `${file} is a run's HTML report (open it in a browser); replay takes its JSON report${json !== null && existsSync(json) ? `: fleet-sim replay ${shellWord(json)}` : ', written beside it with the same name'}`;
}

/** A report's scenarioFile, when it is one (sim/run.ts Report). */
function recordedScenarioFile(v: unknown): ScenarioFile | null {
  if (v === null || typeof v !== 'object') return null;
  const { path, sha256 } = v as { path?: unknown; sha256?: unknown };
  return typeof path === 'string' && path !== '' && typeof sha256 === 'string' && /^[0-9a-f]{64}$/.test(sha256) ? { path, sha256 } : null;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h') {
    process.stdout.write(usage + '\n');
    return command === undefined ? exitCodes.usage : exitCodes.ok;
  }
  // `start` (npm start) has its own options: fleet-sim/cli/start.ts, the dashboard helper's part.
  if (command === 'start') return (await import('./start.js')).startCommand(rest);
  const { values, positionals } = parse(rest, { seed: { type: 'string' }, json: { type: 'string' }, count: { type: 'string' }, from: { type: 'string' }, threads: { type: 'string' }, seconds: { type: 'string' }, 'allow-changed': { type: 'boolean' } }, usage);
  if (values.help) {
    process.stdout.write(usage + '\n');
    return exitCodes.ok;
  }
  refuseForeign(command, values, positionals);
  // Checked before the run, not after it: a long run should not end in a file it cannot write.
  if (values.json !== undefined && values.json !== '-') prepareOutputFile(values.json, '--json', 'report.json');
  switch (command) {
    case 'run': {
      const file = positionals[0] ?? shippedScenario('leader-crash.yaml');
      const { s, read } = await loadScenario(file);
      const note = hilNote(s.hil, file);
      if (note !== null) process.stderr.write(note);
      return runOne(s, seedOf(values.seed, 'seed') ?? s.seed, file, values.json, await threadsFor(s, file, values.threads), read);
    }
    case 'seeds': {
      const count = seedOf(values.count, 'count');
      if (count === undefined || count < 1 || count > 1_000_000) throw new CliError('seeds needs --count N (1..1000000)', exitCodes.usage);
      return seeds(count, seedOf(values.from, 'from') ?? Date.now() % 1_000_000_000, values.json, await worldMs(values.seconds));
    }
    case 'replay': {
      const seed = seedOf(values.seed, 'seed');
      if (seed !== undefined) return runOne((await randomWorlds()).randomScenario(seed, await worldMs(values.seconds)), seed, `--random`, values.json);
      if (values.seconds !== undefined) throw new CliError('fleet-sim replay takes --seconds with --seed (a random world); a report file names its own', exitCodes.usage);
      const reportFile = positionals[0];
      if (!reportFile) throw new CliError('replay needs --seed S or a report file', exitCodes.usage);
      let rep: { replay?: unknown; seed?: unknown; mode?: unknown; scenario?: unknown; file?: unknown; scenarioFile?: unknown };
      let text: string;
      try {
        text = readFileSync(reportFile, 'utf8');
      } catch (e) {
        throw new CliError(`cannot read report ${reportFile}: ${(e as Error).message}`, exitCodes.usage);
      }
      try {
        rep = JSON.parse(text) as typeof rep;
      } catch {
        // JSON.parse's message quotes the text, newlines and all (two lines on the terminal); the usual
        // mistake is a scenario given where its report belongs.
        throw new CliError(notAJsonReport(reportFile, text), exitCodes.usage);
      }
      if (rep === null || typeof rep !== 'object') throw new CliError(`${reportFile} is not a fleet-sim report (a JSON object with a "replay" field)`, exitCodes.usage);
      if (rep.mode === undefined && rep.replay === undefined && typeof (rep as { name?: unknown }).name === 'string') throw new CliError(`${reportFile} is a scenario (JSON), not a report; to run it: fleet-sim run ${shellWord(reportFile)}`, exitCodes.usage);
      if (rep.mode === 'realtime') {
        const seed = typeof rep.seed === 'number' ? rep.seed : 'N';
        const file = realtimeReportFile(rep);
        throw new CliError(`${reportFile} is a real-time run's report (scenario "${String(rep.scenario)}", seed ${seed}): the wall clock and the OS scheduled it, so it cannot be replayed exactly; run the scenario again with fleet-sim start ${file} --realtime --seed ${seed}, or in the deterministic simulator with fleet-sim run ${file} --seed ${seed}`, exitCodes.usage);
      }
      // The scenario is one shell word (run.ts shellWord): plain, or single-quoted with '\'' for a quote.
      const m = typeof rep.replay === 'string' ? /run ('(?:[^']|'\\'')*'|\S+) --seed (\d+)(?: --threads (\d+))?|replay --seed (\d+)(?: --seconds (\d+))?/.exec(rep.replay) : null;
      if (!m) throw new CliError(`${reportFile} has no "replay" field naming a scenario and seed`, exitCodes.usage);
      if (m[4]) return runOne((await randomWorlds()).randomScenario(Number(m[4]), await worldMs(m[5])), Number(m[4]), '--random', values.json);
      // The file the report recorded (absolute, so any working directory will do); a report written before
      // it had scenarioFile names it in its replay line, as given then.
      const recorded = recordedScenarioFile(rep.scenarioFile);
      const word = m[1] as string;
      const file = recorded?.path ?? (word.startsWith("'") ? word.slice(1, -1).replace(/'\\''/g, "'") : word);
      const { s, read } = await loadScenario(file);
      if (recorded && read.sha256 !== recorded.sha256) {
        const changed = `${reportFile}: the scenario file ${file} changed since the report was written (sha256 ${recorded.sha256.slice(0, 12)}… then, ${read.sha256.slice(0, 12)}… now)`;
        if (!values['allow-changed']) throw new CliError(`${changed}, so it would not replay that run; --allow-changed runs it as it is now`, exitCodes.usage);
        process.stderr.write(`fleet-sim: ${changed}; running it as it is now (--allow-changed)\n`);
      }
      return runOne(s, Number(m[2]), file, values.json, await threadsFor(s, file, m[3]), read);
    }
    default:
      throw unknownCommand(command, ['run', 'start', 'seeds', 'replay'], 'fleet-sim');
  }
}

// A reader that went away (fleet-sim seeds | head -1) ends the output, not the work: a real-time run
// still stops its devices and writes its reports. Node's default was a stack trace on stderr.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE' && e.code !== 'ERR_STREAM_DESTROYED') throw e;
});

runMain('fleet-sim', main);
