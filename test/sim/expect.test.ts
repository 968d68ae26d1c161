// The scenario's flight, hazard, radio and validator-set expectations against a finished report: each
// unmet one is a line naming the field, so `fleet-sim run` exits 1 and says why.

import { describe, expect, it } from 'vitest';
import { expectFailures, flightExpectFailures, type ExpectInputs } from '../../fleet-sim/sim/expect.js';

const flight = { surveyedFraction: 0.4, geofenceBreaches: 1, failsafes: 3, minSeparationM: 2.5, obstacleStrikes: 1, hazardsFound: 1, replans: 2 };
const base: ExpectInputs = { flight, radio: null, epoch: 1, hazardsCommitted: 1, forged: null, evidence: [], stateSync: { installs: 0, refused: 0 }, refused: { malformed: 0, notProposer: 0, invalidBlock: 0, tornLogTails: 0, replayedCommands: 0, badSignatures: 0 }, blockTimeAheadMaxMs: null };

describe('flight and hazard expectations', () => {
  it('met expectations give no failures', () => {
    expect(expectFailures({ safety: true, geofenceBreachesMax: 1, failsafesMin: 3, minSeparationM: 2, surveyedFractionMin: 0.4, hazardsCommittedMin: 1, hazardsCommittedMax: 1, epoch: 1 }, base)).toEqual([]);
  });

  it('each unmet expectation is one line naming its field and both numbers', () => {
    const failed = expectFailures({ safety: true, geofenceBreachesMax: 0, failsafesMin: 4, minSeparationM: 3, surveyedFractionMin: 0.5, hazardsCommittedMin: 2, epoch: 2, relayedDeliveriesMin: 1 }, base);
    expect(failed).toEqual([
      'geofenceBreachesMax: 1 breaches > 0',
      'failsafesMin: 3 battery failsafes < 4',
      'minSeparationM: drones came within 2.5 m < 3 m',
      'surveyedFractionMin: 0.4 of the area surveyed < 0.5',
      'hazardsCommittedMin: 1 hazards committed < 2',
      'epoch: manifest epoch 1 in force at the end, expected 2',
      'relayedDeliveriesMin: 0 envelopes first delivered through a radio relay < 1',
    ]);
    expect(expectFailures({ safety: true, hazardsCommittedMax: 0 }, base)).toEqual(['hazardsCommittedMax: 1 hazards committed > 0']);
  });

  it('obstacleStrikesMax: met at the count, failed past it, and failed when the strikes were not measured', () => {
    expect(expectFailures({ safety: true, obstacleStrikesMax: 1 }, base)).toEqual([]);
    expect(expectFailures({ safety: true, obstacleStrikesMax: 0 }, base)).toEqual(['obstacleStrikesMax: drones flew into obstacles 1 times > 0']);
    expect(flightExpectFailures({ safety: true, obstacleStrikesMax: 0 }, { ...flight, obstacleStrikes: null })).toEqual(['obstacleStrikesMax: not measured (the simulated vehicles run in other processes)']);
  });
});

describe('forgedRefused', () => {
  const forged = { sent: { 'bad-signature': 3, expired: 2, unsigned: 2 }, refused: { 'bad-signature': 3, expired: 1, unsigned: 2 }, wrong: [], committed: 0 };

  it('names each kind not refused as expected, a wrong answer and a commit', () => {
    expect(expectFailures({ safety: true, forgedRefused: true }, { ...base, forged })).toEqual(['forgedRefused: 1 of 2 expired commands were not refused as expired']);
    const worse = { ...forged, refused: { ...forged.refused, expired: 2 }, wrong: ['v01 answered unauthorized to bad-signature op/00, expected forged', 'x'], committed: 1 };
    expect(expectFailures({ safety: true, forgedRefused: true }, { ...base, forged: worse })).toEqual([
      'forgedRefused: v01 answered unauthorized to bad-signature op/00, expected forged (and 1 more)',
      'forgedRefused: 1 forged commands were committed',
    ]);
  });

  it('fails a run that published no forgeries', () => {
    expect(expectFailures({ safety: true, forgedRefused: true }, base)).toEqual(['forgedRefused: the scenario published no forged commands (add a forgedCommands fault)']);
  });
});

