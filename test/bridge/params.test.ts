// Reading parameters (ParamClient.get: PARAM_REQUEST_READ by id, answered by PARAM_VALUE) from the
// simulated flight controller, its own process on a socat pty, for both autopilots' encodings: values
// come back as the FC holds them; an id it does not know times out after the retries, naming them; a
// read of an id being written is refused at once; a lost FC fails a read at once, naming the loss;
// and a lost request is sent again (scripted FC in memory).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { common } from 'node-mavlink';
import { MavlinkEndpoint } from '../../firmware-bridge/mavlink/endpoint.js';
import { decodeParam, encodeParam, mavParamType, ParamClient } from '../../firmware-bridge/mavlink/params.js';
import { simFcRig, waitFor, type SimFcRig } from './companion.js';
import { memoryPair } from './memory-pair.js';

const hbMs = 200;
const fcTarget = { sysid: 1, compid: 1 };

describe('ParamClient.get against the simulated FC over a pty (ArduPilot: integers cast into the float)', () => {
  let rig: SimFcRig;
  let quick: ParamClient;

  beforeAll(async () => {
    rig = await simFcRig(['--autopilot', 'ardupilot', '--heartbeat-ms', String(hbMs)], hbMs);
    quick = new ParamClient(rig.endpoint, fcTarget, { timeoutMs: 200, retries: 2 });
    await waitFor('FC heartbeat', () => rig.vehicle.connected(), 5000);
  }, 30_000);

  afterAll(() => rig?.stop());

  it('reads the value the FC holds, with its type, and again after a write', async () => {
    expect(await rig.vehicle.params.get('FENCE_ENABLE')).toEqual({ ok: true, value: { value: 0, type: mavParamType.int32 } });
    expect((await rig.vehicle.setReturnAltitude(23)).ok).toBe(true);
    expect(await rig.vehicle.params.get('RTL_ALT')).toEqual({ ok: true, value: { value: 2300, type: mavParamType.int32 } });
    expect(await rig.vehicle.params.get('FENCE_ALT_MAX')).toEqual({ ok: true, value: { value: 100, type: mavParamType.real32 } });
  });

  it('an id the FC does not know: no PARAM_VALUE, a timeout naming the attempts', async () => {
    const t0 = Date.now();
    const r = await quick.get('NO_SUCH_PARAM');
    expect(r.ok ? r.value : r.error).toEqual({ code: 'timeout', message: 'PARAM_REQUEST_READ NO_SUCH_PARAM: no PARAM_VALUE after 3 attempts of 200 ms' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(600);
  });

  it('one request per id: a read while the same id is being written is refused at once, naming the write', async () => {
    const write = rig.vehicle.params.set('RTL_ALT', 2500, mavParamType.int32);
    const read = await rig.vehicle.params.get('RTL_ALT');
    expect(read.ok ? read.value : read.error).toEqual({ code: 'rejected', message: 'PARAM_REQUEST_READ RTL_ALT: PARAM_SET RTL_ALT is still waiting for its PARAM_VALUE' });
    expect((await write).ok).toBe(true);
    expect(await rig.vehicle.params.get('RTL_ALT')).toEqual({ ok: true, value: { value: 2500, type: mavParamType.int32 } });
    expect((await rig.vehicle.params.get('')).ok).toBe(false);
  });
});

describe('ParamClient.get when the FC is lost', () => {
  it('fails a read in flight when the link is declared lost, and one asked afterwards at once, naming the loss', async () => {
    const rig = await simFcRig(['--autopilot', 'px4', '--heartbeat-ms', String(hbMs)], hbMs);
    try {
      await waitFor('FC heartbeat', () => rig.vehicle.connected(), 5000);
      await rig.fc.stop();
      const stoppedAt = Date.now();
      // An unknown id: only the loss can end it before its 4 x 1 s of resends.
      const r = await rig.vehicle.params.get('NO_SUCH_PARAM');
      expect(!r.ok && r.error.message).toMatch(/^PARAM_REQUEST_READ NO_SUCH_PARAM: the flight controller was lost \(no HEARTBEAT for \d+ ms\)$/);
      expect(Date.now() - stoppedAt).toBeLessThan(4_000); // before its resends could have run out
      const askedAt = Date.now();
      const again = await rig.vehicle.params.get('RTL_RETURN_ALT');
      expect(!again.ok && again.error.message).toMatch(/^PARAM_REQUEST_READ RTL_RETURN_ALT: the flight controller was lost/);
      expect(Date.now() - askedAt).toBeLessThan(1_000); // not one resend timeout
    } finally {
      await rig.stop();
    }
  }, 30_000);
});

describe('ParamClient.get when a request is lost (scripted FC in memory)', () => {
  it('sends PARAM_REQUEST_READ again after the timeout, and takes the answer to the second', async () => {
    const [a, b] = memoryPair();
    const hb = () => ({ type: 2, autopilot: 12, baseMode: 0, customMode: 0, systemStatus: 3 });
    const ours = new MavlinkEndpoint({ transport: a, sysid: 245, compid: 191, heartbeat: hb });
    const fc = new MavlinkEndpoint({ transport: b, sysid: 1, compid: 1, heartbeat: hb });
    const asked: { id: string; index: number }[] = [];
    fc.onMessage(({ msg }) => {
      if (!(msg instanceof common.ParamRequestRead)) return;
      asked.push({ id: msg.paramId.replace(/\0+$/, ''), index: msg.paramIndex });
      if (asked.length === 1) return; // the first request is "lost"
      // PX4 sends an INT32's bytes in the float field.
      fc.send(Object.assign(new common.ParamValue(), { paramId: 'GF_ACTION', paramValue: encodeParam(3, mavParamType.int32, 'bytewise'), paramType: mavParamType.int32, paramCount: 1, paramIndex: 0 }));
    });
    const client = new ParamClient(ours, fcTarget, { timeoutMs: 100, retries: 3 });
    const r = await client.get('GF_ACTION', 'bytewise');
    expect(r).toEqual({ ok: true, value: { value: 3, type: mavParamType.int32 } });
    expect(asked).toEqual([{ id: 'GF_ACTION', index: -1 }, { id: 'GF_ACTION', index: -1 }]);
  });

  it('decodes as each autopilot encodes: ArduPilot casts (3 is 3.0), PX4 copies the bytes (3 is a 4e-45 float)', () => {
    expect(encodeParam(3, mavParamType.int8, 'c-cast')).toBe(3);
    const px4 = encodeParam(3, mavParamType.int32, 'bytewise');
    expect(px4).toBeGreaterThan(0);
    expect(px4).toBeLessThan(1e-44);
    expect(decodeParam(px4, mavParamType.int32, 'bytewise')).toBe(3);
    expect(decodeParam(encodeParam(-7, mavParamType.int32, 'bytewise'), mavParamType.int32, 'bytewise')).toBe(-7);
    expect(decodeParam(12.5, mavParamType.real32, 'bytewise')).toBe(12.5); // floats travel as themselves
  });
});
