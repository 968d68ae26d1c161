// Mission and fence upload, the sender's side (mavlink.io/en/services/mission.html#uploading_mission;
// a fence is the same protocol with mission_type MAV_MISSION_TYPE_FENCE, mavlink.io/en/services/geofence.html):
// MISSION_COUNT, then the vehicle pulls each MISSION_ITEM_INT with MISSION_REQUEST_INT(seq), then
// MISSION_ACK. A silence longer than itemTimeoutMs resends our last message, up to `retries` times.
// Only the commanded component's requests and ACKs addressed to us count (another GCS on the link may
// be uploading too). A request for an item the mission does not have is an error: answered with
// MISSION_ACK INVALID_SEQUENCE, which cancels the operation on both ends (the spec's "Errors"); any
// item the mission has is sent when asked, in whatever order (out of sequence is not an error).
// A vehicle that keeps asking without ever finishing (the same item again and again, or requests that
// never come to an ACK) does not keep the upload going for ever: one item may be asked for at most
// 1 + retries times, and the whole upload has a deadline (deadlineMs); either ends it with MISSION_ACK
// OPERATION_CANCELLED to the vehicle and an error saying which bound it hit.

import { common } from 'node-mavlink';
import { err, ok, type Result } from '../../runtime/lib/result.js';
import { limits } from '../../runtime/lib/limits.js';
import { deviceError, type DeviceError } from '../../hal/devices.js';
import { isAbout, type MavlinkEndpoint } from './endpoint.js';
import { lostMessage, type CommandTarget } from './commands.js';
import { missionTypeMission, toMissionItemInt, type MissionItem } from './mission-item.js';
import { fenceItems, fenceProblem, missionTypeFence, toFenceItemInt, type Fence } from './fence.js';

export interface UploadOptions {
  readonly itemTimeoutMs: number;
  /** Resends of our last message after silence, and re-requests of one item the vehicle may make. */
  readonly retries: number;
  /** The whole upload's bound; by default uploadDeadlineMs (from the item count, itemTimeoutMs and retries). */
  readonly deadlineMs?: number;
}

export interface UploadReport {
  readonly items: number;
  readonly resends: number;
  readonly elapsedMs: number;
}

export const defaultUploadOptions: UploadOptions = { itemTimeoutMs: 1500, retries: 5 };

/** The default overall deadline of an upload of `count` items: each message (MISSION_COUNT and the
 *  items) may take two item timeouts (one lost and sent again), plus one full run of silent retries. */
export function uploadDeadlineMs(count: number, o: Pick<UploadOptions, 'itemTimeoutMs' | 'retries'>): number {
  return (count + 1) * 2 * o.itemTimeoutMs + o.retries * o.itemTimeoutMs;
}

export function uploadMission(endpoint: MavlinkEndpoint, target: CommandTarget, items: readonly MissionItem[], options: Partial<UploadOptions> = {}): Promise<Result<UploadReport, DeviceError>> {
  if (items.length === 0 || items.length > limits.missionItemsMax) {
    return Promise.resolve(err(deviceError('rejected', `a mission needs 1..${limits.missionItemsMax} items, got ${items.length}`)));
  }
  return uploadPlan(endpoint, target, { what: 'mission upload', noun: 'mission', missionType: missionTypeMission, count: items.length, item: (seq) => toMissionItemInt(items[seq] as MissionItem, seq, target) }, options);
}

/**
 * Uploads a fence (one inclusion polygon, then its keep-out circles) with mission_type FENCE, replacing
 * the vehicle's; null uploads an empty fence (count 0), which clears it. A fence the protocol or the
 * item budget cannot carry (fenceProblem) is refused before anything is sent.
 */
export function uploadFence(endpoint: MavlinkEndpoint, target: CommandTarget, fence: Fence | null, options: Partial<UploadOptions> = {}): Promise<Result<UploadReport, DeviceError>> {
  if (fence !== null) {
    const why = fenceProblem(fence);
    if (why !== null) return Promise.resolve(err(deviceError('rejected', `fence upload: ${why}`)));
  }
  const count = fence === null ? 0 : fenceItems(fence);
  return uploadPlan(endpoint, target, { what: 'fence upload', noun: 'fence', missionType: missionTypeFence, count, item: (seq) => toFenceItemInt(fence as Fence, seq, target) }, options);
}

interface Plan {
  /** For messages: "mission upload", "fence upload"; and what is uploaded: "mission", "fence". */
  readonly what: string;
  readonly noun: string;
  readonly missionType: number;
  readonly count: number;
  readonly item: (seq: number) => common.MissionItemInt;
}

