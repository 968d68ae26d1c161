// The MAVLink command protocol (mavlink.io/en/services/command.html): COMMAND_LONG or COMMAND_INT,
// answered by COMMAND_ACK with the same command id. On timeout we resend with confirmation + 1;
// MAV_RESULT_IN_PROGRESS means "keep waiting" until a final ACK or the progress timeout. On a lossy
// link the final ACK can be lost, so after 2 x timeoutMs of silence we resend anyway: the vehicle
// answers a repeated command with its current progress or its final result (our simulated FC does).

import { common } from 'node-mavlink';
import { err, ok, type Result } from '../../runtime/lib/result.js';
import { limits } from '../../runtime/lib/limits.js';
import { deviceError, type DeviceError } from '../../hal/devices.js';
import { isAbout, type MavlinkEndpoint, type ReceivedMessage } from './endpoint.js';

export interface CommandTarget {
  readonly sysid: number;
  readonly compid: number;
}

export interface CommandOptions {
  readonly timeoutMs: number;
  readonly retries: number;
  /** How long after the first IN_PROGRESS ack to wait for a final result; later IN_PROGRESS acks do not extend it. */
  readonly inProgressTimeoutMs: number;
  readonly onProgress?: (percent: number) => void;
  /** Called as each copy after the first goes out (a timeout, or a poll while IN_PROGRESS): its number from 1. */
  readonly onResend?: (attempt: number) => void;
}

export const defaultCommandOptions: CommandOptions = { timeoutMs: 1000, retries: 3, inProgressTimeoutMs: 15_000 };

export interface CommandAckInfo {
  readonly command: number;
  readonly result: number;
  readonly attempts: number;
  readonly sawInProgress: boolean;
}

/** Parameters of COMMAND_INT: x and y are degrees * 1e7 (integers), z metres. */
export interface CommandIntParams {
  readonly frame: number;
  readonly params: readonly [number, number, number, number];
  readonly x: number;
  readonly y: number;
  readonly z: number;
}

interface Pending {
  readonly resolve: (r: Result<CommandAckInfo, DeviceError>) => void;
  readonly onAck: (ack: common.CommandAck) => void;
  readonly name: string;
}

/** Why a request to the vehicle ended when its link was declared lost. */
export function lostMessage(what: string, endpoint: MavlinkEndpoint): string {
  return `${what}: the flight controller was lost (no HEARTBEAT for ${endpoint.lostAfterMs} ms)`;
}

export function resultName(result: number): string {
  return (common.MavResult as unknown as Record<number, string>)[result] ?? `result ${result}`;
}

export function commandName(command: number): string {
  return (common.MavCmd as unknown as Record<number, string>)[command] ?? `command ${command}`;
}

export class CommandClient {
  private readonly pending = new Map<number, Pending>();

  constructor(
    private readonly endpoint: MavlinkEndpoint,
    private readonly target: CommandTarget,
    private readonly defaults: CommandOptions = defaultCommandOptions,
  ) {
    endpoint.onMessage((m) => this.onMessage(m));
    // A vehicle that went silent answers nothing more: end what waits on it now, not after the
    // retries or the progress timeout (up to inProgressTimeoutMs) run out.
    endpoint.onLink((e) => {
      if (e.type !== 'lost' || !isAbout(e, target)) return;
      for (const p of [...this.pending.values()]) p.resolve(err(deviceError('timeout', lostMessage(p.name, endpoint))));
    });
  }

  long(command: number, params: readonly number[], options: Partial<CommandOptions> = {}): Promise<Result<CommandAckInfo, DeviceError>> {
    return this.run(command, options, (confirmation) => {
      const m = new common.CommandLong();
      m.targetSystem = this.target.sysid;
      m.targetComponent = this.target.compid;
      m.command = command;
      m.confirmation = confirmation;
      [m._param1, m._param2, m._param3, m._param4, m._param5, m._param6, m._param7] = [0, 1, 2, 3, 4, 5, 6].map((i) => params[i] ?? 0) as [number, number, number, number, number, number, number];
      return m;
    });
  }

  /** COMMAND_INT has no confirmation field; a resend is identical (spec: command protocol). */
  int(command: number, p: CommandIntParams, options: Partial<CommandOptions> = {}): Promise<Result<CommandAckInfo, DeviceError>> {
    return this.run(command, options, () => {
      const m = new common.CommandInt();
      m.targetSystem = this.target.sysid;
      m.targetComponent = this.target.compid;
      m.frame = p.frame;
      m.command = command;
      m.current = 0;
      m.autocontinue = 0;
      [m._param1, m._param2, m._param3, m._param4] = p.params as [number, number, number, number];
      m._param5 = Math.round(p.x);
      m._param6 = Math.round(p.y);
      m._param7 = p.z;
      return m;
    });
  }

