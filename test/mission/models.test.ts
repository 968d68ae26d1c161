// Model rollout in the mission machine (runtime/mission/models.ts), driven block by block: a version
// named by its sha256 goes to a deterministic 5% canary, then is promoted to all or rolled back; every
// command that does not fit the state is committed as rejected with its reason.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyBlock, initialMissionState } from '../../runtime/mission/machine.js';
import { assignedModel, canaryOfCommand, selectCanary } from '../../runtime/mission/models.js';
import type { ApplyResult, Decision, MissionBlock, MissionCommand, MissionState } from '../../runtime/mission/types.js';

const devices = Array.from({ length: 40 }, (_, i) => `d${String(i).padStart(2, '0')}`);
const members = { epoch: 1, devices, operators: [{ id: 'ops', roles: ['operator' as const] }, { id: 'boss', roles: ['admin' as const] }] };
const sha = 'ab'.repeat(32);
const sha2 = 'cd'.repeat(32);

let seq = 0;
function model(args: Record<string, unknown>, operator = 'boss'): MissionCommand {
  seq++;
  return { kind: 'command', id: `c${seq}`, operator, type: 'agent.model', args: { model: 'hazard-detect', ...args }, issuedAt: 1_000, expiresAt: 1_000_000 };
}

function run(state: MissionState, ...cmds: MissionCommand[]): ApplyResult {
  let r: ApplyResult = { state, effects: [] };
  for (const c of cmds) {
    const block: MissionBlock = { height: r.state.height + 1, timeMs: 10_000 + r.state.height, members, txs: [c] };
    r = applyBlock(r.state, block);
  }
  return r;
}

const decision = (r: ApplyResult): Decision => r.effects.flatMap((e) => (e.type === 'decision' ? [e.decision] : []))[0] as Decision;
const versionOn = (s: MissionState, d: string): string => assignedModel(s.models, 'hazard-detect', d)?.version ?? 'shipped';

