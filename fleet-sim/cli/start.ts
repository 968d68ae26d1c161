// `fleet-sim start` (`npm start` runs it with --realtime): the default scenario, watched live. It prints
// the dashboard's address, shows progress, and ends with a summary and the JSON and HTML reports.

import { resolve } from 'node:path';
import { CliError, exitCodes, hearInterrupts, parse, signalExitCode, signalName } from '../../runtime/cli/kit.js';
import { prepareOutputDir } from '../../runtime/cli/output-file.js';
import { brokerUrlProblem, redactBrokerUrl } from '../../runtime/links/broker-url.js';
import { socatAvailable, socatMissing } from '../../firmware-bridge/tools/processes.js';
import type { RunObserver } from '../report/events.js';
import type { Scenario } from '../scenario/scenario.js';
import { hilNote, notAScenario, readScenarioBytes, scenarioFileOf, scenarioReadProblem, shippedScenario } from '../scenario/shipped.js';


export const startScenarioFile = 'fleet-sim/scenarios/default.yaml';

export const startUsage = `Usage: fleet-sim start [SCENARIO] [options]

Runs a scenario (default ${startScenarioFile}) with the live dashboard on 127.0.0.1, then writes
reports/<scenario>-seed<N>.json and .html.

Options:
  --seed N        the world's seed (default: the scenario's)
  --speed X       virtual seconds per wall second (default 1, real time; 0 = as fast as possible)
  --port P        dashboard port (default 8377; 0 picks a free port)
  --reports DIR   where the reports go (default reports)
  --no-dashboard  run without serving the dashboard
  --realtime      the real device runtime on the wall clock, every device in this process, over the
                  embedded aedes broker (what npm start runs; a scenario with radios or hil needs socat,
                  and without it runs in the deterministic simulator paced to the wall clock)
  --processes     with --realtime: one \`murmur start\` child process per device (crash = SIGKILL)
  --broker URL    with --realtime: an external broker instead, e.g. mqtt://127.0.0.1:1883 (Mosquitto)
  --exit          exit when the run ends (default on a terminal: keep the dashboard up until Ctrl-C)

Exit status: 0 safety held and every expectation was met, 1 otherwise (a real-time run Ctrl-C cut
short too), 2 bad scenario or usage, 5 the --broker did not take the connection, 130 Ctrl-C while
the real-time fleet was still starting, or during a deterministic run (no report; the line says how
to get it at once).`;

/** A whole number, as written (no fraction, exponent or hex to round or read differently). */
function wholeOpt(v: string | undefined, flag: string, max: number, fallback: number): number {
  if (v === undefined) return fallback;
  if (!/^\d{1,16}$/.test(v) || Number(v) > max) throw new CliError(`--${flag} must be a whole number in 0..${max}, got "${v}"`, exitCodes.usage);
  return Number(v);
}

function numberOpt(v: string | undefined, flag: string, min: number, max: number, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) throw new CliError(`--${flag} must be a number in ${min}..${max}, got "${v}"`, exitCodes.usage);
  return n;
}

export async function startCommand(argv: string[]): Promise<number> {
  try {
    return await start(argv);
  } catch (e) {
    // Checked when the server starts, before the run: the user picks another port.
    const { DashboardPortError } = await import('../dashboard/server.js');
    if (e instanceof DashboardPortError) throw new CliError(`--port ${e.port}: ${e.message}; give another port, or --port 0 for a free one`, exitCodes.usage);
    throw e;
  }
}

