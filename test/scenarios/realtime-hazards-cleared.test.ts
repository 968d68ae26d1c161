// Real-time mode's hazards on the dashboard (fleet-sim/realtime/realtime-hazards.ts): a cell comes on
// the map as the devices' status lists it, and goes off it on the decision log's hazard.cleared row
// (the status lists only what is committed, not who cleared it). A device whose status still lists the
// cell after the clear (it has not applied that height yet) does not bring it back; a fresh commit does.

import { describe, expect, it } from 'vitest';
import { RealtimeHazards } from '../../fleet-sim/realtime/realtime-hazards.js';
import type { StatusJson } from '../../runtime/device/control-topics.js';

const mast = { northM: 22.5, eastM: 22.5, radiusM: 4, heightM: 60 };
const status = (committedAt: number): StatusJson => ({ hazards: [{ cell: [4, 4], northM: 22.5, eastM: 22.5, committedAt, attesters: ['v1', 'v2'] }] }) as unknown as StatusJson;
const row = { command: 'hazard/4,4', height: 30, reason: 'cell 4,4 at [22.5, 22.5] m cleared by boss (hazard.clear boss/01)' };

describe('real-time hazards on the dashboard', () => {
  it('a hazard.clear takes the committed mast off the map, says who, and a lagging status does not bring it back', () => {
    const hz = new RealtimeHazards([mast], (id) => (id === 'v1' ? 1 : id === 'v2' ? 2 : undefined));
    expect(hz.observe(status(20), 1_000).filter((e) => e.t === 'hazard')).toMatchObject([{ id: 'h0', status: 'committed', by: 1 }]);
    const cleared = hz.cleared(row, 2_000);
    expect(cleared).toMatchObject([
      { t: 'hazard', id: 'h0', status: 'cleared', how: 'by boss (hazard.clear boss/01)' },
      { t: 'log', text: 'hazard h0 cleared by boss (hazard.clear boss/01) at height 30' },
    ]);
    // Another device's copy of the row, and a device not yet at height 30: nothing.
    expect(hz.cleared(row, 2_100)).toEqual([]);
    expect(hz.observe(status(20), 2_200)).toEqual([]);
    // Sighted and committed again after the clear: back on the map.
    expect(hz.observe(status(41), 3_000).filter((e) => e.t === 'hazard')).toMatchObject([{ id: 'h0', status: 'committed' }]);
    // The report still counts the site as committed during the run.
    expect(hz.report().sites[0]?.committedHeight).toBe(20);
  });
});