  private run(command: number, options: Partial<CommandOptions>, build: (confirmation: number) => common.CommandLong | common.CommandInt): Promise<Result<CommandAckInfo, DeviceError>> {
    const o = { ...this.defaults, ...options };
    const name = commandName(command);
    // Lost already: its loss will not be announced again to end the wait below.
    if (this.endpoint.isPeerLost(this.target.sysid, this.target.compid)) return Promise.resolve(err(deviceError('timeout', lostMessage(name, this.endpoint))));
    if (this.pending.has(command)) return Promise.resolve(err(deviceError('rejected', `${name} is already awaiting an ACK`)));
    if (this.pending.size >= limits.mavlinkCommandsPendingMax) return Promise.resolve(err(deviceError('rejected', 'too many commands awaiting an ACK')));
    return new Promise((resolve) => {
      let attempts = 0;
      let inProgress = false;
      let timer: NodeJS.Timeout | null = null;
      // Armed once, at the first IN_PROGRESS, and never reset by later ones: an FC that keeps
      // reporting progress (every second, say) would otherwise keep the command waiting for ever.
      let deadline: NodeJS.Timeout | null = null;
      const finish = (r: Result<CommandAckInfo, DeviceError>): void => {
        if (timer) clearTimeout(timer);
        if (deadline) clearTimeout(deadline);
        this.pending.delete(command);
        resolve(r);
      };
      const sendAttempt = (): void => {
        if (attempts > o.retries) {
          const signing = this.endpoint.signingMismatch();
          finish(err(deviceError('timeout', `${name}: no COMMAND_ACK after ${attempts} attempts of ${o.timeoutMs} ms${signing === null ? '' : `; ${signing}`}`)));
          return;
        }
        this.endpoint.send(build(attempts));
        if (attempts > 0) o.onResend?.(attempts);
        attempts++;
        timer = setTimeout(sendAttempt, o.timeoutMs);
      };
      const poll = (): void => {
        this.endpoint.send(build(attempts));
        o.onResend?.(attempts);
        attempts++;
        timer = setTimeout(poll, 2 * o.timeoutMs);
      };
      this.pending.set(command, {
        name,
        resolve: finish,
        onAck: (ack) => {
          if (timer) clearTimeout(timer);
          if (ack.result === common.MavResult.IN_PROGRESS) {
            if (!inProgress) {
              deadline = setTimeout(() => {
                finish(err(deviceError('timeout', `${name}: the flight controller kept reporting progress (IN_PROGRESS) for ${o.inProgressTimeoutMs} ms without a final result`)));
              }, o.inProgressTimeoutMs);
            }
            inProgress = true;
            o.onProgress?.(ack.progress);
            timer = setTimeout(poll, 2 * o.timeoutMs);
            return;
          }
          const info: CommandAckInfo = { command, result: ack.result, attempts, sawInProgress: inProgress };
          if (ack.result === common.MavResult.ACCEPTED) finish(ok(info));
          else finish(err(deviceError('rejected', `${name}: ${resultName(ack.result)}`)));
        },
      });
      sendAttempt();
    });
  }

  /**
   * Stops resending those of `commands` still awaiting an ACK: a newer command replaced them (`by`),
   * and a late resend would undo it (a return-to-launch whose ACK was lost, resent after a goto, took
   * the vehicle home). Each ends with a 'superseded' error saying so.
   */
  supersede(commands: readonly number[], by: string): void {
    for (const c of commands) {
      const p = this.pending.get(c);
      p?.resolve(err(deviceError('superseded', `${p.name}: superseded by ${by} before its ACK`)));
    }
  }

  /**
   * An ACK completes the request for its command id only when it comes from the component we
   * commanded (any, when we addressed component 0) and is addressed to us: MAVLink 2's target_system
   * and target_component extensions, 0 when a sender leaves them out (older firmware). Another
   * component of our system (a second companion process) or of the vehicle's (a camera, a gimbal)
   * may be answering the same command id to someone else on a shared link.
   */
  private onMessage({ msg, frame }: ReceivedMessage): void {
    if (!(msg instanceof common.CommandAck) || frame.sysid !== this.target.sysid) return;
    if (this.target.compid !== 0 && frame.compid !== this.target.compid) return;
    if (msg.targetSystem !== 0 && msg.targetSystem !== this.endpoint.sysid) return;
    if (msg.targetComponent !== 0 && msg.targetComponent !== this.endpoint.compid) return;
    this.pending.get(msg.command)?.onAck(msg);
  }
}
