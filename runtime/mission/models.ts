// Model rollout, the `agent.model` command: roll a model version (named by its file's sha256) to a
// canary fraction of the devices, 5% by default, then promote it to every device or roll it back.
// Pure and deterministic: the canary devices are chosen from the committed members and the hash, so
// every device computes the same set; devices load a file only if its sha256 is the committed one.

import { compareIds, isValidId } from '../lib/ids.js';
import { ArgError, noExtraArgs, str } from './args.js';
import type { CanaryVersion, MissionState, ModelRollout, ModelVersion } from './types.js';

export const modelActions = ['canary', 'promote', 'rollback'] as const;
export type ModelAction = (typeof modelActions)[number];

/** The canary share when the command names none: 5% of the devices (at least one). */
export const defaultCanaryPermille = 50;
export const modelsTrackedMax = 16;

const sha256Pattern = /^[0-9a-f]{64}$/;

/** The models an agent runs, the only ones a rollout can name (agents/builtin: hazard-detect and
 *  telemetry-anomaly; mission-reflexes runs none). A name outside the list committed and changed
 *  nothing anywhere, while the operator was told it was accepted. */
export const rolloutModelNames: readonly string[] = ['hazard-detect', 'telemetry-anomaly'];

/** A model version names a directory on the device (`<modelsDir>/<model>/<version>/`): one path segment,
 *  never "." or "..". Checked at commit, so a version no device could install is refused there, with
 *  the reason, instead of committed and then refused by every device as it loads it. */
export const isPlainModelVersion = (s: string): boolean => /^[0-9A-Za-z][0-9A-Za-z._+-]{0,31}$/.test(s);

export interface ModelCommand {
  readonly action: ModelAction;
  readonly model: string;
  readonly version: string;
  /** Required for canary; for promote and rollback it may be given to be checked. */
  readonly sha256: string | null;
  readonly canaryPermille: number;
}

/** Reads the args of `agent.model`; a bad one throws ArgError naming it (the rejection reason). */
export function parseModelArgs(a: Readonly<Record<string, unknown>>): ModelCommand {
  const action = a.action;
  if (typeof action !== 'string' || !(modelActions as readonly string[]).includes(action)) throw new ArgError(`args.action must be one of ${modelActions.join(', ')}`);
  noExtraArgs(a, action === 'canary' ? ['action', 'model', 'version', 'sha256', 'canaryFraction'] : ['action', 'model', 'version', 'sha256']);
  const model = str(a, 'model', 64);
  if (!isValidId(model) || !rolloutModelNames.includes(model)) throw new ArgError(`args.model must name a model an agent runs: ${rolloutModelNames.join(' or ')}`);
  if (typeof a.version !== 'string') throw new ArgError('args.version must be a version text like "1.1.0" (quote a bare number: version=\'"2"\')');
  const version = str(a, 'version', 32);
  if (!isPlainModelVersion(version)) throw new ArgError('args.version must be 1 to 32 letters, digits and . _ + -, starting with a letter or digit, like "1.1.0" (it names the directory the model is installed in)');
  const sha = a.sha256;
  if (sha === undefined && action === 'canary') throw new ArgError('args.sha256 must be the model file\'s sha256 (64 lowercase hex digits, as `sha256sum model.onnx` prints)');
  if (sha !== undefined && (typeof sha !== 'string' || !sha256Pattern.test(sha))) throw new ArgError('args.sha256 must be 64 lowercase hex digits (the model file\'s sha256)');
  let canaryPermille = defaultCanaryPermille;
  const f = a.canaryFraction;
  if (f !== undefined) {
    if (typeof f !== 'number' || !Number.isFinite(f) || f <= 0 || f > 1) throw new ArgError('args.canaryFraction must be a number above 0 and at most 1 (0.05 = 5%)');
    canaryPermille = Math.max(1, Math.round(f * 1000));
  }
  return { action: action as ModelAction, model, version, sha256: (sha as string | undefined) ?? null, canaryPermille };
}

/** FNV-1a, 32 bit: a stable, platform-independent spread for the canary choice (not a security hash). */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * The canary devices: ceil(n x permille / 1000) of them, at least one, those ranked lowest by
 * FNV-1a("<sha256>/<id>") (ties by id). Salting with the hash spreads successive versions over the
 * fleet; the same version always lands on the same devices. Integer arithmetic only.
 */
