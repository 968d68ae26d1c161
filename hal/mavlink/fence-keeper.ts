// Keeps a geofence on a MAVLink flight controller as its own failsafe: uploads the fence the device
// wants (MavlinkVehicle.uploadFence) in the background, again whenever the FC comes back up (a
// rebooted autopilot may have lost it, and flight stacks reset the fence switch to their defaults on
// reboot: common.xml MAV_CMD_DO_FENCE_ENABLE), and retries a failed upload with a bounded backoff.
// One upload at a time; a newer fence asked for during one is uploaded right after it. After each
// upload the FC's breach action (ArduPilot FENCE_ACTION, PX4 GF_ACTION) is set, when device.yaml's
// hal.mavlink.fenceAction names one, or read, when it is `leave`: a fence whose breach does nothing
// is reported with a warning. A failed set fails the attempt (the fence would not do what was asked:
// retried from the upload); a failed read does not (the fence is on the FC: on-fc, the action null
// with the reason, the read retried alone with the same backoff). The fence's keep-out circles go up
// with it as fence-keep-outs.ts decides each upload: one the drone is inside (or with its position not
// known) is left out and checked again every keepOutCheckMs, and uploaded once the drone is out; past
// the FC's item budget the nearest go up. Each left out is counted and explained in the status.

import type { FenceKeeperStatus, GeoFence } from '../devices.js';
import type { MavlinkVehicle } from '../../firmware-bridge/mavlink/vehicle.js';
import { isAbout } from '../../firmware-bridge/mavlink/endpoint.js';
import { fenceProblem, type FenceActionReport, type FenceActionWanted } from '../../firmware-bridge/mavlink/fence.js';
import { limits } from '../../runtime/lib/limits.js';
import { circleKey, edgeDistanceM, planKeepOuts, type KeepOutPlan } from './fence-keep-outs.js';

/** Backoff between failed attempts: doubles from retryFirstMs up to retryMaxMs (retrying for as long
 *  as the fence is wanted: the FC must end up holding it). `breachAction`: set on the FC after each
 *  upload, or `leave` (the default) the FC's own, read and reported. `keepOutCheckMs`: how often a
 *  keep-out left out because the drone is inside it is checked again (default 1 s). */
export interface FenceKeeperOptions {
  readonly retryFirstMs: number;
  readonly retryMaxMs: number;
  readonly breachAction?: FenceActionWanted | 'leave';
  readonly keepOutCheckMs?: number;
}

export const defaultFenceKeeperOptions: FenceKeeperOptions = { retryFirstMs: 1_000, retryMaxMs: 30_000, breachAction: 'leave', keepOutCheckMs: 1_000 };

export class FenceKeeper {
  /** undefined: never asked (the FC's own fence is left alone). */
  private wanted: GeoFence | null | undefined = undefined;
  private wantedKey = '';
  /** What goes up of the wanted fence (its keep-outs chosen), and its key; null: none (cleared, or refused). */
  private plan: KeepOutPlan | null = null;
  private planKey = '';
  /** The keep-outs (circleKey) of the fence the FC confirmed; cleared when it may have lost them. */
  private held = new Set<string>();
  /** The fence items this FC has room for, learnt from its NO_SPACE (null: limits.fenceItemsMax), and
   *  the count it refused; forgotten when the FC is lost. */
  private fcItemsMax: number | null = null;
  private fcRefusedItems: number | null = null;
  /** Checks keep-outs left out while the drone is inside them; runs only while there are some. */
  private waitTimer: NodeJS.Timeout | null = null;
  private status: FenceKeeperStatus | null = null;
  private uploading = false;
  /** The wanted fence changed, or the FC came back, during an upload: upload again when it ends. */
  private again = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryMs: number;
  private uploads = 0;
  private failures = 0;
  /** The FC's breach action as last set or read; null: not known. */
  private action: FenceActionReport | null = null;
  private stopped = false;
  private onReport: ((s: FenceKeeperStatus) => void) | undefined;
  private readonly offLink: () => void;
  private readonly offReboot: () => void;

