// The built-in hazard agent on every simulated drone, as the device runtime runs it (runtime/device/
// agents-setup.ts): a real AgentScheduler with hazard-detect (pure-TypeScript engine on the shipped
// model, rules as the fallback), fed the drone's simulated range ring, position and the committed view.
// Its attestations are signed with the device's key and submitted like a device's (gossiped on its
// links, into its own mempool). Devices with an agent Byzantine behaviour run no detector and sign lies
// instead: fake-hazard attests cells where nothing stands, deny-hazard denies the real ones.
// Agents are asynchronous, so the world pauses at every agent period (a barrier at a fixed virtual time)
// and awaits every tick before it goes on: the outcome never depends on how the run is sliced.

import { signedAttestationSink } from '../../agents/api/attest-sink.js';
import type { AgentInputs, CommittedView } from '../../agents/api/agent.js';
import { AgentScheduler } from '../../agents/api/scheduler.js';
import { MemoryStateStore } from '../../agents/api/state-store.js';
import { cellOf, hazardDetectAgent } from '../../agents/builtin/hazard-detect.js';
import { committedHazards } from '../../agents/swarm/hazard-commit.js';
import type { Prng } from '../../runtime/lib/prng.js';
import type { Signer } from '../../runtime/crypto/sodium.js';
import { encodeAttestationBody } from '../../runtime/wire/attestation.js';
import { sealEnvelope } from '../../runtime/wire/envelope.js';
import { agentBehaviors, type AgentBehavior, type Scenario } from '../scenario/scenario.js';
import type { SimNode, World } from '../sim/world.js';
import type { WorldFlight } from './world-flight.js';
import { hazardCellM } from '../../agents/swarm/hazard-commit.js';

/** The hazard agent's period (agents/builtin/hazard-detect.ts) and the barrier step of the world. */
export const agentPeriodMs = 200;
/** The map grid the device runtime attests on. */
export { hazardCellM };
/** Liars sign every second, as often as a detector re-attests a cell it keeps seeing. */
/** Agent liars sign a round of lies this often (real-time mode too). */
export const lieEveryMs = 1_000;
const fakeCellsCount = 3;

/** Whether the world runs agents: something to detect, or someone lying about it. */
export function scenarioHasAgents(s: Scenario): boolean {
  return (s.world?.hazards.length ?? 0) > 0 || s.faults.some((f) => f.kind === 'byzantine' && (agentBehaviors as readonly string[]).includes(f.behavior));
}

interface DeviceAgent {
  readonly node: SimNode;
  readonly scheduler: AgentScheduler;
  readonly outbox: Uint8Array[];
}

/** The cells fake-hazard liars attest: somewhere near the scenario's first hazard (or 100 m out), where
 *  a lie would move the whole fleet. Real-time mode draws them the same way, from a stream of its own. */
export function fakeHazardCells(s: Scenario, prng: Prng): (readonly [number, number])[] {
  const area = s.world?.hazards[0] ?? { northM: 100, eastM: 100 };
  return Array.from({ length: fakeCellsCount }, () => cellOf(area.northM + prng.range(-60, 60), area.eastM + prng.range(-60, 60), hazardCellM));
}

/** The cells deny-hazard liars deny: every real hazard's, and every one committed so far. */
export function deniedHazardCells(s: Scenario, committed: readonly (readonly [number, number])[]): (readonly [number, number])[] {
  return [...(s.world?.hazards ?? []).map((h) => cellOf(h.northM, h.eastM, hazardCellM)), ...committed];
}

/** One liar's signed attestation: a confident sighting (fake-hazard) or denial (deny-hazard) of `cell`. */
export function lieAttestation(fleet: string, id: string, signer: Signer, how: AgentBehavior, cell: readonly [number, number], nowMs: number, basis: number): Uint8Array {
  const body = { agent: 'hazard-detect', observedAt: nowMs, basis, obs: { type: 'hazard' as const, cell: [cell[0], cell[1]] as const, present: how === 'fake-hazard', confidencePerMille: 1000 } };
  return sealEnvelope('attestation', fleet, id, encodeAttestationBody(body), signer);
}

