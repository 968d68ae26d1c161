// `npm test`'s vitest run, under a watchdog. Vitest 4's fork pool has, rarely, left a worker idle
// forever before it ran its file (once in about 25 clean-clone runs here: the worker alive in epoll,
// its file never collected, vitest waiting on it with every other file done; the family of
// vitest-dev/vitest #9271 and #10543). A CI run then waits out its time limit and fails with nothing
// said. This runner starts vitest with test/support/progress-reporter.ts beside its own reporter and
// watches the events it writes. No event for MURMUR_TEST_STALL_S seconds (300: longer than any test's
// or hook's own timeout, 240 s at most, which vitest reports itself) while files are unfinished is
// a stall: it says so, names the files that had not finished and the worker processes, ends vitest's
// process group, and runs those files once more in a fresh vitest. The suite passes only if no file
// failed in the first run and the re-run passes; a second stall fails it. With arguments of the user's
// own (`npm test -- <filters>`) a stall is reported and fails the run, with no re-run (the arguments
// may not be file names).
//
// Usage: tsx test/support/run-suite.ts [--config <file>] [vitest args...]

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const repoRoot = join(import.meta.dirname, '..', '..');
const vitestBin = join(repoRoot, 'node_modules', 'vitest', 'vitest.mjs');
const reporter = join(import.meta.dirname, 'progress-reporter.ts');
const stallS = Number(process.env.MURMUR_TEST_STALL_S ?? '300');
if (!Number.isFinite(stallS) || stallS <= 0) {
  process.stderr.write(`MURMUR_TEST_STALL_S must be a number of seconds more than 0 (got "${process.env.MURMUR_TEST_STALL_S}")\n`);
  process.exit(2);
}
const stallMs = stallS * 1000;
/** Before vitest lists its files (its start, config and global setup: the CLI's compile), the stall
 *  bound is at least this: that start has no events to show, and on a loaded machine it takes seconds,
 *  which a small MURMUR_TEST_STALL_S (the watchdog's own test's) read as a stall. */
const startWaitMsMin = 120_000;
/** After vitest has reported the run's end, how long it may take to exit. */
const exitAfterDoneMs = 120_000;
const pollMs = 1000;
/** From SIGTERM to SIGKILL when ending a stalled run's process group. */
const killGraceMs = 5000;

interface Progress {
  files: string[] | null;
  ended: Map<string, string>;
  /** Files a test or suite of which failed (progress-reporter's "fail"), ended or not. */
  failing: Set<string>;
  done: string | null;
}

interface Attempt {
  /** vitest's exit code, or the one its reported end implies; null when it stalled. */
  code: number | null;
  progress: Progress;
}

function readProgress(path: string): Progress {
  const p: Progress = { files: null, ended: new Map(), failing: new Set(), done: null };
  if (!existsSync(path)) return p;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line === '') continue;
    let ev: { e?: string; files?: string[]; file?: string; state?: string; reason?: string };
    try { ev = JSON.parse(line) as typeof ev; } catch { continue; } // a line cut by a kill
    if (ev.e === 'start' && Array.isArray(ev.files)) p.files = ev.files;
    else if (ev.e === 'end' && typeof ev.file === 'string') p.ended.set(ev.file, String(ev.state));
    else if (ev.e === 'fail' && typeof ev.file === 'string') p.failing.add(ev.file);
    else if (ev.e === 'done') p.done = String(ev.reason);
  }
  return p;
}

function say(text: string): void {
  process.stderr.write(`\n[run-suite] ${text}\n`);
}

/** Processes whose parent is `pid`, with their state letter and what the kernel says they wait in. */
function children(pid: number): string[] {
  const out: string[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) !== pid) continue;
      const wchan = readFileSync(`/proc/${d}/wchan`, 'utf8');
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').join(' ').trim().slice(0, 120);
      out.push(`pid ${d} state ${fields[0]} waiting in ${wchan || '-'}: ${cmd}`);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let current: number | null = null;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (current !== null) {
      try { process.kill(-current, sig); } catch { /* already gone */ }
    }
  });
}

