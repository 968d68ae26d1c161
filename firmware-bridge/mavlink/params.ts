// The MAVLink parameter protocol, the reads and writes Murmur needs (mavlink.io/en/services/parameter.html):
// PARAM_SET, answered by PARAM_VALUE with the same id and the value the vehicle now holds, and
// PARAM_REQUEST_READ by id (param_index -1), answered by PARAM_VALUE. No answer within timeoutMs sends
// the request again, up to `retries` times (both messages can be lost; setting a parameter twice, or
// reading it twice, is harmless). A PARAM_VALUE with another value than the one set means the vehicle
// refused or clamped it.

import { common } from 'node-mavlink';
import { err, ok, type Result } from '../../runtime/lib/result.js';
import { deviceError, type DeviceError } from '../../hal/devices.js';
import { isAbout, type MavlinkEndpoint, type ReceivedMessage } from './endpoint.js';
import { lostMessage, type CommandTarget } from './commands.js';

/** MAV_PARAM_TYPE values used here. */
export const mavParamType = { int8: 2, int32: 6, real32: 9 } as const;
export type MavParamTypeUsed = (typeof mavParamType)[keyof typeof mavParamType];

/**
 * How an integer parameter travels in the float field of PARAM_SET and PARAM_VALUE (the parameter
 * protocol's "parameter encoding"): ArduPilot casts it (MAV_PROTOCOL_CAPABILITY_PARAM_ENCODE_C_CAST:
 * 3 is sent as 3.0), PX4 copies its bytes (PARAM_ENCODE_BYTEWISE: an INT32 3 is the float whose bits
 * are 0x00000003). Float parameters travel as themselves either way.
 */
export type ParamEncoding = 'c-cast' | 'bytewise';

export function paramEncoding(family: 'px4' | 'ardupilot'): ParamEncoding {
  return family === 'px4' ? 'bytewise' : 'c-cast';
}

/** MAV_PARAM_TYPE 1..6: UINT8, INT8, UINT16, INT16, UINT32, INT32 (the 32-bit float field holds them whole). */
const integerTypes = new Set([1, 2, 3, 4, 5, 6]);

/** The float to put on the wire for `value` of `type`. */
export function encodeParam(value: number, type: number, encoding: ParamEncoding): number {
  if (encoding === 'c-cast' || !integerTypes.has(type)) return value;
  const v = new DataView(new ArrayBuffer(4));
  if (type === 5) v.setUint32(0, value, true);
  else v.setInt32(0, value, true); // the narrower types are the low bytes, little-endian, as PX4's union
  return v.getFloat32(0, true);
}

/** The value a float from the wire stands for, `type` being the PARAM_VALUE's own. */
export function decodeParam(raw: number, type: number, encoding: ParamEncoding): number {
  if (encoding === 'c-cast' || !integerTypes.has(type)) return raw;
  const v = new DataView(new ArrayBuffer(4));
  v.setFloat32(0, raw, true);
  switch (type) {
    case 1:
      return v.getUint8(0);
    case 2:
      return v.getInt8(0);
    case 3:
      return v.getUint16(0, true);
    case 4:
      return v.getInt16(0, true);
    case 5:
      return v.getUint32(0, true);
    default:
      return v.getInt32(0, true);
  }
}

export interface ParamOptions {
  readonly timeoutMs: number;
  readonly retries: number;
}

/** A parameter as the vehicle reported it: its value (decoded) and its MAV_PARAM_TYPE. */
export interface ParamReading {
  readonly value: number;
  readonly type: number;
}

/** The parameter that sets return-to-launch's altitude, per autopilot, and how metres map onto it. */
export function returnAltitudeParam(family: 'px4' | 'ardupilot', relAltM: number): { id: string; value: number; type: MavParamTypeUsed } {
  // ArduPilot copter: RTL_ALT, centimetres, INT32. PX4: RTL_RETURN_ALT, metres, FLOAT.
  return family === 'ardupilot' ? { id: 'RTL_ALT', value: Math.round(relAltM * 100), type: mavParamType.int32 } : { id: 'RTL_RETURN_ALT', value: relAltM, type: mavParamType.real32 };
}

export class ParamClient {
  /** One request in flight per parameter id: a second write or read of the same id is refused at once,
   *  naming the one under way (waiting would order them by chance; the caller decides what to do). */
  private readonly pending = new Map<string, { readonly name: string; readonly onValue: (m: common.ParamValue) => void; readonly fail: (why: string) => void }>();