export class WorldAgents {
  private readonly devices: DeviceAgent[];
  private next = 0;
  /** Cells the fake-hazard liars agree on (all of them, so their lies add up as far as they can). */
  readonly fakeCells: (readonly [number, number])[];
  /** Attestations signed: by honest detectors, and lies. */
  attested = 0;
  lies = 0;

  constructor(
    private readonly w: World,
    private readonly flight: WorldFlight,
    prng: Prng,
  ) {
    this.devices = w.nodes.map((node) => {
      const outbox: Uint8Array[] = [];
      const scheduler = new AgentScheduler({
        store: new MemoryStateStore(),
        act: () => undefined, // the flight layer's own reflexes fly the drone; hazards go through consensus
        attest: signedAttestationSink(w.fleet, node.id, node.signer, (env) => outbox.push(env)),
        cpuClock: () => 0, // simulated CPU: an agent never overruns its budget by the host's load
      });
      scheduler.add(hazardDetectAgent({ prefer: ['pure-ts', 'rules'], cellM: hazardCellM }));
      return { node, scheduler, outbox };
    });
    this.fakeCells = fakeHazardCells(w.scenario, prng);
  }

  async start(): Promise<void> {
    for (const d of this.devices) await d.scheduler.start(this.w.now());
    this.next = agentPeriodMs;
  }

  /** The next virtual time the world must stop at for the agents. */
  nextTickAt(): number {
    return this.next;
  }

  private view(): CommittedView {
    const chain = this.w.honestChainNode()?.shell?.core.chain;
    const validators = chain ? chain.manifestAt(chain.height).body.validators.length : this.w.scenario.validators;
    const fence = this.w.scenario.world?.geofence;
    return {
      height: this.flight.appliedHeight(),
      f: Math.floor((validators - 1) / 3),
      hazards: committedHazards(this.flight.swarm.hazards),
      cellM: hazardCellM,
      geofence: fence ? fence.map(([northM, eastM]) => ({ northM, eastM })) : null,
      home: { northM: 0, eastM: 0 },
      models: {},
    };
  }

  /** One agent period at virtual time t: every live drone's agents tick, liars lie, attestations go out. */
  async tick(t: number): Promise<void> {
    this.next = t + agentPeriodMs;
    const committed = this.view();
    const nowMs = this.w.now();
    for (const d of this.devices) {
      const n = d.node;
      if (n.shell === null) continue; // a stopped process runs no agents
      if (n.byzantine === 'fake-hazard' || n.byzantine === 'deny-hazard') {
        if (t % lieEveryMs === 0) this.lie(n, n.byzantine, committed);
        continue;
      }
      const drone = this.flight.layer.drones[n.index];
      if (!drone) continue;
      const st = drone.sim.state();
      const inputs: AgentInputs = {
        nowMs,
        range: drone.sim.rangeReadings(),
        position: { timeMs: nowMs, northM: st.northM, eastM: st.eastM, altM: st.upM, headingRad: st.yawRad, velocityNorthMps: st.velocityNed.x, velocityEastMps: st.velocityNed.y },
        committed,
      };
      await d.scheduler.tick(inputs);
    }
    for (const d of this.devices) {
      for (const env of d.outbox.splice(0)) {
        this.attested++;
        if (d.node.shell) this.w.submitTx(d.node, env);
      }
    }
  }

  /** A liar signs with its real key: confident sightings of fake cells, or denials of real ones. */
  private lie(n: SimNode, how: AgentBehavior, committed: CommittedView): void {
    const cells = how === 'fake-hazard' ? this.fakeCells : deniedHazardCells(this.w.scenario, committed.hazards);
    for (const cell of cells) {
      this.lies++;
      this.w.submitTx(n, lieAttestation(this.w.fleet, n.id, n.signer, how, cell, this.w.now(), committed.height));
    }
  }

  async stop(): Promise<void> {
    for (const d of this.devices) await d.scheduler.stop(this.w.now());
  }
}
