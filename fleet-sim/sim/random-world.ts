// A random world from one seed, for `fleet-sim seeds`: fleet size, link quality, and a fault mix
// that stays within the model (at most f Byzantine or crashed validators, so safety AND liveness
// must hold; a validator whose clock is off by more than a block may be ahead counts among them). The same seed always yields the same scenario.

import { Prng } from '../../runtime/lib/prng.js';
import { agentBehaviors, behaviors, nodeId, type Behavior, type Fault, type Scenario, type Workload } from '../scenario/scenario.js';
import { forgeryKinds } from './forged-commands.js';

/** How long a random world runs unless `fleet-sim seeds --seconds` says otherwise. */
export const randomWorldMs = 8_000;

export function randomScenario(seed: number, durationMs = randomWorldMs): Scenario {
  const p = new Prng(seed).split('scenario');
  // One world in ten has ten validators (three may be faulty); its own stream decides, so the others'
  // draws are what they were before it came.
  const drawn = p.pick([4, 4, 4, 5, 7]);
  const validators = new Prng(seed).split('size').chance(0.1) ? 10 : drawn;
  const followers = p.int(3);
  const f = Math.floor((validators - 1) / 3);
  const faults: Fault[] = [];
  const faulty = p.shuffle([...Array(validators).keys()]).slice(0, f);
  for (const node of faulty) {
    const at = p.range(500, durationMs - 1_000);
    if (p.chance(0.6)) faults.push({ at, kind: 'byzantine', node, behavior: p.pick(behaviors) as Behavior });
    else {
      faults.push({ at, kind: 'crash', node });
      if (p.chance(0.7)) faults.push({ at: at + p.range(200, 3_000), kind: 'restart', node, wal: p.chance(0.5) ? 'torn' : 'intact' });
    }
  }
  const all = [...Array(validators + followers).keys()];
  for (let i = p.int(3); i > 0; i--) {
    const at = p.range(0, durationMs - 500);
    const until = at + p.range(100, 2_500);
    const kind = p.int(4);
    const shuffled = p.shuffle([...all]);
    const cut = 1 + p.int(all.length - 1);
    if (kind === 0) faults.push({ at, kind: 'partition', groups: [shuffled.slice(0, cut), shuffled.slice(cut)], until });
    else if (kind === 1) faults.push({ at, kind: 'one-way', from: shuffled.slice(0, cut), to: shuffled.slice(cut), until });
    else if (kind === 2) faults.push({ at, kind: 'broker-down', until });
    else faults.push({ at, kind: 'loss', loss: p.pick([0.3, 0.5, 0.9]), until });
  }
  // A third of the worlds also have an attacker publishing forged commands (safety: none commits). Its
  // own stream of draws, so the rest of each world is what it was before attackers were added.
  const a = new Prng(seed).split('attacker');
  if (a.chance(1 / 3)) {
    const at = a.range(200, durationMs - 2_000);
    faults.push({ at, kind: 'forged-commands', perSec: a.pick([2, 5, 10]), until: at + a.range(500, 1_500), kinds: [...forgeryKinds] });
  }
  // Clocks, from a stream of their own as well. Half the worlds have every node's clock a few seconds
  // off true time, within what a block may be ahead (no node's vote is lost to that); and a validator
  // restarted after a crash may come back with its clock minutes slow or fast (a board without a
  // real-time clock): it was one of the f faulty ones already, so liveness must still hold.
  const c = new Prng(seed).split('clocks');
  if (c.chance(0.5)) for (const node of all) faults.push({ at: 0, kind: 'clock', node, offsetMs: c.range(-10_000, 10_000) });
  for (const r of faults.filter((x): x is Extract<Fault, { kind: 'restart' }> => x.kind === 'restart')) {
    if (typeof r.node === 'number' && c.chance(0.3)) faults.push({ at: r.at - 1, kind: 'clock', node: r.node, offsetMs: c.pick([-1, 1]) * c.range(40_000, 300_000) });
  }
  // The link and the command rate are the first stream's last draws, in this order: drawn anywhere
  // else, every world would change.
  const mqtt = { latencyMs: p.range(1, 20), jitterMs: p.range(0, 15), loss: p.pick([0, 0, 0.01, 0.05, 0.1]), duplicate: p.pick([0, 0.01, 0.05]) };
  const workload: Workload[] = [{ kind: 'rate', from: 200, to: durationMs - 500, perSec: p.pick([5, 10, 20]), command: 'noop' }];
  // A validator-set change, a radio on every device and a follower's long outage, each from a stream of
  // its own too. The change swaps a validator for a follower (or, of four, adds one: five still
  // tolerate one fault), so the faulty stay within f of the new set as of the old.
  const v = new Prng(seed).split('validator-set');
  let promoted = -1;
  if (followers > 0 && v.chance(0.3)) {
    promoted = validators + v.int(followers);
    // The one demoted may be a faulty one: a liar that is no longer a validator must be ignored as one.
    const demoted = validators === 4 && v.chance(0.3) ? -1 : v.int(validators);
    const keep = (i: number): boolean => i !== demoted && (i < validators || i === promoted);
    workload.push({ kind: 'fleet-update', at: v.range(1_000, Math.max(1_001, durationMs - 2_500)), validators: all.filter(keep), followers: all.filter((i) => !keep(i)) });
  }
  const r = new Prng(seed).split('radio');
  const links: Pick<Scenario, 'radio' | 'linkPolicy'> = r.chance(0.25)
    ? { radio: { baud: r.pick([57_600, 115_200]), mtuBytes: 252, loss: r.pick([0, 0.02, 0.1]), rangeM: 1_000, hopLimit: r.pick([1, 2, 3]) }, linkPolicy: { consensus: r.pick(['all', 'first'] as const) } }
    : {};
  const o = new Prng(seed).split('outage');
  const spare = all.filter((i) => i >= validators && i !== promoted);
  if (spare.length > 0 && durationMs >= 20_000 && o.chance(0.3)) {
    const node = o.pick(spare);
    const at = o.range(500, durationMs / 2);
    faults.push({ at, kind: 'crash', node }, { at: at + o.range(5_000, durationMs / 2), kind: 'restart', node, wal: o.chance(0.5) ? 'torn' : 'intact' });
  }
  // Power cuts: a quarter of the worlds restart honest nodes where they run, one to three times, each
  // losing what it had not fsynced (holes: every unsynced sector kept or lost; torn: the tail cut). A
  // restart is no fault (the node keeps its promises through its signer state), so it is not counted in f.
  const cuts = new Prng(seed).split('power');
  if (cuts.chance(0.25)) {
    const down = new Set(faults.flatMap((x) => (x.kind === 'crash' || x.kind === 'byzantine') && typeof x.node === 'number' ? [x.node] : []));
    const honest = all.filter((i) => !down.has(i));
    for (let k = 1 + cuts.int(3); k > 0 && honest.length > 0; k--) faults.push({ at: cuts.range(500, durationMs - 1_000), kind: 'restart', node: cuts.pick(honest), wal: cuts.pick(['holes', 'torn'] as const) });
  }
  // Missions: a few operator commands at random moments, any of them refused or not, so the mission
  // machine and each device's executor run under the faults above (every node must reach the same state).
  const m = new Prng(seed).split('missions');
  if (m.chance(0.3)) {
    const ids = all.map((i) => nodeId(i, validators));
    const point = (): [number, number] => [m.range(-50, 300), m.range(-50, 300)];
    const some = (): string[] => m.shuffle([...ids]).slice(0, 1 + m.int(Math.min(3, ids.length)));
    const replace = (): { replace?: true } => (m.chance(0.5) ? { replace: true } : {});
    const commands: (() => [string, Record<string, unknown>])[] = [
      () => {
        const [n, e] = [m.range(60, 300), m.range(60, 300)];
        return ['mission.survey', { area: [[0, 0], [0, e], [n, e], [n, 0]], spacingM: m.range(15, 40), altM: m.range(20, 40), speedMps: m.range(5, 12), ...replace() }];
      },
      () => ['mission.goto', { waypoints: Array.from({ length: 1 + m.int(3) }, point), nodes: some(), altM: m.range(20, 40), ...replace() }],
      () => ['formation', { shape: m.pick(['line', 'grid', 'circle']), center: point(), altM: m.range(20, 40), ...replace() }],
      () => ['hold', {}],
      () => ['resume', {}],
      () => ['rtl', m.chance(0.5) ? { nodes: some() } : {}],
      () => ['land', m.chance(0.5) ? { nodes: some() } : {}],
      () => ['abort', {}],
      () => ['geofence.set', { polygon: [[-400, -400], [-400, 700], [700, 700], [700, -400]], altMaxM: m.range(60, 120) }],
    ];
    for (let k = 2 + m.int(5); k > 0; k--) {
      const [command, args] = m.pick(commands)();
      workload.push({ kind: 'once', at: m.range(300, durationMs - 1_000), command, args });
    }
  }
  // Obstacles: in a third of the longer worlds a survey over a field with a mast or two in it, so the
  // drones' range sensors and hazard agents run, and half the Byzantine validators lie about hazards
  // instead (at most f liars, so by the f+1 rule no lie may commit: no more hazards than masts).
  const h = new Prng(seed).split('hazards');
  let world: Scenario['world'];
  if (durationMs >= 20_000 && h.chance(1 / 3)) {
    world = { hazards: Array.from({ length: 1 + h.int(2) }, () => ({ northM: h.range(20, 60), eastM: h.range(20, 280), radiusM: h.range(4, 10), heightM: 60 })) };
    workload.push({ kind: 'once', at: 1_000, command: 'mission.survey', args: { area: [[0, 0], [0, 300], [200, 300], [200, 0]], spacingM: 20, altM: 30, speedMps: 8 } });
    for (const [i, x] of faults.entries()) if (x.kind === 'byzantine' && h.chance(0.5)) faults[i] = { ...x, behavior: h.pick(agentBehaviors) };
  }
  return {
    name: `random-${seed}`,
    seed,
    durationMs,
    validators,
    followers,
    mqtt,
    faults: faults.sort((a, b) => a.at - b.at),
    ...links,
    ...(promoted >= 0 || workload.some((w) => w.kind === 'once' && w.command === 'geofence.set') ? { operatorRoles: ['operator', 'admin'] as const } : {}),
    workload,
    ...(world ? { world } : {}),
    expect: { safety: true, ...(world ? { hazardsCommittedMax: world.hazards.length } : {}) },
    consensus: { proposeMs: 300, commitWaitMs: 100, gossipMs: 200 },
    livenessBudgetMs: 20_000,
  };
}
