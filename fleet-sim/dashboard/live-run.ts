// One scenario run that people watch: the deterministic world paced to the wall clock (speed 1 is real
// time), observed into the event stream, served live on 127.0.0.1, with a progress bar in the terminal
// and the JSON and HTML reports written at the end. The seed still decides everything: pacing only
// waits between slices of virtual time, so the report equals that of `fleet-sim run` with the same seed.

import { setTimeout as sleep } from 'node:timers/promises';
import type { Scenario } from '../scenario/scenario.js';
import type { ScenarioFile } from '../scenario/shipped.js';
import { RunStopped, runScenario, type Report } from '../sim/run.js';
import type { World } from '../sim/world.js';
import { fanOut, type RunEvent, type RunObserver } from '../report/events.js';
import { WorldObserver } from '../report/observe-world.js';
import { writeReport, type WrittenReport } from '../report/write.js';
import { EventHub } from './hub.js';
import { startDashboardServer, type DashboardServer } from './server.js';

export interface LiveRunOptions {
  readonly seed?: number;
  readonly file?: string;
  /** The report's scenarioFile (sim/run.ts). */
  readonly scenarioFile?: ScenarioFile;
  /** Virtual seconds per wall second; 0 runs as fast as the machine can. */
  readonly speed: number;
  /** Serve the dashboard (port 0 picks a free one); null serves nothing. */
  readonly port: number | null;
  /** Where the reports go; null writes none. */
  readonly reportDir: string | null;
  /** Terminal progress: 'bar' redraws one line (a TTY), 'lines' prints every 10 %, 'none'. */
  readonly progress: 'bar' | 'lines' | 'none';
  readonly out?: (text: string) => void;
  /** Extra observers (tests). */
  readonly observers?: readonly RunObserver[];
  /** Called when the dashboard is up, before the run starts (tests open a browser here). */
  readonly onServing?: (url: string) => Promise<void> | void;
  /** Asked between slices: true ends the run there (Ctrl-C), with RunStopped (sim/run.ts), no report
   *  written and the dashboard closed. */
  readonly stopped?: () => boolean;
}

export interface LiveRunResult {
  readonly report: Report;
  readonly written: WrittenReport | null;
  readonly url: string | null;
  readonly hub: EventHub;
  /** Still serving (the caller closes it, after a person had a look or a test finished). */
  readonly server: DashboardServer | null;
}

function progressLine(s: Scenario, simMs: number, height: number, commands: number, viaBroker: boolean): string {
  const width = 30;
  const frac = Math.min(1, simMs / s.durationMs);
  const fill = Math.round(frac * width);
  // A real-time run hears the devices through the broker, as an operator does: while it is down the
  // height stands still here though the fleet goes on over its radios, and catches up when it is back.
  const deaf = viaBroker && s.faults.some((f) => f.kind === 'broker-down' && simMs >= f.at && simMs < f.until);
  return `[${'█'.repeat(fill)}${'░'.repeat(width - fill)}] ${(frac * 100).toFixed(0).padStart(3)}%  ${(simMs / 1000).toFixed(0)}/${(s.durationMs / 1000).toFixed(0)} s  height ${height}  commands ${commands}${deaf ? '  (broker down: heard again when it is back)' : ''}`;
}

/** The terminal's progress for either mode: it counts commits as an observer; `show` redraws a bar in
 *  place (a terminal) or prints a line each tenth of the run, and `finish` ends the bar's line. */
export class Progress implements RunObserver {
  private height = 0;
  private commands = 0;
  private decile = -1;
  /** A bar is on the current line (a log line must start a new one). */
  drawn = false;

  /** `viaBroker`: the run hears commits through the broker (real time), not from the world itself. */
  constructor(
    private readonly s: Scenario,
    private readonly mode: 'bar' | 'lines' | 'none',
    private readonly out: (text: string) => void,
    private readonly viaBroker = false,
  ) {}

  onEvent(e: RunEvent): void {
    if (e.t === 'commit') {
      this.height = Math.max(this.height, e.height);
      this.commands += e.commands;
    } else if (e.t === 'frame') {
      // The heights the devices report: a real-time run's commit events come only for heights that
      // carried this operator's commands, so after a broker outage the bar stood at the height of
      // before it while the fleet, heights ahead, committed the commands held in its offline queue.
      for (const n of e.nodes) if (n.h > this.height) this.height = n.h;
    }
  }

  show(simMs: number): void {
    if (this.mode === 'bar') {
      this.out(`\r${progressLine(this.s, simMs, this.height, this.commands, this.viaBroker)}\x1b[K`);
      this.drawn = true;
    } else if (this.mode === 'lines' && Math.floor((simMs / this.s.durationMs) * 10) !== this.decile) {
      this.decile = Math.floor((simMs / this.s.durationMs) * 10);
      this.out(`${progressLine(this.s, simMs, this.height, this.commands, this.viaBroker)}\n`);
    }
  }

  finish(simMs: number): void {
    if (this.mode === 'bar') this.out(`\r${progressLine(this.s, simMs, this.height, this.commands, this.viaBroker)}\x1b[K\n`);
    this.drawn = false;
  }
}

export async function liveRun(s: Scenario, o: LiveRunOptions): Promise<LiveRunResult> {
  const out = o.out ?? ((t: string) => process.stdout.write(t));
  const hub = new EventHub();
  const progress = new Progress(s, o.progress, out);
  const observer = fanOut([hub, progress, ...(o.observers ?? [])], (e) => out(`dashboard observer failed: ${(e as Error).message}\n`));
  const server = o.port === null ? null : await startDashboardServer(hub, { port: o.port });
  if (server) {
    out(`fleet-sim dashboard: ${server.url}\n`);
    await o.onServing?.(server.url);
  }
  const wallStart = performance.now();
  let lastYield = wallStart;
  const report = await runScenario(s, o.seed ?? s.seed, {
    ...(o.file !== undefined ? { file: o.file } : {}),
    ...(o.scenarioFile !== undefined ? { scenarioFile: o.scenarioFile } : {}),
    onWorld: (w: World) => {
      // The observer lives as long as the world: it schedules its own samples on the world's queue.
      void new WorldObserver(w, observer);
    },
    sliceMs: 50,
    pace: async (simMs) => {
      const due = o.speed > 0 ? simMs / o.speed - (performance.now() - wallStart) : 0;
      if (due > 1) await sleep(due);
      else if (performance.now() - lastYield > 40) await new Promise((r) => setImmediate(r)); // let pages and the server breathe
      lastYield = performance.now();
      if (o.progress !== 'bar' || simMs % 250 === 0) progress.show(simMs);
      if (o.stopped?.() === true) throw new RunStopped(simMs);
    },
  }).catch(async (e: unknown) => {
    await server?.close();
    hub.close();
    throw e;
  });
  progress.finish(s.durationMs);
  observer.onEvent({ t: 'end', at: report.simulatedMs, report });
  const written = o.reportDir === null ? null : writeReport(o.reportDir, report, hub.recording());
  return { report, written, url: server?.url ?? null, hub, server };
}
