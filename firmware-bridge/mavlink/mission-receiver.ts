// Mission upload, the vehicle's side: answers MISSION_COUNT by pulling every item with
// MISSION_REQUEST_INT, re-requests on silence, and ACKs. A repeated last item (our ACK was lost)
// gets the ACK again; a MISSION_ACK from the sender mid-transfer cancels it. One receiver per
// mission_type (missions, fences: the same protocol, mavlink.io/en/services/geofence.html); the
// owner may refuse a complete plan with a MAV_MISSION_RESULT. Used by the simulated flight controller.

import { common } from 'node-mavlink';
import { limits } from '../../runtime/lib/limits.js';
import type { MavlinkEndpoint, ReceivedMessage } from './endpoint.js';
import { fromMissionItemInt, missionTypeMission, type MissionItem } from './mission-item.js';

interface Transfer {
  readonly peer: { sysid: number; compid: number };
  readonly items: common.MissionItemInt[];
  readonly count: number;
  retries: number;
}

export interface PlanReceiverOptions {
  readonly missionType: number;
  /** A longer plan is answered MAV_MISSION_NO_SPACE at its MISSION_COUNT. */
  readonly itemsMax: number;
  /** Takes a complete plan (empty: cleared); returns the MAV_MISSION_RESULT to ACK with. */
  readonly accept: (items: common.MissionItemInt[]) => number;
  readonly itemTimeoutMs?: number;
  readonly retriesMax?: number;
}

/** The receiver of one mission_type's uploads. */
export class PlanReceiver {
  private transfer: Transfer | null = null;
  private timer: NodeJS.Timeout | null = null;
  private lastAccepted: { peer: number; count: number } | null = null;
  private readonly missionType: number;
  private readonly itemTimeoutMs: number;
  private readonly retriesMax: number;

  constructor(
    private readonly endpoint: MavlinkEndpoint,
    private readonly o: PlanReceiverOptions,
  ) {
    this.missionType = o.missionType;
    this.itemTimeoutMs = o.itemTimeoutMs ?? 500;
    this.retriesMax = o.retriesMax ?? 8;
    endpoint.onMessage((m) => this.handle(m));
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.transfer = null;
  }

  private handle({ msg, frame }: ReceivedMessage): void {
    if (msg instanceof common.MissionCount) {
      if (msg.targetSystem !== this.endpoint.sysid || msg.missionType !== this.missionType) return;
      if (msg.count > this.o.itemsMax) {
        this.ack(frame, common.MavMissionResult.NO_SPACE);
        return;
      }
      if (msg.count === 0) {
        this.ack(frame, this.o.accept([]));
        return;
      }
      // A new (or repeated) MISSION_COUNT restarts the transfer (spec: the count may be resent).
      this.transfer = { peer: { sysid: frame.sysid, compid: frame.compid }, items: [], count: msg.count, retries: 0 };
      this.request();
    } else if (msg instanceof common.MissionAck) {
      // The sender cancels the transfer (an error on its side, e.g. an item it does not have): the
      // mission protocol ends the operation on both ends, so stop requesting at once (as autopilots do).
      const t = this.transfer;
      if (t === null || frame.sysid !== t.peer.sysid || frame.compid !== t.peer.compid || msg.missionType !== this.missionType) return;
      if (msg.targetSystem !== 0 && msg.targetSystem !== this.endpoint.sysid) return;
      if (this.timer) clearTimeout(this.timer);
      this.transfer = null;
    } else if (msg instanceof common.MissionItemInt) {
      if (msg.targetSystem !== this.endpoint.sysid || msg.missionType !== this.missionType) return;
      const t = this.transfer;
      if (t === null) {
        // The sender resends its last item when our ACK was lost: ACK again.
        if (this.lastAccepted && this.lastAccepted.peer === frame.sysid && msg.seq === this.lastAccepted.count - 1) this.ack(frame, common.MavMissionResult.ACCEPTED);
        return;
      }
      if (frame.sysid !== t.peer.sysid || msg.seq !== t.items.length) return; // out of order: the timer re-requests
      t.items.push(msg);
      t.retries = 0;
      if (t.items.length === t.count) {
        if (this.timer) clearTimeout(this.timer);
        this.transfer = null;
        const result = this.o.accept(t.items);
        // Only an accepted plan's last item is answered again when it is resent (our ACK was lost).
        this.lastAccepted = result === common.MavMissionResult.ACCEPTED ? { peer: frame.sysid, count: t.count } : null;
        this.ack(frame, result);
      } else {
        this.request();
      }
    }
  }

  private request(): void {
    const t = this.transfer;
    if (t === null) return;
    const r = new common.MissionRequestInt();
    r.targetSystem = t.peer.sysid;
    r.targetComponent = t.peer.compid;
    r.seq = t.items.length;
    r.missionType = this.missionType;
    this.endpoint.send(r);
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (this.transfer !== t) return;
      if (++t.retries > this.retriesMax) {
        this.transfer = null; // give up: the operation is cancelled (spec: timeouts on the receiver)
        return;
      }
      this.request();
    }, this.itemTimeoutMs);
  }

  private ack(frame: { sysid: number; compid: number }, type: number): void {
    const a = new common.MissionAck();
    a.targetSystem = frame.sysid;
    a.targetComponent = frame.compid;
    a.type = type;
    a.missionType = this.missionType;
    a.opaqueId = 0;
    this.endpoint.send(a);
  }
}

/** The receiver of mission plans (mission_type MISSION): every plan up to missionItemsMax is accepted. */
export class MissionReceiver extends PlanReceiver {
  constructor(endpoint: MavlinkEndpoint, onMission: (items: MissionItem[]) => void, itemTimeoutMs = 500, retriesMax = 8) {
    super(endpoint, {
      missionType: missionTypeMission,
      itemsMax: limits.missionItemsMax,
      itemTimeoutMs,
      retriesMax,
      accept: (items) => {
        onMission(items.map(fromMissionItemInt));
        return common.MavMissionResult.ACCEPTED;
      },
    });
  }
}
