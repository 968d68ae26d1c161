// The session number a device starts with: heartbeats, and its MQTT birth and Will, carry it, and peers
// take a higher one for a restart and refuse a lower one (or an equal one with an old sequence number)
// as a replay. A counter kept in the data directory alone goes back to 1 when the directory is wiped (a
// re-flashed card, a replaced disk): the device's heartbeats were then refused as stale by every peer
// that remembered its old session, so it looked dead until they restarted, or until its sequence number
// passed the old one (as long as the old run had lasted). The clock puts a floor under the counter: a
// session is at least the Unix time in seconds, so a wiped device still starts above every session it
// had before as long as its clock is right; the counter keeps it growing when the clock is not (two
// starts within a second, a clock set back).

/** The largest session number the wire carries (heartbeat.session, a uint32). */
export const sessionNumberMax = 0xffff_ffff;

/** The session to start with, from the one stored in the data directory (null: none, or unreadable). */
export function nextSessionNumber(stored: number | null, nowMs: number): number {
  const counted = stored !== null && Number.isSafeInteger(stored) && stored >= 0 ? stored + 1 : 1;
  const clock = Number.isFinite(nowMs) && nowMs > 0 ? Math.floor(nowMs / 1000) : 0;
  return Math.min(sessionNumberMax, Math.max(counted, clock));
}

/** The stored session file's text as a number, or null when it is missing or not a whole number. */
export function parseStoredSession(bytes: Uint8Array | undefined): number | null {
  if (bytes === undefined) return null;
  const text = Buffer.from(bytes).toString('utf8').trim();
  return /^\d{1,10}$/.test(text) ? Number(text) : null;
}