  constructor(
    private readonly vehicle: MavlinkVehicle,
    private readonly o: FenceKeeperOptions = defaultFenceKeeperOptions,
  ) {
    this.retryMs = o.retryFirstMs;
    this.offLink = vehicle.endpoint.onLink((e) => {
      if (!isAbout(e, vehicle.target) || this.wanted === undefined) return;
      // The endpoint announces the FC before its HEARTBEAT reaches the vehicle (which learns the
      // autopilot family from it): start on the next turn.
      if (e.type === 'up') setImmediate(() => this.kick(true));
      // Lost: whatever it held may be gone when it returns, and another FC may come in its place.
      else this.forgetFc(true);
    });
    // A reboot too short to be declared lost (a brownout), or a cable pulled and plugged straight back
    // in: the FC came back without the fence; after a reopened port it may be another FC, as after a loss.
    this.offReboot = vehicle.onReboot((cause) => {
      if (this.wanted === undefined) return;
      this.forgetFc(cause === 'port-reopened');
      this.kick(true);
    });
  }

  /** The FC may have lost the fence (and, `anotherFc`, be another one, with room for more fence items
   *  than the budget learnt from this one's NO_SPACE). */
  private forgetFc(anotherFc: boolean): void {
    this.held.clear();
    if (anotherFc) {
      this.fcItemsMax = null;
      this.fcRefusedItems = null;
    }
    this.set('uploading', null);
  }

  /** Wants `fence` on the FC. The same fence again (its polygon, ceiling and keep-outs) is a no-op
   *  (called on every committed block). */
  keep(fence: GeoFence | null, onReport?: (s: FenceKeeperStatus) => void): void {
    if (onReport) this.onReport = onReport;
    const key = JSON.stringify(fence);
    if (this.wanted !== undefined && key === this.wantedKey) return;
    this.wanted = fence;
    this.wantedKey = key;
    // Its shape: the keep-outs past the item budget are trimmed, not refused.
    const why = fence === null ? null : fenceProblem(fence, Infinity);
    if (why !== null) {
      // Nothing to retry: this fence can never be carried. Reported once, as a failure.
      this.plan = null;
      this.stopWaiting();
      this.failures++;
      this.set('failed', `fence upload: ${why}`);
      this.onReport?.(this.status as FenceKeeperStatus);
      return;
    }
    this.kick(true);
  }

  current(): FenceKeeperStatus | null {
    return this.status;
  }

  stop(): void {
    this.stopped = true;
    this.offLink();
    this.offReboot();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.stopWaiting();
  }

