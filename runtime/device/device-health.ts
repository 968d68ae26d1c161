// The health a device reports about itself in every heartbeat (ok, degraded, failing), from what the
// runtime knows at that moment: its links, its agents and failsafes, its own degraded attestations and
// its HAL devices. Pure, so the rules are tested on facts; device.ts gathers the facts.

import type { BatteryStatus, DeviceError, DeviceKind, DeviceSet } from '../../hal/devices.js';
import type { AgentStatusName } from '../../agents/api/scheduler.js';
import type { LinkState } from '../links/router.js';
import type { DeviceAgents } from './agents-setup.js';
import type { Health } from '../wire/heartbeat.js';
import { limits } from '../lib/limits.js';

export interface HealthFacts {
  readonly links: readonly { readonly name: string; readonly up: boolean }[];
  /** null when the device runs no agents. */
  readonly agents: readonly { readonly name: string; readonly status: AgentStatusName; readonly lastError: string | null; readonly modelRefused?: string | null }[] | null;
  /** The latched failsafe action (land, return-to-launch), if any. */
  readonly failsafe: string | null;
  /** This device's own latest degraded attestation, while it is recent. */
  readonly selfDegraded: { readonly severity: 'minor' | 'severe'; readonly reason: string } | null;
  /** The last read of each configured HAL device; `error` null when it answered. */
  readonly hal: readonly { readonly kind: DeviceKind; readonly error: DeviceError | null }[];
  readonly battery: BatteryStatus | null;
  /** A validator's: how far the fleet's block times run ahead of its clock (core.ts clockAheadOfNode);
   *  absent or null for a follower, or before it decided a block. */
  readonly clockAheadMs?: number | null;
  /** The validator whose clock those block times followed (core.ts clockSetter), or null. */
  readonly clockSetBy?: string | null;
  /** A validator's line while its fleet commits no block (stall.ts describeStall), else null. */
  readonly stall?: string | null;
  /** How long each HAL device has answered no-data without a break (NoDataClock), in ms. */
  readonly noDataMs?: Readonly<Partial<Record<DeviceKind, number>>>;
  /** Why the fleet manifest in force puts this device out of the fleet (manifest-in-force.ts), or null. */
  readonly notMember?: string | null;
}

/** How long a flight controller may stay unheard (or a receiver without a fix) before its device says
 *  so: as long as a mission waits for the first HEARTBEAT (README, "Missions on a flight controller").
 *  Before, no-data was harmless for good, and a device whose FC never answered reported ok. */
export const noDataGraceMs = 15_000;

/** The HAL devices whose lasting silence /health reports: without them the vehicle cannot fly the mission. */
const mustAnswer: ReadonlySet<DeviceKind> = new Set(['flight', 'position']);

export interface HealthAssessment {
  readonly health: Health;
  /** Why it is not ok, most serious first; empty when ok. */
  readonly reasons: readonly string[];
}

/** Errors that mean the device is not there yet or cannot do that, not that it broke. */
const harmless = new Set<DeviceError['code']>(['no-data', 'unsupported']);