describe('maxStall', () => {
  it('an unmet maxStall names the stall in whole milliseconds, as the report does (not 408.21188502712175)', async () => {
    const { readFileSync } = await import('node:fs');
    const { parseScenario } = await import('../../fleet-sim/scenario/parse.js');
    const { runScenario } = await import('../../fleet-sim/sim/run.js');
    const path = 'fleet-sim/scenarios/leader-crash.yaml';
    const s = parseScenario(readFileSync(path, 'utf8'));
    const r = await runScenario({ ...s, durationMs: 12_000, expect: { ...s.expect, maxStallMs: 10 } }, s.seed);
    expect(r.expect.failed).toEqual([`maxStall ${r.liveness.maxStallMs} ms > 10 ms`]);
  }, 60_000);
});

describe('evidenceAgainst', () => {
  it('names the liar evidence missed and the honest validator it named', () => {
    expect(expectFailures({ safety: true, evidenceAgainst: [3] }, { ...base, evidence: [{ validator: 3 }, { validator: 3 }] })).toEqual([]);
    expect(expectFailures({ safety: true, evidenceAgainst: [3] }, base)).toEqual(['evidenceAgainst: no committed evidence names validator 3']);
    expect(expectFailures({ safety: true, evidenceAgainst: [1, 3] }, { ...base, evidence: [{ validator: 3 }, { validator: 2 }] })).toEqual([
      'evidenceAgainst: no committed evidence names validator 1',
      'evidenceAgainst: committed evidence names validator 2, not expected to lie',
    ]);
    expect(expectFailures({ safety: true, evidenceAgainst: [] }, { ...base, evidence: [{ validator: 0 }] })).toEqual(['evidenceAgainst: committed evidence names validator 0, not expected to lie']);
  });

  // Before evidenceAgainst, byzantine-equivocate.yaml's expect held with no evidence at all (a scratch
  // change that disabled reporting equivocation left all three equivocation scenarios "met"). Here the
  // liar keeps quiet instead of equivocating: the same expect must now fail, and the real one pass.
  it('byzantine-equivocate.yaml fails its expect when nobody equivocates, and meets it when validator 3 does', async () => {
    const { readFileSync } = await import('node:fs');
    const { parseScenario } = await import('../../fleet-sim/scenario/parse.js');
    const { runScenario } = await import('../../fleet-sim/sim/run.js');
    const path = 'fleet-sim/scenarios/byzantine-equivocate.yaml';
    const s = parseScenario(readFileSync(path, 'utf8'));
    const short = { ...s, durationMs: 8_000, workload: [] };
    const real = await runScenario(short, s.seed);
    expect(real.expect.failed, `seed ${s.seed}: npx fleet-sim run ${path} --seed ${s.seed}`).toEqual([]);
    expect(new Set(real.evidence.map((e) => e.validator)), `seed ${s.seed}`).toEqual(new Set([3]));
    const quiet = { ...short, faults: short.faults.map((f) => (f.kind === 'byzantine' ? { ...f, behavior: 'silent' as const } : f)) };
    const r = await runScenario(quiet, s.seed);
    expect(r.expect.failed, `seed ${s.seed}`).toEqual(['evidenceAgainst: no committed evidence names validator 3']);
  }, 60_000);
});

