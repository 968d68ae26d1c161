// The inference worker thread: onnxruntime-node, or the pure-TypeScript engine, off the event loop that
// runs consensus and the reflexes, loaded lazily on the first model load. The worker source is inline
// (eval) so it runs the same under tsx, vitest and a compiled build; it requires onnxruntime-node by
// resolved path, and imports the pure-TypeScript engine's module (ts-worker-session) by URL: the .js
// of a build, or the .ts of a clone through tsx's loader, which the worker registers for itself.

import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { limits } from '../../runtime/lib/limits.js';
import { outsideTicks, startWait } from '../api/tick-meter.js';

/** What runs the models inside the worker. */
export type WorkerBackend = 'onnxruntime' | 'pure-ts';

const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const pureTs = workerData.backend === 'pure-ts';
let engine;
let loadError = '';
async function init() {
  try {
    if (pureTs) {
      if (workerData.tsxApi) (await import(workerData.tsxApi)).register();
      engine = await import(workerData.modulePath);
    } else engine = require(workerData.modulePath);
  } catch (e) { loadError = e && e.message ? e.message : String(e); }
  // Loading the native library can take seconds on a slow card: the main thread's hang watchdog allows
  // for that until this says the worker is ready.
  parentPort.postMessage({ id: 0, ok: true, ready: true });
}
const sessions = new Map();
let nextSession = 1;
// One request at a time, in arrival order: a session is never released (nor the thread ended) while
// a run on it is still inside the engine.
let queue = init();
parentPort.on('message', (m) => { queue = queue.then(() => handle(m)); });
async function handle(m) {
  try {
    if (!engine) throw new Error((pureTs ? 'the pure-TypeScript engine' : 'onnxruntime-node') + ' did not load: ' + loadError);
    if (m.op === 'load') {
      const s = pureTs ? engine.loadTsSession(m.bytes) : await engine.InferenceSession.create(m.bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
      const id = nextSession++;
      sessions.set(id, s);
      parentPort.postMessage({ id: m.id, ok: true, session: id, version: pureTs ? undefined : engine.env.versions && engine.env.versions.node });
    } else if (m.op === 'run') {
      const s = sessions.get(m.session);
      if (!s) throw new Error('unknown session ' + m.session);
      const t0 = performance.now();
      let output;
      if (pureTs) output = s.run(m.input, m.batch);
      else {
        const feeds = {};
        feeds[s.inputNames[0]] = new engine.Tensor('float32', m.input, [m.batch, m.inputSize]);
        const r = await s.run(feeds);
        output = Float32Array.from(r[s.outputNames[0]].data);
      }
      parentPort.postMessage({ id: m.id, ok: true, output, busyMs: performance.now() - t0 });
    } else if (m.op === 'exit') {
      // Leave after the requests before it, sessions released: terminating the thread while
      // onnxruntime is inside a call can abort the whole process.
      for (const s of sessions.values()) if (!pureTs) await s.release();
      sessions.clear();
      process.exit(0);
    } else if (m.op === 'release') {
      const s = sessions.get(m.session);
      sessions.delete(m.session);
      if (s && !pureTs) await s.release();
      parentPort.postMessage({ id: m.id, ok: true });
    } else throw new Error('unknown op ' + m.op);
  } catch (e) {
    parentPort.postMessage({ id: m.id, ok: false, error: e && e.message ? e.message : String(e) });
  }
}
`;

interface Reply {
  id: number;
  ok: boolean;
  error?: string;
  session?: number;
  output?: Float32Array;
  version?: string;
  /** A run's time inside the engine (the worker's clock). */
  busyMs?: number;
  /** The worker has loaded (or failed to load) the library and takes requests. */
  ready?: boolean;
}

/**
 * onnxruntime-node's Linux library carries Microsoft's telemetry SDK (1.30 here): unless
 * ORT_DISABLE_TELEMETRY is set it keeps an event database and a device id under
 * ~/.cache/Microsoft/DeveloperTools/.onnxruntime, writes $TMPDIR/.ses and a mat-debug-<pid>.log per
 * process, and queues events for mobile.events.data.microsoft.com. A device infers locally and must
 * not phone home or write its SD card for it, so it is off unless the environment says otherwise.
 * The library reads the real process environment, which only the main thread's process.env sets (a
 * worker's is a copy), so this runs here, before the worker loads it.
 */
export function disableOrtTelemetry(): void {
  if (process.env.ORT_DISABLE_TELEMETRY === undefined) process.env.ORT_DISABLE_TELEMETRY = '1';
}

/**
 * What a pure-TypeScript worker imports: ts-worker-session beside this file, as a URL (.ts in a clone,
 * .js in a build), and, in a clone, tsx's loader to register in the worker first (a worker does not
 * inherit the loader the process registered for itself).
 */
function tsModule(): { modulePath: string; tsxApi?: string } {
  const fromSource = import.meta.url.endsWith('.ts');
  const modulePath = new URL(`./ts-worker-session.${fromSource ? 'ts' : 'js'}`, import.meta.url).href;
  return fromSource ? { modulePath, tsxApi: import.meta.resolve('tsx/esm/api') } : { modulePath };
}

export function resolveOrtPath(): string | undefined {
  try {
    return createRequire(import.meta.url).resolve('onnxruntime-node');
  } catch {
    return undefined;
  }
}

/**
 * One worker thread shared by every ONNX model on the device that its backend runs (onnxruntime-node
 * by default; `OrtWorker.pureTs()` the pure-TypeScript engine); requests are bounded (inferencePendingMax).
 */
export class OrtWorker {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  private broken = '';
  private crashes = 0;
  /** Handle -> the current worker's session id. Handles are never reused, so a handle from before a
   *  crash can never reach a new worker's session for another model. */
  private readonly live = new Map<number, number>();
  private nextHandle = 1;
  /** When the worker last answered anything (or was given work while idle), performance.now(). */
  private heardAtMs = 0;
  private watchdog: ReturnType<typeof setTimeout> | undefined;
  private readonly hangMs: number;
  private readonly startupMs: number;
  /** The current worker has said it is ready (loading the library is allowed startupMs, not hangMs). */
  private ready = false;
  static readonly crashesMax = 3;
  /** A worker with requests outstanding that answers none of them for this long is taken as hung. */
  static readonly hangMsDefault = 3_000;
  /** The same, before the worker has loaded the native library (seconds on a slow card). */
  static readonly startupMsDefault = 30_000;

  readonly backend: WorkerBackend;

  /** `ortPath` overrides the module to load (tests point it at a missing file to exercise fallback). */
  constructor(
    private readonly ortPath: string | undefined = resolveOrtPath(),
    opts: { readonly hangMs?: number; readonly startupMs?: number; readonly backend?: WorkerBackend } = {},
  ) {
    this.hangMs = opts.hangMs ?? OrtWorker.hangMsDefault;
    this.startupMs = opts.startupMs ?? OrtWorker.startupMsDefault;
    this.backend = opts.backend ?? 'onnxruntime';
  }

  /**
   * A worker running the pure-TypeScript engine: on a device its models run off the main thread as
   * onnxruntime's do (run there, a heavy model froze the device for seconds: peers marked it suspect,
   * and its link-loss reflex fired 0.3 s late). Crashes and hangs are handled as onnxruntime's.
   */
  static pureTs(opts: { readonly hangMs?: number; readonly startupMs?: number } = {}): OrtWorker {
    return new OrtWorker(undefined, { ...opts, backend: 'pure-ts' });
  }

  private ensure(): Worker {
    if (this.broken) throw new Error(this.broken);
    if (this.worker) return this.worker;
    let workerData: { backend: WorkerBackend; modulePath: string; tsxApi?: string };
    if (this.backend === 'pure-ts') workerData = { backend: 'pure-ts', ...tsModule() };
    else {
      if (!this.ortPath) throw new Error('onnxruntime-node is not installed');
      workerData = { backend: 'onnxruntime', modulePath: this.ortPath };
      disableOrtTelemetry();
    }
    // Created outside any agent tick's meter (the first load may come from inside one).
    const w = outsideTicks(() => new Worker(workerSource, { eval: true, workerData }));
    w.unref(); // an idle inference worker must never keep a process alive
    w.on('message', (r: Reply) => {
      if (this.worker === w) {
        this.heardAtMs = performance.now(); // a hung worker that came back does not speak for the new one
        if (r.ready) this.ready = true;
      }
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      if (r.ok) p.resolve(r);
      else p.reject(new Error(r.error ?? 'inference worker failed'));
    });
    const die = (why: string): void => {
      if (this.worker !== w) return; // already handled (error then exit)
      this.worker = undefined;
      this.disarmWatchdog();
      this.crashes++;
      // A crashed worker is replaced on the next request (sessions must be loaded again); after
      // crashesMax the native engine is given up for good and agents stay on the pure-TypeScript one.
      if (this.crashes >= OrtWorker.crashesMax) this.broken = `${why}; gave up after ${this.crashes} crashes`;
      for (const p of this.pending.values()) p.reject(new Error(why));
      this.pending.clear();
      this.live.clear();
    };
    w.on('error', (e) => die(`inference worker crashed: ${e.message}`));
    w.on('exit', (code) => die(`inference worker exited (code ${code})`));
    this.hung = (why) => {
      die(why);
      // The pure-TypeScript engine is plain JavaScript: terminated at once, it stops burning the CPU.
      if (this.backend === 'pure-ts') {
        void w.terminate();
        return;
      }
      // Not terminated: that can abort the process while onnxruntime is inside a call. It is asked to
      // leave when (if) it comes back, and holds nothing alive meanwhile.
      w.postMessage({ op: 'exit', id: 0 });
      w.unref();
    };
    this.worker = w;
    this.ready = false;
    return w;
  }

  /** Declares the current worker hung (set per worker by ensure). */
  private hung: (why: string) => void = () => undefined;

  /**
   * A worker stuck inside the native library answers nothing: its requests would wait for ever, and
   * every model on it with them. While requests are outstanding, a worker silent for hangMs is treated
   * as crashed (requests rejected with the reason, a fresh worker for the next one, counted towards
   * crashesMax, after which agents stay on the pure-TypeScript engine).
   */
  private armWatchdog(ms = this.hangMs): void {
    if (this.watchdog !== undefined) return;
    this.watchdog = setTimeout(this.checkWatchdog, Math.max(1, ms));
    this.watchdog.unref();
  }

  private readonly checkWatchdog = (): void => {
    this.watchdog = undefined;
    if (this.pending.size === 0 || !this.worker) return;
    const silentMs = performance.now() - this.heardAtMs;
    const limitMs = this.ready ? this.hangMs : this.startupMs;
    if (silentMs >= limitMs) this.hung(`inference worker hung: no reply for ${Math.round(silentMs)} ms${this.ready ? '' : ' (loading onnxruntime)'}`);
    else this.armWatchdog(Math.min(this.hangMs, limitMs - silentMs)); // soon enough for a worker that becomes ready meanwhile
  };

  private disarmWatchdog(): void {
    if (this.watchdog !== undefined) clearTimeout(this.watchdog);
    this.watchdog = undefined;
  }

  private request(msg: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<Reply> {
    if (this.pending.size >= limits.inferencePendingMax) return Promise.reject(new Error(`inference worker has ${this.pending.size} requests queued (limit ${limits.inferencePendingMax})`));
    let w: Worker;
    try {
      w = this.ensure();
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    const id = this.nextId++;
    // Silence counts from the later of its last answer and the moment it was given work while idle.
    if (this.pending.size === 0) this.heardAtMs = performance.now();
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.armWatchdog();
      w.ref(); // keep the process alive while a request is outstanding
      w.postMessage({ ...msg, id }, transfer);
    }).finally(() => {
      if (this.pending.size === 0) this.worker?.unref();
    });
  }

  /** Creates a session; resolves with its handle, or rejects with why the backend cannot run it. */
  async load(modelBytes: Uint8Array): Promise<number> {
    // A load is set-up, not a tick's work: all of it is charged to the awaiting tick as waiting.
    const done = startWait();
    const r = await this.request({ op: 'load', bytes: Uint8Array.from(modelBytes) }).finally(() => done(0));
    const handle = this.nextHandle++;
    this.live.set(handle, r.session as number);
    return handle;
  }

  /** `setup`: a probe run while loading, charged to the awaiting tick as waiting, as the load is. */
  async run(session: number, input: Float32Array, batch: number, inputSize: number, setup = false): Promise<Float32Array> {
    return (await this.runTimed(session, input, batch, inputSize, setup)).output;
  }

  /** run, and the run's time inside the engine (the worker's clock, ms). */
  async runTimed(session: number, input: Float32Array, batch: number, inputSize: number, setup = false): Promise<{ output: Float32Array; busyMs: number }> {
    const remote = this.live.get(session);
    if (remote === undefined) throw new Error(`inference session ${session} was lost when the worker stopped; load the model again`);
    // The tick that awaits this run is charged the run's time in the engine, not its turn in the queue.
    const done = startWait();
    let charged = 0;
    try {
      const r = await this.request({ op: 'run', session: remote, input: Float32Array.from(input), batch, inputSize });
      const busyMs = r.busyMs ?? 0;
      charged = setup ? 0 : busyMs;
      return { output: r.output as Float32Array, busyMs };
    } finally {
      done(charged);
    }
  }

  async release(session: number): Promise<void> {
    const remote = this.live.get(session);
    if (remote === undefined) return;
    this.live.delete(session);
    await this.request({ op: 'release', session: remote });
  }

  /** Terminates the worker as a crash would (tests use it; the next request starts a new worker). */
  async kill(): Promise<void> {
    const w = this.worker;
    if (w) await w.terminate();
  }

  /** Stops the worker: it releases its sessions and exits on its own, between native calls; a worker
   *  that does not exit within closeWaitMs is terminated. */
  async close(): Promise<void> {
    const w = this.worker;
    this.broken = 'inference worker closed';
    this.worker = undefined;
    this.disarmWatchdog();
    if (!w) return;
    const exited = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), OrtWorker.closeWaitMs);
      w.once('exit', () => (clearTimeout(timer), resolve(true)));
    });
    w.postMessage({ op: 'exit', id: 0 });
    if (!(await exited)) await w.terminate();
  }
  static readonly closeWaitMs = 2_000;
}
