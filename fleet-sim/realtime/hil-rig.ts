// Hardware in the loop for real-time mode: for each chosen node, a socat pty pair and the simulated
// flight controller (`npm run sim-fc`, firmware-bridge/sim-fc) as its own process on one end. The
// device opens the other end through the HAL's MAVLink driver (device.yaml hal.driver: mavlink), so
// the node's mission is flown by the FC over MAVLink 2 instead of by the simulated multirotor.

import { join } from 'node:path';
import { startPtyPair, startSimFc, type PtyPair, type SimFcProcess } from '../../firmware-bridge/tools/processes.js';
import type { HilModel } from '../scenario/scenario.js';

/** The FC side runs at a UART rate a companion link uses (MAVLink over a Pi's serial port). */
export const hilBaud = 921_600;

/** The fence a simulated FC reports holding (firmware-bridge/sim-fc/sim-fence.ts FenceStatus). */
export interface HilFence {
  readonly vertices: number;
  readonly polygonE7: readonly (readonly [number, number])[];
  /** The keep-out circles it holds, [latE7, lonE7, radiusM] each. */
  readonly circles: readonly (readonly [number, number, number])[];
  readonly altMaxM: number | null;
  readonly enabled: boolean;
  readonly breached: string | null;
  readonly breachCount: number;
}

export interface HilReport {
  readonly node: number;
  readonly fcPid: number;
  readonly autopilot: string;
  readonly fence: HilFence | null;
}

export interface HilNode {
  readonly node: number;
  readonly pty: PtyPair;
  readonly fc: SimFcProcess;
}

export class HilRig {
  readonly nodes = new Map<number, HilNode>();

  /** `launchRoot`: the clone or release whose bin/sim-fc.js starts each FC (a test's compiled tree);
   *  default: the one this module is in (firmware-bridge/tools/processes.ts). */
  constructor(
    private readonly model: HilModel,
    private readonly seed: number,
    private readonly launchRoot?: string,
  ) {}

  async start(): Promise<void> {
    try {
      for (const node of this.model.nodes) {
        if (this.nodes.has(node)) continue;
        const pty = await startPtyPair();
        const fc = await startSimFc(['--serial', pty.b, '--baud', String(hilBaud), '--autopilot', this.model.autopilot, '--seed', String(this.seed + node)], ...(this.launchRoot !== undefined ? [join(this.launchRoot, 'bin', 'sim-fc.js')] : [])).catch(async (e: unknown) => {
          await pty.stop();
          throw e;
        });
        this.nodes.set(node, { node, pty, fc });
      }
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  /** The serial device node i's MAVLink driver opens, or undefined when i flies the simulated multirotor. */
  path(i: number): string | undefined {
    return this.nodes.get(i)?.pty.a;
  }

  /** Each FC process and its pid, for the report, with the fence the FC holds (its newest {"fence"}
   *  line: what the device's MAVLink driver uploaded), or null when it holds none. */
  describe(): HilReport[] {
    return [...this.nodes.values()].map((n) => {
      const fence = n.fc
        .lines()
        .filter((l): l is { fence: HilFence } => typeof l === 'object' && l !== null && 'fence' in l)
        .at(-1)?.fence;
      return { node: n.node, fcPid: n.fc.pid, autopilot: this.model.autopilot, fence: fence ?? null };
    });
  }

  async stop(): Promise<void> {
    for (const n of [...this.nodes.values()].reverse()) {
      await n.fc.stop();
      await n.pty.stop();
    }
    this.nodes.clear();
  }
}
