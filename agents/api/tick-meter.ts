// What an agent's tick costs, as opposed to how long it took. An agent's CPU budget is checked on a
// wall clock (a device has no per-thread CPU clock before Node 23), so time a tick spends awaiting a
// shared resource, such as its turn on the inference worker or an event loop busy with the other
// devices of a fleet-sim process, would count against it and restart a healthy agent under load. The
// scheduler runs each tick inside a meter; a shared resource charges the waiting it caused to the
// meter of the tick that awaited it, and the scheduler subtracts that from the wall time.

import { AsyncLocalStorage } from 'node:async_hooks';

export interface TickMeter {
  /** Wall-clock ms this tick spent waiting for others, not working. */
  waitedMs: number;
}

const meters = new AsyncLocalStorage<TickMeter>();

/** Runs `fn` outside any tick's meter: for resources created lazily inside a tick (a worker thread)
 *  whose callbacks must not keep that tick's context for their whole life. */
export function outsideTicks<T>(fn: () => T): T {
  return meters.exit(fn);
}

/** Runs `fn` (an agent's tick) with `meter` as the meter of everything it awaits. */
export function metered<T>(meter: TickMeter, fn: () => T): T {
  return meters.run(meter, fn);
}

/**
 * Called by a shared resource when a request starts: returns the function to call when it is done,
 * with the ms of that request that were the resource's own work for this caller (the rest of the
 * elapsed time is charged as waiting). Outside a metered tick it does nothing.
 */
export function startWait(now: () => number = () => performance.now()): (workedMs: number) => void {
  const meter = meters.getStore();
  if (meter === undefined) return () => undefined;
  const t0 = now();
  return (workedMs) => {
    meter.waitedMs += Math.max(0, now() - t0 - Math.max(0, workedMs));
  };
}
