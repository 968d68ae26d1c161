// The clock a device's consensus node runs on. Unix milliseconds, as block times and command expiry
// need, but it never goes back: after a backward step of the wall clock (an NTP or GNSS correction on a
// board without a real-time clock) it keeps counting on from where it was, by the monotonic clock.
// Consensus measures intervals as differences of its clock (one block-sync answer per peer per gossip
// interval, a light follower's stall, a snapshot fetch's progress); on the wall clock a step back of S
// made those differences negative, so each of those rules stood still for S: a minute's correction
// meant a minute without block sync for a peer that had been served just before. A forward step is
// taken at once (a board that booted with last week's time and then synced). So after a step back this
// clock runs ahead of the wall clock by the step, until the process restarts; the device logs it.

/** A step back smaller than this is not worth a log line (NTP's usual corrections are milliseconds). */
export const clockStepLogMs = 1_000;

export class SteadyClock {
  private wallAt: number;
  private monoAt: number;
  /** How far this clock is ahead of the wall clock after the steps back seen so far. */
  private aheadMs = 0;

  constructor(
    private readonly wall: () => number = Date.now,
    private readonly mono: () => number = () => performance.now(),
    /** Told of each step back of at least clockStepLogMs, with how far this clock now runs ahead. */
    private readonly onStepBack?: (stepMs: number, aheadMs: number) => void,
  ) {
    this.wallAt = wall();
    this.monoAt = mono();
  }

  now(): number {
    const wall = this.wall();
    const mono = this.mono();
    // Whole milliseconds, as Date.now(): consensus puts its clock into what it signs (block times).
    const steady = Math.floor(this.wallAt + (mono - this.monoAt));
    if (wall >= steady) {
      // Forward (or level): follow the wall clock.
      this.wallAt = wall;
      this.monoAt = mono;
      this.aheadMs = 0;
      return wall;
    }
    const ahead = steady - wall;
    if (ahead - this.aheadMs >= clockStepLogMs) this.onStepBack?.(ahead - this.aheadMs, ahead);
    this.aheadMs = ahead;
    return steady;
  }
}