  constructor(
    private readonly endpoint: MavlinkEndpoint,
    private readonly target: CommandTarget,
    private readonly options: ParamOptions = { timeoutMs: 1000, retries: 3 },
  ) {
    endpoint.onMessage((m) => this.onMessage(m));
    endpoint.onLink((e) => {
      if (e.type !== 'lost' || !isAbout(e, target)) return;
      for (const p of [...this.pending.values()]) p.fail(lostMessage(p.name, endpoint));
    });
  }

  /** Sets `id` to `value`; resolves with the value the vehicle confirmed, or why it was not set. */
  set(id: string, value: number, type: MavParamTypeUsed, encoding: ParamEncoding = 'c-cast'): Promise<Result<number, DeviceError>> {
    const wire = encodeParam(value, type, encoding);
    return this.request(`PARAM_SET ${id}`, id, (v, finish) => {
      // Float32 on the wire: compare at its precision.
      if (Math.fround(v.paramValue) === Math.fround(wire)) finish(ok(decodeParam(v.paramValue, v.paramType, encoding)));
      else finish(err(deviceError('rejected', `PARAM_SET ${id}=${value}: the vehicle holds ${decodeParam(v.paramValue, v.paramType, encoding)}`)));
    }, () => {
      const m = new common.ParamSet();
      m.targetSystem = this.target.sysid;
      m.targetComponent = this.target.compid;
      m.paramId = id;
      m.paramValue = wire;
      m.paramType = type as unknown as common.MavParamType;
      return m;
    });
  }

  /** Reads `id` (PARAM_REQUEST_READ by id, param_index -1); resolves with the value the vehicle holds,
   *  decoded by `encoding`, or why it was not read (an id the vehicle does not know gets no answer). */
  get(id: string, encoding: ParamEncoding = 'c-cast'): Promise<Result<ParamReading, DeviceError>> {
    return this.request(`PARAM_REQUEST_READ ${id}`, id, (v, finish) => finish(ok({ value: decodeParam(v.paramValue, v.paramType, encoding), type: v.paramType as unknown as number })), () => {
      const m = new common.ParamRequestRead();
      m.targetSystem = this.target.sysid;
      m.targetComponent = this.target.compid;
      m.paramId = id;
      m.paramIndex = -1;
      return m;
    });
  }

  /** Sends `message()` until a PARAM_VALUE of `id` comes (handed to `onValue`), the retries run out or
   *  the FC is lost. */
  private request<T>(name: string, id: string, onValue: (v: common.ParamValue, finish: (r: Result<T, DeviceError>) => void) => void, message: () => common.ParamSet | common.ParamRequestRead): Promise<Result<T, DeviceError>> {
    if (id.length === 0 || id.length > 16) return Promise.resolve(err(deviceError('rejected', `parameter id "${id}" must be 1-16 characters`)));
    if (this.endpoint.isPeerLost(this.target.sysid, this.target.compid)) return Promise.resolve(err(deviceError('timeout', lostMessage(name, this.endpoint))));
    const busy = this.pending.get(id);
    if (busy) return Promise.resolve(err(deviceError('rejected', `${name}: ${busy.name} is still waiting for its PARAM_VALUE`)));
    return new Promise((resolve) => {
      let attempts = 0;
      let timer: NodeJS.Timeout | null = null;
      const finish = (r: Result<T, DeviceError>): void => {
        if (timer) clearTimeout(timer);
        this.pending.delete(id);
        resolve(r);
      };
      const send = (): void => {
        if (attempts > this.options.retries) {
          const signing = this.endpoint.signingMismatch();
          return finish(err(deviceError('timeout', `${name}: no PARAM_VALUE after ${attempts} attempts of ${this.options.timeoutMs} ms${signing === null ? '' : `; ${signing}`}`)));
        }
        this.endpoint.send(message());
        attempts++;
        timer = setTimeout(send, this.options.timeoutMs);
      };
      this.pending.set(id, { name, onValue: (v) => onValue(v, finish), fail: (why) => finish(err(deviceError('timeout', why))) });
      send();
    });
  }

  private onMessage({ msg, frame }: ReceivedMessage): void {
    if (!(msg instanceof common.ParamValue) || frame.sysid !== this.target.sysid) return;
    this.pending.get(msg.paramId.replace(/\0+$/, ''))?.onValue(msg);
  }
}