async function attempt(args: string[], dir: string, n: number): Promise<Attempt> {
  const progressPath = join(dir, `progress-${n}.jsonl`);
  const child = spawn(process.execPath, [vitestBin, 'run', '--reporter=default', `--reporter=${reporter}`, ...args], {
    cwd: repoRoot,
    stdio: 'inherit',
    detached: true, // its own process group: a stalled run is ended whole, test processes included
    env: { ...process.env, MURMUR_TEST_PROGRESS: progressPath },
  });
  current = child.pid ?? null;
  let exit: number | null | undefined;
  child.on('exit', (code, signal) => { exit = code ?? (signal === null ? 1 : 128); });
  let size = -1;
  let lastProgress = Date.now();
  let doneAt: number | null = null;
  for (;;) {
    await sleep(pollMs);
    if (exit !== undefined) break;
    const now = Date.now();
    const s = existsSync(progressPath) ? readFileSync(progressPath).length : 0;
    if (s !== size) { size = s; lastProgress = now; }
    const p = readProgress(progressPath);
    if (p.done !== null) doneAt ??= now;
    if (doneAt !== null && now - doneAt > exitAfterDoneMs) {
      say(`vitest reported the run's end (${p.done}) ${Math.round(exitAfterDoneMs / 1000)} s ago and has not exited: ending it`);
      await endGroup(child.pid!, () => exit !== undefined);
      current = null;
      return { code: p.done === 'passed' ? 0 : 1, progress: p };
    }
    const limitMs = p.files === null ? Math.max(stallMs, startWaitMsMin) : stallMs;
    if (doneAt === null && now - lastProgress > limitMs) {
      const open = (p.files ?? []).filter((f) => !p.ended.has(f));
      say(`no progress from vitest for ${Math.round(limitMs / 1000)} s with ${open.length} file(s) not finished: ${open.map((f) => relative(repoRoot, f)).join(', ') || '(none reported started)'}`);
      for (const c of children(child.pid!)) say(`  vitest's ${c}`);
      await endGroup(child.pid!, () => exit !== undefined);
      current = null;
      return { code: null, progress: p };
    }
  }
  current = null;
  return { code: exit ?? 1, progress: readProgress(progressPath) };
}

async function endGroup(pid: number, gone: () => boolean): Promise<void> {
  try { process.kill(-pid, 'SIGTERM'); } catch { return; }
  for (const t0 = Date.now(); !gone() && Date.now() - t0 < killGraceMs;) await sleep(100);
  try { process.kill(-pid, 'SIGKILL'); } catch { /* ended */ }
  for (const t0 = Date.now(); !gone() && Date.now() - t0 < killGraceMs;) await sleep(100);
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const fixed: string[] = [];
  if (argv[0] === '--config' && argv[1] !== undefined) fixed.push(...argv.splice(0, 2));
  const dir = mkdtempSync(join(tmpdir(), 'murmur-run-suite-'));
  try {
    const first = await attempt([...fixed, ...argv], dir, 1);
    if (first.code !== null) return first.code;
    if (argv.length > 0) {
      say('the run stalled; with arguments of your own it is not re-run: run it again');
      return 1;
    }
    const p = first.progress;
    // A file that failed, and one still open whose test already failed (a flaky test before the stall,
    // a test timed out whose clean-up then outlasted the watchdog): the re-run passing it does not undo
    // that. Before, only the files that ended counted, and such a failure was lost.
    const open = (p.files ?? []).filter((f) => !p.ended.has(f));
    const failed = [...[...p.ended].filter(([, s]) => s === 'failed').map(([f]) => f), ...open.filter((f) => p.failing.has(f))];
    if (p.files === null || open.length === 0) {
      say('the run stalled before vitest listed its files or after every file ended: not re-run');
      return 1;
    }
    const openFailed = failed.length - [...p.ended.values()].filter((s) => s === 'failed').length;
    say(`${p.ended.size} file(s) finished before the stall (${failed.length - openFailed} failed${openFailed > 0 ? `; ${openFailed} unfinished with a failed test` : ''}); re-running the ${open.length} that had not, in a fresh vitest`);
    const second = await attempt([...fixed, ...open], dir, 2);
    if (second.code === null) {
      say('the re-run stalled too: failing');
      return 1;
    }
    if (failed.length > 0) {
      say(`failed in the first run: ${failed.map((f) => `${relative(repoRoot, f)}${p.ended.has(f) ? '' : ' (a test, before the stall)'}`).join(', ')}`);
      return 1;
    }
    say(second.code === 0 ? `the re-run of ${open.length} file(s) passed, and every file of the first run that finished had passed` : 'the re-run failed');
    return second.code;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

process.exitCode = await main();