  /** Starts an upload now (fresh: a new fence or a returned FC, so the backoff starts over). */
  private kick(fresh: boolean): void {
    if (this.stopped || this.wanted === undefined) return;
    // A fence the protocol cannot carry was reported once by keep(); an FC coming up, or an upload in
    // flight ending, must not send it (the vehicle would refuse it, and the retries would never end).
    if (this.wanted !== null && fenceProblem(this.wanted, Infinity) !== null) return;
    if (fresh) this.retryMs = this.o.retryFirstMs;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.uploading) {
      this.again = true;
      return;
    }
    this.replan();
    const fence = this.plan?.fence ?? null;
    const key = this.planKey;
    this.set('uploading', null);
    // Not up yet (no HEARTBEAT, or lost): the 'up' event starts it.
    if (!this.vehicle.connected() || this.vehicle.family() === null) return;
    this.uploading = true;
    void this.attempt(fence, key, 'upload');
  }

  /**
   * One attempt: the upload (skipped when only a failed read of the breach action is retried), then the
   * breach action set or read. Reports the outcome, and schedules the retry of what failed.
   */
  private async attempt(fence: GeoFence | null, key: string, from: 'upload' | 'read'): Promise<void> {
    let failed: string | null = null; // the attempt failed: retried from the upload
    let unread: string | null = null; // the fence is on the FC, its breach action not known: read again
    let uploaded = false;
    let shrunk = false; // NO_SPACE with keep-outs in the fence: retried at once with half of them
    if (from === 'upload') {
      const r = await this.vehicle.uploadFence(fence);
      if (r.ok) {
        uploaded = true;
        this.held = new Set((fence?.keepOuts ?? []).map(circleKey));
      } else {
        failed = r.error.message;
        const circles = fence?.keepOuts?.length ?? 0;
        if (fence !== null && circles > 0 && r.error.message.endsWith('NO_SPACE')) {
          // This FC stores fewer items than limits.fenceItemsMax: learn its size from the refusal (kept
          // until the FC is lost) rather than retry the same upload forever.
          this.fcRefusedItems = fence.polygon.length + circles;
          this.fcItemsMax = fence.polygon.length + Math.floor(circles / 2);
          shrunk = true;
        }
      }
    }
    const want = this.o.breachAction ?? 'leave';
    if (failed === null && fence !== null) {
      const a = want === 'leave' ? await this.vehicle.readFenceAction() : await this.vehicle.setFenceAction(want);
      if (a.ok) this.action = a.value;
      else if (want === 'leave') unread = `fence breach action not read: ${a.error.message}`;
      else failed = `fence breach action: ${a.error.message}`;
    }
    this.uploading = false;
    if (this.stopped) return;
    if (this.again || key !== this.planKey) {
      this.again = false;
      this.kick(true);
      return;
    }
    if (uploaded) this.uploads++;
    if (shrunk) {
      this.failures++;
      this.retryTimer = setTimeout(() => this.kick(false), 0);
    } else if (failed !== null || unread !== null) {
      this.failures++;
      this.retryTimer = setTimeout(() => (failed !== null ? this.kick(false) : this.readAgain()), this.retryMs);
      this.retryMs = Math.min(this.o.retryMaxMs, this.retryMs * 2);
    }
    if (failed !== null) this.set('failed', failed);
    else this.set('on-fc', unread);
    this.onReport?.(this.status as FenceKeeperStatus);
  }

  /** The breach action's read failed after an upload that did not: read it again, alone. */
  private readAgain(): void {
    this.retryTimer = null;
    // Being uploaded, or the FC gone (its return uploads again): that attempt reads it.
    if (this.stopped || this.uploading || this.wanted === undefined || !this.vehicle.connected()) return;
    this.uploading = true;
    void this.attempt(this.plan?.fence ?? null, this.planKey, 'read');
  }

  /** Chooses the keep-outs that go up now (fence-keep-outs.ts), from where the drone is; while some
   *  wait for the drone to leave them, checks again every keepOutCheckMs. */
  private replan(): void {
    const w = this.wanted;
    this.plan = w === undefined || w === null ? null : planKeepOuts(w, this.position(), this.held, this.fcItemsMax ?? limits.fenceItemsMax, this.fcRefusedItems);
    this.planKey = JSON.stringify(this.plan?.fence ?? null);
    if (!this.plan || this.plan.waiting.length === 0) {
      this.stopWaiting();
      return;
    }
    this.waitTimer ??= setInterval(() => {
      const at = this.position();
      const waiting = this.plan?.waiting ?? [];
      // Out of one now (or its position known): upload again, the keep-outs chosen afresh.
      if (at !== null && waiting.some((c) => edgeDistanceM(c, at) >= 0)) this.kick(true);
    }, this.o.keepOutCheckMs ?? 1_000);
  }

  private stopWaiting(): void {
    if (this.waitTimer) clearInterval(this.waitTimer);
    this.waitTimer = null;
  }

  /** The drone's position from the FC's GLOBAL_POSITION_INT, or null before one (0, 0: no estimate). */
  private position(): { latDeg: number; lonDeg: number } | null {
    const p = this.vehicle.telemetry.position;
    if (p === null || (p.lat === 0 && p.lon === 0)) return null;
    return { latDeg: p.lat / 1e7, lonDeg: p.lon / 1e7 };
  }

  private set(state: FenceKeeperStatus['state'], reason: string | null): void {
    const f = this.wanted ?? null;
    // Known only for the fence on the FC now: one being sent, or refused, or cleared, has none yet.
    if (state !== 'on-fc' || f === null) this.action = null;
    const a = this.action;
    const p = this.plan;
    this.status = {
      state,
      vertices: f?.polygon.length ?? 0,
      altMaxM: f?.altMaxM ?? null,
      keepOuts: p?.fence.keepOuts?.length ?? 0,
      keepOutsLeftOut: p ? p.waiting.length + p.overBudget : 0,
      leftOutReason: p?.reason ?? null,
      uploads: this.uploads,
      failures: this.failures,
      reason,
      breachAction: a?.name ?? null,
      warning: a?.warning ?? null,
    };
  }
}