describe('stateSyncInstallsMin and stateSyncRefusedMin', () => {
  it('name what was short', () => {
    expect(expectFailures({ safety: true, stateSyncInstallsMin: 1, stateSyncRefusedMin: 1 }, { ...base, stateSync: { installs: 1, refused: 2 } })).toEqual([]);
    expect(expectFailures({ safety: true, stateSyncInstallsMin: 1, stateSyncRefusedMin: 1 }, base)).toEqual([
      'stateSyncInstallsMin: 0 snapshots installed < 1',
      'stateSyncRefusedMin: 0 snapshot offers or chunks refused < 1',
    ]);
  });

  // Before, byzantine-forge-snapshot.yaml's expect held with its forger taken out (installs 1,
  // refused 0, expect met): it could not tell whether any forgery was served and refused.
  it('byzantine-forge-snapshot.yaml fails without its forger, and meets its expect with it', async () => {
    const { readFileSync } = await import('node:fs');
    const { parseScenario } = await import('../../fleet-sim/scenario/parse.js');
    const { runScenario } = await import('../../fleet-sim/sim/run.js');
    const path = 'fleet-sim/scenarios/byzantine-forge-snapshot.yaml';
    const s = parseScenario(readFileSync(path, 'utf8'));
    const real = await runScenario(s, s.seed);
    expect(real.expect.failed, `seed ${s.seed}: npx fleet-sim run ${path} --seed ${s.seed}`).toEqual([]);
    expect(real.stateSync.refused, `seed ${s.seed}`).toBeGreaterThan(0);
    const honest = await runScenario({ ...s, faults: s.faults.filter((f) => f.kind !== 'byzantine') }, s.seed);
    expect(honest.expect.failed, `seed ${s.seed}`).toEqual(['stateSyncRefusedMin: 0 snapshot offers or chunks refused < 1']);
  }, 60_000);
});