export function selectCanary(devices: readonly string[], sha256: string, permille: number): string[] {
  const count = Math.max(1, Math.floor((devices.length * permille + 999) / 1000));
  const ranked = [...devices].sort(compareIds).map((id) => ({ id, score: fnv1a(`${sha256}/${id}`) }));
  ranked.sort((x, y) => x.score - y.score || compareIds(x.id, y.id));
  return ranked
    .slice(0, Math.min(devices.length, count))
    .map((x) => x.id)
    .sort(compareIds);
}

/**
 * The devices an `agent.model` canary command makes canaries when committed among `devices` (the
 * members of its block), as every device computes it; null for another action, or args the machine
 * rejects. For the operator's tools: send names them, since the devices' acks do not.
 */
export function canaryOfCommand(args: Readonly<Record<string, unknown>>, devices: readonly string[]): string[] | null {
  let c: ModelCommand;
  try {
    c = parseModelArgs(args);
  } catch {
    return null;
  }
  return c.action === 'canary' && c.sha256 !== null && devices.length > 0 ? selectCanary(devices, c.sha256, c.canaryPermille) : null;
}

export type ModelOutcome = { readonly ok: true; readonly rollout: ModelRollout } | { readonly ok: false; readonly reason: string };

const same = (v: ModelVersion | null, c: ModelCommand): boolean => v !== null && v.version === c.version && (c.sha256 === null || v.sha256 === c.sha256);

/** One committed command applied to the rollout of its model (null when the fleet has none yet). */
export function applyModelCommand(cur: ModelRollout | null, c: ModelCommand, devices: readonly string[], height: number): ModelOutcome {
  const r: ModelRollout = cur ?? { model: c.model, stable: null, previous: null, canary: null };
  const fail = (reason: string): ModelOutcome => ({ ok: false, reason });
  switch (c.action) {
    case 'canary': {
      const sha256 = c.sha256 as string;
      if (r.canary) return fail(`a canary of ${c.model} ${r.canary.version} is running; promote or roll it back first`);
      if (r.stable && r.stable.sha256 === sha256) return fail(`${c.model} ${r.stable.version} with that sha256 is already the stable version`);
      if (devices.length === 0) return fail('the fleet manifest names no device to be a canary');
      const canary: CanaryVersion = { version: c.version, sha256, height, permille: c.canaryPermille, nodes: selectCanary(devices, sha256, c.canaryPermille) };
      return { ok: true, rollout: { ...r, canary } };
    }
    case 'promote':
      if (r.canary && r.canary.version === c.version && !same(r.canary, c)) return fail(`the running canary ${c.model} ${c.version} has another sha256 than args.sha256`);
      if (!same(r.canary, c)) return fail(`${c.model} ${c.version} is not the running canary${r.canary ? ` (${r.canary.version} is)` : ''}; send action=canary first`);
      return { ok: true, rollout: { ...r, previous: r.stable, stable: { version: c.version, sha256: (r.canary as CanaryVersion).sha256, height }, canary: null } };
    case 'rollback':
      // A running canary is ended; a version already promoted is replaced by the one before it.
      if (same(r.canary, c)) return { ok: true, rollout: { ...r, canary: null } };
      if (same(r.stable, c)) {
        if (r.canary) return fail(`a canary of ${c.model} ${r.canary.version} is running; roll it back first, then the promoted ${c.version}`);
        return { ok: true, rollout: { ...r, stable: r.previous, previous: null } };
      }
      return fail(`${c.model} ${c.version} is neither the running canary nor the promoted version; nothing to roll back`);
  }
}

/** The `agent.model` command: parse, apply, keep the models sorted by name. */
export function runModelCommand(s: MissionState, a: Readonly<Record<string, unknown>>, devices: readonly string[], height: number): { state: MissionState; rollout: ModelRollout; command: ModelCommand } | { reason: string } {
  const c = parseModelArgs(a);
  const cur = s.models.find((m) => m.model === c.model) ?? null;
  if (!cur && s.models.length >= modelsTrackedMax) return { reason: `the fleet already tracks ${modelsTrackedMax} models` };
  const out = applyModelCommand(cur, c, devices, height);
  if (!out.ok) return { reason: out.reason };
  const models = [...s.models.filter((m) => m.model !== c.model), out.rollout].sort((x, y) => compareIds(x.model, y.model));
  return { state: { ...s, models }, rollout: out.rollout, command: c };
}

/** The version `device` must run: the canary if it is one, else the promoted version, else null (what it shipped with). */
export function assignedModel(models: readonly ModelRollout[], model: string, device: string): ModelVersion | null {
  const r = models.find((m) => m.model === model);
  if (!r) return null;
  if (r.canary && r.canary.nodes.includes(device)) return { version: r.canary.version, sha256: r.canary.sha256, height: r.canary.height };
  return r.stable;
}
