// Keeps a geofence on a MAVLink flight controller as its own failsafe: uploads the fence the device
// wants (MavlinkVehicle.uploadFence) in the background, again whenever the FC comes back up (a
// rebooted autopilot may have lost it, and flight stacks reset the fence switch to their defaults on
// reboot: common.xml MAV_CMD_DO_FENCE_ENABLE), and retries a failed upload with a bounded backoff.
// One upload at a time; a newer fence asked for during one is uploaded right after it.

import type { FenceKeeperStatus, GeoFence } from '../devices.js';
import type { MavlinkVehicle } from '../../firmware-bridge/mavlink/vehicle.js';
import { isAbout } from '../../firmware-bridge/mavlink/endpoint.js';
import { fenceProblem } from '../../firmware-bridge/mavlink/fence.js';

/** Backoff between failed attempts: doubles from retryFirstMs up to retryMaxMs (retrying for as long
 *  as the fence is wanted: the FC must end up holding it). */
export interface FenceKeeperOptions {
  readonly retryFirstMs: number;
  readonly retryMaxMs: number;
}

export const defaultFenceKeeperOptions: FenceKeeperOptions = { retryFirstMs: 1_000, retryMaxMs: 30_000 };

export class FenceKeeper {
  /** undefined: never asked (the FC's own fence is left alone). */
  private wanted: GeoFence | null | undefined = undefined;
  private wantedKey = '';
  private status: FenceKeeperStatus | null = null;
  private uploading = false;
  /** The wanted fence changed, or the FC came back, during an upload: upload again when it ends. */
  private again = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryMs: number;
  private uploads = 0;
  private failures = 0;
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
      else this.set('uploading', null); // lost: whatever it held may be gone when it returns
    });
    // A reboot too short to be declared lost (a brownout): the FC came back without the fence.
    this.offReboot = vehicle.onReboot(() => {
      if (this.wanted === undefined) return;
      this.set('uploading', null);
      this.kick(true);
    });
  }

  /** Wants `fence` on the FC. The same fence again is a no-op (called on every committed block). */
  keep(fence: GeoFence | null, onReport?: (s: FenceKeeperStatus) => void): void {
    if (onReport) this.onReport = onReport;
    const key = JSON.stringify(fence);
    if (this.wanted !== undefined && key === this.wantedKey) return;
    this.wanted = fence;
    this.wantedKey = key;
    const why = fence === null ? null : fenceProblem(fence);
    if (why !== null) {
      // Nothing to retry: this fence can never be carried. Reported once, as a failure.
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
  }

  /** Starts an upload now (fresh: a new fence or a returned FC, so the backoff starts over). */
  private kick(fresh: boolean): void {
    if (this.stopped || this.wanted === undefined) return;
    // A fence the protocol cannot carry was reported once by keep(); an FC coming up, or an upload in
    // flight ending, must not send it (the vehicle would refuse it, and the retries would never end).
    if (this.wanted !== null && fenceProblem(this.wanted) !== null) return;
    if (fresh) this.retryMs = this.o.retryFirstMs;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.uploading) {
      this.again = true;
      return;
    }
    const fence = this.wanted;
    const key = this.wantedKey;
    this.set('uploading', null);
    // Not up yet (no HEARTBEAT, or lost): the 'up' event starts it.
    if (!this.vehicle.connected() || this.vehicle.family() === null) return;
    this.uploading = true;
    void this.vehicle.uploadFence(fence).then((r) => {
      this.uploading = false;
      if (this.stopped) return;
      if (this.again || key !== this.wantedKey) {
        this.again = false;
        this.kick(true);
        return;
      }
      if (r.ok) {
        this.uploads++;
        this.set('on-fc', null);
      } else {
        this.failures++;
        this.set('failed', r.error.message);
        this.retryTimer = setTimeout(() => this.kick(false), this.retryMs);
        this.retryMs = Math.min(this.o.retryMaxMs, this.retryMs * 2);
      }
      this.onReport?.(this.status as FenceKeeperStatus);
    });
  }

  private set(state: FenceKeeperStatus['state'], reason: string | null): void {
    const f = this.wanted ?? null;
    this.status = { state, vertices: f?.polygon.length ?? 0, altMaxM: f?.altMaxM ?? null, uploads: this.uploads, failures: this.failures, reason };
  }
}
