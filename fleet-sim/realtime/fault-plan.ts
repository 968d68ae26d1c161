// Which device may reach which, and with what loss, at a moment of a real-time run: the scenario's
// partitions (symmetric groups and one-way cuts), loss windows and base link loss, read from its fault
// list by time. The embedded broker asks it per MQTT delivery and the radio medium per packet copy,
// so one scenario fault cuts both links, as in the deterministic world (fleet-sim/sim/network.ts).

import { Prng } from '../../runtime/lib/prng.js';
import type { Fault, Scenario } from '../scenario/scenario.js';

type Window<K extends Fault['kind']> = Extract<Fault, { kind: K }>;

export class FaultPlan {
  private readonly partitions: Window<'partition'>[];
  private readonly oneWay: Window<'one-way'>[];
  private readonly losses: Window<'loss'>[];
  private readonly prng: Prng;
  /** MQTT deliveries dropped by a partition and by loss (counted for the report). */
  readonly dropped = { cut: 0, lost: 0 };

  constructor(
    private readonly s: Scenario,
    /** Milliseconds since the run started. */
    private readonly now: () => number,
  ) {
    this.partitions = s.faults.filter((f): f is Window<'partition'> => f.kind === 'partition');
    this.oneWay = s.faults.filter((f): f is Window<'one-way'> => f.kind === 'one-way');
    this.losses = s.faults.filter((f): f is Window<'loss'> => f.kind === 'loss');
    this.prng = new Prng(s.seed ^ 0xfa017);
  }

  /** True when some fault of this plan acts on links (so an external broker cannot apply it). */
  get hasLinkFaults(): boolean {
    return this.partitions.length + this.oneWay.length + this.losses.length > 0 || this.s.mqtt.loss > 0;
  }

  /** Cut between two devices now, and the loss that a scenario `loss` window adds (0 outside one). */
  reach(from: number, to: number): { cut: boolean; loss: number } {
    const t = this.now();
    const active = <F extends { at: number; until: number }>(xs: readonly F[]): F[] => xs.filter((f) => f.at <= t && t < f.until);
    // The partition in force (the parser refuses two at once); nodes it does not list reach everyone.
    const p = active(this.partitions).at(-1);
    let cut = false;
    if (p) {
      const ga = p.groups.findIndex((g) => g.includes(from));
      const gb = p.groups.findIndex((g) => g.includes(to));
      cut = ga >= 0 && gb >= 0 && ga !== gb;
    }
    if (!cut) cut = active(this.oneWay).some((f) => f.from.includes(from) && f.to.includes(to));
    return { cut, loss: active(this.losses).at(-1)?.loss ?? 0 };
  }

  /** One MQTT delivery between devices: false drops it (a partition, the scenario's loss). */
  forward(from: number, to: number): boolean {
    const r = this.reach(from, to);
    if (r.cut) {
      this.dropped.cut++;
      return false;
    }
    // A loss window replaces the base MQTT loss, as lossOverride does in the deterministic network.
    const loss = r.loss > 0 ? r.loss : this.s.mqtt.loss;
    if (loss > 0 && this.prng.next() < loss) {
      this.dropped.lost++;
      return false;
    }
    return true;
  }

  /** The faults an external broker cannot apply, one line each. */
  notApplicable(): string[] {
    const at = (ms: number): string => `${ms / 1000}s`;
    return [
      ...this.partitions.map((f) => `partition at ${at(f.at)}`),
      ...this.oneWay.map((f) => `one-way partition at ${at(f.at)}`),
      ...this.losses.map((f) => `loss ${f.loss} at ${at(f.at)}`),
      ...(this.s.mqtt.loss > 0 ? [`links.mqtt.loss ${this.s.mqtt.loss}`] : []),
    ];
  }
}