export function assessHealth(f: HealthFacts): HealthAssessment {
  const failing: string[] = [];
  const degraded: string[] = [];
  // Out of the fleet: nothing it does counts any more, whatever else is fine.
  if (f.notMember) failing.push(f.notMember);
  const down = f.links.filter((l) => !l.up).map((l) => l.name);
  if (f.links.length > 0 && down.length === f.links.length) failing.push('no link is up');
  else if (down.length > 0) degraded.push(`link ${down.join(', ')} down`);
  // A latched land or return-to-launch means the device has left the mission.
  if (f.failsafe !== null) failing.push(`failsafe ${f.failsafe} latched`);
  if (f.selfDegraded?.severity === 'severe') failing.push(`severe: ${f.selfDegraded.reason}`);
  else if (f.selfDegraded) degraded.push(f.selfDegraded.reason);
  if (f.battery === 'critical') failing.push('battery critical');
  else if (f.battery === 'low') degraded.push('battery low');
  for (const h of f.hal) {
    const silentMs = f.noDataMs?.[h.kind] ?? 0;
    if (h.error?.code === 'no-data' && mustAnswer.has(h.kind) && silentMs >= noDataGraceMs) {
      (h.kind === 'flight' ? failing : degraded).push(`${h.kind}: no data for ${seconds(silentMs)} s (${h.error.message})`);
      continue;
    }
    if (h.error === null || harmless.has(h.error.code)) continue;
    // Without its flight controller a vehicle cannot follow the mission at all.
    (h.kind === 'flight' ? failing : degraded).push(`${h.kind}: ${h.error.code} (${h.error.message})`);
  }
  // A validator whose clock is off by more than a block may be ahead of it still follows the fleet, but
  // its vote is lost (it prevotes nil on every block) or its proposals are (everyone refuses them).
  const ahead = f.clockAheadMs ?? null;
  const setBy = f.clockSetBy ?? null;
  const bound = `a block may be at most ${seconds(limits.clockSkewMsMax)} s ahead`;
  if (ahead !== null && ahead > limits.clockSkewMsMax) {
    // When one validator's fast clock set the block times, it is the one to look at first.
    const follows = setBy === null ? ` (${bound})` : `, which follow ${setBy}'s clock (a block must be later than the one before, so a clock ahead of the others carries its time on; ${bound})`;
    const fix = setBy === null ? 'set its clock (NTP, GNSS time)' : `check ${setBy}'s clock, likely fast, then this one's (NTP, GNSS time)`;
    degraded.push(`clock ${seconds(ahead)} s behind the fleet's block times${follows}: this validator prevotes nil on every block, so its vote is lost to the fleet; ${fix}`);
  } else if (ahead !== null && -ahead > limits.clockSkewMsMax) degraded.push(`clock ${seconds(-ahead)} s ahead of the fleet's block times: the other validators refuse every block this one proposes; set its clock (NTP, GNSS time), and restart it if the clock was set back since it started (its consensus clock never goes back while it runs)`);
  // The device may be fine; its fleet is not, and its missions and hazards wait with the blocks.
  if (f.stall) degraded.push(f.stall);
  for (const a of f.agents ?? []) if (a.status === 'backoff') degraded.push(`agent ${a.name} restarting${a.lastError ? ` after: ${a.lastError}` : ''}`);
  // The agent runs on (the model before, or its rules), but not what the swarm committed, or a model file
  // on this device was modified: the operator should hear of it without reading the agents' list.
  for (const a of f.agents ?? []) if (a.modelRefused) degraded.push(`agent ${a.name}: ${a.modelRefused}`);
  const reasons = [...failing, ...degraded];
  return { health: failing.length > 0 ? 'failing' : degraded.length > 0 ? 'degraded' : 'ok', reasons };
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(ms < 10_000 ? 1 : 0);
}

/** Since when each HAL device has answered no-data, broken by any other answer. */
export class NoDataClock {
  private readonly since = new Map<DeviceKind, number>();

  /** The ms each device in `hal` has been answering no-data, as of `nowMs`. */
  observe(hal: HealthFacts['hal'], nowMs: number): Partial<Record<DeviceKind, number>> {
    const out: Partial<Record<DeviceKind, number>> = {};
    for (const h of hal) {
      if (h.error?.code !== 'no-data') {
        this.since.delete(h.kind);
        continue;
      }
      const from = this.since.get(h.kind) ?? nowMs;
      this.since.set(h.kind, from);
      out[h.kind] = nowMs - from;
    }
    return out;
  }
}

/** A HAL device's answer changing kind, to log: from an error code (or ok, null) to another. */
export interface HalChange {
  readonly kind: DeviceKind;
  readonly from: DeviceError['code'] | null;
  readonly to: DeviceError['code'] | null;
  readonly message: string | null;
  /** For a flight controller or position silent since the start: how long, once past the grace. */
  readonly silentMs?: number;
}

