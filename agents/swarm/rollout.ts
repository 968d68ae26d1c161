// Model rollout, applied from committed `agent.model` commands: roll a version to a canary fraction
// of devices (5% by default, chosen deterministically from the committed command, so every device
// computes the same set), then promote it to every device or roll it back. Pure and deterministic.

import { err, ok, type Result } from '../../runtime/lib/result.js';
import type { CommittedModel } from '../models/registry.js';

export type RolloutAction = 'canary' | 'promote' | 'rollback';

export interface ModelCommand {
  readonly action: RolloutAction;
  readonly model: string;
  readonly version: string;
  readonly hashHex: string;
  /** Canary share in per mille; 50 = 5%. */
  readonly canaryPerMille: number;
}

export interface ModelRollout {
  readonly stable: CommittedModel | null;
  readonly canary: { readonly ref: CommittedModel; readonly perMille: number; readonly devices: readonly string[]; readonly since: number } | null;
}

export interface RolloutState {
  readonly models: Readonly<Record<string, ModelRollout>>;
}

export const emptyRollout: RolloutState = { models: {} };
export const defaultCanaryPerMille = 50;

/** Parses the args of an `agent.model` command, naming the bad field. */
export function parseModelCommand(args: Readonly<Record<string, unknown>>): Result<ModelCommand> {
  const { action, model, version, hash, canaryFraction } = args;
  if (action !== 'canary' && action !== 'promote' && action !== 'rollback') return err('agent.model: args.action must be canary, promote or rollback');
  if (typeof model !== 'string' || !/^[a-z0-9][a-z0-9-]{0,63}$/.test(model)) return err('agent.model: args.model must be a model name such as "hazard-detect"');
  if (typeof version !== 'string' || version.length === 0 || version.length > 32) return err('agent.model: args.version must be a version string such as "1.1.0"');
  if (typeof hash !== 'string' || !/^[0-9a-f]{64}$/.test(hash)) return err('agent.model: args.hash must be the model file sha256 as 64 lowercase hex digits');
  let perMille = defaultCanaryPerMille;
  if (canaryFraction !== undefined) {
    if (typeof canaryFraction !== 'number' || !(canaryFraction > 0 && canaryFraction <= 1)) return err('agent.model: args.canaryFraction must be a number in (0, 1]');
    perMille = Math.max(1, Math.round(canaryFraction * 1000));
  }
  return ok({ action, model, version, hashHex: hash, canaryPerMille: perMille });
}

/** FNV-1a 32-bit: a stable, platform-independent score for ranking devices. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The canary devices: the ceil(n * perMille / 1000) devices (at least one) ranked lowest by FNV(hash/id). */
export function selectCanary(devices: readonly string[], hashHex: string, perMille: number): string[] {
  const n = devices.length;
  const k = Math.max(1, Math.floor((n * perMille + 999) / 1000));
  return [...devices]
    .sort()
    .map((d) => ({ d, score: fnv1a(`${hashHex}/${d}`) }))
    .sort((a, b) => a.score - b.score || (a.d < b.d ? -1 : 1))
    .slice(0, Math.min(n, k))
    .map((x) => x.d)
    .sort();
}

/** Applies one committed command at `height`; `devices` are the manifest's validators and followers. */
export function applyModelCommand(state: RolloutState, cmd: ModelCommand, devices: readonly string[], height: number): Result<RolloutState> {
  const cur: ModelRollout = state.models[cmd.model] ?? { stable: null, canary: null };
  const ref: CommittedModel = { name: cmd.model, version: cmd.version, hashHex: cmd.hashHex };
  const same = (a: CommittedModel | null | undefined): boolean => !!a && a.version === ref.version && a.hashHex === ref.hashHex;
  let next: ModelRollout;
  switch (cmd.action) {
    case 'canary':
      if (cur.canary) return err(`agent.model: a canary of ${cmd.model} ${cur.canary.ref.version} is running; promote or roll it back first`);
      if (same(cur.stable)) return err(`agent.model: ${cmd.model} ${cmd.version} is already the stable version`);
      next = { stable: cur.stable, canary: { ref, perMille: cmd.canaryPerMille, devices: selectCanary(devices, cmd.hashHex, cmd.canaryPerMille), since: height } };
      break;
    case 'promote':
      if (!same(cur.canary?.ref)) return err(`agent.model: ${cmd.model} ${cmd.version} is not the running canary`);
      next = { stable: ref, canary: null };
      break;
    case 'rollback':
      if (!same(cur.canary?.ref)) return err(`agent.model: ${cmd.model} ${cmd.version} is not the running canary`);
      next = { stable: cur.stable, canary: null };
      break;
  }
  return ok({ models: { ...state.models, [cmd.model]: next } });
}

/** The model `device` must run: the canary if it was selected, else the stable version, else null (shipped). */
export function assignedModel(state: RolloutState, model: string, device: string): CommittedModel | null {
  const r = state.models[model];
  if (!r) return null;
  if (r.canary && r.canary.devices.includes(device)) return r.canary.ref;
  return r.stable;
}