async function start(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    {
      seed: { type: 'string' },
      speed: { type: 'string' },
      port: { type: 'string' },
      reports: { type: 'string' },
      'no-dashboard': { type: 'boolean' },
      exit: { type: 'boolean' },
      realtime: { type: 'boolean' },
      broker: { type: 'string' },
      processes: { type: 'boolean' },
    },
    startUsage,
  );
  if (values.help) {
    process.stdout.write(startUsage + '\n');
    return exitCodes.ok;
  }
  if (positionals.length > 1) throw new CliError(`start takes one scenario file, got ${positionals.length}: ${positionals.join(' ')}`, exitCodes.usage);
  if (values['no-dashboard'] && values.port !== undefined) throw new CliError(`--port ${values.port} and --no-dashboard: give one of them`, exitCodes.usage);
  const file = positionals[0] ?? shippedScenario('default.yaml');
  let bytes: Buffer;
  try {
    bytes = readScenarioBytes(file);
  } catch (e) {
    throw new CliError(scenarioReadProblem(file, e, 'start'), exitCodes.usage);
  }
  const text = bytes.toString('utf8');
  const wrong = notAScenario(file, text, 'start');
  if (wrong !== null) throw new CliError(wrong, exitCodes.usage);
  // The parser, the simulator, the dashboard and the real-time fleet load only now: help and usage
  // errors answer without them.
  const { parseScenario, ScenarioError } = await import('../scenario/parse.js');
  let scenario;
  try {
    scenario = parseScenario(text);
  } catch (e) {
    if (e instanceof ScenarioError) throw new CliError(`${file}: ${e.message}`, exitCodes.usage);
    throw e;
  }
  const tty = process.stdout.isTTY === true;
  if (values.broker !== undefined && !values.realtime) throw new CliError('--broker needs --realtime (the deterministic simulator has its own network)', exitCodes.usage);
  if (values.broker !== undefined) {
    const problem = /^mqtts?:\/\/[^\s/]+:\d+$/.test(values.broker) ? brokerUrlProblem(values.broker) : 'it is not mqtt://host:port';
    if (problem !== null) throw new CliError(`--broker "${redactBrokerUrl(values.broker)}": ${problem}; give one like mqtt://127.0.0.1:1883`, exitCodes.usage);
  }
  const port = values['no-dashboard'] ? null : wholeOpt(values.port, 'port', 65_535, 8377);
  if (values.processes && !values.realtime) throw new CliError('--processes needs --realtime', exitCodes.usage);
  const seed = wholeOpt(values.seed, 'seed', Number.MAX_SAFE_INTEGER, scenario.seed);
  // Checked before the run, not after it: a long run should not end in reports it cannot write.
  prepareOutputDir(values.reports ?? 'reports', '--reports');
  const realtimeWanted = values.realtime === true;
  const needsPtys = scenario.radio !== undefined || scenario.hil !== undefined;
  if (realtimeWanted && needsPtys && !socatAvailable()) {
    // npm start on a machine without socat: say so, and still show the scenario (the same runtime code
    // in the deterministic simulator, paced to the wall clock) rather than stop.
    process.stderr.write(`fleet-sim: ${socatMissing}; ${file} has ${scenario.radio ? 'radios' : 'hardware in the loop'}, so it runs in the deterministic simulator, paced to the wall clock, instead of in real time\n`);
  } else if (realtimeWanted) {
    // (Without socat it falls back to the deterministic simulator above, where --speed applies.)
    if (values.speed !== undefined) throw new CliError(`--speed ${values.speed}: --realtime runs on the wall clock; leave out --realtime to run the deterministic simulator at that speed`, exitCodes.usage);
    return realtime({ ...scenario, seed }, { file, brokerUrl: values.broker ?? null, processes: values.processes === true, port, reportDir: values.reports ?? 'reports', progress: tty ? 'bar' : 'lines', stay: tty && !values.exit });
  }
  const [{ liveRun }, { RunStopped }, { formatSummary }, { shellWord }] = await Promise.all([import('../dashboard/live-run.js'), import('../sim/run.js'), import('../report/write.js'), import('../scenario/shipped.js')]);
  // (Without socat, real time fell back to here and said so above.)
  const note = realtimeWanted ? null : hilNote(scenario.hil, file);
  if (note !== null) process.stderr.write(note);
  // Ctrl-C ended the paced run without a word (130, no report): say where, and what gives the report.
  const interrupts = hearInterrupts();
  let result;
  try {
    result = await liveRun(scenario, {
      seed,
      file,
      scenarioFile: scenarioFileOf(file, bytes),
      speed: numberOpt(values.speed, 'speed', 0, 10_000, 1),
      port,
      reportDir: values.reports ?? 'reports',
      progress: tty ? 'bar' : 'lines',
      stopped: () => interrupts.heard() !== null,
    });
    // The liveness check after the scenario and the report run without a turn of the event loop: a
    // Ctrl-C then waits in libuv for its handler, which the finally below removes. One turn hears it.
    await new Promise((r) => setImmediate(r));
  } catch (e) {
    if (!(e instanceof RunStopped)) throw e;
    // The same run with the user's own options (where the reports go, the dashboard's), unpaced.
    const again = [`fleet-sim start ${shellWord(file)} --seed ${seed} --speed 0`, values.reports !== undefined ? `--reports ${shellWord(values.reports)}` : '', values['no-dashboard'] ? '--no-dashboard' : values.port !== undefined ? `--port ${values.port}` : '', values.exit ? '--exit' : ''];
    process.stderr.write(`${tty ? '\n' : ''}fleet-sim: interrupted at ${(e.atMs / 1000).toFixed(1)} s of ${scenario.durationMs / 1000} s; no report written. The run is deterministic: ${again.filter((w) => w !== '').join(' ')} writes its reports without pacing\n`);
    return signalExitCode(interrupts.heard() ?? 'SIGINT');
  } finally {
    interrupts.stop();
  }
  process.stdout.write(`\n${formatSummary(result.report)}\n`);
  if (result.written) process.stdout.write(`\nreport: ${result.written.json}\n        ${result.written.html} (open it in a browser: the same map, charts and a replay)\n`);
  if (!result.report.expect.met) process.stderr.write(`fleet-sim: replay with: ${result.report.replay}\n`);
  // Ctrl-C after the last paced slice (the liveness check after the scenario runs unpaced) came too late
  // to stop the run: it was swallowed, and the dashboard then waited for a second one. It ends here.
  const late = interrupts.heard();
  if (late !== null) {
    process.stderr.write(`fleet-sim: ${signalName(late)} came as the run finished: its summary and reports are above; the dashboard is closed\n`);
    await result.server?.close();
    result.hub.close();
    return signalExitCode(late);
  }
  if (result.server && tty && !values.exit) {
    process.stdout.write(`\nThe dashboard stays up at ${result.server.url} (scrub the timeline to replay); Ctrl-C to exit.\n`);
    await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  }
  await result.server?.close();
  result.hub.close();
  return result.report.expect.met ? exitCodes.ok : exitCodes.failed;
}

