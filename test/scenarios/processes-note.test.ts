// fleet-sim --processes runs a whole `murmur start` per device. The default scenario's twenty on the
// 2-vCPU VM fell ~60 s behind the wall clock and missed its expect (README, npm start): a run with more
// than four device processes a core says at start that it will likely fall behind, and one within
// that says nothing.

import { describe, expect, it } from 'vitest';
import { processesNote } from '../../fleet-sim/realtime/realtime-run.js';

describe('--processes on too few cores', () => {
  it('notes twenty device processes on two cores, and not eight', () => {
    expect(processesNote(20, 2)).toBe('note: 20 murmur processes on 2 cores, more than 4 a core: the run will likely fall behind real time, and timing expectations (maxStall, committedFraction) may fail for that alone');
    expect(processesNote(8, 2)).toBeNull();
    expect(processesNote(20, 8)).toBeNull();
  });
});
