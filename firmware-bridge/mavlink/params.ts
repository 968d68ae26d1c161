// The MAVLink parameter protocol, the one write Murmur needs (mavlink.io/en/services/parameter.html):
// PARAM_SET, answered by PARAM_VALUE with the same id and the value the vehicle now holds. No answer
// within timeoutMs sends PARAM_SET again, up to `retries` times (both messages can be lost; setting a
// parameter twice is harmless). A PARAM_VALUE with another value means the vehicle refused or clamped it.

import { common } from 'node-mavlink';
import { err, ok, type Result } from '../../runtime/lib/result.js';
import { deviceError, type DeviceError } from '../../hal/devices.js';
import { isAbout, type MavlinkEndpoint, type ReceivedMessage } from './endpoint.js';
import { lostMessage, type CommandTarget } from './commands.js';

/** MAV_PARAM_TYPE values used here. ArduPilot encodes integers by C cast into the float field (its
 *  PARAM_ENCODE_C_CAST capability); PX4's float parameters need no encoding. */
export const mavParamType = { int32: 6, real32: 9 } as const;
export type MavParamTypeUsed = (typeof mavParamType)[keyof typeof mavParamType];

export interface ParamOptions {
  readonly timeoutMs: number;
  readonly retries: number;
}

/** The parameter that sets return-to-launch's altitude, per autopilot, and how metres map onto it. */
export function returnAltitudeParam(family: 'px4' | 'ardupilot', relAltM: number): { id: string; value: number; type: MavParamTypeUsed } {
  // ArduPilot copter: RTL_ALT, centimetres, INT32. PX4: RTL_RETURN_ALT, metres, FLOAT.
  return family === 'ardupilot' ? { id: 'RTL_ALT', value: Math.round(relAltM * 100), type: mavParamType.int32 } : { id: 'RTL_RETURN_ALT', value: relAltM, type: mavParamType.real32 };
}

export class ParamClient {
  /** One write in flight per parameter id; a second write of the same id waits for none and is refused. */
  private readonly pending = new Map<string, { readonly onValue: (m: common.ParamValue) => void; readonly fail: (why: string) => void }>();

  constructor(
    private readonly endpoint: MavlinkEndpoint,
    private readonly target: CommandTarget,
    private readonly options: ParamOptions = { timeoutMs: 1000, retries: 3 },
  ) {
    endpoint.onMessage((m) => this.onMessage(m));
    endpoint.onLink((e) => {
      if (e.type !== 'lost' || !isAbout(e, target)) return;
      for (const [id, p] of [...this.pending.entries()]) p.fail(lostMessage(`PARAM_SET ${id}`, endpoint));
    });
  }

  /** Sets `id` to `value`; resolves with the value the vehicle confirmed, or why it was not set. */
  set(id: string, value: number, type: MavParamTypeUsed): Promise<Result<number, DeviceError>> {
    if (id.length === 0 || id.length > 16) return Promise.resolve(err(deviceError('rejected', `parameter id "${id}" must be 1-16 characters`)));
    if (this.endpoint.isPeerLost(this.target.sysid, this.target.compid)) return Promise.resolve(err(deviceError('timeout', lostMessage(`PARAM_SET ${id}`, this.endpoint))));
    if (this.pending.has(id)) return Promise.resolve(err(deviceError('rejected', `parameter ${id} is already being set`)));
    return new Promise((resolve) => {
      let attempts = 0;
      let timer: NodeJS.Timeout | null = null;
      const finish = (r: Result<number, DeviceError>): void => {
        if (timer) clearTimeout(timer);
        this.pending.delete(id);
        resolve(r);
      };
      const send = (): void => {
        if (attempts > this.options.retries) return finish(err(deviceError('timeout', `PARAM_SET ${id}: no PARAM_VALUE after ${attempts} attempts of ${this.options.timeoutMs} ms`)));
        const m = new common.ParamSet();
        m.targetSystem = this.target.sysid;
        m.targetComponent = this.target.compid;
        m.paramId = id;
        m.paramValue = value;
        m.paramType = type as unknown as common.MavParamType;
        this.endpoint.send(m);
        attempts++;
        timer = setTimeout(send, this.options.timeoutMs);
      };
      this.pending.set(id, {
        onValue: (v) => {
          // Float32 on the wire: compare at its precision.
          if (Math.fround(v.paramValue) === Math.fround(value)) finish(ok(v.paramValue));
          else finish(err(deviceError('rejected', `PARAM_SET ${id}=${value}: the vehicle holds ${v.paramValue}`)));
        },
        fail: (why) => finish(err(deviceError('timeout', why))),
      });
      send();
    });
  }

  private onMessage({ msg, frame }: ReceivedMessage): void {
    if (!(msg instanceof common.ParamValue) || frame.sysid !== this.target.sysid) return;
    this.pending.get(msg.paramId.replace(/\0+$/, ''))?.onValue(msg);
  }
}
