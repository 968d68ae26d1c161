// Message-path timestamps for latency breakdowns (test/device/bench-e2e-trace.ts): off unless
// MURMUR_TRACE_DIR names a directory, then each process appends `<event> <key> <epoch ms> [detail]`
// lines to <dir>/<pid>.trace, buffered in memory and written once a second and at exit. A key is the
// last 8 bytes of an envelope (its signature's tail) in hex, the same in the sender and every receiver.

import { appendFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.MURMUR_TRACE_DIR ?? '';
export const tracing = dir !== '';
const lines: string[] = [];
const file = tracing ? join(dir, `${process.pid}.trace`) : '';
const flush = (): void => {
  if (lines.length === 0) return;
  appendFileSync(file, lines.join('\n') + '\n');
  lines.length = 0;
};
if (tracing) {
  setInterval(flush, 1_000).unref();
  process.on('exit', flush);
}

/** The key of an envelope: the hex of its last 8 bytes. */
export function traceKey(envelope: Uint8Array): string {
  return Buffer.from(envelope.buffer, envelope.byteOffset + envelope.length - 8, 8).toString('hex');
}

/** The current time as trace() records it (epoch ms, µs resolution). */
export const traceNow = (): number => performance.timeOrigin + performance.now();

/** Records an event at `at` (default now); a no-op unless tracing. */
export function trace(event: string, envelope: Uint8Array, detail = '', at: number = traceNow()): void {
  if (tracing) lines.push(`${event} ${traceKey(envelope)} ${at.toFixed(3)}${detail === '' ? '' : ' ' + detail}`);
}

/** Records an event under a key of the caller's choosing. */
export function traceMark(event: string, key: string, detail = ''): void {
  if (tracing) lines.push(`${event} ${key} ${traceNow().toFixed(3)} ${process.pid}${detail === '' ? '' : ' ' + detail}`);
}