interface RealtimeStart {
  readonly file: string;
  readonly brokerUrl: string | null;
  readonly processes: boolean;
  readonly port: number | null;
  readonly reportDir: string;
  readonly progress: 'bar' | 'lines';
  /** Keep the dashboard up after the run until Ctrl-C (a person at a terminal). */
  readonly stay: boolean;
}

/** Real-time mode: the dashboard follows the real runtime; progress as the run goes, then the summary
 *  and reports. */
async function realtime(scenario: Scenario, o: RealtimeStart): Promise<number> {
  const [{ EventHub }, { startDashboardServer }, { Progress }, { BrokerUnreachable, realtimeRun, RunInterrupted }, { fanOut }, { formatSummary, reportBaseName, writeReport }] = await Promise.all([
    import('../dashboard/hub.js'),
    import('../dashboard/server.js'),
    import('../dashboard/live-run.js'),
    import('../realtime/realtime-run.js'),
    import('../report/events.js'),
    import('../report/write.js'),
  ]);
  const hub = new EventHub();
  const server = o.port === null ? null : await startDashboardServer(hub, { port: o.port });
  if (server) process.stdout.write(`fleet-sim dashboard: ${server.url}\n`);
  const progress = new Progress(scenario, o.progress, (t) => process.stdout.write(t), true);
  // Redrawn on every frame the run samples.
  const frames: RunObserver = { onEvent: (e) => void (e.t === 'frame' && progress.show(e.at)) };
  // A log line while the bar is drawn starts on a line of its own.
  const log = (l: string): void => {
    process.stdout.write(`${progress.drawn ? '\n' : ''}${l}\n`);
    progress.drawn = false;
  };
  try {
    // Absolute: the devices' configs live in a temporary directory, which a relative path would follow.
    const base = resolve(o.reportDir, reportBaseName(scenario.name, scenario.seed));
    const deviceLog = `${base}.devices.log`;
    // With --processes each device keeps its own log there too (the in-process ones, Byzantine
    // wrappers, share deviceLog): the fleet's temporary directory is gone after the run.
    const processLogs = (id: string): string => `${base}.${id}.log`;
    process.stdout.write(o.processes ? `device logs: ${processLogs('<id>')} (one per device process)\n` : `device logs: ${deviceLog}\n`);
    const report = await realtimeRun(scenario, { file: o.file, brokerUrl: o.brokerUrl, processes: o.processes, observer: fanOut([hub, progress, frames]), log, deviceLog, ...(o.processes ? { processLogs } : {}) });
    progress.finish(report.simulatedMs);
    hub.onEvent({ t: 'end', at: report.simulatedMs, report });
    process.stdout.write(`\n${formatSummary(report)}\n`);
    for (const u of report.unsupported) process.stdout.write(`  not in real-time mode: ${u}\n`);
    const written = writeReport(o.reportDir, report, hub.recording());
    process.stdout.write(`\nreport: ${written.json}\n        ${written.html} (open it in a browser: the same map, charts and a replay)\n`);
    if (o.processes && report.deviceLogs.length > 0) process.stdout.write(`device logs: ${report.deviceLogs.join('\n             ')}\n`);
    if (server && o.stay) {
      process.stdout.write(`\nThe dashboard stays up at ${server.url} (scrub the timeline to replay); Ctrl-C to exit.\n`);
      await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
    }
    return report.expect.met ? exitCodes.ok : exitCodes.failed;
  } catch (e) {
    if (e instanceof BrokerUnreachable && o.brokerUrl !== null) {
      const what = e.loginRefused
        ? `the broker refused the login (${e.message}); check the user name and password in the URL (mqtt://user:password@host:port)`
        : `cannot connect (${e.message}); start the broker, or leave out --broker for the embedded one`;
      throw new CliError(`--broker ${redactBrokerUrl(o.brokerUrl)}: ${what}`, exitCodes.unavailable);
    }
    if (!(e instanceof RunInterrupted)) throw e;
    if (progress.drawn) process.stdout.write('\n');
    process.stderr.write(`fleet-sim: ${e.message}; the fleet is stopped, no report written\n`);
    return 130; // as a shell reports a command ended by SIGINT
  } finally {
    await server?.close();
    hub.close();
  }
}