describe('refusedMin and blockTimeAheadMax', () => {
  const none = { malformed: 0, notProposer: 0, invalidBlock: 0, tornLogTails: 0, replayedCommands: 0, badSignatures: 0 };
  it('name each kind that was short, and a block time too far ahead', () => {
    expect(expectFailures({ safety: true, refusedMin: { malformed: 10, invalidBlock: 1 } }, { ...base, refused: { ...none, malformed: 10, invalidBlock: 3 } })).toEqual([]);
    expect(expectFailures({ safety: true, refusedMin: { malformed: 10, notProposer: 1, invalidBlock: 1, tornLogTails: 1, replayedCommands: 1 } }, { ...base, refused: { ...none, malformed: 9 } })).toEqual([
      'refusedMin.malformed: 9 malformed messages (no envelope) dropped at the edge < 10',
      "refusedMin.notProposer: 0 proposals dropped, their signer not the round's proposer < 1",
      'refusedMin.invalidBlock: 0 proposed blocks found invalid < 1',
      'refusedMin.tornLogTails: 0 torn or damaged log tails dropped at a start < 1',
      'refusedMin.replayedCommands: 0 commands replayed after their commit (each refused) < 1',
    ]);
    expect(expectFailures({ safety: true, blockTimeAheadMaxMs: 30_000 }, { ...base, blockTimeAheadMaxMs: 30_000 })).toEqual([]);
    expect(expectFailures({ safety: true, blockTimeAheadMaxMs: 30_000 }, { ...base, blockTimeAheadMaxMs: 299_992 })).toEqual(["blockTimeAheadMax: a committed block's time ran 299992 ms ahead of true time > 30000 ms"]);
  });

  // Before these keys, byzantine-flood, -invalid-block, -wrong-proposer, -replay and -forge expected survival
  // alone: a scratch change that took out the appHash check (or the proposer check) left them "met",
  // and so did taking the liar out. Each now meets its expect with its liar and fails without it, naming what
  // no honest node refused.
  const load = async (name: string) => {
    const { readFileSync } = await import('node:fs');
    const { parseScenario } = await import('../../fleet-sim/scenario/parse.js');
    const path = `fleet-sim/scenarios/${name}.yaml`;
    return { s: parseScenario(readFileSync(path, 'utf8')), path };
  };
  const cases: [string, keyof typeof none, string][] = [
    ['byzantine-flood', 'malformed', 'refusedMin.malformed: 0 malformed messages (no envelope) dropped at the edge < 1000'],
    ['byzantine-invalid-block', 'invalidBlock', 'refusedMin.invalidBlock: 0 proposed blocks found invalid < 30'],
    ['byzantine-wrong-proposer', 'notProposer', "refusedMin.notProposer: 0 proposals dropped, their signer not the round's proposer < 100"],
    ['byzantine-replay', 'replayedCommands', 'refusedMin.replayedCommands: 0 commands replayed after their commit (each refused) < 40'],
    ['byzantine-forge', 'badSignatures', 'refusedMin.badSignatures: 0 signed messages whose signature does not verify, dropped at the edge < 500'],
  ];
  for (const [name, kind, failure] of cases) {
    it(`${name}.yaml: its liar's messages are refused (${kind}); without the liar its expect fails`, async () => {
      const { runScenario } = await import('../../fleet-sim/sim/run.js');
      const { s, path } = await load(name);
      const real = await runScenario(s, s.seed);
      const why = `seed ${s.seed}: npx fleet-sim run ${path} --seed ${s.seed}`;
      expect(real.expect.failed, why).toEqual([]);
      expect(real.refused[kind], why).toBeGreaterThanOrEqual(s.expect.refusedMin?.[kind] ?? Infinity);
      const honest = await runScenario({ ...s, faults: s.faults.filter((f) => f.kind !== 'byzantine') }, s.seed);
      expect(honest.refused[kind], why).toBe(0);
      expect(honest.expect.failed, why).toEqual([failure]);
    }, 60_000);
  }

  it('clock-skew.yaml keeps every committed block within 30 s of true time; its 9 s skew is measured', async () => {
    const { runScenario } = await import('../../fleet-sim/sim/run.js');
    const { s, path } = await load('clock-skew');
    const r = await runScenario(s, s.seed);
    const why = `seed ${s.seed}: npx fleet-sim run ${path} --seed ${s.seed}`;
    expect(r.expect.failed, why).toEqual([]);
    // Validator 2's clock is 9 s fast: its blocks are that far ahead, no further (validator 5's 5 min
    // fast blocks are refused; taken, they gave 299992 ms).
    expect(r.blockTimeAheadMaxMs, why).toBeGreaterThan(8_000);
    expect(r.blockTimeAheadMaxMs, why).toBeLessThan(10_000);
    const tight = await runScenario({ ...s, expect: { ...s.expect, blockTimeAheadMaxMs: 5_000 } }, s.seed);
    expect(tight.expect.failed, why).toEqual([`blockTimeAheadMax: a committed block's time ran ${r.blockTimeAheadMaxMs} ms ahead of true time > 5000 ms`]);
  }, 60_000);

  for (const [name, min] of [['restart-torn-wal', 2], ['power-loss-holes', 3]] as const) {
    it(`${name}.yaml: the torn log tails its restarts leave are counted; with intact restarts its expect fails`, async () => {
      const { runScenario } = await import('../../fleet-sim/sim/run.js');
      const { s, path } = await load(name);
      const torn = await runScenario(s, s.seed);
      const why = `seed ${s.seed}: npx fleet-sim run ${path} --seed ${s.seed}`;
      expect(torn.expect.failed, why).toEqual([]);
      expect(torn.refused.tornLogTails, why).toBeGreaterThanOrEqual(min);
      const intact = await runScenario({ ...s, faults: s.faults.map((f) => (f.kind === 'restart' ? { ...f, wal: 'intact' as const } : f)) }, s.seed);
      expect(intact.refused.tornLogTails, why).toBe(0);
      expect(intact.expect.failed, why).toEqual([`refusedMin.tornLogTails: 0 torn or damaged log tails dropped at a start < ${min}`]);
    }, 60_000);
  }

  // one-way-partition.yaml's maxStall was 5 s, the partition's length: with its propose timeout at 60 s
  // (validator 0's turns never given up) the stall was 4998 ms and the expect met. Now 3 s.
  it('one-way-partition.yaml fails when the unheard proposer\'s turns are not given up', async () => {
    const { runScenario } = await import('../../fleet-sim/sim/run.js');
    const { s, path } = await load('one-way-partition');
    const real = await runScenario(s, s.seed);
    expect(real.expect.failed, `seed ${s.seed}: npx fleet-sim run ${path} --seed ${s.seed}`).toEqual([]);
    const stuck = await runScenario({ ...s, consensus: { ...s.consensus, proposeMs: 60_000 } }, s.seed);
    expect(stuck.expect.failed, `seed ${s.seed}`).toEqual([`maxStall ${stuck.liveness.maxStallMs} ms > 3000 ms`]);
    expect(stuck.liveness.maxStallMs, `seed ${s.seed}`).toBeGreaterThan(4_000);
  }, 60_000);
});