/**
 * The changes worth a log line in what each HAL device answers: a flight controller's port that went
 * away and came back, a receiver that lost its fix. Before, /health said it while it lasted and the log
 * said nothing. A device's first answers while it starts (no data yet) are not changes, until a flight
 * controller or position has been silent for the grace /health gives it; a return to ok is one only
 * after an error was said; the same error again within `quietMs` of saying it (a fix that comes and
 * goes each second) is not said again, nor the return after it.
 */
export class HalWatch {
  private readonly last = new Map<DeviceKind, DeviceError['code'] | null>();
  /** The error said last for each device, and when, until its return to ok is said. */
  private readonly said = new Map<DeviceKind, { readonly code: DeviceError['code']; readonly atMs: number; open: boolean }>();

  constructor(private readonly quietMs = 30_000) {}

  /** `silent`: how long each device has answered no-data (the NoDataClock /health reads too). */
  changes(hal: HealthFacts['hal'], nowMs: number, silent: Partial<Record<DeviceKind, number>> = {}): HalChange[] {
    const out: HalChange[] = [];
    for (const h of hal) {
      const to = h.error?.code ?? null;
      const known = this.last.has(h.kind);
      const from = this.last.get(h.kind) ?? null;
      this.last.set(h.kind, to);
      const silentMs = silent[h.kind] ?? 0;
      if (to === 'no-data' && mustAnswer.has(h.kind) && silentMs >= noDataGraceMs && this.said.get(h.kind)?.open !== true) {
        this.said.set(h.kind, { code: to, atMs: nowMs, open: true });
        out.push({ kind: h.kind, from, to, message: h.error?.message ?? null, silentMs });
        continue;
      }
      if (known ? from === to : to === null || to === 'no-data') continue;
      const said = this.said.get(h.kind);
      if (to === null) {
        if (said?.open !== true) continue;
        said.open = false;
      } else {
        if (said !== undefined && said.code === to && nowMs - said.atMs < this.quietMs) continue;
        this.said.set(h.kind, { code: to, atMs: nowMs, open: true });
      }
      out.push({ kind: h.kind, from, to, message: h.error?.message ?? null });
    }
    return out;
  }
}

/** Reads every configured HAL device once: the `hal` and `battery` facts. */
export function halFacts(d: DeviceSet): Pick<HealthFacts, 'hal' | 'battery'> {
  const reads: { kind: DeviceKind; r: { ok: boolean; error?: DeviceError } | undefined }[] = [
    { kind: 'position', r: d.position?.fix() },
    { kind: 'attitude', r: d.attitude?.attitude() },
    { kind: 'battery', r: d.battery?.state() },
    { kind: 'range', r: d.range?.readings() },
    { kind: 'flight', r: d.flight?.state() },
  ];
  const battery = d.battery?.state();
  return {
    hal: reads.filter((x) => x.r !== undefined).map((x) => ({ kind: x.kind, error: x.r?.ok === false ? (x.r.error ?? null) : null })),
    battery: battery === undefined ? null : battery.ok ? battery.value.status : null,
  };
}

/** Everything the running device knows about itself, as facts for assessHealth. */
export function deviceFacts(links: readonly LinkState[], agents: DeviceAgents | null, hal: DeviceSet, nowMs: number, clockAheadMs: number | null = null, clockSetBy: string | null = null): HealthFacts {
  return {
    clockAheadMs,
    clockSetBy,
    links: links.map((l) => ({ name: l.name, up: l.up })),
    agents: agents ? agents.scheduler.status().map((a) => ({ name: a.name, status: a.status, lastError: a.lastError, modelRefused: a.modelRefused })) : null,
    failsafe: agents?.scheduler.latchedAction()?.type ?? null,
    selfDegraded: agents?.selfDegraded(nowMs) ?? null,
    ...halFacts(hal),
  };
}