function uploadPlan(endpoint: MavlinkEndpoint, target: CommandTarget, plan: Plan, options: Partial<UploadOptions>): Promise<Result<UploadReport, DeviceError>> {
  const o = { ...defaultUploadOptions, ...options };
  const { what, missionType } = plan;
  // Lost already: its loss will not be announced again to end the resends below.
  if (endpoint.isPeerLost(target.sysid, target.compid)) return Promise.resolve(err(deviceError('timeout', lostMessage(what, endpoint))));
  const started = Date.now();
  const deadlineMs = o.deadlineMs ?? uploadDeadlineMs(plan.count, o);
  const requestsMax = 1 + o.retries;
  return new Promise((resolve) => {
    let resends = 0;
    let silentRetries = 0;
    let last: common.MissionCount | common.MissionItemInt;
    let timer: NodeJS.Timeout | null = null;
    /** How many times the vehicle asked for each item. */
    const requests = new Map<number, number>();
    /** A MISSION_ACK of `result` to the vehicle, which ends its side of the transfer. */
    const sendAck = (result: common.MavMissionResult, sysid: number, compid: number): void => {
      const ack = new common.MissionAck();
      ack.targetSystem = sysid;
      ack.targetComponent = compid;
      ack.type = result;
      ack.missionType = missionType;
      ack.opaqueId = 0;
      endpoint.send(ack);
    };
    /** Ends the upload on the vehicle too (the mission protocol's cancel), then here with `why`. */
    const cancel = (why: string): void => {
      sendAck(common.MavMissionResult.OPERATION_CANCELLED, target.sysid, target.compid);
      done(err(deviceError('timeout', `${what}: ${why}; cancelled with MISSION_ACK OPERATION_CANCELLED`)));
    };
    const deadline = setTimeout(() => {
      const at = last instanceof common.MissionCount ? 'at MISSION_COUNT' : `last asked for item ${last.seq}`;
      const bound = o.deadlineMs === undefined ? `its deadline for ${plan.count} items` : 'its deadline';
      cancel(`not done after ${deadlineMs} ms (${bound}): the vehicle kept the transfer going without accepting it (${at}, ${resends} resends)`);
    }, deadlineMs);
    const count = new common.MissionCount();
    count.targetSystem = target.sysid;
    count.targetComponent = target.compid;
    count.count = plan.count;
    count.missionType = missionType;
    count.opaqueId = 0;

    const arm = (): void => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        if (silentRetries >= o.retries) {
          // The vehicle may still be waiting for an item (its request lost): it ends its side too.
          const signing = endpoint.signingMismatch();
          cancel(`no answer after ${o.retries} resends of ${last instanceof common.MissionCount ? 'MISSION_COUNT' : `item ${last.seq}`}${signing === null ? '' : `; ${signing}`}`);
          return;
        }
        silentRetries++;
        resends++;
        endpoint.send(last);
        arm();
      }, o.itemTimeoutMs);
    };
    const sendMsg = (m: common.MissionCount | common.MissionItemInt): void => {
      last = m;
      endpoint.send(m);
      arm();
    };
    const off = endpoint.onMessage(({ msg, frame }) => {
      if (frame.sysid !== target.sysid || (target.compid !== 0 && frame.compid !== target.compid)) return;
      if (msg instanceof common.MissionRequestInt || msg instanceof common.MissionRequest) {
        if (msg.missionType !== missionType || !addressedTo(endpoint, msg)) return;
        if (msg.seq >= plan.count) {
          sendAck(common.MavMissionResult.INVALID_SEQUENCE, frame.sysid, frame.compid);
          const has = plan.count === 0 ? `the ${plan.noun} is empty` : `the ${plan.noun} has items 0-${plan.count - 1}`;
          done(err(deviceError('rejected', `${what}: the vehicle asked for item ${msg.seq}, but ${has}; answered MISSION_ACK INVALID_SEQUENCE, which cancels the upload`)));
          return;
        }
        const n = (requests.get(msg.seq) ?? 0) + 1;
        requests.set(msg.seq, n);
        if (n > requestsMax) {
          cancel(`the vehicle asked for item ${msg.seq} ${n} times (at most ${requestsMax}: 1 + retries ${o.retries}), so it is not taking it`);
          return;
        }
        silentRetries = 0;
        if (last instanceof common.MissionItemInt && last.seq === msg.seq) resends++; // re-request: our item was lost
        sendMsg(plan.item(msg.seq));
      } else if (msg instanceof common.MissionAck) {
        if (msg.missionType !== missionType || !addressedTo(endpoint, msg)) return;
        if (msg.type === common.MavMissionResult.ACCEPTED) done(ok({ items: plan.count, resends, elapsedMs: Date.now() - started }));
        else done(err(deviceError('rejected', `${what}: MISSION_ACK ${missionResultName(msg.type)}`)));
      }
    });
    const offLink = endpoint.onLink((e) => {
      if (e.type === 'lost' && isAbout(e, target)) done(err(deviceError('timeout', lostMessage(what, endpoint))));
    });
    const done = (r: Result<UploadReport, DeviceError>): void => {
      if (timer) clearTimeout(timer);
      clearTimeout(deadline);
      off();
      offLink();
      resolve(r);
    };
    sendMsg(count);
  });
}

/** MAV_MISSION_RESULT by name ("NO_SPACE"), or its number. */
export function missionResultName(type: number): string {
  return (common.MavMissionResult as unknown as Record<number, string>)[type] ?? String(type);
}

/** Whether a message's target fields name this endpoint (0: any system or component). */
function addressedTo(endpoint: MavlinkEndpoint, m: { readonly targetSystem: number; readonly targetComponent: number }): boolean {
  return (m.targetSystem === 0 || m.targetSystem === endpoint.sysid) && (m.targetComponent === 0 || m.targetComponent === endpoint.compid);
}
