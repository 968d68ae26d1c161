// A Byzantine node in real time: the real device runtime in the fleet-sim process, with the
// deterministic simulator's behaviour wrappers (fleet-sim/sim/byzantine.ts) around its outgoing
// consensus traffic. The honest code runs and signs; the wrapper lies with the node's real key from
// the moment the scenario's fault turns it on. Never a flag on `murmur start`: only the Device's
// programmatic hooks carry it, and only fleet-sim sets them.

import type { Signer } from '../../runtime/crypto/sodium.js';
import type { DeviceHooks } from '../../runtime/device/device.js';
import { Prng } from '../../runtime/lib/prng.js';
import { byzantineSend, rememberReceived, type ByzantineContext } from '../sim/byzantine.js';
import { agentBehaviors, type AgentBehavior, type Behavior } from '../scenario/scenario.js';
import { lieAttestation } from '../flight/world-agents.js';
import { decodeEnvelope } from '../../runtime/wire/envelope.js';

/** The behaviours a wrapper can carry out; twins and amnesia are about identity and disk (FleetProcs.twin
 *  and FleetProcs.forget). The agent behaviours (fake-hazard, deny-hazard) leave consensus honest and
 *  lie in attestations instead, as in deterministic mode (fleet-sim/flight/world-agents.ts). */
export const realtimeBehaviors: readonly Behavior[] = ['equivocate', 'silent', 'forge', 'replay', 'flood', 'invalid-block', 'wrong-proposer', 'forge-snapshot', ...agentBehaviors];

const isAgentBehavior = (b: Behavior | null): b is AgentBehavior => b !== null && (agentBehaviors as readonly string[]).includes(b);

export interface ByzantineDeviceOptions {
  readonly index: number;
  readonly fleet: string;
  /** Every node id by index (validators first). */
  readonly ids: readonly string[];
  readonly validators: number;
  readonly seed: number;
}

/** One node's switch: honest until `turn` is called, then every consensus send goes through the behaviour. */
export class ByzantineDevice {
  behavior: Behavior | null = null;
  /** Consensus messages the honest code handed over since the behaviour began, and what left the node. */
  readonly counts = { honest: 0, sent: 0 };
  private ctx: ByzantineContext | null = null;
  /** The device's own tx submit and key, once it wired them (agent behaviours lie through them). */
  private submit: ((envelope: Uint8Array) => void) | null = null;
  private signer: Signer | null = null;
  /** Attestations signed as lies. */
  lies = 0;
  private readonly indexOf: Map<string, number>;

  constructor(private readonly o: ByzantineDeviceOptions) {
    this.indexOf = new Map(o.ids.map((id, i) => [id, i]));
  }

  turn(behavior: Behavior): void {
    this.behavior = behavior;
    if (this.ctx) this.ctx = { ...this.ctx, behavior, received: [], resigned: new Set() };
  }

  /** The Device hooks for this node; `signer` is the node's own key (from openDevice). */
  hooks(signer: Signer): DeviceHooks {
    const { index, ids, validators } = this.o;
    const id = ids[index] as string;
    // A restarted device wires its own submit on its first transaction: until then, no lies.
    this.submit = null;
    this.signer = null;
    return {
      consensusSend: (send) => {
        this.ctx = {
          behavior: this.behavior ?? 'equivocate',
          id,
          fleet: this.o.fleet,
          signer,
          prng: new Prng(this.o.seed).split(`byz-${index}`),
          peers: ids.map((_, i) => i).filter((i) => i !== index),
          otherIds: ids.slice(0, validators).filter((x) => x !== id),
          sendRaw: (to, bytes) => {
            this.counts.sent++;
            send(to === null ? null : (ids[to] ?? null), bytes);
          },
          received: [],
          resigned: new Set(),
        };
        return (to, bytes) => {
          const ctx = this.ctx;
          if (this.behavior === null || ctx === null || isAgentBehavior(this.behavior)) return send(to, bytes);
          this.counts.honest++;
          byzantineSend(ctx, to === null ? null : (this.indexOf.get(to) ?? null), bytes);
        };
      },
      // A silent validator withholds its announced blocks too, as in deterministic mode.
      announce: (announce) => (envelope) => (this.behavior === 'silent' ? false : announce(envelope)),
      received: (bytes) => {
        if (this.behavior !== null && this.ctx) rememberReceived(this.ctx, bytes);
      },
      txSubmit: (submit) => {
        this.submit = submit;
        this.signer = signer;
        // A liar's own hazard agent is silenced, as in deterministic mode: only its lies go out.
        return (envelope) => {
          if (isAgentBehavior(this.behavior)) {
            const e = decodeEnvelope(envelope);
            if (e.ok && e.value.kind === 'attestation') return;
          }
          submit(envelope);
        };
      },
    };
  }

  /** One round of lies, signed with the device's real key: sightings of `cells` (fake-hazard) or
   *  denials (deny-hazard). Nothing before the behaviour is turned on or the device has started. */
  lie(cells: readonly (readonly [number, number])[], nowMs: number, basis: number): void {
    const how = this.behavior;
    if (!isAgentBehavior(how) || this.submit === null || this.signer === null) return;
    const id = this.o.ids[this.o.index] as string;
    for (const cell of cells) {
      this.lies++;
      this.submit(lieAttestation(this.o.fleet, id, this.signer, how, cell, nowMs, basis));
    }
  }

  /** The agent behaviour this device is carrying out, if any. */
  get agentBehavior(): AgentBehavior | null {
    return isAgentBehavior(this.behavior) ? this.behavior : null;
  }
}