describe('agent.model rollout', () => {
  it('rolls a version to a deterministic 5% canary by default, then promotes it to every device', () => {
    const r1 = run(initialMissionState(), model({ action: 'canary', version: '1.1.0', sha256: sha }));
    expect(decision(r1)).toMatchObject({ outcome: 'accepted', reason: '' });
    const canary = r1.state.models[0]?.canary?.nodes ?? [];
    expect(canary).toHaveLength(2); // ceil(40 x 5%)
    expect(canary).toEqual(selectCanary([...devices].reverse(), sha, 50)); // the order of the manifest does not matter
    expect(r1.effects.find((e) => e.type === 'model-rollout')).toMatchObject({ action: 'canary', rollout: { model: 'hazard-detect', canary: { version: '1.1.0', sha256: sha, permille: 50, height: 1 } } });
    for (const d of devices) expect(versionOn(r1.state, d)).toBe(canary.includes(d) ? '1.1.0' : 'shipped');
    const r2 = run(r1.state, model({ action: 'promote', version: '1.1.0' }));
    expect(decision(r2).outcome).toBe('accepted');
    for (const d of devices) expect(assignedModel(r2.state.models, 'hazard-detect', d)).toEqual({ version: '1.1.0', sha256: sha, height: 2 });
  });

  it('rolls back a canary, and a promoted version back to the one before it', () => {
    const r1 = run(initialMissionState(), model({ action: 'canary', version: '1.1.0', sha256: sha, canaryFraction: 0.25 }));
    expect(r1.state.models[0]?.canary?.nodes).toHaveLength(10);
    const r2 = run(r1.state, model({ action: 'rollback', version: '1.1.0' }));
    expect(decision(r2).outcome).toBe('accepted');
    for (const d of devices) expect(versionOn(r2.state, d)).toBe('shipped');
    // 1.1.0 promoted, then 1.2.0 promoted, then 1.2.0 rolled back: everyone returns to 1.1.0.
    const r3 = run(r2.state, model({ action: 'canary', version: '1.1.0', sha256: sha }), model({ action: 'promote', version: '1.1.0', sha256: sha }), model({ action: 'canary', version: '1.2.0', sha256: sha2 }), model({ action: 'promote', version: '1.2.0' }));
    for (const d of devices) expect(versionOn(r3.state, d)).toBe('1.2.0');
    const r4 = run(r3.state, model({ action: 'rollback', version: '1.2.0' }));
    expect(decision(r4).outcome).toBe('accepted');
    for (const d of devices) expect(versionOn(r4.state, d)).toBe('1.1.0');
  });

  it('commits commands that do not fit the rollout as rejected, with the reason', () => {
    const r1 = run(initialMissionState(), model({ action: 'canary', version: '1.1.0', sha256: sha }));
    const reasons = (...cmds: MissionCommand[]): string[] => cmds.map((c) => decision(run(r1.state, c)).reason);
    expect(
      reasons(
        model({ action: 'canary', version: '1.2.0', sha256: sha2 }),
        model({ action: 'promote', version: '1.2.0' }),
        model({ action: 'promote', version: '1.1.0', sha256: sha2 }),
        model({ action: 'rollback', version: '0.9.0' }),
        model({ action: 'canary', version: '1.1.0', sha256: sha }, 'ops'),
      ),
    ).toEqual([
      'a canary of hazard-detect 1.1.0 is running; promote or roll it back first',
      'hazard-detect 1.2.0 is not the running canary (1.1.0 is); send action=canary first',
      'the running canary hazard-detect 1.1.0 has another sha256 than args.sha256',
      'hazard-detect 0.9.0 is neither the running canary nor the promoted version; nothing to roll back',
      'operator "ops" has role operator; agent.model needs admin',
    ]);
    const promoted = run(r1.state, model({ action: 'promote', version: '1.1.0' }));
    expect(decision(run(promoted.state, model({ action: 'canary', version: '1.1.0', sha256: sha }))).reason).toBe('hazard-detect 1.1.0 with that sha256 is already the stable version');
    // Rolling back the promoted version while a newer canary runs: the reason says what is in the way
    // (it said 1.1.0 was neither the canary nor the promoted version, and it is the promoted one).
    const withCanary = run(promoted.state, model({ action: 'canary', version: '1.2.0', sha256: sha2 }));
    expect(decision(run(withCanary.state, model({ action: 'rollback', version: '1.1.0' }))).reason).toBe('a canary of hazard-detect 1.2.0 is running; roll it back first, then the promoted 1.1.0');
  });

  it('names the bad argument', () => {
    const reason = (args: Record<string, unknown>): string => decision(run(initialMissionState(), model(args))).reason;
    expect(reason({ action: 'deploy', version: '1' })).toBe('args.action must be one of canary, promote, rollback');
    expect(reason({ action: 'canary', version: '1.1.0' })).toContain('args.sha256 must be the model file\'s sha256');
    expect(reason({ action: 'canary', version: '1.1.0', sha256: 'AB'.repeat(32) })).toBe('args.sha256 must be 64 lowercase hex digits (the model file\'s sha256)');
    expect(reason({ action: 'canary', version: 2, sha256: sha })).toContain('args.version must be a version text like "1.1.0"');
    expect(reason({ action: 'canary', version: '1', sha256: sha, canaryFraction: 0 })).toBe('args.canaryFraction must be a number above 0 and at most 1 (0.05 = 5%)');
    expect(reason({ action: 'promote', version: '1', canaryFraction: 0.5 })).toBe('args.canaryFraction is not an argument of this command (allowed: action, model, version, sha256)');
    expect(reason({ action: 'canary', version: '1', sha256: sha, model: 'Bad Name' })).toBe('args.model must name a model an agent runs: hazard-detect or telemetry-anomaly');
  });

  it('refuses at commit a model no agent runs and a version no device can install (they committed, and nothing changed anywhere)', () => {
    // "hazard-detct" was accepted and rolled out to no agent; "1.1 beta" and "../1.0" were accepted, and
    // every device then refused to load them (a version names a directory on the device).
    const reason = (args: Record<string, unknown>): string => decision(run(initialMissionState(), model(args))).reason;
    expect(decision(run(initialMissionState(), model({ action: 'canary', version: '1.1.0', sha256: sha, model: 'hazard-detct' }))).outcome).toBe('rejected');
    expect(reason({ action: 'canary', version: '1.1.0', sha256: sha, model: 'hazard-detct' })).toBe('args.model must name a model an agent runs: hazard-detect or telemetry-anomaly');
    for (const version of ['1.1 beta', '../1.0', '.hidden', 'a/b']) expect(reason({ action: 'canary', version, sha256: sha }), version).toContain('args.version must be 1 to 32 letters, digits and . _ + -');
    expect(decision(run(initialMissionState(), model({ action: 'canary', version: '2.0.0-rc.1+b7', sha256: sha, model: 'telemetry-anomaly' }))).outcome).toBe('accepted');
  });

  it('chooses the same canary whatever order the devices are listed in, at least one device, ceil(n x fraction)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9]{0,6}$/), { minLength: 1, maxLength: 60 }), fc.integer({ min: 1, max: 1000 }), fc.stringMatching(/^[0-9a-f]{64}$/), (ids, permille, h) => {
        const a = selectCanary(ids, h, permille);
        expect(selectCanary([...ids].reverse(), h, permille)).toEqual(a);
        expect(a.length).toBe(Math.max(1, Math.ceil((ids.length * permille) / 1000)));
        expect(new Set(a).size).toBe(a.length);
      }),
      { seed: 7, numRuns: 200 },
    );
  });
});

describe('canaryOfCommand (what murmurctl send names)', () => {
  it('is the canary set every device computes for a canary command, and null for anything else', () => {
    const args = { action: 'canary', model: 'hazard-detect', version: '1.1.0', sha256: sha, canaryFraction: 0.1 };
    expect(canaryOfCommand(args, devices)).toEqual(selectCanary(devices, sha, 100));
    expect(canaryOfCommand(args, devices)).toHaveLength(4);
    // The machine's own choice: exactly those devices run the new version.
    const s = run(initialMissionState(), model(args)).state;
    expect(devices.filter((d) => versionOn(s, d) === '1.1.0')).toEqual(canaryOfCommand(args, devices));
    expect(canaryOfCommand({ ...args, action: 'promote' }, devices)).toBeNull();
    expect(canaryOfCommand({ ...args, sha256: 'not hex' }, devices)).toBeNull();
  });
});
