// The simulated flight controller's parameters, under its autopilot's names and units: the return
// altitude (ArduPilot RTL_ALT in centimetres, PX4 RTL_RETURN_ALT in metres), the fence ceiling
// (FENCE_ALT_MAX, GF_MAX_VER_DIST; metres, 0 off) and on ArduPilot FENCE_ENABLE (0/1) and FENCE_TYPE
// (bitmask), and the fence's breach action (ArduPilot FENCE_ACTION, INT8; PX4 GF_ACTION, INT32). The
// values travel as each autopilot encodes them (params.ts: ArduPilot casts integers into the float
// field, PX4 copies their bytes). The parameter protocol (mavlink.io/en/services/parameter.html): PARAM_SET answers with
// PARAM_VALUE holding the value now in force (the old one when refused, with a STATUSTEXT saying why);
// an unknown id gets no answer, as on a real autopilot.

import { common, type MavLinkData } from 'node-mavlink';
import type { SimMultirotor } from '../../hal/sim/multirotor.js';
import type { AutopilotFamily } from '../mavlink/modes.js';
import { decodeParam, encodeParam, mavParamType, paramEncoding, returnAltitudeParam, type MavParamTypeUsed } from '../mavlink/params.js';
import { fenceActionParam, fenceAltitudeParam } from '../mavlink/fence.js';
import type { SimFence } from './sim-fence.js';
import { statusText } from './telemetry.js';

export interface SimParam {
  readonly id: string;
  readonly type: MavParamTypeUsed;
  get(): number;
  /** Applies a value; why it was refused, or null. */
  set(v: number): string | null;
}

/** A parameter's value as the FC keeps it: read, and set (why it was refused, or null). */
export interface SimValue {
  get(): number;
  set(v: number): string | null;
}

/** The table, in index order. `fenceChanged` is told when a fence parameter changed; `breachAction`
 *  is the fence action's value (sim-fc.ts keeps it: a breach runs it). */
export function simParams(family: AutopilotFamily, vehicle: SimMultirotor, fence: SimFence, fenceChanged: () => void, breachAction: SimValue): SimParam[] {
  const ret = returnAltitudeParam(family, 0);
  const fenceAlt = fenceAltitudeParam(family, 0);
  const scale = family === 'ardupilot' ? 100 : 1;
  const table: SimParam[] = [
    {
      id: ret.id,
      type: ret.type,
      get: () => vehicle.returnAltitude() * scale,
      set: (v) => {
        const r = vehicle.setReturnAltitude(v / scale);
        return r.ok ? null : r.error;
      },
    },
    {
      id: fenceAlt.id,
      type: fenceAlt.type,
      get: () => fence.altMax() ?? 0,
      set: (v) => {
        if (!Number.isFinite(v) || v < 0 || v > 10_000) return `${v} is not in 0..10000 m`;
        fence.setAltMax(v === 0 ? null : v);
        fenceChanged();
        return null;
      },
    },
    { ...fenceActionParam(family), get: () => breachAction.get(), set: (v) => breachAction.set(v) },
  ];
  if (family !== 'ardupilot') return table;
  table.push(
    {
      id: 'FENCE_ENABLE',
      type: mavParamType.int32,
      get: () => (fence.status().enabled ? 1 : 0),
      set: (v) => {
        if (v !== 0 && v !== 1) return `${v} is not 0 or 1`;
        fence.setEnabled(v === 1);
        fenceChanged();
        return null;
      },
    },
    {
      id: 'FENCE_TYPE',
      type: mavParamType.int32,
      get: () => fence.typesBits(),
      set: (v) => {
        if (!Number.isInteger(v) || v < 0 || v > 15) return `${v} is not a bitmask of 0..15`;
        fence.setTypes(v);
        return null;
      },
    },
  );
  return table;
}

/** Answers one PARAM_SET or PARAM_REQUEST_READ (by index when it gives one, else by id), its values
 *  encoded as `family`'s autopilot does. */
export function answerParam(family: AutopilotFamily, table: readonly SimParam[], m: common.ParamSet | common.ParamRequestRead, send: (msg: MavLinkData) => void): void {
  const encoding = paramEncoding(family);
  const id = m.paramId.replace(/\0+$/, '');
  const index = m instanceof common.ParamRequestRead && m.paramIndex >= 0 ? m.paramIndex : table.findIndex((p) => p.id === id);
  const p = table[index];
  if (p === undefined) return;
  if (m instanceof common.ParamSet) {
    const why = p.set(decodeParam(m.paramValue, p.type, encoding));
    if (why !== null) send(statusText(`${p.id}: ${why}`, 4));
  }
  const v = new common.ParamValue();
  v.paramId = p.id;
  v.paramValue = encodeParam(p.get(), p.type, encoding);
  v.paramType = p.type as unknown as common.MavParamType;
  v.paramCount = table.length;
  v.paramIndex = index;
  send(v);
}
