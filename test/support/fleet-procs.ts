// A FleetProcs fleet for one test file: set up before its tests, torn down (every device stopped by
// PID, the directory removed) after them.

import { afterAll, beforeAll } from 'vitest';
import { FleetProcs, type FleetProcsOptions } from '../../fleet-sim/realtime/fleet-procs.js';
import { cliRoot } from './run-cli.js';

export function fleetForFile(o: FleetProcsOptions): FleetProcs {
  const fleet = new FleetProcs({ launchRoot: cliRoot(), ...o });
  beforeAll(() => fleet.setup(), 30_000);
  afterAll(() => fleet.teardown(), 30_000);
  return fleet;
}
