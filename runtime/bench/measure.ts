// A tiny benchmark harness: warm up, then time a bounded number of iterations for a bounded time.

export interface Rate {
  readonly name: string;
  readonly opsPerSec: number;
  readonly iterations: number;
}

export function measure(name: string, fn: () => unknown, opts: { warmupMs?: number; timeMs?: number; maxIterations?: number } = {}): Rate {
  const warmupMs = opts.warmupMs ?? 200;
  const timeMs = opts.timeMs ?? 1000;
  const maxIterations = opts.maxIterations ?? 5_000_000;
  let sink: unknown;
  const w0 = performance.now();
  while (performance.now() - w0 < warmupMs) sink = fn();
  let n = 0;
  const t0 = performance.now();
  let elapsed = 0;
  while (n < maxIterations) {
    for (let i = 0; i < 64; i++) sink = fn();
    n += 64;
    elapsed = performance.now() - t0;
    if (elapsed >= timeMs) break;
  }
  if (sink === Symbol.for('never')) console.log(sink);
  return { name, opsPerSec: (n / elapsed) * 1000, iterations: n };
}

export function formatRate(r: Rate): string {
  return `${r.name.padEnd(44)} ${Math.round(r.opsPerSec).toLocaleString('en-US').padStart(12)} /s`;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}
